"""The header of a shmkit record table: mapped, parsed and validated as
Node's lib/table/header.ts parseHeader does it, check for check and in the
same words (test/python.test.ts runs both on the same mutated headers).

Header byte layout, format version 3 (all little-endian; the reference is the
block comment in lib/table/header.ts; version 2 had no nullable,
variable-length or growable tables):

    offset size content
         0    8 magic b"SHMKTBL\\0"
         8    4 u32 format version (3)
        12    4 u32 layout: 1 'columns', 2 'rows'
        16    4 u32 header length H (multiple of 64, 512 .. 64 MiB)
        20    4 u32 schema JSON length J
        24    4 u32 flags: bit 0 growable
        28    4 u32 row size (sum of the field sizes)
        32    8 u64 max rows M
        40    8 u64 state offset (M 8-byte row states; low half 1 COMMITTED, 2 VOID)
        48    8 u64 data offset      56 8 u64 heap offset     64 8 u64 heap size
        72    8 u64 end              80 8 u64 heap slice (2^30)
       128    4 i32 reserved        192 4 i32 committed (the length)
       256    4 i32 voids (0: no void row)     320 4 i32 rows ready
       384    8 i64 heap top        448 8 i64 heap ready
       512    J schema JSON [{name, type, nullable?, categories?, offset, validity?}]

Regions ('columns'), each 64-byte aligned and sized for M rows: per field
an optional validity bitmap (LSB first, 1 = present), then its values —
fixed-width numbers, LSB-first bits for bool, 16-byte Arrow views for
utf8/binary (i32 length, then the value if ≤ 12 bytes, else its first 4
bytes, i32 slice index and i32 offset into that heap slice) — and at the
end the heap of long utf8/binary values, in slices of 2^30 bytes.
"""
from __future__ import annotations

import json
import math
import mmap
import os
import re
import struct
from dataclasses import dataclass, field
from typing import Optional

__all__ = ["BadHeader", "TableInfo", "FORMAT_VERSION"]

MAGIC = b"SHMKTBL\0"
FORMAT_VERSION = 3
SCHEMA_AT = 512
ALIGN = 64
STATE_BYTES = 8
MAX_CAPACITY = 0x7FFFFFFF
MAX_VIEW_ROWS = 0x3FFFFFFF
MAX_HEADER = 64 << 20
SLICE = 1 << 30
FLAG_GROWABLE = 1
MAX_FIELDS = 1024
MAX_FIELD_NAME = 255
MAX_UTF8_WIDTH = 65_536
MAX_CATEGORIES = 1 << 20
MAX_SAFE_INTEGER = 2 ** 53 - 1
COMMITTED = 1  # low half of a row's 64-bit state (lib/table/append.ts)
VOID = 2

# Header words (lib/table/layout.ts OFF).
_RESERVED, _COMMITTED, _VOIDS, _ROWS_READY, _HEAP_READY = 128, 192, 256, 320, 448

_NUMERIC = {
    "int8": (1, "i1"), "uint8": (1, "u1"), "int16": (2, "<i2"), "uint16": (2, "<u2"), "int32": (4, "<i4"),
    "uint32": (4, "<u4"), "int64": (8, "<i8"), "uint64": (8, "<u8"), "float32": (4, "<f4"), "float64": (8, "<f8"),
}
# JavaScript's regexps, matched whole (fullmatch): JavaScript's $ does not match before a final newline.
_UTF8 = re.compile(r"utf8\[([1-9][0-9]{0,5})\]")
_DATETIME = re.compile(r"datetime64\[(s|ms|us|ns)\]")
_MISSING = object()  # a key the JSON does not have: `undefined` in JavaScript


class BadHeader(ValueError):
    """The segment is not a valid shmkit table (Node's ERR_SHM_BAD_HEADER), or holds bytes no shmkit wrote."""

    code = "ERR_SHM_BAD_HEADER"


@dataclass
class TableInfo:
    """What a table header says, read at one moment, plus the mapping it was read from.

    length is the committed row count at that moment; voids, heap_ready and
    rows_ready were read after it, so they cover every row below length.
    """

    name: str
    layout: str
    capacity: int  # max rows: the capacity, or what a growable table has address space for
    length: int
    row_size: int
    state_offset: int
    data_offset: int
    fields: list = field(default_factory=list)  # [{name, type, kind, dtype, size, nullable, offset, validity, ...}]
    mm: Optional[mmap.mmap] = None
    growable: bool = False
    header_length: int = 0
    heap_offset: int = 0
    heap_size: int = 0
    heap_ready: int = 0
    end: int = 0
    voids: int = 0
    version: int = FORMAT_VERSION

    def categories(self, name: str) -> list:
        """The dictionary of a category field: code i means categories(name)[i]."""
        for f in self.fields:
            if f["name"] == name and "categories" in f:
                return list(f["categories"])
        raise KeyError(f"{name!r} is not a category field")


