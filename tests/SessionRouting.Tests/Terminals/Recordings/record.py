#!/usr/bin/env python3
"""Records what real programs write to a terminal, for the reference tests of TerminalScreen.

Each recording runs one program in a pseudo-terminal of a fixed size with TERM=xterm-256color, types scripted input
with small pauses, and saves every byte the program wrote as NAME.COLSxROWS.vt beside this script. Full-screen
programs are recorded while they are still showing their screen (then killed), so the final screen is worth comparing.
The test feeds each file to TerminalScreen and to @xterm/headless (tests/node/xterm-render.mjs) and compares.

Usage: python3 record.py [NAME...]   (no names: all). Needs bash, vim, less, top, tmux and python3.
Recordings depend on timing and on the programs' versions: regenerating them changes the bytes, not what the test
checks.
"""
import os
import pty
import random
import select
import signal
import struct
import subprocess
import sys
import tempfile
import termios
import fcntl
import time

HERE = os.path.dirname(os.path.abspath(__file__))
UP, DOWN, RIGHT, LEFT = b'\x1b[A', b'\x1b[B', b'\x1b[C', b'\x1b[D'
ESC, ENTER, BACKSPACE = b'\x1b', b'\r', b'\x7f'


def record(name, argv, steps, cols=80, rows=24, cwd=None, quit_wait=2.0, keep_running=False):
    """Runs argv in a pty; steps is a list of (seconds to wait first, bytes to type)."""
    env = {
        'TERM': 'xterm-256color', 'LANG': 'C.UTF-8', 'LC_ALL': 'C.UTF-8', 'PATH': '/usr/bin:/bin',
        'HOME': cwd or tempfile.gettempdir(), 'PS1': '$ ', 'HISTFILE': os.path.join(cwd or '/tmp', '.history'),
        'COLUMNS': str(cols), 'LINES': str(rows),
    }
    pid, fd = pty.fork()
    if pid == 0:
        fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack('HHHH', rows, cols, 0, 0))
        if cwd:
            os.chdir(cwd)
        os.execvpe(argv[0], argv, env)
    output = bytearray()

    def pump(seconds):
        deadline = time.monotonic() + seconds
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return True
            ready, _, _ = select.select([fd], [], [], left)
            if ready:
                try:
                    chunk = os.read(fd, 65536)
                except OSError:
                    return False
                if not chunk:
                    return False
                output.extend(chunk)

    alive = True
    for wait, keys in steps:
        alive = pump(wait) and alive
        if alive and keys:
            os.write(fd, keys)
    if keep_running:
        pump(quit_wait)
        os.kill(pid, signal.SIGKILL)
    else:
        pump(quit_wait)
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    os.waitpid(pid, 0)
    os.close(fd)
    path = os.path.join(HERE, f'{name}.{cols}x{rows}.vt')
    with open(path, 'wb') as f:
        f.write(bytes(output))
    print(f'{path}: {len(output)} bytes')


def typed(text, pause=0.05):
    """Types text a key at a time, as a person would (readline redraws per key)."""
    return [(pause, ch.encode()) for ch in text]


def bash_readline(work):
    steps = [(0.5, b'')]
    steps += typed('echo hello world') + [(0.1, ENTER)]
    # Edit in the middle: fix a typo with arrows and backspace.
    steps += typed('echo tpyo here') + [(0.05, LEFT)] * 7 + [(0.05, BACKSPACE)] * 2 + typed('yp') + [(0.1, ENTER)]
    # History: recall, edit the end, run.
    steps += [(0.1, UP), (0.1, UP), (0.1, b'\x05')] + typed(' again') + [(0.1, ENTER)]
    # A line longer than the screen: readline wraps it, then backspace crosses the wrap back.
    steps += typed('echo ' + 'abcdefghij' * 9, pause=0.01) + [(0.05, BACKSPACE)] * 20 + [(0.1, ENTER)]
    # Ctrl-A, Ctrl-K, Ctrl-U and Ctrl-W.
    steps += typed('echo never shown') + [(0.05, b'\x01'), (0.05, b'\x0b')] + typed('echo kept') + [(0.1, ENTER)]
    steps += typed('echo 中文 wide 😀 and é combined') + [(0.05, LEFT)] * 12 + [(0.05, BACKSPACE)] + [(0.1, ENTER)]
    steps += typed('printf "a\\tb\\tc\\n"') + [(0.1, ENTER)]
    steps += typed('seq 1 30') + [(0.2, ENTER)]
    steps += typed('echo done; ech') + [(0.1, b'\t'), (0.1, b'\t'), (0.3, b'\x15')] + typed('echo last') + [(0.1, ENTER)]
    record('bash-readline', ['bash', '--norc', '--noprofile', '-i'], steps, cwd=work)


