#!/usr/bin/env python3
"""Draws with the escape sequences full-screen programs use; record.py records it in a pty (80x24).

Each block leaves a mark that later blocks mostly do not erase, so the final screen shows whether each one worked.
"""
import sys
import time

out = sys.stdout.buffer


def w(text):
    out.write(text.encode() if isinstance(text, str) else text)
    out.flush()


E = '\x1b'
CSI = E + '['

# Clear, home, title.
w(f'{CSI}H{CSI}2J{E}]0;cursor script{chr(7)}')

# Absolute positioning and relative moves.
w(f'{CSI}1;1Htop-left{CSI}1;73Htop-right')
w(f'{CSI}2;10HA{CSI}2CB{CSI}3DC{CSI}BD{CSI}AE{CSI}5GF{CSI}3`G{CSI}2aH')
w(f'{CSI}4d{CSI}10GVPA-row4{CSI}e{CSI}1GVPR-row5{CSI}2;1f')

# Pending wrap: fill a row to the last column, then text that wraps, then EL at the pending position.
w(f'{CSI}6;1H' + 'x' * 80 + 'wrapped')
w(f'{CSI}8;1H' + 'y' * 80 + f'{CSI}K')
w(f'{CSI}9;71H0123456789\r\nafter-cr-lf')

# Auto-wrap off: the last column is overwritten.
w(f'{CSI}?7l{CSI}11;75H0123456789{CSI}?7h')

# Tabs: defaults, a custom stop, clearing one, back-tab.
w(f'{CSI}12;1Ha\tb\tc\td')
w(f'{CSI}13;1H{CSI}4G{E}H{CSI}13;1H1\t2\t3{CSI}13;1H{CSI}4G{CSI}0g{CSI}14;1H1\t2\t3{CSI}Z{CSI}Z<')

# Insert, delete and erase characters.
w(f'{CSI}15;1Habcdefghij{CSI}15;3H{CSI}2@XY{CSI}15;12H{CSI}3P{CSI}15;5H{CSI}2X')
w(f'{CSI}4h{CSI}15;20Hinsert-mode{CSI}15;20H>>{CSI}4l')

# Repeat.
w(f'{CSI}16;1H-{CSI}9b|{CSI}3b')

# Wide characters, emoji, combining marks, and a wide character that does not fit in the last column.
w(f'{CSI}17;1H中文字 😀 e\u0301 a\u0300\u0316 end{CSI}17;79H宽')
w(f'{CSI}18;3H{CSI}1P')

# DEC line drawing via G0 and via G1 with SO/SI.
w(f'{CSI}19;1H{E}(0lqqqwqqqk{E}(B plain {E})0\x0exqx\x0f back')

# Save and restore the cursor.
w(f'{CSI}20;1Hsave{E}7{CSI}1;40Hmoved{E}8-restored{CSI}20;30H{CSI}s{CSI}22;1H{CSI}u-sco')

# Scroll region with IL/DL/SU/SD/RI, origin mode, then back to the full screen.
w(f'{CSI}21;1Hregion-a{CSI}22;1Hregion-b{CSI}23;1Hregion-c{CSI}24;1Hregion-d')
w(f'{CSI}21;24r{CSI}22;1H{CSI}Lnew-b{CSI}24;1H{CSI}M{CSI}S{CSI}T{CSI}21;1H{E}Mri')
w(f'{CSI}?6h{CSI}2;5Horigin{CSI}?6l{CSI}r')

# Alternate screen with 1049: the normal screen and the cursor come back.
w(f'{CSI}10;40Hbefore-alt{CSI}?1049h{CSI}Halternate content{CSI}5;5Hmore{CSI}?1049lafter-alt')

# 1047 keeps the cursor where the alternate screen left it.
w(f'{CSI}?1047h{CSI}3;60Hin-1047{CSI}?1047l!')

# Erase below and above, in a part of the screen kept for it.
w(f'{CSI}4;40H' + 'z' * 20 + f'{CSI}4;50H{CSI}1K{CSI}5;40H' + 'w' * 20 + f'{CSI}5;50H{CSI}0K')

# Reverse index at the top scrolls down; NEL and IND.
w(f'{CSI}1;1H{E}M{E}Etop-after-ri{E}D{CSI}Gind')

# UTF-8 sent a byte at a time (reaches the terminal in pieces when the pty delivers them so).
for b in 'ünïcödé ✓\n'.encode():
    w(bytes([b]))
    time.sleep(0.002)

# Hide the cursor, then show it; leave it somewhere distinctive.
w(f'{CSI}?25l{CSI}?25h{CSI}7;33H')