def _path_of(name) -> str:
    """Where table NAME lives: /dev/shm/NAME for a segment name, else the
    file itself for a file-backed table (an os.PathLike, or a str that starts
    with '/', as Node's RecordTable.create(schema, { path }) makes them)."""
    if isinstance(name, os.PathLike) or (isinstance(name, str) and name.startswith("/")):
        return os.fspath(name)
    if not isinstance(name, str) or "/" in name or name in ("", ".", ".."):
        raise ValueError(f"bad segment name {name!r}")
    return f"/dev/shm/{name}"


def _open(name, writable: bool) -> mmap.mmap:
    """The whole segment /dev/shm/NAME (or the file NAME, see _path_of),
    mapped shared (read-only unless writable).

    A growable table's segment is a sparse extent (up to 1 TiB of address
    space): mapping it costs nothing, and its pages past the ready marks are
    never touched here.
    """
    fd = os.open(_path_of(name), os.O_RDWR if writable else os.O_RDONLY)
    try:
        size = os.fstat(fd).st_size
        if size < SCHEMA_AT:
            raise BadHeader(f"the segment is {size} bytes, smaller than a table header ({SCHEMA_AT})")
        return mmap.mmap(fd, size, access=mmap.ACCESS_WRITE if writable else mmap.ACCESS_READ)
    finally:
        os.close(fd)


def _parse(name, mm, size: Optional[int] = None) -> TableInfo:
    """The header of `mm`: the segment's mapping, or its first bytes when `size` gives the segment's size.

    Raises BadHeader, never another exception.
    """
    name = os.fspath(name)  # a file-backed table's path is its name
    try:
        return _parse_unchecked(name, mm, len(mm) if size is None else size)
    except BadHeader:
        raise
    except (TypeError, ValueError, KeyError, IndexError, AttributeError, struct.error, OverflowError, RecursionError) as e:
        # Whatever a lying header trips over inside the checks is still a bad header.
        raise BadHeader(f"{type(e).__name__}: {e}") from None


# --- JavaScript's ways of showing a value, for messages that read as Node's ---

def _js_number(x) -> str:
    """Number.prototype.toString() of the double nearest x (ECMAScript Number::toString)."""
    x = float(x)
    if x == 0:
        return "0"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    sign = "-" if x < 0 else ""
    mant, _, exp = repr(abs(x)).partition("e")  # repr: the shortest digits that round-trip, as JavaScript's
    whole, _, frac = mant.partition(".")
    digits = (whole + frac).lstrip("0")
    n = len(whole) + int(exp or 0) - (len(whole + frac) - len(digits))  # the decimal point sits after n digits
    digits = digits.rstrip("0")
    k = len(digits)
    if k <= n <= 21:
        return sign + digits + "0" * (n - k)
    if 0 < n <= 21:
        return sign + digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return sign + "0." + "0" * -n + digits
    e = n - 1
    return sign + digits[0] + ("." + digits[1:] if k > 1 else "") + "e" + ("+" if e >= 0 else "-") + str(abs(e))


def _stringify(s: str) -> str:
    """JSON.stringify of a string (lone surrogates escaped, as well-formed JSON.stringify does)."""
    out = json.dumps(s, ensure_ascii=False)
    return re.sub("[\ud800-\udfff]", lambda m: "\\u%04x" % ord(m.group()), out)


def _utf16(s: str) -> bytes:
    return s.encode("utf-16-le", "surrogatepass")


def _slice40(s: str) -> str:
    """s.slice(0, 40) in UTF-16 code units."""
    return _utf16(s)[:80].decode("utf-16-le", "surrogatepass")


def _describe(v) -> str:
    """lib/errors.ts describe(): how a bad value is shown."""
    if isinstance(v, str):
        return _stringify(_slice40(v) + "…" if len(_utf16(v)) > 80 else v)
    if isinstance(v, (list, dict)):
        return "an array" if isinstance(v, list) else "an object"
    return _js_string(v)


def _js_string(v) -> str:
    """String(v) of a JSON value."""
    if v is _MISSING:
        return "undefined"
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return _js_number(v)
    if isinstance(v, list):
        return ",".join("" if x is None else _js_string(x) for x in v)
    return v if isinstance(v, str) else "[object Object]"