def bash_narrow(work):
    # A narrow terminal: every command line wraps, readline redraws across rows.
    steps = [(0.5, b'')]
    steps += typed('echo one two three four five six seven', pause=0.02) + [(0.05, LEFT)] * 15
    steps += typed('INSERTED ') + [(0.1, ENTER)]
    steps += typed('for i in 1 2 3; do echo "line $i of a loop"; done', pause=0.02) + [(0.2, ENTER)]
    steps += [(0.1, UP)] + [(0.05, BACKSPACE)] * 6 + typed('; echo again; done') + [(0.1, ENTER)]
    steps += typed('printf "%s\\n" 12345678901234567890123456789012345678901234567890') + [(0.1, ENTER)]
    record('bash-narrow', ['bash', '--norc', '--noprofile', '-i'], steps, cols=30, rows=10, cwd=work)


def vim_edit(work):
    with open(os.path.join(work, 'notes.txt'), 'w') as f:
        for i in range(1, 61):
            f.write(f'line {i:02d}: ' + 'the quick brown fox jumps over the lazy dog ' * (1 + i % 3) + '\n')
    steps = [(1.0, b'')]
    steps += [(0.2, b'\x06'), (0.2, b'\x04'), (0.2, b'5j'), (0.2, b'dd'), (0.2, b'O'), (0.1, b'an inserted line \xc3\xa9 \xe4\xb8\xad\xe6\x96\x87'),
              (0.2, ESC), (0.2, b'/lazy\r'), (0.2, b'n'), (0.2, b'x'), (0.2, b'\x15'), (0.2, b'3\x05'), (0.2, b'\x19'),
              (0.2, b'Go'), (0.1, b'the end'), (0.2, ESC), (0.2, b':set number\r'), (0.3, b'gg'), (0.3, b'10j'), (0.3, b'zt'),
              (0.3, b'ddp'), (0.3, b':echo "done"\r')]
    record('vim-edit', ['vim', '-u', 'NONE', '-i', 'NONE', '-N', 'notes.txt'], steps, cwd=work, keep_running=True)


def less_pager(work):
    with open(os.path.join(work, 'log.txt'), 'w') as f:
        for i in range(1, 201):
            f.write(f'{i:03d} ' + ('entry ' * (i % 25)) + ('wide 漢字 ' if i % 17 == 0 else '') + '\n')
    steps = [(0.6, b''), (0.3, b' '), (0.3, b' '), (0.3, b'b'), (0.3, b'j'), (0.3, b'jjj'), (0.3, b'k'),
             (0.3, b'/entry entry entry entry entry entry entry entry entry entry entry\r'), (0.3, b'n'), (0.3, b'G'),
             (0.3, b'10k'), (0.3, b'-S'), (0.3, b'g'), (0.3, b'3\x04')]
    record('less-pager', ['less', 'log.txt'], steps, cwd=work, keep_running=True)


def top_screen(work):
    record('top', ['top', '-n', '2', '-d', '0.5', '-w', '80'], [(2.5, b'')], cwd=work)


def cursor_script(work):
    # A Python program drawing with cursor addressing, scroll regions and the other sequences programs use.
    script = os.path.join(HERE, 'cursor-script.py')
    record('cursor-script', [sys.executable, script], [(2.0, b'')], cwd=work)


def fuzz(work):
    """Several seeds and sizes, down to 10x3 where nearly everything wraps and scrolls."""
    for seed, (cols, rows) in enumerate([(40, 12), (20, 8), (80, 24), (13, 5), (40, 12), (33, 7), (10, 3), (60, 20)], 1):
        fuzz_one(seed, 3000, cols, rows)


