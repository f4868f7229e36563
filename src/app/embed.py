#!/usr/bin/python3
"""Turns a file into C: `const unsigned char NAME[]` (NUL-terminated) and
`const size_t NAME_len` (without the NUL), so a program carries its web page.

Usage: embed.py INPUT OUTPUT NAME
"""

import sys


def main():
    if len(sys.argv) != 4:
        print('usage: embed.py INPUT OUTPUT NAME', file=sys.stderr)
        return 2
    source, target, name = sys.argv[1:]
    with open(source, 'rb') as f:
        data = f.read()
    rows = [', '.join(str(b) for b in data[i:i + 20]) for i in range(0, len(data), 20)]
    with open(target, 'w') as out:
        out.write(f'/* Made from {source.rsplit("/", 1)[-1]} by embed.py: edit that. */\n')
        out.write('#include <stddef.h>\n\n')
        out.write(f'extern const unsigned char {name}[];\n')
        out.write(f'extern const size_t {name}_len;\n\n')
        out.write(f'const unsigned char {name}[] = {{\n')
        for row in rows:
            out.write(f'\t{row},\n')
        out.write('\t0\n};\n')
        out.write(f'const size_t {name}_len = {len(data)};\n')
    return 0


if __name__ == '__main__':
    sys.exit(main())
