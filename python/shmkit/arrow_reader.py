"""shmkit tables as pyarrow Tables over the shared mapping (pip install 'shmkit[arrow]').

What is zero-copy ('columns' layout): every data buffer — integers, floats,
datetime64 (timestamp), utf8[N] (fixed_size_binary(N), NUL-padded as stored)
and category codes (the indices of a dictionary(uint, utf8) array) — is a
slice of the mmap of /dev/shm/<name>. What is new memory: the validity
bitmap (one bit a row, only when some row is void), the bool columns (stored
one byte a value, Arrow packs them into bits), and each category's small
dictionary. The 'rows' layout interleaves fields, which Arrow cannot express,
so there every column is copied.
"""
from __future__ import annotations

import numpy as np

from .numpy_reader import TableInfo, _open, _parse, _void

__all__ = ["read_arrow"]

_INSTALL_HINT = "shmkit.read_arrow needs pyarrow: pip install 'shmkit[arrow]' (or pip install pyarrow)"


def _pa():
    try:
        import pyarrow as pa
    except ImportError as e:
        raise ImportError(_INSTALL_HINT) from e
    return pa


def read_arrow(name: str):
    """A pyarrow.Table of table `name`'s rows [0, length), with no copy of the data.

    Types: intN/uintN/floatN as such; bool → bool (a COPY: the segment keeps one
    byte a value, Arrow one bit); datetime64[u] → timestamp(u) without a time
    zone (UTC by convention, as in read_table); utf8[N] → fixed_size_binary(N)
    (the NUL-padded bytes, zero-copy; `.cast(pa.binary())` and strip b"\\0" for
    strings); category → dictionary(uint8/16/32, utf8) whose indices are the
    stored codes, zero-copy. Void rows (their writer died mid-append) are null
    in every column. For the 'columns' layout every data buffer lies in the
    mapping (the Table keeps it alive); 'rows' layout columns are copies.

    Raises ImportError if pyarrow is missing, FileNotFoundError if there is no
    such segment, BadHeader if it is not a valid table.
    """
    pa = _pa()
    return _to_arrow(pa, _parse(name, _open(name, False)))


def _arrow_type(pa, f: dict):
    t = f["type"]
    simple = {
        "int8": pa.int8(), "uint8": pa.uint8(), "int16": pa.int16(), "uint16": pa.uint16(),
        "int32": pa.int32(), "uint32": pa.uint32(), "int64": pa.int64(), "uint64": pa.uint64(),
        "float32": pa.float32(), "float64": pa.float64(), "bool": pa.bool_(),
    }
    if t in simple:
        return simple[t]
    if t.startswith("utf8["):
        return pa.binary(int(t[5:-1]))
    if t.startswith("datetime64["):
        return pa.timestamp(t[11:-1])
    if t == "category":
        index = {1: pa.uint8(), 2: pa.uint16(), 4: pa.uint32()}[np.dtype(f["dtype"]).itemsize]
        return pa.dictionary(index, pa.utf8())
    raise TypeError(f"no Arrow type for {t!r}")  # _parse already rejected unknown types


def _to_arrow(pa, t: TableInfo):
    n = t.length
    void = _void(t)
    nulls = int(void.sum())
    # Validity: a new, small bitmap (bit set = row present), only when some row is void.
    validity = pa.py_buffer(np.packbits(~void, bitorder="little")) if nulls else None
    whole = pa.py_buffer(t.mm)  # the mapping itself: slices of it are zero-copy views
    columns, fields = [], []
    for f in t.fields:
        typ = _arrow_type(pa, f)
        dt = np.dtype(f["dtype"])
        if t.layout == "columns":
            data = whole.slice(f["offset"], n * dt.itemsize)
            raw = np.frombuffer(t.mm, dtype=dt, count=n, offset=f["offset"])
        else:  # interleaved records: copy the field out
            rec = np.frombuffer(t.mm, dtype=np.dtype({"names": [f["name"]], "formats": [dt], "offsets": [f["offset"]],
                                                      "itemsize": t.row_size}), count=n, offset=t.data_offset)
            raw = np.ascontiguousarray(rec[f["name"]])
            data = pa.py_buffer(raw)
        if f["type"] == "bool":  # bytes → bits: a copy
            data = pa.py_buffer(np.packbits(raw != 0, bitorder="little"))
        if f["type"] == "category":
            codes = pa.Array.from_buffers(typ.index_type, n, [validity, data], null_count=nulls)
            dictionary = pa.array(list(f["categories"]), type=pa.utf8())
            arr = pa.DictionaryArray.from_arrays(codes, dictionary, safe=False)
            arr.validate(full=True)  # a code beyond the dictionary (in a present row): the segment lies
        else:
            arr = pa.Array.from_buffers(typ, n, [validity, data], null_count=nulls)
        columns.append(arr)
        fields.append(pa.field(f["name"], arr.type, nullable=True))
    meta = {"shmkit.name": t.name, "shmkit.layout": t.layout, "shmkit.capacity": str(t.capacity)}
    return pa.Table.from_arrays(columns, schema=pa.schema(fields, metadata=meta))