def _well_formed(s: str) -> bool:
    try:
        s.encode("utf-8")
        return True
    except UnicodeEncodeError:  # a lone surrogate (JSON "\\ud800")
        return False


def _safe_offset(o) -> bool:
    """Number.isSafeInteger(o) && o >= 0 of a JSON number (JSON.parse makes 5.0 and 5e0 the integer 5)."""
    if isinstance(o, bool):
        return False
    if isinstance(o, int):
        o = float(o) if abs(o) > MAX_SAFE_INTEGER else o  # JavaScript holds it as the nearest double
    if isinstance(o, float):
        return math.isfinite(o) and o.is_integer() and 0 <= o <= MAX_SAFE_INTEGER
    return isinstance(o, int) and o >= 0


# --- lib/table/schema.ts schemaFromJSON, parseField and parseBase ---

class _SchemaError(Exception):
    """A schema error, worded as lib/table/schema.ts words it."""


def _bad_type(what: str, expected: str, value) -> _SchemaError:
    return _SchemaError(f"{what} must be {expected}, got {_describe(value)}")


def _schema(fields_json) -> list:
    if not isinstance(fields_json, list):
        raise _bad_type("schema", "an array of fields", fields_json)
    if not 1 <= len(fields_json) <= MAX_FIELDS:
        raise _SchemaError(f"schema must have 1 to {MAX_FIELDS} fields")
    seen: set = set()
    out = []
    for i, f in enumerate(fields_json):
        if not isinstance(f, (dict, list)):  # typeof [] is 'object' too
            raise _bad_type(f"schema[{i}]", "an object", f)
        f = f if isinstance(f, dict) else {}
        name = f.get("name", _MISSING)
        if not isinstance(name, str):
            raise _bad_type(f"schema[{i}].name", "a string", name)
        if name in seen:
            raise _SchemaError(f"schema[{i}].name repeats {_stringify(name)}")
        seen.add(name)
        typ = f.get("type", _MISSING)
        nul = {"nullable": f["nullable"]} if "nullable" in f else {}
        if typ == "category":
            spec = dict({"category": f.get("categories", _MISSING)}, **nul)
        else:
            spec = dict({"type": typ}, **nul) if nul else typ
        out.append(_parse_field(name, spec))
    return out


def _parse_field(name: str, spec) -> dict:
    nullable = False
    if isinstance(spec, dict) and "nullable" in spec:
        if not isinstance(spec["nullable"], bool):
            raise _bad_type(f"field {_stringify(name)}.nullable", "a boolean", spec["nullable"])
        nullable = spec["nullable"]
    if isinstance(spec, dict) and "type" in spec:
        if not isinstance(spec["type"], str):
            raise _bad_type(f"field {_stringify(name)}.type", "a type name", spec["type"])
        spec = spec["type"]
    return dict(_parse_base(name, spec), name=name, nullable=nullable)


def _parse_base(name: str, spec) -> dict:
    """The field's type, its byte size and numpy dtype."""
    if not 1 <= len(_utf16(name)) // 2 <= MAX_FIELD_NAME:
        raise _SchemaError(f"field name must be 1 to {MAX_FIELD_NAME} characters, got {_stringify(_slice40(name))}")
    if name == "__proto__":
        raise _SchemaError('field name must not be "__proto__"')
    if not _well_formed(name):
        raise _SchemaError(f"field name {_stringify(name)} must be well-formed UTF-16")
    what = f"field {_stringify(name)}"
    fixed = {"variable": False}
    if isinstance(spec, str):
        if spec in _NUMERIC:
            size, dtype = _NUMERIC[spec]
            return dict(fixed, type=spec, kind=spec, size=size, dtype=dtype)
        if spec == "bool":
            return dict(fixed, type=spec, kind="bool", size=1, dtype="?")
        if spec in ("utf8", "binary"):
            return {"type": spec, "kind": "string" if spec == "utf8" else "binary", "size": 16, "dtype": "V16", "variable": True}
        m = _UTF8.fullmatch(spec)
        if m:
            width = int(m.group(1))
            if width > MAX_UTF8_WIDTH:
                raise _SchemaError(f"{what} utf8 width must be 1 to {MAX_UTF8_WIDTH}, got {width}")
            return dict(fixed, type=f"utf8[{width}]", kind="utf8", size=width, width=width, dtype=f"S{width}")
        m = _DATETIME.fullmatch(spec)
        if m:
            return dict(fixed, type=spec, kind="datetime64", size=8, unit=m.group(1), dtype=f"<M8[{m.group(1)}]")
        raise _SchemaError(f"{what} has unknown type {_stringify(_slice40(spec))}")
    if isinstance(spec, dict) and "category" in spec:
        values = spec["category"]
        if not isinstance(values, list):
            raise _bad_type(f"{what}.category", "an array of strings", values)
        if not 1 <= len(values) <= MAX_CATEGORIES:
            raise _SchemaError(f"{what}.category must have 1 to {MAX_CATEGORIES} values")
        seen: set = set()
        for v in values:
            if not isinstance(v, str):
                raise _bad_type(f"{what}.category values", "strings", v)
            if not _well_formed(v):
                raise _SchemaError(f"{what}.category values must be well-formed UTF-16")
            if v in seen:
                raise _SchemaError(f"{what}.category repeats {_stringify(v)}")
            seen.add(v)
        size = 1 if len(values) <= 0x100 else 2 if len(values) <= 0x10000 else 4
        return dict(fixed, type="category", kind="category", size=size, categories=list(values),
                    dtype="u1" if size == 1 else f"<u{size}")
    raise _bad_type(what, "a type name, { type, nullable } or { category: [...] }", spec)


