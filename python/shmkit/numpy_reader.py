"""Read (and write) shmkit record tables from Python with numpy.

    import shmkit                           # pip install ./python
    cols = shmkit.read_table("app.trades")  # {'price': masked array over the mapping, ...}
    cols["price"].sum()                     # null and void rows are skipped

The segment is mapped straight from /dev/shm/<name> with mmap: Python's
multiprocessing.shared_memory.SharedMemory is not used, because (3.8-3.12)
it registers every attach with the resource tracker, which unlinks the
segment when this process exits, under the feet of its Node owner. The
header (format version 3) is parsed and validated in header.py.
"""
from __future__ import annotations

import numpy as np

from .header import COMMITTED, SLICE, BadHeader, TableInfo, _open, _parse, _stringify

__all__ = ["read_table", "read_schema", "void_mask", "TableInfo", "BadHeader"]

_VIEW = np.dtype([("len", "<i4"), ("prefix", "V4"), ("buf", "<i4"), ("off", "<i4")])


def read_schema(name) -> TableInfo:
    """Parses the header of table `name` (validated like Node's attach).

    Raises FileNotFoundError if there is no such segment, BadHeader if it is
    not a valid version-3 table.
    """
    return _parse(name, _open(name, False))


def read_table(name, writable: bool = False):
    """The columns of table `name`, rows [0, length) as of the call.

    `name` is a segment name, or the path of a file-backed table (a str that
    starts with '/', or a pathlib.Path): RecordTable.create(schema, { path }).

    'columns' layout: a dict {field: numpy.ma.MaskedArray}. What is a view of
    the mapping (no copy): integers, floats, datetime64 (numpy datetime64),
    utf8[N] (numpy bytes 'S{N}') and category (its integer codes; see
    TableInfo.categories). What is a copy: bool columns (stored as bits, LSB
    first: unpacked to one byte a value, n bytes), utf8 and binary columns
    (numpy object arrays of str / bytes, None where null: one Python object
    a row — for large string columns use read_arrow, which copies nothing),
    and the masks.

    The mask is True where a value is null (a nullable field's validity bit
    is 0) or where the row is void (reserved by a writer that died before
    finishing it), so sum(), mean() and count() skip those; `.data` is the
    plain array, `.mask` the mask (numpy.ma.nomask, no memory, when nothing
    is masked). The values under the mask are unspecified.

    'rows' layout: one structured MaskedArray with numpy's packed dtype (a
    view; no nullable or utf8/binary fields there).

    writable=True maps the segment read-write, so that assignments to the
    view arrays are seen by every process at once (the copies are not).

    Raises FileNotFoundError if there is no such segment, BadHeader if it is
    not a valid version-3 table (or a utf8/binary view points outside its heap).
    """
    t = _parse(name, _open(name, writable))
    mm, n = t.mm, t.length
    void = _void(t) if t.voids != 0 else None
    if t.layout == "rows":
        dt = np.dtype({
            "names": [f["name"] for f in t.fields],
            "formats": [f["dtype"] for f in t.fields],
            "offsets": [f["offset"] for f in t.fields],
            "itemsize": t.row_size,
        })
        data = np.frombuffer(mm, dtype=dt, count=n, offset=t.data_offset)
        return np.ma.MaskedArray(data, mask=np.ma.nomask if void is None else void, copy=False)
    out = {}
    for f in t.fields:
        mask = void
        if f["validity"] >= 0:
            null = ~_bits(mm, f["validity"], n)
            mask = null if mask is None else (mask | null)
        if f["kind"] == "bool":
            values = _bits(mm, f["offset"], n)
        elif f["variable"]:
            values = _strings(t, f, mask)
        else:
            values = np.frombuffer(mm, dtype=np.dtype(f["dtype"]), count=n, offset=f["offset"])
        out[f["name"]] = np.ma.MaskedArray(values, mask=np.ma.nomask if mask is None else mask, copy=False)
    return out


def _bits(mm, offset: int, n: int):
    """An LSB-first bitmap of n bits as n booleans (a copy)."""
    packed = np.frombuffer(mm, dtype=np.uint8, count=(n + 7) // 8, offset=offset)
    return np.unpackbits(packed, count=n, bitorder="little").view(np.bool_)


def _strings(t: TableInfo, f: dict, mask):
    """A utf8/binary column as a numpy object array of str/bytes (None where masked): a copy."""
    n = t.length
    views = np.frombuffer(t.mm, dtype=_VIEW, count=n, offset=f["offset"])
    lens, bufs, offs = views["len"], views["buf"].astype(np.int64), views["off"].astype(np.int64)
    live = np.ones(n, dtype=bool) if mask is None else ~mask
    long = live & (lens > 12)
    # Every present view must point inside the heap bytes that have memory (as Node's get() checks).
    start = bufs * SLICE + offs
    bad = (live & (lens < 0)) | (long & ((bufs < 0) | (offs < 0) | (offs + lens > SLICE) | (start + lens > t.heap_ready)))
    if bad.any():
        i = int(np.argmax(bad))
        raise BadHeader(f"row {i} field {_stringify(f['name'])} holds a view outside the table's heap "
                        f"(bytes written by something other than shmkit)")
    # Absolute offsets of each value's bytes: inline after the length, or in the heap.
    at = np.where(long, t.heap_offset + start, f["offset"] + 16 * np.arange(n, dtype=np.int64) + 4)
    mm = t.mm
    out = np.empty(n, dtype=object)
    text = f["kind"] == "string"
    for i, (ok, a, ln) in enumerate(zip(live.tolist(), at.tolist(), lens.tolist())):
        if ok:
            b = mm[a:a + ln]
            out[i] = b.decode("utf-8", "replace") if text else b
    return out


def _void(t: TableInfo):
    """True where a row of [0, length) is void: the low half of its 64-bit state is not COMMITTED.

    Below the committed length every state is COMMITTED or VOID and never changes again.
    """
    low = np.frombuffer(t.mm, dtype="<u4", count=2 * t.length, offset=t.state_offset)[0::2]
    return low != COMMITTED


def void_mask(name):
    """Boolean array over rows [0, length), True where a row is void (its writer died mid-append)."""
    return _void(read_schema(name))
