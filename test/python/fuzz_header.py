"""Driven by test/python.test.ts: mutates the header of table NAME (a copy in
memory, never the segment) N times with a seeded RNG and checks that the
parser either accepts it with every area inside the segment or raises
BadHeader — never another exception. Prints {"ok": a, "bad": b}.

    fuzz_header.py NAME N SEED
"""
import json
import os
import random
import sys

try:  # the installed package (SHMKIT_PYTHON's venv), else the repo's python/ by path
    import shmkit
except ImportError:
    sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "python")))
    import shmkit
import numpy as np  # noqa: E402
from shmkit import numpy_reader as sn  # noqa: E402

name, runs, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
with open(f"/dev/shm/{name}", "rb") as fh:
    image = fh.read()
hlen = int.from_bytes(image[16:20], "little")
rng = random.Random(seed)
ok = bad = 0
for _ in range(runs):
    buf = bytearray(image)
    for _ in range(rng.randint(1, 6)):
        if rng.random() < 0.5:
            buf[rng.randrange(hlen)] = rng.randrange(256)
        else:  # an interesting 32-bit word at a fixed header field
            at = rng.choice([8, 12, 16, 20, 24, 28, 32, 40, 48, 64, 128])
            buf[at:at + 4] = rng.choice([0, 1, 2, 63, 64, 0x7FFFFFFF, 0xFFFFFFFF, rng.randrange(1 << 32)]).to_bytes(4, "little")
    if rng.random() < 0.1:
        buf = buf[: rng.randrange(len(buf) + 1)]
    try:
        t = sn._parse(name, buf)
    except sn.BadHeader:
        bad += 1
        continue
    # Accepted: every view must lie inside the buffer.
    for f in t.fields:
        dt = np.dtype(f["dtype"])
        end = f["offset"] + t.capacity * dt.itemsize if t.layout == "columns" else t.data_offset + t.capacity * t.row_size
        assert end <= len(buf), (f, end, len(buf))
        assert t.layout == "columns" or f["offset"] + dt.itemsize <= t.row_size
    ok += 1
print(json.dumps({"ok": ok, "bad": bad}))
