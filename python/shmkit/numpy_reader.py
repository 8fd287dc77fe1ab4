"""Read (and write) shmkit record tables from Python with numpy, no copy.

    import shmkit                          # pip install ./python
    cols = shmkit.read_table("app.trades")  # {'price': ndarray view, ...}
    cols["price"].sum()

The segment is mapped straight from /dev/shm/<name> with mmap: Python's
multiprocessing.shared_memory.SharedMemory is not used, because (3.8-3.12)
it registers every attach with the resource tracker, which unlinks the
segment when this process exits, under the feet of its Node owner.

Header layout (format version 2, little-endian; see lib/table/header.ts):
    0  8  magic b"SHMKTBL\\0"     8 4 version     12 4 layout (1 columns, 2 rows)
    16 4  header length          20 4 schema JSON length
    24 4  capacity               28 4 row size   32 8 state offset (8 bytes a row)
    40 8  data offset            48 8 end        64 4 reserved (i32)
    128 4 committed (i32)        160 4 voids (i32)   192 J schema JSON: [{name, type, categories?, offset}]
"""
from __future__ import annotations

import json
import mmap
import os
import re
import struct
from dataclasses import dataclass, field

import numpy as np

__all__ = ["read_table", "read_schema", "void_mask", "TableInfo", "BadHeader"]

MAGIC = b"SHMKTBL\0"
FORMAT_VERSION = 2
SCHEMA_AT = 192
MAX_CAPACITY = 0x7FFFFFFF
COMMIT_VOID = 2  # low half of a row's 64-bit state (lib/table/append.ts)

_NUMERIC = {
    "int8": "i1", "uint8": "u1", "int16": "<i2", "uint16": "<u2", "int32": "<i4",
    "uint32": "<u4", "int64": "<i8", "uint64": "<u8", "float32": "<f4", "float64": "<f8",
    "bool": "?",
}
_UTF8 = re.compile(r"^utf8\[([1-9][0-9]{0,5})\]$")
_DATETIME = re.compile(r"^datetime64\[(s|ms|us|ns)\]$")


class BadHeader(ValueError):
    """The segment is not a valid shmkit table (Node's ERR_SHM_BAD_HEADER)."""


@dataclass
class TableInfo:
    """What a table header says, plus the mapping it was read from."""

    name: str
    layout: str
    capacity: int
    length: int
    row_size: int
    state_offset: int
    data_offset: int
    fields: list = field(default_factory=list)  # [{name, type, dtype, offset, categories?}]
    mm: mmap.mmap | None = None

    def categories(self, name: str) -> list[str]:
        """The dictionary of a category field: code i means categories(name)[i]."""
        for f in self.fields:
            if f["name"] == name and "categories" in f:
                return list(f["categories"])
        raise KeyError(f"{name!r} is not a category field")


def _dtype(f: dict) -> str:
    t = f.get("type")
    if t in _NUMERIC:
        return _NUMERIC[t]
    if isinstance(t, str) and (m := _UTF8.match(t)):
        return "S" + m.group(1)
    if isinstance(t, str) and (m := _DATETIME.match(t)):
        return f"<M8[{m.group(1)}]"
    if t == "category":
        n = len(f.get("categories") or [])
        if n < 1:
            raise BadHeader(f"category field {f.get('name')!r} has no values")
        return "u1" if n <= 0x100 else "<u2" if n <= 0x10000 else "<u4"
    raise BadHeader(f"unknown type {t!r}")


def _open(name: str, writable: bool) -> mmap.mmap:
    if "/" in name or name in ("", ".", ".."):
        raise ValueError(f"bad segment name {name!r}")
    fd = os.open(f"/dev/shm/{name}", os.O_RDWR if writable else os.O_RDONLY)
    try:
        size = os.fstat(fd).st_size
        if size < SCHEMA_AT:
            raise BadHeader(f"segment is {size} bytes, smaller than a table header")
        return mmap.mmap(fd, size, access=mmap.ACCESS_WRITE if writable else mmap.ACCESS_READ)
    finally:
        os.close(fd)


def _parse(name: str, mm) -> TableInfo:
    try:
        return _parse_unchecked(name, mm)
    except BadHeader:
        raise
    except (TypeError, ValueError, KeyError, IndexError, AttributeError, struct.error, OverflowError) as e:
        # Whatever a lying header trips over inside the checks is still a bad header.
        raise BadHeader(f"{type(e).__name__}: {e}") from None


