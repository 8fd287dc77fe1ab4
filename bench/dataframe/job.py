"""What the DataFrame job's Python implementations share: the command line,
the per-part computation, and the run that times it and prints the JSON line."""
import argparse
import gc
import json
import multiprocessing as mp
import os
import time

import numpy as np

import gen
from pss import MiB, NoSampler, ProcessPssSampler, TreePssSampler, tree_pss

NAME_LONGER_THAN = 20


def parse_args(description):
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument('--rows', type=int, default=10_000_000)
    ap.add_argument('--seed', type=int, default=42)
    ap.add_argument('--workers', type=int, default=2)
    ap.add_argument('--every-ms', type=float, default=50,
                    help='PSS sampling interval (50, as bench/util.js; 20 slows the fill, see pss.py)')
    ap.add_argument('--sampler', default='process', choices=['thread', 'process', 'none'],
                    help='sample tree PSS from a child process (default) or a thread of this one, '
                         'which the GIL can hold off for seconds; none: times only')
    ap.add_argument('--start-method', default='fork', choices=mp.get_all_start_methods(),
                    help="multiprocessing start method (default fork, Linux's default before Python 3.14)")
    return ap.parse_args()


def parts(n, k):
    """[(lo, hi)] cutting n rows into k contiguous parts."""
    b = [n * i // k for i in range(k + 1)]
    return list(zip(b[:-1], b[1:]))


def val_sum(val, null):
    """Sum of val over rows neither null nor NaN (same arithmetic everywhere)."""
    ok = ~null & ~np.isnan(val)
    return float(val[ok].sum())


def run(impl, job):
    """Generates the frame, then runs job(df, args, mark_work) under the tree
    PSS sampler. job calls mark_work() when the fill is done and returns
    (t1, t2, [(sum, count)] per worker): perf_counter() at the end of the fill
    and when the parent held every result; what it does after t2 (joining,
    unlinking) is sampled but not timed. Prints one JSON line."""
    a = parse_args(f'The DataFrame job, {impl}.')
    mp.set_start_method(a.start_method)
    g0 = time.perf_counter()
    df = gen.make_frame(a.rows, a.seed)
    gen_ms = (time.perf_counter() - g0) * 1e3
    gc.collect()
    base = tree_pss()
    Sampler = {'thread': TreePssSampler, 'process': ProcessPssSampler, 'none': NoSampler}[a.sampler]
    load = os.getloadavg()[0]
    with Sampler(every_ms=a.every_ms) as sampler:
        sampler.mark('fill')
        t0 = time.perf_counter()
        t1, t2, results = job(df, a, lambda: sampler.mark('work'))
    out = {
        'impl': impl, 'rows': a.rows,
        'fill_ms': round((t1 - t0) * 1e3, 1), 'work_ms': round((t2 - t1) * 1e3, 1),
        'total_ms': round((t2 - t0) * 1e3, 1),
        'result_sum': sum(s for s, _ in results), 'result_count': sum(c for _, c in results),
        **sampler.report(),
        'base_tree_pss_mib': round(base / MiB, 1), 'gen_ms': round(gen_ms, 1),
        'loadavg_1m': round(load, 2), 'sampler': a.sampler, 'every_ms': a.every_ms,
        'workers': a.workers, 'start_method': a.start_method, 'seed': a.seed,
    }
    print(json.dumps(out), flush=True)
    return out
