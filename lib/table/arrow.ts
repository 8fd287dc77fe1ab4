/**
 * The Arrow bridge: an apache-arrow Table laid over a 'columns' table's
 * buffers, with no copy of the data.
 *
 * Each column of a 'columns' table is already Arrow buffers (layout.ts):
 * 64-byte aligned values, bit-packed booleans, validity bitmaps, and 16-byte
 * views into a heap whose slices are the variadic data buffers. So a column
 * becomes an Arrow Data whose buffers are typed-array views of the segment:
 *
 *   int8 … uint64, float32/64  → Int8 … Uint64, Float32/64   values: view
 *   bool                       → Bool                        bits: view
 *   datetime64[s|ms|us|ns]     → Timestamp(unit)             values: view (int64)
 *   utf8 / binary              → Utf8View / BinaryView       views: view; data buffers: heap slices
 *   utf8[N]                    → FixedSizeBinary(N)          values: view (NUL-padded bytes)
 *   { category: [...] }        → Dictionary(Utf8, Uint8/16/32, id = column index)
 *                                                            indices: view; dictionary: the categories
 *   nullable                   → nullable                    validity: view
 *
 * Void rows (a dead writer's, see append.ts) are nulls in every column:
 * then, and only then, each column gets a new validity bitmap (n / 8 bytes):
 * its own bits and the row states together. While the table has no void
 * slot (a header count says so) nothing is scanned or copied: the call costs
 * the same at any length. Rows are [0, length) as of the call; rows appended
 * later are not in the Table (call again). A row below length never changes
 * state again and set() never changes a null, so the bitmaps and the null
 * counts Arrow caches stay true; set() changes values in place, and Arrow
 * views see that. The heap's data buffers end at its allocated mark, past
 * every view of every published row.
 *
 * apache-arrow is an optional peer dependency, loaded on first use.
 * @internal
 */
import type * as ArrowNS from 'apache-arrow';
import type { TableLayout } from './header';
import type { Field } from './schema';
import { storageArray } from './codec';
import { SLICE } from './layout';

type Arrow = typeof ArrowNS;
let arrow: Arrow | undefined;

/**
 * apache-arrow (its CommonJS build), loaded once; a clear error naming `what`
 * needs it if it is not installed.
 */
export function loadArrow(what = 'toArrow()'): Arrow {
  if (arrow === undefined) {
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      arrow = require('apache-arrow') as Arrow;
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      if (e.code === 'MODULE_NOT_FOUND') e.message = `${what} needs the apache-arrow package (npm install apache-arrow): ${e.message}`;
      throw e;
    }
  }
  return arrow;
}

/** Packs 0/1 bytes into an LSB-first bitmap (Arrow's bit order), padded to 8 bytes. */
export function packBits(bytes: Uint8Array): Uint8Array {
  const bits = new Uint8Array(((bytes.length + 63) >> 6) << 3);
  for (let i = 0; i < bytes.length; i++) if (bytes[i] !== 0) bits[i >> 3]! |= 1 << (i & 7);
  return bits;
}

function arrowType(A: Arrow, f: Field, k: number): ArrowNS.DataType {
  switch (f.kind) {
    case 'int8': return new A.Int8();
    case 'uint8': return new A.Uint8();
    case 'int16': return new A.Int16();
    case 'uint16': return new A.Uint16();
    case 'int32': return new A.Int32();
    case 'uint32': return new A.Uint32();
    case 'int64': return new A.Int64();
    case 'uint64': return new A.Uint64();
    case 'float32': return new A.Float32();
    case 'float64': return new A.Float64();
    case 'bool': return new A.Bool();
    case 'utf8': return new A.FixedSizeBinary(f.width!);
    case 'string': return new A.Utf8View();
    case 'binary': return new A.BinaryView();
    case 'datetime64': {
      const unit = { s: A.TimeUnit.SECOND, ms: A.TimeUnit.MILLISECOND, us: A.TimeUnit.MICROSECOND, ns: A.TimeUnit.NANOSECOND }[f.unit!];
      return new A.Timestamp(unit);
    }
    case 'category': {
      const index = f.size === 1 ? new A.Uint8() : f.size === 2 ? new A.Uint16() : new A.Uint32();
      return new A.Dictionary(new A.Utf8(), index, k);
    }
  }
}

/**
 * The Arrow Table of rows [0, n) of a 'columns' table whose buffers live in
 * `buffer`; `valid` is the validity of those rows (1 = row, 0 = void),
 * undefined when none is void; `heapReady` the heap bytes with memory.
 */
export function toArrowTable(plan: TableLayout, buffer: ArrayBufferLike, n: number, valid: Uint8Array | undefined, heapReady: number): ArrowNS.Table {
  const A = loadArrow();
  const ab = buffer as ArrayBuffer;
  const rowBits = valid === undefined ? undefined : packBits(valid);
  const slices: Uint8Array[] = [];
  for (let at = 0; at < heapReady; at += SLICE) slices.push(new Uint8Array(ab, plan.heapOffset + at, Math.min(SLICE, heapReady - at)));
  const fields: ArrowNS.Field[] = [];
  const columns: ArrowNS.Data[] = [];
  plan.schema.fields.forEach((f, k) => {
    const type = arrowType(A, f, k);
    const at = plan.offsets[k]!;
    let nullBitmap: Uint8Array | undefined = plan.validity[k]! >= 0 ? new Uint8Array(ab, plan.validity[k]!, Math.ceil(n / 8)) : undefined;
    if (rowBits) nullBitmap = nullBitmap ? rowBits.map((b, j) => b & (nullBitmap![j] ?? 0)) : rowBits;
    const nulls = nullBitmap ? { nullBitmap } : {};
    let data: ArrowNS.Data;
    if (f.kind === 'bool') {
      data = A.makeData({ type: type as ArrowNS.Bool, length: n, data: new Uint8Array(ab, at, Math.ceil(n / 8)), ...nulls });
    } else if (f.variable) {
      const props = { length: n, views: new Uint8Array(ab, at, n * 16), variadicBuffers: slices, ...nulls };
      data = f.kind === 'string' ? A.makeData({ type: type as ArrowNS.Utf8View, ...props }) : A.makeData({ type: type as ArrowNS.BinaryView, ...props });
    } else if (f.kind === 'utf8') {
      data = A.makeData({ type: type as ArrowNS.FixedSizeBinary, length: n, data: new Uint8Array(ab, at, n * f.width!), ...nulls });
    } else if (f.kind === 'category') {
      const dictionary = A.vectorFromArray([...f.categories!], new A.Utf8());
      const Ctor = storageArray(f);
      data = A.makeData({ type: type as ArrowNS.Dictionary, length: n, data: new Ctor(ab, at, n) as Uint8Array, dictionary, ...nulls });
    } else {
      const Ctor = storageArray(f);
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      data = A.makeData({ type: type as any, length: n, data: new Ctor(ab, at, n) as any, ...nulls });
    }
    fields.push(new A.Field(f.name, type, f.nullable || rowBits !== undefined));
    columns.push(data);
  });
  const schema = new A.Schema(fields);
  const batch = new A.RecordBatch(schema, A.makeData({ type: new A.Struct(fields), length: n, children: columns }));
  return new A.Table(schema, [batch]);
}
