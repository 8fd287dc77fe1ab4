"""Driven by test/python-arrow.test.ts: reads table NAME with shmkit.read_arrow
and prints, as JSON, its values, where its buffers lie (inside the mapping or
not), whether a write through another mapping shows through it, and what
pandas, polars and DuckDB compute over it.

    arrow.py NAME values|consumers [FLOAT_FIELD]
"""
import json
import math
import sys

import pyarrow as pa

from common import shmkit
from shmkit import arrow_reader, numpy_reader


def plain(v):
    if v is None:
        return None
    if isinstance(v, bytes):
        return {"utf8": v.rstrip(b"\0").decode("utf-8")}
    if isinstance(v, float):
        if math.isnan(v):
            return {"f": "NaN"}
        if math.isinf(v):
            return {"f": "Infinity" if v > 0 else "-Infinity"}
        return {"f": repr(v), "neg": math.copysign(1.0, v) < 0}
    if isinstance(v, bool):
        return v
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return v
    raise TypeError(type(v))


name, mode = sys.argv[1], sys.argv[2]
tbl = shmkit.read_arrow(name)
out = {"module": shmkit.__file__, "rows": tbl.num_rows, "types": {f.name: str(f.type) for f in tbl.schema},
       "metadata": {k.decode(): v.decode() for k, v in (tbl.schema.metadata or {}).items()}}

if mode == "values":
    vals = {}
    for f in tbl.schema:
        col = tbl.column(f.name)
        if pa.types.is_timestamp(f.type):
            col = col.cast(pa.int64())
        vals[f.name] = [plain(v) for v in col.to_pylist()]
    out["values"] = vals
    out["nulls"] = {f.name: tbl.column(f.name).null_count for f in tbl.schema}
    # Same mapping, seen from inside: which data buffers lie in it.
    info = numpy_reader._parse(name, numpy_reader._open(name, False))
    t2 = arrow_reader._to_arrow(pa, info)
    base = pa.py_buffer(info.mm).address
    inside = {}
    for f in t2.schema:
        arr = t2.column(f.name).chunk(0)
        data = (arr.indices if pa.types.is_dictionary(f.type) else arr).buffers()[1]
        inside[f.name] = base <= data.address and data.address + data.size <= base + len(info.mm)
    out["in_mapping"] = inside
    # A write through another (writable) mapping of the same segment shows through the Arrow table.
    field = sys.argv[3]
    before = t2.column(field)[0].as_py()
    numpy_reader.read_table(name, writable=True)[field][0] = 4242.5
    out["live"] = {"before": plain(before), "after": plain(t2.column(field)[0].as_py())}
elif mode == "consumers":
    import duckdb
    import polars as pl

    pdf = tbl.to_pandas()
    out["pandas"] = {"a": float(pdf["a"].sum()), "b": int(pdf["b"].sum()), "count_a": int(pdf["a"].count()),
                     "by_venue": {str(k): int(v) for k, v in pdf.groupby("venue", observed=True)["b"].sum().items()}}
    pdl = pl.from_arrow(tbl)
    out["polars"] = {"a": float(pdl["a"].sum()), "b": int(pdl["b"].sum()), "count_a": int(pdl["a"].count()),
                     "by_venue": {r["venue"]: int(r["b"]) for r in
                                  pdl.group_by("venue").agg(pl.col("b").sum()).drop_nulls("venue").to_dicts()}}
    con = duckdb.connect()
    con.register("t", tbl)
    a, b, count_a = con.execute("select sum(a), sum(b), count(a) from t").fetchone()
    by = con.execute("select venue::varchar, sum(b) from t where venue is not null group by 1").fetchall()
    out["duckdb"] = {"a": float(a), "b": int(b), "count_a": int(count_a), "by_venue": {k: int(v) for k, v in by}}
print(json.dumps(out))
