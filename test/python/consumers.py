"""Driven by test/python-arrow.test.ts: GROUP BY venue over table NAME (an
Event table) with pandas (types_mapper=pd.ArrowDtype, and the default
to_pandas(), which copies), polars and DuckDB, all over one read_arrow
Table; prints each one's groups as JSON, and whether the ArrowDtype frame
still holds the mapping's buffers.

    consumers.py NAME...      → {NAME: {...}, ...}
"""
import json
import sys

import duckdb
import pandas as pd
import polars as pl
import pyarrow as pa

from common import mappings_of, shmkit

def group(venue, sum_score, n, n_score, user_bytes, ok_true):
    return str(venue), {"sum_score": float(sum_score), "n": int(n), "n_score": int(n_score),
                        "user_bytes": int(user_bytes), "ok_true": int(ok_true)}


def present(v):
    return not pd.isna(v)  # None, NaN (pandas 3's str dtype) or pd.NA


def by_pandas(pdf):
    # Per value in Python: pandas' ArrowDtype has no .str or .map for string_view (pandas 3.0).
    small = pd.DataFrame({"venue": pdf["venue"], "score": pdf["score"],
                          "user_bytes": [len(s.encode("utf-8")) if present(s) else 0 for s in pdf["user"].tolist()],
                          "ok_true": [1 if present(b) and bool(b) else 0 for b in pdf["ok"].tolist()]})
    # dropna first: with ArrowDtype, factorizing a dictionary<uint8> column that holds nulls fails
    # in pandas 3.0 (it fills them with -1). On the small frame: pyarrow has no take() for binary_view.
    g = small.dropna(subset=["venue"]).groupby("venue", observed=True)
    agg = pd.DataFrame({"sum_score": g["score"].sum(), "n": g.size(), "n_score": g["score"].count(),
                        "user_bytes": g["user_bytes"].sum(), "ok_true": g["ok_true"].sum()})
    return dict(group(v, *row) for v, row in zip(agg.index, agg.itertuples(index=False)))


def read(name):
    tbl = shmkit.read_arrow(name)
    (lo, hi), = mappings_of(name)
    out = {}
    # pandas over Arrow memory: ArrowDtype columns wrap the Table's ChunkedArrays.
    pdf = tbl.to_pandas(types_mapper=pd.ArrowDtype)
    inside = True
    for c in pdf.columns:
        for chunk in pdf[c].array.__arrow_array__().chunks:
            arr = chunk.indices if pa.types.is_dictionary(chunk.type) else chunk
            inside &= all(lo <= b.address and b.address + b.size <= hi for b in arr.buffers()[1:])  # validity: new while rows are void
    out["pandas_arrow_in_mapping"] = bool(inside)
    out["pandas_arrow"] = by_pandas(pdf)
    # The default to_pandas(): numpy columns, Python str objects, Categorical: copies.
    out["pandas"] = by_pandas(tbl.to_pandas())

    df = pl.from_arrow(tbl)
    g = (df.group_by("venue")
           .agg(pl.col("score").sum().alias("sum_score"), pl.len().alias("n"), pl.col("score").count().alias("n_score"),
                pl.col("user").str.len_bytes().sum().alias("user_bytes"), pl.col("ok").sum().alias("ok_true"))
           .drop_nulls("venue"))
    out["polars"] = dict(group(r["venue"], r["sum_score"], r["n"], r["n_score"], r["user_bytes"], r["ok_true"]) for r in g.to_dicts())

    rows = duckdb.sql("select venue::varchar, sum(score), count(*), count(score), sum(strlen(user)), count_if(ok) "
                      "from tbl where venue is not null group by venue").fetchall()
    out["duckdb"] = dict(group(*r) for r in rows)
    return out


print(json.dumps({name: read(name) for name in sys.argv[1:]}))
