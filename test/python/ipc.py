"""Driven by test/ipc.test.ts: reads Arrow IPC bytes that Node wrote, or writes
Feather v2 / stream files for Node to read, and prints the values as JSON.

    ipc.py read PATH file|stream|feather   values of the file, read with
                                           pyarrow.ipc.open_file / open_stream /
                                           pyarrow.feather.read_table
    ipc.py write DIR ROWS                  writes DIR/{lz4,plain,zstd}.feather
                                           (pyarrow's default compression, none,
                                           zstd) and DIR/lz4.stream; prints the
                                           table's values
    ipc.py types DIR ROWS                  writes DIR/types-{lz4,plain}.feather,
                                           a column of most other types (plain:
                                           rows 3.. of it)

Values are printed as test/ipc.test.ts prints its own: null, str, bool,
str(int), {"f": hex of the little-endian float64}, {"b": hex of the bytes};
timestamps as str(int64).
"""
import json
import struct
import sys

import pyarrow as pa
import pyarrow.feather as feather
import pyarrow.ipc as ipc


def plain(v):
    if v is None or isinstance(v, (bool, str)):
        return v
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return {"f": struct.pack("<d", v).hex()}
    if isinstance(v, bytes):
        return {"b": v.hex()}
    raise TypeError(type(v))


def dump(tbl):
    tbl.validate(full=True)
    values = {}
    for f in tbl.schema:
        col = tbl.column(f.name)
        if pa.types.is_timestamp(f.type):
            col = col.cast(pa.int64())
        values[f.name] = [plain(v) for v in col.to_pylist()]
    return {"rows": tbl.num_rows, "types": {f.name: str(f.type) for f in tbl.schema}, "values": values}


def table(n):
    def nth(i, k):  # every k-th row null
        return i % k == k - 1

    words = ["", "a", "twelve bytes", "thirteen byte", "é€ unicode, longer than twelve", "x" * 100]
    return pa.table({
        "i32": pa.array([None if nth(i, 7) else (i * 7919) % 2**31 - 2**30 for i in range(n)], pa.int32()),
        "f64": pa.array([None if nth(i, 5) else [1.5, -0.0, float("inf"), float("nan"), i / 3][i % 5] for i in range(n)], pa.float64()),
        "ok": pa.array([None if nth(i, 3) else i % 2 == 0 for i in range(n)], pa.bool_()),
        "ts": pa.array([None if nth(i, 11) else 1_700_000_000_000_000 + i * 1_000_003 for i in range(n)], pa.timestamp("us")),
        "s": pa.array([None if nth(i, 13) else words[i % 6] + str(i % 97) for i in range(n)], pa.string()),
        "sv": pa.array([None if nth(i, 4) else words[(i + 3) % 6] * (i % 3) for i in range(n)], pa.string_view()),
        "bin": pa.array([None if nth(i, 6) else bytes([i % 256]) * (i % 20) for i in range(n)], pa.binary()),
        "bv": pa.array([None if nth(i, 9) else bytes(range(i % 30)) for i in range(n)], pa.binary_view()),
        "fsb": pa.array([None if nth(i, 8) else bytes([i % 256, 0, 255]) for i in range(n)], pa.binary(3)),
        "venue": pa.array([None if nth(i, 10) else ["XNYS", "XNAS", "BATS"][i % 3] for i in range(n)]).dictionary_encode(),
    })


def every_type(n):
    """A column of each other type apache-arrow reads (the checks must not take any for corrupt)."""
    import datetime
    import decimal

    def nul(xs):
        return [None if i % 4 == 3 else x for i, x in enumerate(xs)]

    kinds = pa.array([i % 2 for i in range(n)], pa.int8())
    return pa.table({
        "dec": pa.array(nul([decimal.Decimal(i * 3) / 4 for i in range(n)]), pa.decimal128(20, 5)),
        "mdn": pa.array(nul([pa.MonthDayNano([i, i, i]) for i in range(n)]), pa.month_day_nano_interval()),
        "d32": pa.array(nul([datetime.date(2020, 1, 1 + i % 28) for i in range(n)]), pa.date32()),
        "d64": pa.array(nul([datetime.date(2020, 1, 1 + i % 28) for i in range(n)]), pa.date64()),
        "t32": pa.array(nul(list(range(n))), pa.time32("ms")),
        "t64": pa.array(nul(list(range(n))), pa.time64("ns")),
        "dur": pa.array(nul(list(range(n))), pa.duration("us")),
        "i64": pa.array(nul(list(range(n))), pa.int64()),
        "u64": pa.array(nul(list(range(n))), pa.uint64()),
        "f16": pa.array(nul([1.5] * n), pa.float32()).cast(pa.float16()),
        "ls": pa.array(nul([str(i) * 3 for i in range(n)]), pa.large_string()),
        "lb": pa.array(nul([b"x" * i for i in range(n)]), pa.large_binary()),
        "lst": pa.array(nul([[i, i + 1] for i in range(n)]), pa.list_(pa.int32())),
        "st": pa.array(nul([{"a": i, "b": str(i)} for i in range(n)])),
        "fsl": pa.array(nul([[i, i] for i in range(n)]), pa.list_(pa.int16(), 2)),
        "map": pa.array(nul([[("k", i)] for i in range(n)]), pa.map_(pa.string(), pa.int32())),
        "nul": pa.nulls(n),
        "dict16": pa.array(nul([str(i % 5) for i in range(n)])).dictionary_encode().cast(pa.dictionary(pa.int16(), pa.string())),
        "sparse": pa.UnionArray.from_sparse(kinds, [pa.array(list(range(n))), pa.array(nul([str(i) for i in range(n)]))]),
        "dense": pa.UnionArray.from_dense(kinds, pa.array([i // 2 for i in range(n)], pa.int32()),
                                          [pa.array(nul(list(range(n)))), pa.array([str(i) for i in range(n)])]),
    })


mode = sys.argv[1]
if mode == "read":
    path, fmt = sys.argv[2], sys.argv[3]
    if fmt == "file":
        with ipc.open_file(path) as r:
            tbl = r.read_all()
    elif fmt == "stream":
        with ipc.open_stream(path) as r:
            tbl = r.read_all()
    else:
        tbl = feather.read_table(path)
    print(json.dumps(dump(tbl)))
elif mode == "write":
    out, n = sys.argv[2], int(sys.argv[3])
    tbl = table(n)
    feather.write_feather(tbl, f"{out}/lz4.feather")  # pyarrow's default: LZ4 frames
    feather.write_feather(tbl, f"{out}/plain.feather", compression="uncompressed")
    feather.write_feather(tbl, f"{out}/zstd.feather", compression="zstd")
    with ipc.new_stream(f"{out}/lz4.stream", tbl.schema, options=ipc.IpcWriteOptions(compression="lz4")) as w:
        w.write_table(tbl, max_chunksize=max(1, n // 3))
    print(json.dumps(dump(tbl)))
elif mode == "types":
    out, n = sys.argv[2], int(sys.argv[3])
    tbl = every_type(n)
    feather.write_feather(tbl, f"{out}/types-lz4.feather")
    feather.write_feather(tbl.slice(3), f"{out}/types-plain.feather", compression="uncompressed")
    print(json.dumps({"rows": tbl.num_rows, "types": {f.name: str(f.type) for f in tbl.schema}}))
else:
    raise SystemExit(f"unknown mode {mode}")
