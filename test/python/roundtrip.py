"""Driven by test/python.test.ts: reads a Node-written table, prints what it
sees as JSON, then (when given a value) writes it into row 0 of a float64
field through a writable mapping, for Node to read back.

    roundtrip.py NAME [FIELD VALUE]
"""
import json
import math
import mmap
import os
import sys

try:  # the installed package (SHMKIT_PYTHON's venv), else the repo's python/ by path
    import shmkit
except ImportError:
    sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "python")))
    import shmkit
import numpy as np  # noqa: E402
from shmkit import read_schema, read_table, void_mask  # noqa: E402


def plain(v):
    """JSON-safe form of one numpy scalar, lossless."""
    if isinstance(v, np.bytes_):
        return {"utf8": v.decode("utf-8")}
    if isinstance(v, np.datetime64):
        return {"dt": str(v.astype("int64"))}
    if isinstance(v, (np.floating,)):
        f = float(v)
        if math.isnan(f):
            return {"f": "NaN"}
        if math.isinf(f):
            return {"f": "Infinity" if f > 0 else "-Infinity"}
        return {"f": repr(f), "neg": math.copysign(1.0, f) < 0}
    if isinstance(v, np.bool_):
        return bool(v)
    if isinstance(v, np.integer):
        return str(int(v))
    raise TypeError(type(v))


def backed_by_mmap(a):
    """Whether the array's memory is an mmap (a view of the mapping itself, not a copy)."""
    b = a
    while isinstance(b, np.ndarray):
        b = b.base
    return isinstance(getattr(b, "obj", b), mmap.mmap)


name = sys.argv[1]
info = read_schema(name)
data = read_table(name)
out = {"module": shmkit.__file__, "layout": info.layout, "length": info.length, "capacity": info.capacity, "fields": {}, "dtypes": {},
       "categories": {}, "void": void_mask(name).tolist(), "masked": {}, "sums": {}}
for f in info.fields:
    col = data[f["name"]]  # dict key or structured-array field: both index by name
    out["dtypes"][f["name"]] = col.dtype.str
    out["fields"][f["name"]] = [plain(x) for x in col.data]
    out["masked"][f["name"]] = np.ma.getmaskarray(col).tolist()
    if f["type"] == "float64":
        s = col.sum()  # masked rows are skipped
        out["sums"][f["name"]] = None if s is np.ma.masked else plain(s)
    if "categories" in f:
        out["categories"][f["name"]] = info.categories(f["name"])
first = data[info.fields[0]["name"]]
out["masked_arrays"] = isinstance(first, np.ma.MaskedArray)
out["shares_mapping"] = backed_by_mmap(first.data if info.layout == "columns" else data.data)
out["owns_data"] = bool(first.data.flags.owndata) if info.layout == "columns" else bool(data.data.flags.owndata)
out["readonly_view"] = not (first.data.flags.writeable if info.layout == "columns" else data.data.flags.writeable)

if len(sys.argv) >= 4:
    w = read_table(name, writable=True)
    w[sys.argv[2]][0] = float(sys.argv[3])
print(json.dumps(out))
