#!/usr/bin/env python3
"""Reads every #include "..." of the product code against the layering table
that CMakeLists.txt's hs_component() writes (build/layering.txt: one line per
library: name, its directories, the libraries it may use). An include of a
directory whose library is neither the file's own nor one it may use is a
layering violation: the check lists each as FILE:LINE and exits 1.
Like Chromium's checkdeps, but the table is the build's own, so the two
cannot drift apart.
Usage: check_layering.py SOURCE_DIR LAYERING_FILE"""
import os
import re
import sys

def main(src, table_path):
    owner = {}   # directory -> library
    uses = {}    # library -> libraries it may use
    for line in open(table_path):
        parts = line.split()
        if not parts:
            continue
        name, dirs = parts[0], parts[1].split(',')
        uses[name] = set(parts[2].split(',')) if len(parts) > 2 else set()
        for d in dirs:
            owner[d] = name
    problems = []
    checked = 0
    for d, lib in sorted(owner.items()):
        full = os.path.join(src, d)
        for f in sorted(os.listdir(full)):
            if not f.endswith(('.cpp', '.hpp', '.h')):
                continue
            checked += 1
            path = os.path.join(full, f)
            for n, text in enumerate(open(path, encoding='utf-8'), 1):
                m = re.match(r'\s*#\s*include\s+"([^"]+)"', text)
                if not m:
                    continue
                target_dir = os.path.dirname(m.group(1))
                target = owner.get(target_dir)
                if target is None:
                    problems.append(f'{d}/{f}:{n}: includes "{m.group(1)}", which belongs to no component')
                elif target != lib and target not in uses[lib]:
                    allowed = ', '.join(sorted(uses[lib])) or 'nothing'
                    problems.append(f'{d}/{f}:{n}: {lib} may not use {target} ("{m.group(1)}"); '
                                    f'{lib} may use: {allowed}')
    for p in problems:
        print(p)
    print(f'check_layering: {checked} files, {len(problems)} forbidden includes')
    return 1 if problems else 0

if __name__ == '__main__':
    sys.exit(main(sys.argv[1], sys.argv[2]))
