"""Runs the DataFrame job implementations, each in a fresh process, prints a
markdown table and checks that they agree (counts exactly, sums to 1e-6
relative, against gen.reference computed here). Exit status 1 if they do not.

    .venv-ci/bin/python bench/dataframe/run.py [--rows N] [--seed S] [--also 'CMD ...']

--also adds a command (say the Node side) that takes --rows/--seed and prints
the same JSON line; repeatable. Extra arguments after -- go to every command.
"""
import argparse
import json
import os
import shlex
import subprocess
import sys

import gen

HERE = os.path.dirname(os.path.abspath(__file__))
REL = 1e-6


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--rows', type=int, default=10_000_000)
    ap.add_argument('--seed', type=int, default=42)
    ap.add_argument('--also', action='append', default=[], help='another command to run')
    ap.add_argument('rest', nargs='*', help='arguments for every command (after --)')
    a = ap.parse_args()
    cmds = [[sys.executable, os.path.join(HERE, f)] for f in ('py_shared_memory.py', 'py_pickled.py')]
    cmds += [shlex.split(c) for c in a.also]
    want = gen.reference(gen.make_columns(a.rows, a.seed))
    rows, ok = [], True
    for cmd in cmds:
        full = cmd + ['--rows', str(a.rows), '--seed', str(a.seed)] + a.rest
        out = subprocess.run(full, check=True, stdout=subprocess.PIPE, text=True).stdout
        r = json.loads(out.strip().splitlines()[-1])
        agree = (r['result_count'] == want['result_count']
                 and abs(r['result_sum'] - want['result_sum']) <= REL * abs(want['result_sum']))
        ok &= agree
        rows.append([r['impl'], f"{r['fill_ms']:.0f}", f"{r['work_ms']:.0f}", f"{r['total_ms']:.0f}",
                     f"{r['peak_tree_pss_mib']:.1f}", f"{r['result_sum']!r}", str(r['result_count']),
                     'yes' if agree else '**NO**'])
        print(json.dumps(r), file=sys.stderr, flush=True)
    head = ['impl', 'fill ms', 'work ms', 'total ms', 'peak tree PSS MiB', 'sum', 'count', 'agrees']
    print(f"{a.rows:,} rows, seed {a.seed}; expected sum {want['result_sum']!r}, count {want['result_count']}\n")
    for line in [head, ['---'] * len(head)] + rows:
        print('| ' + ' | '.join(line) + ' |')
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
