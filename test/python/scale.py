"""Driven by test/python-scale.test.ts: over a table of about 1 GiB (NAME),
measures what read_arrow and polars.from_arrow cost in this process's private
memory (Private_Clean + Private_Dirty: the Node side keeps the segment mapped,
so its pages count as shared here), checks that the buffers stay in the
mapping, and prints as JSON the GROUP BY venue of polars and DuckDB, a
sample of string values (length and SHA-1), and the timings.

    scale.py NAME SAMPLE_ROWS(comma-separated)
"""
import hashlib
import json
import sys
import time

import duckdb
import pandas as pd
import polars as pl
import pyarrow as pa

from common import mappings_of, private_kib, shmkit

name = sys.argv[1]
sample = [int(i) for i in sys.argv[2].split(",")]
out = {"kib": {}, "seconds": {}}


def step(label, fn):
    p0, t0 = private_kib(), time.perf_counter()
    value = fn()
    out["seconds"][label] = round(time.perf_counter() - t0, 3)
    out["kib"][label] = private_kib() - p0
    return value


out["kib"]["before"] = private_kib()
tbl = step("read_arrow", lambda: shmkit.read_arrow(name))
(lo, hi), = mappings_of(name)


def in_mapping(arr):
    arr = arr.indices if pa.types.is_dictionary(arr.type) else arr
    return all(b is None or (lo <= b.address and b.address + b.size <= hi) for b in arr.buffers())


out["rows"] = tbl.num_rows
out["nbytes"] = tbl.nbytes
out["user_buffers"] = len(tbl.column("user").chunk(0).buffers())  # validity, views, then one per heap slice
out["arrow_in_mapping"] = {c: all(in_mapping(ch) for ch in tbl.column(c).chunks) for c in tbl.column_names}

# polars: string_view and the numbers are taken as they are; the category becomes polars'
# Categorical (u32 codes: a copy of 4 bytes a row). rechunk=False: one chunk already.
df = step("polars.from_arrow", lambda: pl.from_arrow(tbl, rechunk=False))
newest = pl.CompatLevel.newest()  # the default, oldest, exports string_view as a copied large_string
out["polars_in_mapping"] = {c: in_mapping(df[c].to_arrow(compat_level=newest)) for c in ("id", "score", "user", "ts")}


def polars_groups():
    g = (df.group_by("venue")
           .agg(pl.col("score").sum().alias("sum_score"), pl.len().alias("n"), pl.col("score").count().alias("n_score"),
                pl.col("qty").cast(pl.Int64).sum().alias("sum_qty"), pl.col("user").str.len_bytes().cast(pl.Int64).sum().alias("user_bytes"))
           .drop_nulls("venue"))
    return {r["venue"]: {k: r[k] for k in ("sum_score", "n", "n_score", "sum_qty", "user_bytes")} for r in g.to_dicts()}


out["polars"] = step("polars.group_by", polars_groups)


def duckdb_groups():
    rows = duckdb.sql("select venue::varchar, sum(score), count(*), count(score), sum(qty) from tbl group by venue").fetchall()
    return {v: {"sum_score": s, "n": n, "n_score": ns, "sum_qty": int(q)} for v, s, n, ns, q in rows if v is not None}


out["duckdb"] = step("duckdb", duckdb_groups)
pdf = step("to_pandas(ArrowDtype)", lambda: tbl.to_pandas(types_mapper=pd.ArrowDtype))
out["pandas_sum_qty"] = int(pdf["qty"].sum())
users = df["user"].gather(sample).to_list()
out["sample"] = [[len(s.encode()), hashlib.sha1(s.encode()).hexdigest()] for s in users]
print(json.dumps(out))
