"""The DataFrame job the plain way: multiprocessing.Pool(2).map over the two
half-frames, which are pickled to the workers as arguments.

    .venv-ci/bin/python bench/dataframe/py_pickled.py [--rows N] [--seed S]

fill_ms is only cutting the frame in halves (df.iloc: views, nothing copied);
pickling, sending and unpickling happen inside Pool.map and so in work_ms,
which runs from creating the Pool (its workers start) until map returns.
Each worker reads its half through pandas' public API: val as float64 with
NaN at the nulls plus isna() as the null mask, name via .str.len().
"""
import time
from multiprocessing import Pool

import job


def work(half):
    val = half['val']
    s = job.val_sum(val.to_numpy('float64', na_value=float('nan')), val.isna().to_numpy())
    c = int((half['name'].str.len() > job.NAME_LONGER_THAN).sum())
    return s, c


def run(df, a, mark_work):
    halves = [df.iloc[lo:hi] for lo, hi in job.parts(len(df), a.workers)]
    t1 = time.perf_counter()
    mark_work()
    with Pool(a.workers) as pool:
        results = pool.map(work, halves, chunksize=1)
        t2 = time.perf_counter()
    return t1, t2, results


if __name__ == '__main__':
    job.run('py_pickled', run)
