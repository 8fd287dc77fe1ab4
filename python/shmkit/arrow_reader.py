"""shmkit tables as pyarrow Tables over the shared mapping, with no copy of
the data (pip install './python[arrow]').

A 'columns' table's regions are already Arrow buffers (lib/table/layout.ts,
lib/table/arrow.ts does the same for apache-arrow in Node), so each column
is an Arrow array whose buffers are slices of the mmap of /dev/shm/<name>:

    int8 … uint64, float32/64  → int8 … uint64, float/double   values: slice
    bool                       → bool                          bits: slice
    datetime64[s|ms|us|ns]     → timestamp(unit)               values: slice
    utf8 / binary              → string_view / binary_view     views: slice; data buffers: heap slices
    utf8[N]                    → fixed_size_binary(N)          values: slice (NUL-padded bytes)
    { category: [...] }        → dictionary(uint8/16/32, utf8) indices: slice; dictionary: from the header
    nullable                   → nullable                      validity: slice

New memory: each category's dictionary (its values, from the header), and,
only while the table has a void row (a writer died mid-append; the header's
voids word is not 0), one validity bitmap per column (n / 8 bytes): its own
bits AND the row states. The Table keeps the mapping alive: every buffer
references it, and it is unmapped when the last one is freed.

The 'rows' layout interleaves fields, which Arrow cannot express: there
every column is a copy.
"""
from __future__ import annotations

import numpy as np

from .header import COMMITTED, SLICE, TableInfo, _open, _parse

__all__ = ["read_arrow"]

_INSTALL_HINT = "shmkit.read_arrow needs pyarrow: pip install './python[arrow]' (shmkit[arrow]), or pip install pyarrow"
# Rows of row states turned into validity bits at a time: bounds the temporary arrays (8 MiB of states).
_CHUNK = 1 << 20


def _pa():
    try:
        import pyarrow as pa
    except ImportError as e:
        raise ImportError(_INSTALL_HINT) from e
    if not hasattr(pa, "string_view"):  # Arrow's view types came to pyarrow in 16.0
        raise ImportError(f"shmkit.read_arrow needs pyarrow >= 16 (string_view, binary_view), found {pa.__version__}: "
                          f"pip install -U './python[arrow]'")
    return pa


def read_arrow(name, *, validate: bool = False):
    """A pyarrow.Table of table `name`'s rows [0, length) as of the call, with no copy of the data.

    `name` is a segment name, or the path of a file-backed table (a str that
    starts with '/', or a pathlib.Path): RecordTable.create(schema, { path }).

    Types: intN/uintN/floatN as such; bool → bool; datetime64[u] → timestamp(u)
    without a time zone (UTC by convention, as in read_table); utf8 →
    string_view and binary → binary_view (Arrow's views, as stored: values of
    up to 12 bytes inline, longer ones in the heap, whose 2^30-byte slices are
    the data buffers); utf8[N] → fixed_size_binary(N) (the NUL-padded bytes;
    `.cast(pa.binary())` and strip b"\\0" for strings); category →
    dictionary(uint8/16/32, utf8) whose indices are the stored codes. Null
    values, and every value of a void row (its writer died mid-append), are
    null.

    The cost does not grow with the table while no row is void: nothing is
    read but the header. A set() in Node (or a write through read_table(...,
    writable=True)) shows through the Table; rows appended later are not in
    it (call again). Field metadata is in the schema's metadata (shmkit.*).

    validate=True runs Arrow's full validation over every column (views
    inside their buffers, valid UTF-8, dictionary codes in range): O(length).
    Without it the buffers are trusted as Node's reader trusts them (shmkit
    writes only in-bounds views and codes, dead writers included).

    Raises ImportError if pyarrow is missing, FileNotFoundError if there is no
    such segment, BadHeader if it is not a valid version-3 table.
    """
    pa = _pa()
    tbl = _to_arrow(pa, _parse(name, _open(name, False)))
    if validate:
        tbl.validate(full=True)
    return tbl


