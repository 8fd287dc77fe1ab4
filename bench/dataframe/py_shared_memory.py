"""The DataFrame job the published way: pandas -> numpy recarray in
multiprocessing.shared_memory, workers attach by name.

    .venv-ci/bin/python bench/dataframe/py_shared_memory.py [--rows N] [--seed S]

Fill (timed as fill_ms), the recipe as usually published:
    rec = df.to_records(index=False)                  # a temporary in private memory
    shm = SharedMemory(create=True, size=rec.nbytes)
    shared = np.recarray(rec.shape, dtype=rec.dtype, buf=shm.buf)
    np.copyto(shared, rec)
with what a recarray needs first: `name` as fixed-width S40 bytes (a recarray
cannot hold variable-length strings; 40 is the longest name, so the width is
the maximum, not the average) and the nullable `val` as float64 with NaN under
the nulls plus a bool column `val_null` (a recarray has no validity bitmap).
Work (work_ms): start the workers (multiprocessing.Process), each attaches by
name, takes a numpy view of its half and sends (sum, count) over a Queue.
"""
import time
from multiprocessing import Process, Queue
from multiprocessing.shared_memory import SharedMemory

import numpy as np
import pandas as pd

import job


def to_shared_recarray(df):
    flat = pd.DataFrame({
        'ts': df['ts'],
        'val': df['val'].to_numpy('float64', na_value=np.nan),
        'val_null': df['val'].isna().to_numpy(),
        'name': df['name'],
    })
    rec = flat.to_records(index=False, column_dtypes={'name': 'S40'})
    del flat
    shm = SharedMemory(create=True, size=rec.nbytes)
    shared = np.recarray(rec.shape, dtype=rec.dtype, buf=shm.buf)
    np.copyto(shared, rec)
    return shm, shared


def worker(i, name, n, dtype, lo, hi, q):
    shm = SharedMemory(name=name)
    rec = np.recarray((n,), dtype=dtype, buf=shm.buf)
    part = rec[lo:hi]
    s = job.val_sum(part['val'], part['val_null'])
    c = int((np.strings.str_len(part['name']) > job.NAME_LONGER_THAN).sum())
    del rec, part             # no view may outlive close()
    shm.close()
    q.put((i, s, c))


def run(df, a, mark_work):
    shm, shared = to_shared_recarray(df)
    n, dtype = len(shared), shared.dtype
    del shared
    t1 = time.perf_counter()
    mark_work()
    q = Queue()
    procs = [Process(target=worker, args=(i, shm.name, n, dtype, lo, hi, q))
             for i, (lo, hi) in enumerate(job.parts(n, a.workers))]
    for p in procs:
        p.start()
    got = dict((i, (s, c)) for i, s, c in (q.get() for _ in procs))
    t2 = time.perf_counter()
    for p in procs:
        p.join()
        if p.exitcode != 0:
            raise SystemExit(f'worker exited with {p.exitcode}')
    shm.close()
    shm.unlink()
    return t1, t2, [got[i] for i in range(len(procs))]


if __name__ == '__main__':
    job.run('py_shared_memory', run)
