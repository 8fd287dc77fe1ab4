"""Shared by the test/python/*.py scripts (each is run by path, so this
directory is on sys.path): shmkit itself (the installed package under
SHMKIT_PYTHON's venv, else the repo's python/), the lossless JSON form of a
value that test/python-run.ts's `enc` also produces, and memory probes.
"""
import math
import os
import struct
import sys

try:  # the installed package (SHMKIT_PYTHON's venv), else the repo's python/ by path
    import shmkit
except ImportError:
    sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "python")))
    import shmkit

__all__ = ["shmkit", "enc", "private_kib", "mappings_of"]


def enc(v):
    """JSON-safe and lossless: ints as strings, floats as the hex of their float64 bits
    (NaN as "NaN"), bytes as hex with a "b:" prefix, str and bool and None as they are."""
    if v is None or isinstance(v, (bool, str)):
        return v
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return "NaN" if math.isnan(v) else "f:" + struct.pack("<d", v).hex()
    if isinstance(v, (bytes, bytearray, memoryview)):
        return "b:" + bytes(v).hex()
    raise TypeError(type(v))


def private_kib():
    """Private_Clean + Private_Dirty of this process (/proc/self/smaps_rollup), in KiB.

    A page of the shared segment counts as private while this process is its
    only mapper: the Node side keeps the table mapped, so the segment's pages
    count as shared here and this is memory the reader allocated itself.
    """
    total = 0
    with open("/proc/self/smaps_rollup") as fh:
        for line in fh:
            key, _, rest = line.partition(":")
            if key in ("Private_Clean", "Private_Dirty"):
                total += int(rest.split()[0])
    return total


def mappings_of(name):
    """[(start, end)] address ranges of this process's mappings of /dev/shm/NAME."""
    out = []
    with open("/proc/self/maps") as fh:
        for line in fh:
            parts = line.split()
            if len(parts) >= 6 and parts[5] == f"/dev/shm/{name}":
                lo, hi = parts[0].split("-")
                out.append((int(lo, 16), int(hi, 16)))
    return out
