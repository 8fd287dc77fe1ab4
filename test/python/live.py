"""Driven by test/python-arrow.test.ts: reads table NAME with read_arrow over
and over while a Node writer appends to it, until it holds COUNT rows (or
TIMEOUT seconds pass), and checks every read: no BadHeader, the length never
goes back, and the last row of each read is whole (its fields agree, as
test/fixtures/table-appender.ts writes them). Prints what it saw as JSON.

    live.py NAME COUNT TIMEOUT
"""
import json
import sys
import time

from common import shmkit

name, count, timeout = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
reads = partial = last = 0
torn = []
end = time.monotonic() + timeout
while last < count and time.monotonic() < end:
    tbl = shmkit.read_arrow(name)
    n = tbl.num_rows
    if n < last:
        torn.append(f"length went back from {last} to {n}")
    reads += 1
    partial += 0 < n < count
    last = max(last, n)
    if n:
        row = {c: tbl.column(c)[n - 1].as_py() for c in tbl.column_names}
        if row["check"] != row["writer"] * 1e6 + row["seq"] or row["tag"] != f"w{row['writer']}-{row['seq']}":
            torn.append(row)
print(json.dumps({"reads": reads, "partial": partial, "length": last, "torn": torn[:5]}))
