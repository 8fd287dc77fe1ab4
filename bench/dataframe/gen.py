"""The DataFrame job's data: one deterministic generator for every implementation.

    python gen.py OUT.arrow [--rows N] [--seed S]

writes the frame as an uncompressed Arrow IPC file (Feather v2) so that other
implementations (the Node side) load the very same values, and prints one JSON
line with the expected job results (see `reference`).

Columns (N rows, all drawn from numpy's PCG64(seed), in this order):

  ts        datetime64[us], no time zone: 2024-01-01T00:00:00 plus a running sum
            of integer steps drawn from [0, 2 s); non-decreasing.
  val       float64 ~ 100 * N(0, 1). One uniform draw u per row: u < 0.05 -> the
            value is NaN (a real IEEE NaN, not missing); 0.05 <= u < 0.10 -> the
            value is missing (null). A null row keeps its drawn value (a finite
            number) in the data: only the mask says it is missing, so a consumer
            that ignores the mask gets a wrong sum, on purpose.
  val_null  (numpy/pandas form only) bool, True where val is null. In Arrow it
            is val's validity bitmap; in pandas, val is a masked `Float64`
            column whose mask this is (NaN and <NA> stay distinct there).
  name      ASCII string, 0..40 bytes: length 0 with p = 0.05, else uniform in
            1..40; each byte is ' ' with p = 0.15, else a lowercase letter, so
            names read like runs of random words (leading, trailing and double
            spaces happen). ASCII, so bytes == characters. Never null.

The job: sum of val over rows that are neither NaN nor null, and the number of
rows whose name is longer than 20 bytes.
"""
import argparse
import json
import os
import sys
import time

import numpy as np

NAME_MAX = 40
NAN_P = 0.05
NULL_P = 0.05
EMPTY_P = 0.05
SPACE_P = 0.15
TS_START = np.datetime64('2024-01-01T00:00:00', 'us')
LETTERS = np.frombuffer(b'abcdefghijklmnopqrstuvwxyz', dtype=np.uint8)


def make_columns(n, seed=42):
    """numpy only: dict of ts, val, val_null, name_offsets (int64, n + 1) and
    name_data (uint8), the names in Arrow's offsets + bytes layout."""
    rng = np.random.Generator(np.random.PCG64(seed))
    steps = rng.integers(0, 2_000_000, size=n, dtype=np.int64)
    ts = TS_START + np.cumsum(steps).astype('timedelta64[us]')
    val = rng.standard_normal(n) * 100.0
    u = rng.random(n)
    val[u < NAN_P] = np.nan
    val_null = (u >= NAN_P) & (u < NAN_P + NULL_P)
    lengths = rng.integers(1, NAME_MAX + 1, size=n, dtype=np.int64)
    lengths[rng.random(n) < EMPTY_P] = 0
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    total = int(offsets[-1])
    data = LETTERS[rng.integers(0, 26, size=total, dtype=np.uint8)]
    data[rng.random(total) < SPACE_P] = ord(' ')
    return {'ts': ts, 'val': val, 'val_null': val_null, 'name_offsets': offsets, 'name_data': data}


def _name_array(cols, large=False):
    import pyarrow as pa
    n = len(cols['ts'])
    off = cols['name_offsets'].astype(np.int64 if large else np.int32)
    kind = pa.LargeStringArray if large else pa.StringArray
    return kind.from_buffers(n, pa.py_buffer(off), pa.py_buffer(cols['name_data']))


def make_frame(n, seed=42):
    """The pandas DataFrame: ts datetime64[us], val Float64 (masked: NaN and
    <NA> distinct, null rows keep their drawn value under the mask), name str
    (pandas 3's default string dtype, Arrow-backed). Needs pyarrow."""
    import pandas as pd
    c = make_columns(n, seed)
    return pd.DataFrame({
        'ts': c['ts'],
        'val': pd.arrays.FloatingArray(c['val'], c['val_null']),
        'name': pd.array(_name_array(c, large=True), dtype='str'),
    })


def to_arrow(cols):
    """pyarrow.Table with the types the other side expects: ts timestamp[us],
    val float64 (nullable, validity from val_null), name utf8 (32-bit offsets)."""
    import pyarrow as pa
    val = pa.Array.from_buffers(pa.float64(), len(cols['val']),
                                [pa.py_buffer(np.packbits(~cols['val_null'], bitorder='little')),
                                 pa.py_buffer(cols['val'])])
    return pa.table({'ts': pa.array(cols['ts'], type=pa.timestamp('us')),
                     'val': val,
                     'name': _name_array(cols)})


def reference(cols):
    """The job's answer computed in one process, straight from the columns."""
    v = cols['val']
    ok = ~cols['val_null'] & ~np.isnan(v)
    return {'result_sum': float(v[ok].sum()),
            'result_count': int((np.diff(cols['name_offsets']) > 20).sum())}


def main(argv=None):
    ap = argparse.ArgumentParser(description='Write the DataFrame job data as an Arrow IPC file.')
    ap.add_argument('out', help='path of the .arrow (Feather v2, uncompressed) file to write')
    ap.add_argument('--rows', type=int, default=10_000_000)
    ap.add_argument('--seed', type=int, default=42)
    ap.add_argument('--batch-rows', type=int, default=0,
                    help='rows per record batch (default: all rows in one batch)')
    a = ap.parse_args(argv)
    import pyarrow.feather as feather
    t0 = time.perf_counter()
    cols = make_columns(a.rows, a.seed)
    feather.write_feather(to_arrow(cols), a.out, compression='uncompressed',
                          chunksize=a.batch_rows or max(a.rows, 1))
    print(json.dumps({'path': a.out, 'rows': a.rows, 'seed': a.seed, 'bytes': os.path.getsize(a.out),
                      **reference(cols), 'ms': round((time.perf_counter() - t0) * 1e3, 1)}))


if __name__ == '__main__':
    sys.exit(main())
