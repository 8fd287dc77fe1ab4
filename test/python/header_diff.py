"""Driven by test/python.test.ts: parses each header image of CASES (a JSON
file of [{"image": base64, "size": segment size}]) with shmkit's parser and
prints, per case, what it made of it — {"ok": summary} or {"bad": message} —
for the test to compare with Node's parseHeader on the same bytes. An
accepted header must also have every area inside the segment; anything but
BadHeader escaping the parser fails the script.

    header_diff.py CASES
"""
import base64
import json
import sys

from common import shmkit  # noqa: F401  (the installed package, or python/ by path)
from shmkit import header as h


def summary(t):
    bits = -(-t.capacity // 8)
    for f in t.fields:  # every area the readers will view lies inside the segment
        if t.layout == "columns":
            per = bits if f["kind"] == "bool" else f["size"] * t.capacity
            assert f["offset"] + per <= t.end, f
            assert f["validity"] < 0 or f["validity"] + bits <= t.end, f
        else:
            assert f["offset"] + f["size"] <= t.row_size and t.data_offset + t.row_size * t.capacity <= t.end, f
    assert t.state_offset + 8 * t.capacity <= t.end and t.heap_offset + t.heap_size <= t.end <= SIZE
    return {
        "layout": t.layout, "capacity": t.capacity, "headerLength": t.header_length, "growable": t.growable,
        "rowSize": t.row_size, "stateOffset": t.state_offset, "dataOffset": t.data_offset,
        "heapOffset": t.heap_offset, "heapSize": t.heap_size, "end": t.end,
        "fields": [[f["name"], f["type"], f["nullable"], f["offset"], f["validity"]] for f in t.fields],
    }


out = []
with open(sys.argv[1]) as fh:
    cases = json.load(fh)
for case in cases:
    image, SIZE = base64.b64decode(case["image"]), case["size"]
    try:
        out.append({"ok": summary(h._parse("diff", image, SIZE))})
    except h.BadHeader as e:
        out.append({"bad": str(e)})
print(json.dumps(out))