def fuzz_one(seed, count, cols, rows):
    """Not a program: a seeded random mix of the sequences the screen handles, on a small screen so they interact."""
    rnd = random.Random(seed)
    csi = '\x1b['
    texts = ['hello', 'x', 'wide 中文', '😀', 'e\u0301', 'a\u0300\u0316', 'abcdefghijklmnopqrstuvwxyz', ' ', '0123456789', '漢字かな']
    def n():
        return rnd.choice(['', '0', '1', '2', '3', '5', str(rnd.randint(1, 50)), '999'])
    ops = [
        lambda: rnd.choice(texts), lambda: rnd.choice(texts), lambda: rnd.choice(texts),
        lambda: rnd.choice(['\r', '\n', '\r\n', '\b', '\t', '\x0b', '\x0c', '\x07', '\x0e', '\x0f']),
        lambda: f'{csi}{n()};{n()}H', lambda: f'{csi}{n()}{rnd.choice("ABCDEFG`adeIZ")}',
        lambda: f'{csi}{rnd.choice(["", "0", "1", "2", "3"])}{rnd.choice("JK")}',
        lambda: f'{csi}{n()}{rnd.choice("LM@PXST")}', lambda: f'{csi}{n()}b',
        lambda: f'{csi}{n()};{n()}r' if rnd.random() < 0.8 else f'{csi}r',
        # No origin mode (?6): xterm.js 6.0.0 adds the scroll region's top twice on relative moves in it (CUF moves the
        # cursor down), which the screen does not copy.
        lambda: f'{csi}?{rnd.choice(["7", "25", "47", "1047", "1049", "1048"])}{rnd.choice("hl")}',
        lambda: f'{csi}4{rnd.choice("hl")}', lambda: f'{csi}{rnd.choice(["0", "3", ""])}g',
        lambda: rnd.choice(['\x1b7', '\x1b8', f'{csi}s', f'{csi}u', '\x1bD', '\x1bE', '\x1bM', '\x1bH']),
        lambda: rnd.choice(['\x1b(0', '\x1b(B', '\x1b)0', '\x1b)B']) + rnd.choice(['lqk', 'xmj', 'abc']),
        lambda: f'{csi}{rnd.randint(0, 107)};1m', lambda: f'\x1b]{rnd.choice("02")};title {rnd.randint(0, 99)}\x07',
        # RIS comes after DECTCEM: xterm.js 6.0.0 leaves a hidden cursor hidden after RIS; the screen shows it, as
        # xterm does. No DECALN (ESC # 8): xterm.js keeps the scroll region, which xterm and the screen reset.
        lambda: rnd.choice([f'{csi}?25h\x1bc', f'{csi}!p']) if rnd.random() < 0.05 else '',
    ]
    parts, autowrap = [], True
    for _ in range(count):
        part = rnd.choice(ops)()
        # Without auto-wrap, a wide character that does not fit is dropped, and xterm.js then blanks the wide character
        # before the cursor or not depending on how the bytes were split into writes: keep wide text out of that state.
        if not autowrap and any(ord(c) >= 0x1100 for c in part):
            part = 'narrow'
        autowrap = False if f'{csi}?7l' in part else True if any(s in part for s in (f'{csi}?7h', '\x1bc', f'{csi}!p')) else autowrap
        parts.append(part)
    out = ''.join(parts)
    path = os.path.join(HERE, f'fuzz-{seed}.{cols}x{rows}.vt')
    with open(path, 'wb') as f:
        f.write(out.encode())
    print(f'{path}: {len(out.encode())} bytes')


