"""Driven by test/file-segment.test.ts: reads a file-backed table by its
path (a str, then a pathlib.Path) with read_table, and with read_arrow
when pyarrow is installed; prints what it saw as JSON.

    file_table.py PATH
"""
import json
import pathlib
import sys

import numpy as np

from common import shmkit

path = sys.argv[1]
cols = shmkit.read_table(path)
s = cols["s"]
out = {
    "length": int(len(cols["id"])),
    "id": [int(v) for v in cols["id"][:3]],
    "k_sum": int(cols["k"].astype(np.uint64).sum()),
    "s": [None if m else v for v, m in zip(s.data[:301:100], np.ma.getmaskarray(s)[:301:100])],
    "same_by_pathlib": bool((shmkit.read_table(pathlib.Path(path))["k"] == cols["k"]).all()),
}
try:
    import pyarrow  # noqa: F401
except ImportError:
    out["arrow"] = None
else:
    t = shmkit.read_arrow(pathlib.Path(path))
    out["arrow"] = {"rows": t.num_rows, "id0": t.column("id")[0].as_py(), "s": t.column("s").to_pylist()[:301:100]}
print(json.dumps(out))