# --- lib/table/header.ts parseHeader ---

def _disjoint(areas: list, where: str) -> None:
    areas = sorted(areas, key=lambda a: a[0])  # stable, as Array#sort is
    for prev, cur in zip(areas, areas[1:]):
        if cur[0] < prev[1]:
            raise BadHeader(f"{cur[2]} overlaps {prev[2]} {where}")


def _no_constant(c):
    raise ValueError(f"{c} is not JSON")  # JSON.parse has no NaN or Infinity; Python's json would take them


def _parse_unchecked(name: str, mm, size: int) -> TableInfo:
    if size < SCHEMA_AT or len(mm) < SCHEMA_AT:
        raise BadHeader(f"the segment is {size} bytes, smaller than a table header ({SCHEMA_AT})")
    if mm[:8] != MAGIC:
        raise BadHeader("wrong magic (not a shmkit table)")
    version, code, hlen, jlen, flags, row_size = struct.unpack_from("<6I", mm, 8)
    if version != FORMAT_VERSION:
        why = "an older shmkit made it: recreate the table" if version < FORMAT_VERSION else "a newer shmkit made it: upgrade"
        raise BadHeader(f"format version {version}, but this shmkit reads version {FORMAT_VERSION} only ({why})")
    layout = {1: "columns", 2: "rows"}.get(code)
    if layout is None:
        raise BadHeader(f"unknown layout code {code}")
    words = struct.unpack_from("<7Q", mm, 32)
    for what, v in zip(("max rows", "state offset", "data offset", "heap offset", "heap size", "end"), words):
        if v > size:
            raise BadHeader(f"{what} {v} is beyond the segment's {size} bytes")
    capacity, state_off, data_off, heap_off, heap_size, end, slice_ = words

    if flags & ~FLAG_GROWABLE:
        raise BadHeader(f"unknown flags {flags}")
    if hlen % ALIGN or hlen < SCHEMA_AT or hlen > MAX_HEADER:
        raise BadHeader(f"header length {hlen} is not a multiple of {ALIGN} from {SCHEMA_AT} to {MAX_HEADER}")
    if hlen > size or hlen > len(mm):
        raise BadHeader(f"header length {hlen} is beyond the segment's {size} bytes")
    if jlen == 0 or SCHEMA_AT + jlen > hlen:
        raise BadHeader(f"schema length {jlen} does not fit in the {hlen}-byte header")
    if not 1 <= capacity <= MAX_CAPACITY:
        raise BadHeader(f"max rows {capacity} is not from 1 to {MAX_CAPACITY}")
    if slice_ != SLICE:
        raise BadHeader(f"heap slice {slice_} is not {SLICE}")

    try:
        # TextDecoder drops one leading BOM, as utf-8-sig does.
        fields_json = json.loads(bytes(mm[SCHEMA_AT:SCHEMA_AT + jlen]).decode("utf-8-sig"), parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise BadHeader(f"the schema is not UTF-8 JSON ({e})") from None
    try:
        fields = _schema(fields_json)
    except _SchemaError as e:
        raise BadHeader(f"invalid schema: {e}") from None
    for f, j in zip(fields, fields_json):
        if not _safe_offset(j.get("offset", _MISSING)):
            raise BadHeader(f"field {_stringify(f['name'])} has no valid offset")
        f["offset"] = int(j["offset"])
    for f, j in zip(fields, fields_json):
        v = j.get("validity", _MISSING)
        if v is _MISSING and not f["nullable"]:
            f["validity"] = -1
        elif not _safe_offset(v) or not f["nullable"] or layout == "rows":
            raise BadHeader(f"field {_stringify(f['name'])} has a bad validity offset ({_js_string(v)}) "
                            f"for a {'nullable' if f['nullable'] else 'non-nullable'} field")
        else:
            f["validity"] = int(v)
    total = sum(f["size"] for f in fields)
    if row_size != total:
        raise BadHeader(f"row size {row_size} is not the sum of the field sizes ({total})")
    variable = any(f["variable"] for f in fields)
    if variable and capacity > MAX_VIEW_ROWS:
        raise BadHeader(f"max rows {capacity} is over {MAX_VIEW_ROWS}, the most a table with utf8/binary fields may have")
    if layout == "rows" and any(f["variable"] or f["nullable"] for f in fields):
        raise BadHeader("a 'rows' table cannot hold nullable or utf8/binary fields")

    # Areas the table claims, each inside [header length, end), none overlapping.
    if state_off % 8:
        raise BadHeader(f"state offset {state_off} is not 8-byte aligned")
    areas = [(state_off, state_off + STATE_BYTES * capacity, "row states")]
    if layout == "rows":
        in_record = [(f["offset"], f["offset"] + f["size"], f"field {_stringify(f['name'])}") for f in fields]
        for _, stop, what in in_record:
            if stop > row_size:
                raise BadHeader(f"{what} ends at byte {stop} of a {row_size}-byte record")
        _disjoint(in_record, "in the record")
        areas.append((data_off, data_off + row_size * capacity, "records"))
    else:
        for f in fields:
            for o, what in ((f["offset"], "column"), (f["validity"], "validity of")):
                if o >= 0 and o % ALIGN:
                    raise BadHeader(f"{what} {_stringify(f['name'])} offset {o} is not {ALIGN}-byte aligned")
        bits = -(-capacity // 8)
        for f in fields:
            if f["validity"] >= 0:
                areas.append((f["validity"], f["validity"] + bits, f"validity of {_stringify(f['name'])}"))
            per = bits if f["kind"] == "bool" else f["size"] * capacity
            areas.append((f["offset"], f["offset"] + per, f"column {_stringify(f['name'])}"))
    if variable != (heap_size > 0):
        raise BadHeader("utf8/binary fields but no heap" if variable else f"a {heap_size}-byte heap but no utf8/binary field")
    if heap_size > 0:
        if heap_off % ALIGN:
            raise BadHeader(f"heap offset {heap_off} is not {ALIGN}-byte aligned")
        areas.append((heap_off, heap_off + heap_size, "heap"))
    for start, stop, what in areas:
        if start < hlen:
            raise BadHeader(f"{what} starts at {start}, inside the {hlen}-byte header")
        if stop > end:
            raise BadHeader(f"{what} ends at {stop}, beyond the table's end {end} (segment {size} bytes)")
    _disjoint(areas, "in the segment")

    # Counters, loaded in the order their invariant allows while writers
    # append: committed ≤ reserved ≤ rows ready ≤ max rows, and each only
    # grows, so a later load of the larger one can only be larger still.
    # voids and heap ready after committed: they then cover every row below
    # it (append.ts raises voids before a slot turns VOID, grow.ts raises
    # heap ready before a view points below it, both before committed passes
    # the row). Plain loads, ordered on x86 (TSO); Python has no acquire load.
    committed, = struct.unpack_from("<i", mm, _COMMITTED)
    reserved, = struct.unpack_from("<i", mm, _RESERVED)
    ready, = struct.unpack_from("<i", mm, _ROWS_READY)
    voids, = struct.unpack_from("<i", mm, _VOIDS)
    heap_ready, = struct.unpack_from("<q", mm, _HEAP_READY)
    if not 0 <= ready <= capacity:
        raise BadHeader(f"rows ready {ready} is not from 0 to max rows {capacity}")
    if not 0 <= reserved <= ready:
        raise BadHeader(f"reserved count {reserved} is not from 0 to rows ready {ready}")
    if not 0 <= committed <= reserved:
        raise BadHeader(f"committed length {committed} is not from 0 to reserved {reserved}")
    return TableInfo(name, layout, capacity, committed, row_size, state_off, data_off, fields, mm,
                     growable=bool(flags & FLAG_GROWABLE), header_length=hlen, heap_offset=heap_off,
                     heap_size=heap_size, heap_ready=max(0, min(heap_ready, heap_size)), end=end, voids=voids,
                     version=version)