def parser_fuzz(work):
    """Seeded random mixes of what stresses the parser rather than the screen: C1 controls as UTF-8, OSC/DCS/APC/PM/SOS
    strings ended by BEL, ST or CAN, controls and ESC inside sequences, sub-parameters, too many and too large
    parameters, private and intermediate forms the screen ignores. No invalid UTF-8: xterm.js drops it silently where
    the screen shows U+FFFD (the unit tests cover that)."""
    for seed, (cols, rows) in enumerate([(40, 12), (20, 6), (80, 24), (11, 4)], 1):
        rnd = random.Random(seed)
        csi = b'\x1b['
        pieces = [
            b'hello', 'wide 中文'.encode(), '😀'.encode(), 'e\u0301'.encode(), b'0123456789abcdefghij',
            b'\r\n', b'\n', b'\r', b'\t', b'\b',
            '\u0084'.encode(), '\u0085'.encode(), '\u008d'.encode(), '\u009b'.encode() + b'5C', '\u009d'.encode() + b'0;c1 title\x07',
            b'\x1b]0;st title\x1b\\', b'\x1b]2;bel\x07', b'\x1b]0;aborted\x18', b'\x1bPqdcs data\x1b\\', b'\x1bP1$rxyz\x1b\\',
            b'\x1b_apc\x1b\\', b'\x1b^pm\x1b\\', b'\x1bXsos\x1b\\',
            csi + b';'.join(str(i).encode() for i in range(1, 35)) + b'H',
            csi + b'38:2:1:2:3mX', csi + b'?1;2$p', csi + b'>1;2m', csi + b'=1c', csi + b'1 q', csi + b'?1h', csi + b'?2004h', csi + b'?1000h',
            csi + b'5\x18C', csi + b'5\x1aC', b'\x1b\x1b[3C', csi + b'3\nC', csi + b'2\rD',
            b'\x1b(0lqk\x1b(B', b'\x1b%G', b'\x1b(%5', b'\x1b=', b'\x1b>', b'\x1bN', b'\x1bO',
            csi + b'99999999999C', csi + b'2;99999999999H', csi + b'12t', csi + b'18t', csi + b'6n',
            csi + b'?25l', csi + b'?25h', csi + b'?1049h', csi + b'?1049l', csi + b'2J', csi + b'K', csi + b'3;5r', csi + b'r',
            csi + b'L', csi + b'M', csi + b'5b', b'\x7f', b'\x00', b'\x05', b'\x1b[\x7f5C',
        ]
        out = bytearray()
        for _ in range(3000):
            out += csi + f'{rnd.randint(1, rows)};{rnd.randint(1, cols)}H'.encode() if rnd.random() < 0.2 else rnd.choice(pieces)
        path = os.path.join(HERE, f'parser-fuzz-{seed}.{cols}x{rows}.vt')
        with open(path, 'wb') as f:
            f.write(bytes(out))
        print(f'{path}: {len(out)} bytes')


def tmux_panes(work):
    # tmux redraws panes with scroll regions, cursor addressing and line drawing; its own server is stopped after.
    env_dir = os.path.join(work, 'tmux')
    os.makedirs(env_dir)
    steps = [(1.0, b'')]
    steps += typed('seq 1 40', pause=0.02) + [(0.3, ENTER)]
    steps += [(0.3, b'\x02"'), (0.5, b'')] + typed('echo bottom pane', pause=0.02) + [(0.2, ENTER)]
    steps += typed('seq 1 30', pause=0.02) + [(0.3, ENTER)]
    steps += [(0.3, b'\x02%'), (0.5, b'')] + typed('echo right pane 中文', pause=0.02) + [(0.2, ENTER)]
    steps += typed('for i in $(seq 1 15); do echo "line $i in a narrow pane that wraps"; done', pause=0.01) + [(0.5, ENTER)]
    steps += [(0.3, b'\x02o')] + typed('echo back to the top', pause=0.02) + [(0.3, ENTER)]
    config = os.path.join(env_dir, 'tmux.conf')
    with open(config, 'w') as f:
        # Every pane a bare bash with the recordings' prompt; no host name or clock in the status line.
        f.write('set -g default-command "env PS1=\'$ \' bash --norc --noprofile -i"\nset -g status-right ""\n')
    record('tmux-panes', ['tmux', '-f', config, '-S', os.path.join(env_dir, 'socket'), 'new-session'], steps, cwd=work,
           keep_running=True)
    subprocess.run(['tmux', '-S', os.path.join(env_dir, 'socket'), 'kill-server'], check=False)


RECORDINGS = {
    'tmux-panes': tmux_panes,
    'parser-fuzz': parser_fuzz,
    'fuzz': fuzz,
    'bash-readline': bash_readline,
    'bash-narrow': bash_narrow,
    'vim-edit': vim_edit,
    'less-pager': less_pager,
    'top': top_screen,
    'cursor-script': cursor_script,
}

if __name__ == '__main__':
    names = sys.argv[1:] or list(RECORDINGS)
    for name in names:
        with tempfile.TemporaryDirectory() as work:
            RECORDINGS[name](work)
