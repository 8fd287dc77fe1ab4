"""DuckDB on a shmkit table, found by name: shmkit.read_arrow maps it (no
copy) and DuckDB scans the Arrow buffers in place.

    python bench/dataframe/duckdb_by_name.py TABLE_NAME

Prints one JSON line: attach and query times, the job's two results.
"""
import json
import sys
import time

import duckdb
import shmkit

name = sys.argv[1]
t0 = time.perf_counter()
tbl = shmkit.read_arrow(name)
t1 = time.perf_counter()
con = duckdb.connect()
con.register("frame", tbl)
s, c = con.execute(
    "select sum(val) filter (where not isnan(val)), count(*) filter (where strlen(name) > 20) from frame"
).fetchone()
t2 = time.perf_counter()
print(json.dumps({"impl": "duckdb", "rows": tbl.num_rows, "attach_ms": (t1 - t0) * 1e3, "query_ms": (t2 - t1) * 1e3,
                  "result_sum": s, "result_count": c}))
