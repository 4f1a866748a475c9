#!/usr/bin/env python3
"""Regenerates the range tables in CharWidth.cs from Python's unicodedata (the Unicode Character Database).

Width rules (those of wcwidth and of xterm.js with its Unicode 11 width provider):
  0: non-spacing and enclosing marks (Mn, Me), format characters (Cf) except SOFT HYPHEN, and the Hangul
     medial vowels and final consonants (U+1160..U+11FF), which join the preceding syllable;
  2: East Asian Wide and Fullwidth (W, F), which includes the emoji with default emoji presentation, and all of
     planes 2 and 3 (CJK ideographs, assigned or not);
  1: everything else.
Usage: python3 CharWidth.py > /tmp/tables.txt, then paste the two arrays over those in CharWidth.cs.
"""
import sys
import unicodedata


def width(cp):
    if 0x20000 <= cp <= 0x3FFFD:
        return 2
    ch = chr(cp)
    if cp != 0x00AD and unicodedata.category(ch) in ('Mn', 'Me', 'Cf'):
        return 0
    if 0x1160 <= cp <= 0x11FF:
        return 0
    if unicodedata.east_asian_width(ch) in ('W', 'F'):
        return 2
    return 1


def ranges(wanted):
    # Unassigned code points (Cn) take the width of the range around them, which keeps the tables short.
    out, start, last = [], None, None
    for cp in range(0x300, 0x110000):
        if 0xD800 <= cp <= 0xDFFF or (unicodedata.category(chr(cp)) == 'Cn' and not 0x20000 <= cp <= 0x3FFFD):
            continue
        if width(cp) == wanted:
            start = cp if start is None else start
            last = cp
        elif start is not None:
            out.append((start, last))
            start = None
    if start is not None:
        out.append((start, last))
    return out


def emit(name, rs):
    print(f'    // {len(rs)} ranges, generated from Unicode {unicodedata.unidata_version} by CharWidth.py')
    print(f'    private static readonly int[] {name} =')
    print('    [')
    for i in range(0, len(rs), 4):
        print('        ' + ' '.join(f'0x{a:05X}, 0x{b:05X},' for a, b in rs[i:i + 4]))
    print('    ];')


# Everything below U+0300 (the first combining mark) has width 1: the fast path in CharWidth.Of relies on it.
assert all(width(cp) == 1 for cp in range(0xA0, 0x300) if cp != 0xAD)
emit('ZeroWidth', ranges(0))
print()
emit('Wide', ranges(2))
