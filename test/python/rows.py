"""Driven by test/python-arrow.test.ts: reads each table NAME with read_arrow
and with read_table and prints, as JSON, both row for row (values in
common.enc's form, None for null), the Arrow types, null counts and
nullability, and where every buffer lies: inside the one mapping the reader
made, or not (category dictionaries; validity bitmaps made for void rows;
read_table's copies).

    rows.py NAME...      → {NAME: {...}, ...}
"""
import json
import sys

import numpy as np
import pyarrow as pa

from common import enc, mappings_of, shmkit


def inside(span, address, size):
    return span[0] <= address and address + size <= span[1]


def arrow_buffers(arr, span):
    """Where each buffer of a chunk lies: validity, values or views, data buffers; a dictionary's indices, then its values."""
    where = lambda b: None if b is None else "mapping" if inside(span, b.address, b.size) else "new"  # noqa: E731
    if pa.types.is_dictionary(arr.type):
        return [where(b) for b in arr.indices.buffers()] + [f"dictionary:{where(b) or 'null'}" for b in arr.dictionary.buffers()]
    return [where(b) for b in arr.buffers()]


def arrow_rows(tbl):
    rows = [dict() for _ in range(tbl.num_rows)]
    for f in tbl.schema:
        col = tbl.column(f.name)
        if pa.types.is_timestamp(f.type):
            col = col.cast(pa.int64())
        fixed = pa.types.is_fixed_size_binary(f.type)
        for i, v in enumerate(col.to_pylist()):
            rows[i][f.name] = None if v is None else v.rstrip(b"\0").decode("utf-8") if fixed else enc(v)
    return rows


def table_value(f, x):
    kind = f["kind"]
    if kind == "category":
        return f["categories"][int(x)]
    if kind == "datetime64":
        return str(int(x.astype("int64")))
    if kind == "utf8":
        return bytes(x).decode("utf-8")
    if kind in ("float32", "float64"):
        return enc(float(x))
    if kind == "bool":
        return bool(x)
    if kind in ("string", "binary"):
        return enc(x)
    return str(int(x))


def read(name):
    tbl = shmkit.read_arrow(name)
    maps = mappings_of(name)  # before read_table maps the segment a second time
    assert len(maps) == 1, maps
    info = shmkit.read_schema(name)
    info.mm.close()  # its own mapping: only read_table's is left to find
    cols = shmkit.read_table(name)
    table_span, = [m for m in mappings_of(name) if m != maps[0]]
    table_rows = [dict() for _ in range(info.length)]
    for f in info.fields:
        col = cols[f["name"]]
        mask = np.ma.getmaskarray(col)
        for i, x in enumerate(col.data):
            table_rows[i][f["name"]] = None if mask[i] else table_value(f, x)
    return {
        "rows": tbl.num_rows,
        "types": {f.name: str(f.type) for f in tbl.schema},
        "nullable": {f.name: f.nullable for f in tbl.schema},
        "nulls": {f.name: tbl.column(f.name).null_count for f in tbl.schema},
        "chunks": {f.name: tbl.column(f.name).num_chunks for f in tbl.schema},
        "buffers": {f.name: arrow_buffers(tbl.column(f.name).chunk(0), maps[0]) for f in tbl.schema},
        "dtypes": {f["name"]: str(cols[f["name"]].dtype) for f in info.fields},
        # read_table: a view of its mapping, or a copy.
        "table_in_mapping": {f["name"]: inside(table_span, cols[f["name"]].data.__array_interface__["data"][0],
                                               cols[f["name"]].data.nbytes) for f in info.fields},
        "arrow": arrow_rows(tbl),
        "table": table_rows,
    }


print(json.dumps({name: read(name) for name in sys.argv[1:]}))