def _parse_unchecked(name: str, mm) -> TableInfo:
    size = len(mm)
    if mm[:8] != MAGIC:
        raise BadHeader("wrong magic (not a shmkit table)")
    version, layout_code, hlen, jlen, capacity, row_size = struct.unpack_from("<6I", mm, 8)
    state_off, data_off, end = struct.unpack_from("<3Q", mm, 32)
    reserved, = struct.unpack_from("<i", mm, 64)
    committed, = struct.unpack_from("<i", mm, 128)
    if version != FORMAT_VERSION:
        raise BadHeader(f"unknown format version {version}")
    layout = {1: "columns", 2: "rows"}.get(layout_code)
    if layout is None:
        raise BadHeader(f"unknown layout code {layout_code}")
    if hlen % 64 or hlen < SCHEMA_AT or hlen > size or jlen == 0 or SCHEMA_AT + jlen > hlen:
        raise BadHeader("header or schema length out of bounds")
    if not 1 <= capacity <= MAX_CAPACITY or end > size:
        raise BadHeader("capacity or end out of bounds")
    try:
        fields = json.loads(bytes(mm[SCHEMA_AT:SCHEMA_AT + jlen]).decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise BadHeader(f"schema is not UTF-8 JSON: {e}") from None
    if not isinstance(fields, list) or not fields:
        raise BadHeader("schema is not a list of fields")
    if state_off % 8:
        raise BadHeader("state offset is not 8-byte aligned")
    out, areas = [], [(state_off, state_off + 8 * capacity)]
    for f in fields:
        if not isinstance(f, dict) or not isinstance(f.get("name"), str) or not isinstance(f.get("offset"), int) \
                or isinstance(f.get("offset"), bool) or f["offset"] < 0:
            raise BadHeader(f"bad field {f!r}")
        if f["name"] in (g["name"] for g in out):
            raise BadHeader(f"field {f['name']!r} repeats")
        if f.get("type") == "category" and (not isinstance(f.get("categories"), list)
                                            or not all(isinstance(c, str) for c in f["categories"])):
            raise BadHeader(f"category field {f['name']!r} has no list of string values")
        dt = np.dtype(_dtype(f))
        g = dict(f, dtype=dt.str)
        out.append(g)
        if layout == "columns":
            areas.append((f["offset"], f["offset"] + capacity * dt.itemsize))
        elif f["offset"] + dt.itemsize > row_size:
            raise BadHeader(f"field {f['name']!r} lies outside the record")
    if layout == "rows":
        areas.append((data_off, data_off + capacity * row_size))
    areas.sort()
    for i, (a, b) in enumerate(areas):
        if a < hlen or b > end or (i and a < areas[i - 1][1]):
            raise BadHeader("an area lies outside the table or overlaps another")
    if not 0 <= committed <= reserved <= capacity:
        raise BadHeader("committed/reserved counters out of bounds")
    return TableInfo(name, layout, capacity, committed, row_size, state_off, data_off, out, mm)


def read_schema(name: str) -> TableInfo:
    """Parses the header of table `name` (validated like Node's attach)."""
    return _parse(name, _open(name, False))


def read_table(name: str, writable: bool = False):
    """Views of table `name`, limited to its committed length, with no copy.

    'columns' layout: a dict {field: numpy.ma.MaskedArray} (utf8[N] as numpy
    bytes 'S{N}', datetime64 as numpy datetime64, category as its integer
    codes; see TableInfo.categories). 'rows' layout: one structured
    MaskedArray with numpy's packed dtype. Void rows — reserved by a writer
    that died before finishing them — are masked, so sum(), mean() and
    count() skip them; `.data` is the plain zero-copy view, `.mask` the mask
    (see also void_mask). writable=True maps the segment read-write, so that
    assignments to the arrays are seen by every process at once.

    Raises FileNotFoundError if there is no such segment, BadHeader if it is
    not a valid table.
    """
    t = _parse(name, _open(name, writable))
    mm, n = t.mm, t.length
    mask = _void(t)
    if t.layout == "columns":
        return {
            f["name"]: np.ma.MaskedArray(np.frombuffer(mm, dtype=np.dtype(f["dtype"]), count=n, offset=f["offset"]),
                                         mask=mask, copy=False)
            for f in t.fields
        }
    dt = np.dtype({
        "names": [f["name"] for f in t.fields],
        "formats": [f["dtype"] for f in t.fields],
        "offsets": [f["offset"] for f in t.fields],
        "itemsize": t.row_size,
    })
    return np.ma.MaskedArray(np.frombuffer(mm, dtype=dt, count=n, offset=t.data_offset), mask=mask, copy=False)


def _void(t: TableInfo):
    """True where a row of [0, length) is void: the low half of its 64-bit state is VOID."""
    low = np.frombuffer(t.mm, dtype="<i4", count=2 * t.length, offset=t.state_offset)[0::2]
    return low == COMMIT_VOID


def void_mask(name: str):
    """Boolean array, True where a row is void (its writer died mid-append)."""
    return _void(read_schema(name))