def _arrow_type(pa, f: dict):
    kind = f["kind"]
    simple = {
        "int8": pa.int8(), "uint8": pa.uint8(), "int16": pa.int16(), "uint16": pa.uint16(),
        "int32": pa.int32(), "uint32": pa.uint32(), "int64": pa.int64(), "uint64": pa.uint64(),
        "float32": pa.float32(), "float64": pa.float64(), "bool": pa.bool_(),
        "string": pa.string_view(), "binary": pa.binary_view(),
    }
    if kind in simple:
        return simple[kind]
    if kind == "utf8":
        return pa.binary(f["width"])
    if kind == "datetime64":
        return pa.timestamp(f["unit"])
    if kind == "category":
        return pa.dictionary({1: pa.uint8(), 2: pa.uint16(), 4: pa.uint32()}[f["size"]], pa.utf8())
    raise TypeError(f"no Arrow type for {f['type']!r}")  # _parse already rejected unknown types


def _row_bits(t: TableInfo):
    """Validity of rows [0, length): bit i set where row i is COMMITTED (LSB first); n / 8 bytes."""
    n = t.length
    out = np.empty((n + 7) // 8, dtype=np.uint8)
    states = np.frombuffer(t.mm, dtype="<u4", count=2 * n, offset=t.state_offset)
    for at in range(0, n, _CHUNK):  # _CHUNK is a multiple of 8: each chunk fills whole bytes
        low = states[2 * at:2 * min(n, at + _CHUNK):2]
        out[at // 8:(at + len(low) + 7) // 8] = np.packbits(low == COMMITTED, bitorder="little")
    return out


def _utf8(pa, values: list):
    """A utf8 array of `values`, built from buffers: pa.array() would import pandas (seconds, ~50 MiB) on first use."""
    data = [v.encode("utf-8") for v in values]
    offsets = np.zeros(len(data) + 1, dtype="<i4")
    np.cumsum([len(b) for b in data], out=offsets[1:])
    return pa.Array.from_buffers(pa.utf8(), len(data), [None, pa.py_buffer(offsets), pa.py_buffer(b"".join(data))])


def _to_arrow(pa, t: TableInfo):
    n = t.length
    whole = pa.py_buffer(t.mm)  # the mapping itself: slices of it are zero-copy views that keep it alive
    rows = _row_bits(t) if t.voids != 0 else None
    bits = (n + 7) // 8
    columns, fields = [], []
    if t.layout == "columns":
        slices = [whole.slice(t.heap_offset + at, min(SLICE, t.heap_ready - at)) for at in range(0, t.heap_ready, SLICE)]
    for f in t.fields:
        typ = _arrow_type(pa, f)
        if t.layout == "columns":
            validity = whole.slice(f["validity"], bits) if f["validity"] >= 0 else None
            if rows is not None:  # void rows: a new bitmap, own bits AND row states
                own = np.frombuffer(t.mm, dtype=np.uint8, count=bits, offset=f["validity"]) if validity is not None else None
                validity = pa.py_buffer(rows if own is None else rows & own)
            if f["kind"] == "bool":
                data = [whole.slice(f["offset"], bits)]
            elif f["variable"]:
                data = [whole.slice(f["offset"], 16 * n)] + slices
            else:
                data = [whole.slice(f["offset"], n * f["size"])]
        else:  # interleaved records: copy the field out
            dt = np.dtype(f["dtype"])
            rec = np.frombuffer(t.mm, dtype=np.dtype({"names": [f["name"]], "formats": [dt], "offsets": [f["offset"]],
                                                      "itemsize": t.row_size}), count=n, offset=t.data_offset)
            raw = np.ascontiguousarray(rec[f["name"]])
            if f["kind"] == "bool":  # one byte a value → bits
                raw = np.packbits(raw != 0, bitorder="little")
            data = [pa.py_buffer(raw)]
            validity = None if rows is None else pa.py_buffer(rows)
        if f["kind"] == "category":
            codes = pa.Array.from_buffers(typ.index_type, n, [validity] + data)
            dictionary = _utf8(pa, f["categories"])
            arr = pa.DictionaryArray.from_arrays(codes, dictionary, safe=False)
        else:
            arr = pa.Array.from_buffers(typ, n, [validity] + data)
        columns.append(arr)
        fields.append(pa.field(f["name"], arr.type, nullable=f["nullable"] or rows is not None))
    meta = {"shmkit.name": t.name, "shmkit.layout": t.layout, "shmkit.capacity": str(t.capacity),
            "shmkit.growable": "true" if t.growable else "false"}
    return pa.Table.from_arrays(columns, schema=pa.schema(fields, metadata=meta))
