/**
 * The Arrow bridge: an apache-arrow Table laid over a 'columns' table's
 * column buffers, with no copy of the data.
 *
 * Each column of a 'columns' table is already one 64-byte aligned array of
 * fixed-width values — the values buffer Arrow wants — so a column becomes
 * an Arrow Data whose values are a typed-array view of the segment:
 *
 *   int8 … uint64, float32/64  → Int8 … Uint64, Float32/64   values: view
 *   datetime64[s|ms|us|ns]     → Timestamp(unit)             values: view (int64)
 *   utf8[N]                    → FixedSizeBinary(N)          values: view (NUL-padded bytes)
 *   { category: [...] }        → Dictionary(Utf8, Uint8/16/32, id = column index)
 *                                                            indices: view; dictionary: the categories
 *   bool                       → Bool                        values: a new bit-packed copy
 *                                                            (bools are stored a byte each)
 *
 * Void rows (a dead writer's, see append.ts) are nulls in every column: one
 * validity bitmap, built from the row states (n / 8 bytes), shared by all
 * columns; without void rows there is no bitmap. Rows are [0, length) as of
 * the call; rows appended later are not in the Table (call again). While the
 * table has no void slot at all (a header count says so) nothing is scanned:
 * the call costs the same at any length. A row
 * below length never changes state again, so the bitmap and null counts
 * stay true; `set()` changes values in place, and Arrow views see that.
 *
 * apache-arrow is an optional peer dependency, loaded on first use.
 * @internal
 */
import type * as ArrowNS from 'apache-arrow';
import type { TableLayout } from './header';
import type { Field } from './schema';
import { storageArray } from './codec';

type Arrow = typeof ArrowNS;
let arrow: Arrow | undefined;

/** apache-arrow, loaded once; a clear error if it is not installed. */
function load(): Arrow {
  if (arrow === undefined) {
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      arrow = require('apache-arrow') as Arrow;
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      if (e.code === 'MODULE_NOT_FOUND') e.message = `toArrow() needs the apache-arrow package (npm install apache-arrow): ${e.message}`;
      throw e;
    }
  }
  return arrow;
}

/** Packs 0/1 bytes into an LSB-first bitmap (Arrow's bit order); returns it and the count of zeros. */
function packBits(bytes: Uint8Array): { bits: Uint8Array; zeros: number } {
  const bits = new Uint8Array(((bytes.length + 63) >> 6) << 3); // padded to 8 bytes
  let ones = 0;
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] !== 0) {
      bits[i >> 3]! |= 1 << (i & 7);
      ones++;
    }
  }
  return { bits, zeros: bytes.length - ones };
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
 * undefined when none is void.
 */
export function toArrowTable(plan: TableLayout, buffer: ArrayBufferLike, n: number, valid: Uint8Array | undefined): ArrowNS.Table {
  const A = load();
  const { bits, zeros } = valid === undefined ? { bits: undefined, zeros: 0 } : packBits(valid);
  const nulls = zeros === 0 ? {} : { nullBitmap: bits, nullCount: zeros };
  const columns: Record<string, ArrowNS.Vector> = {};
  plan.schema.fields.forEach((f, k) => {
    const type = arrowType(A, f, k);
    const at = plan.offsets[k]!;
    let data: ArrowNS.Data;
    if (f.kind === 'bool') {
      data = A.makeData({ type: type as ArrowNS.Bool, length: n, data: packBits(new Uint8Array(buffer as ArrayBuffer, at, n)).bits, ...nulls });
    } else if (f.kind === 'utf8') {
      data = A.makeData({ type: type as ArrowNS.FixedSizeBinary, length: n, data: new Uint8Array(buffer as ArrayBuffer, at, n * f.width!), ...nulls });
    } else if (f.kind === 'category') {
      const dictionary = A.vectorFromArray([...f.categories!], new A.Utf8());
      const Ctor = storageArray(f);
      data = A.makeData({ type: type as ArrowNS.Dictionary, length: n, data: new Ctor(buffer as ArrayBuffer, at, n) as Uint8Array, dictionary, ...nulls });
    } else {
      const Ctor = storageArray(f);
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      data = A.makeData({ type: type as any, length: n, data: new Ctor(buffer as ArrayBuffer, at, n) as any, ...nulls });
    }
    columns[f.name] = A.makeVector(data);
  });
  return new A.Table(columns);
}
