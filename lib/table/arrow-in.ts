/**
 * Arrow in: appendMany of apache-arrow Tables or Vectors, one copy per
 * buffer (values, bitmaps, string bytes) and no per-string decoding; and the
 * schema of a table made from an Arrow one (RecordTable.fromArrow).
 * @internal
 */
import type * as ArrowNS from 'apache-arrow';
import { ShmError, invalidValue } from '../errors';
import type { Batch } from './bulk';
import { orBits, setBits } from './bulk';
import { storageArray, type Codec, type HeapCursor } from './codec';
import { SLICE, type TableLayout } from './layout';
import { defineSchema, type Field, type FieldSpec, type Schema } from './schema';

type Data = ArrowNS.Data;
type Vector = ArrowNS.Vector;

/** Whether `x` is an apache-arrow Table, RecordBatch, or an object whose values are all Arrow Vectors. */
export function isArrowInput(x: unknown): boolean {
  if (typeof x !== 'object' || x === null) return false;
  if (typeof (x as ArrowNS.Table).getChild === 'function' && 'schema' in x) return true;
  const vals = Object.values(x);
  return vals.length > 0 && vals.every(isVector);
}

function isVector(v: unknown): v is Vector {
  return typeof v === 'object' && v !== null && Array.isArray((v as Vector).data) && 'type' in v && typeof (v as Vector).get === 'function';
}

/** Arrow type ids (apache-arrow's Type enum). */
const T = { Int: 2, Float: 3, Binary: 4, Utf8: 5, Bool: 6, FixedSizeBinary: 15, Timestamp: 10, Dictionary: -1, LargeBinary: 19, LargeUtf8: 20, BinaryView: 23, Utf8View: 24 } as const;
const UNITS = ['s', 'ms', 'us', 'ns'] as const;

function typeError(f: Field, type: ArrowNS.DataType, why = ''): ShmError {
  return new ShmError('ERR_SHM_VALUE', `column ${JSON.stringify(f.name)} (${f.type}) cannot take Arrow ${String(type)}${why}`);
}

/** How one field's Arrow chunks are copied. */
type Mode = 'fixed' | 'bits' | 'dict' | 'offsets' | 'views' | 'fsb' | 'generic';

function modeOf(f: Field, type: ArrowNS.DataType): Mode {
  const t = type as ArrowNS.DataType & { bitWidth?: number; isSigned?: boolean; precision?: number; unit?: number; byteWidth?: number; dictionary?: ArrowNS.DataType };
  const id = t.typeId as number;
  switch (f.kind) {
    case 'bool':
      if (id === T.Bool) return 'bits';
      break;
    case 'float32': case 'float64':
      if (id === T.Float && t.precision === (f.kind === 'float32' ? 1 : 2)) return 'fixed';
      break;
    case 'datetime64':
      if (id === T.Timestamp && UNITS[t.unit!] === f.unit) return 'fixed';
      if (id === T.Int && t.bitWidth === 64 && t.isSigned) return 'fixed';
      break;
    case 'category':
      if (id === T.Dictionary && [T.Utf8, T.LargeUtf8].includes(t.dictionary!.typeId as never)) return 'dict';
      if ([T.Utf8, T.LargeUtf8, T.Utf8View].includes(id as never)) return 'generic';
      break;
    case 'string': case 'binary':
      if ([T.Utf8, T.LargeUtf8, T.Binary, T.LargeBinary].includes(id as never)) return 'offsets';
      if (id === T.FixedSizeBinary && f.kind === 'binary') return 'offsets'; // as offsets j × width (withOffsets)
      if (id === T.Utf8View || id === T.BinaryView) return 'views';
      break;
    case 'utf8':
      if (id === T.FixedSizeBinary && t.byteWidth === f.width) return 'fsb';
      if ([T.Utf8, T.LargeUtf8, T.Utf8View].includes(id as never)) return 'generic';
      break;
    default: {
      const m = /^(u?)int(\d+)$/.exec(f.kind);
      if (m && id === T.Int && t.bitWidth === Number(m[2]) && t.isSigned === (m[1] === '')) return 'fixed';
    }
  }
  throw typeError(f, type);
}

/** Reads 32 bits of an LSB-first bitmap starting at bit `at` (bits past the end read as 0). */
function bits32(src: Uint8Array, at: number): number {
  const b = at >> 3;
  const sh = at & 7;
  let v = 0;
  for (let j = 0; j < 5; j++) v += (src[b + j] ?? 0) * 2 ** (8 * j);
  return Math.floor(v / 2 ** sh) | 0;
}

/** ORs n bits of `src` (from bit `from`) into `dst` words (from bit `to`); see orBits. */
export function copyBits(dst: Int32Array, to: number, src: Uint8Array, from: number, n: number): void {
  orBits(dst, to, n, (i) => bits32(src, from + i));
}

interface Part {
  k: number;
  f: Field;
  mode: Mode;
  chunks: readonly Data[];
  vector: Vector;
  /** 'dict': per chunk, dictionary index → category code (-1: not a category). */
  remap?: Int32Array[];
  /** 'offsets': per chunk, the row ranges whose bytes go in one heap piece: [row from, row to, byte from, byte to]. */
  pieces?: [number, number, number, number][][];
}

/** A FixedSizeBinary chunk seen as Binary: the same bytes, with offsets j × width. */
function withOffsets(d: Data): Data {
  const w = (d.type as ArrowNS.FixedSizeBinary).byteWidth;
  const valueOffsets = Int32Array.from({ length: d.length + 1 }, (_, j) => j * w);
  return { length: d.length, offset: d.offset, nullCount: d.nullCount, nullBitmap: d.nullBitmap, values: d.values, valueOffsets, getValid: (j: number) => d.getValid(j) } as unknown as Data;
}

function offsetAt(d: Data, j: number): number {
  return Number((d.valueOffsets as ArrayLike<number | bigint>)[j]);
}

/*
 * apache-arrow's Data keeps `offset` for bitmaps only (validity, and the
 * values of Bool): values, offsets and views of a sliced Data are already
 * subarrays starting at its first row.
 */

/**
 * Validates Arrow columns for `plan`'s fields and returns the batch that
 * writes them: everything (types, nulls in non-nullable fields, categories)
 * is checked before a row is reserved.
 */
export function arrowBatch(plan: TableLayout, codec: Codec, buffer: ArrayBufferLike, input: ArrowNS.Table | Record<string, Vector>): Batch {
  const schema = plan.schema;
  const get = (name: string): Vector | null | undefined =>
    typeof (input as ArrowNS.Table).getChild === 'function' ? (input as ArrowNS.Table).getChild(name) : (input as Record<string, Vector>)[name];
  const names = typeof (input as ArrowNS.Table).getChild === 'function' ? (input as ArrowNS.Table).schema.fields.map((f) => f.name) : Object.keys(input);
  for (const name of names) if (!schema.field(name)) throw invalidValue('columns', `has field ${JSON.stringify(name)}, which the schema does not`);
  let n = -1;
  const heap: number[] = [];
  const parts: Part[] = schema.fields.map((f, k) => {
    const vector = get(f.name);
    if (!vector) throw new ShmError('ERR_SHM_VALUE', `column ${JSON.stringify(f.name)} is missing`);
    if (n === -1) n = vector.length;
    else if (vector.length !== n) throw invalidValue('columns', `must all have the same length: ${JSON.stringify(f.name)} has ${vector.length}, others ${n}`);
    const mode = modeOf(f, vector.type);
    const chunks = (vector.type.typeId as number) === T.FixedSizeBinary && mode === 'offsets' ? vector.data.map(withOffsets) : vector.data;
    if (!f.nullable && vector.nullCount > 0) {
      throw new ShmError('ERR_SHM_VALUE', `column ${JSON.stringify(f.name)} has ${vector.nullCount} nulls, but the field is not nullable`);
    }
    const part: Part = { k, f, mode, chunks, vector };
    if (mode === 'dict') {
      const codes = new Map(f.categories!.map((c, i) => [c, i]));
      part.remap = chunks.map((d) => {
        const dict = d.dictionary!.toArray() as string[];
        const map = Int32Array.from(dict, (s) => codes.get(s) ?? -1);
        const idx = d.values as ArrayLike<number>;
        for (let j = 0; j < d.length; j++) {
          if (d.nullCount > 0 && !d.getValid(j)) continue;
          if ((map[idx[j]!] ?? -1) < 0) throw new ShmError('ERR_SHM_VALUE', `row ${j}: column ${JSON.stringify(f.name)} holds ${JSON.stringify(dict[idx[j]!])}, not one of its ${f.categories!.length} categories`);
        }
        return map;
      });
    } else if (mode === 'offsets') {
      part.pieces = chunks.map((d) => {
        const out: [number, number, number, number][] = [];
        const close = (from: number, to: number) => {
          const b0 = offsetAt(d, from);
          const b1 = offsetAt(d, to);
          out.push([from, to, b0, b1]);
          if (b1 > b0) heap.push(b1 - b0);
        };
        let from = 0;
        // Most chunks fit one slice: one piece, no per-row look.
        if (offsetAt(d, d.length) - offsetAt(d, 0) > SLICE) {
          for (let j = 0; j < d.length; j++) {
            if (offsetAt(d, j + 1) - offsetAt(d, j) > SLICE) throw new ShmError('ERR_SHM_VALUE', `row ${j}: column ${JSON.stringify(f.name)} has a value over ${SLICE} bytes`);
            if (offsetAt(d, j + 1) - offsetAt(d, from) > SLICE) close(from, j), (from = j);
          }
        }
        close(from, d.length);
        return out;
      });
    } else if (mode === 'views') {
      for (const d of chunks) {
        const v = new Int32Array((d.values as Uint8Array).buffer, (d.values as Uint8Array).byteOffset, 4 * d.length);
        for (let j = 0; j < d.length; j++) if (v[4 * j]! > 12) heap.push(v[4 * j]!);
      }
    } else if (mode === 'generic') {
      const cv = codec.cv[k]!;
      for (let j = 0; j < n; j++) cv(vector.get(j));
    }
    return part;
  });
  const rows = Math.max(n, 0);
  return { n: rows, heap, write: (s, cursor) => parts.forEach((p) => writePart(plan, codec, buffer, p, s, cursor)) };
}

function writePart(plan: TableLayout, codec: Codec, buffer: ArrayBufferLike, p: Part, s: number, cursor: HeapCursor): void {
  const { f, k } = p;
  const U8 = new Uint8Array(buffer);
  const at = plan.offsets[k]!;
  const words = (o: number) => new Int32Array(buffer, o, Math.ceil(plan.capacity / 32));
  const W = f.variable ? new Int32Array(buffer, at, 4 * plan.capacity) : undefined;
  if (p.mode === 'generic') {
    const cv = codec.cv[k]!;
    const st = codec.st[k]!;
    for (let j = 0; j < p.vector.length; j++) st(s + j, cv(p.vector.get(j)));
    return;
  }
  let row = s;
  p.chunks.forEach((d, c) => {
    const len = d.length;
    const o = d.offset;
    if (plan.validity[k]! >= 0) {
      if (d.nullBitmap && d.nullCount !== 0) copyBits(words(plan.validity[k]!), row, d.nullBitmap, o, len);
      else setBits(words(plan.validity[k]!), row, len);
    }
    switch (p.mode) {
      case 'fixed': {
        const Ctor = storageArray(f) as unknown as new (b: ArrayBufferLike, o: number, n: number) => { set(a: ArrayLike<unknown>): void };
        const src = d.values as unknown as { subarray(a: number, b: number): ArrayLike<unknown> };
        new Ctor(buffer, at + row * f.size, len).set(src.subarray(0, len));
        break;
      }
      case 'fsb':
        U8.set((d.values as Uint8Array).subarray(0, len * f.size), at + row * f.size);
        break;
      case 'bits':
        copyBits(words(at), row, d.values as Uint8Array, o, len);
        break;
      case 'dict': {
        const map = p.remap![c]!;
        const idx = d.values as ArrayLike<number>;
        const dst = new (storageArray(f))(buffer, at + row * f.size, len) as unknown as number[];
        for (let j = 0; j < len; j++) dst[j] = Math.max(0, map[idx[j]!]!);
        break;
      }
      case 'offsets': {
        const data = d.values as Uint8Array;
        for (const [from, to, b0, b1] of p.pieces![c]!) {
          const h = b1 > b0 ? cursor.take(b1 - b0) : 0;
          if (b1 > b0) U8.set(data.subarray(b0, b1), h);
          for (let j = from; j < to; j++) {
            const a = offsetAt(d, j);
            writeView(U8, W!, at, row + j, data, a, offsetAt(d, j + 1) - a, h + a - b0, plan.heapOffset);
          }
        }
        break;
      }
      case 'views': {
        const views = d.values as Uint8Array;
        const v = new Int32Array(views.buffer, views.byteOffset, 4 * len);
        const bufs = d.variadicBuffers;
        for (let j = 0; j < len; j++) {
          const n = v[4 * j]!;
          if (n <= 12) {
            writeView(U8, W!, at, row + j, views, 16 * j + 4, n, 0, plan.heapOffset);
          } else {
            const src = bufs[v[4 * j + 2]!]!;
            const off = v[4 * j + 3]!;
            const h = cursor.take(n);
            U8.set(src.subarray(off, off + n), h);
            writeView(U8, W!, at, row + j, src, off, n, h, plan.heapOffset);
          }
        }
        break;
      }
    }
    row += len;
  });
}

/** Writes the view of slot i: inline bytes from src[a, a + n) when n ≤ 12, else a reference to heap offset h; the length last. */
function writeView(U8: Uint8Array, W: Int32Array, at: number, i: number, src: Uint8Array, a: number, n: number, h: number, heapAt: number): void {
  const p = at + 16 * i;
  if (n <= 12) {
    for (let b = 0; b < n; b++) U8[p + 4 + b] = src[a + b]!;
  } else {
    U8[p + 4] = src[a]!;
    U8[p + 5] = src[a + 1]!;
    U8[p + 6] = src[a + 2]!;
    U8[p + 7] = src[a + 3]!;
    const r = h - heapAt;
    W[4 * i + 2] = (r / SLICE) | 0;
    W[4 * i + 3] = r % SLICE;
  }
  W[4 * i] = n;
}

/**
 * The schema of a table that holds `schema`'s Arrow columns: numbers,
 * bool, timestamps, utf8/binary (plain, large, view; fixed-size binary as
 * binary), and dictionaries of
 * strings (as categories: the union of every chunk's dictionary). A field
 * Arrow marks nullable is nullable.
 * @throws `ERR_SHM_VALUE` naming a column whose Arrow type has no match
 */
export function schemaFromArrow(table: ArrowNS.Table): Schema {
  const spec: Record<string, FieldSpec> = {};
  for (const field of table.schema.fields) {
    const t = field.type as ArrowNS.DataType & { bitWidth?: number; isSigned?: boolean; precision?: number; unit?: number; dictionary?: ArrowNS.DataType };
    const id = t.typeId as number;
    let type: string | undefined;
    if (id === T.Int) type = `${t.isSigned ? '' : 'u'}int${t.bitWidth}`;
    else if (id === T.Float && t.precision! > 0) type = t.precision === 1 ? 'float32' : 'float64';
    else if (id === T.Bool) type = 'bool';
    else if (id === T.Timestamp) type = `datetime64[${UNITS[t.unit!]}]`;
    else if ([T.Utf8, T.LargeUtf8, T.Utf8View].includes(id as never)) type = 'utf8';
    else if ([T.Binary, T.LargeBinary, T.BinaryView, T.FixedSizeBinary].includes(id as never)) type = 'binary';
    else if (id === T.Dictionary && [T.Utf8, T.LargeUtf8].includes(t.dictionary!.typeId as never)) {
      const seen = new Set<string>();
      for (const d of table.getChild(field.name)!.data) for (const s of d.dictionary!.toArray() as string[]) seen.add(s);
      spec[field.name] = { category: [...seen], nullable: field.nullable };
      continue;
    }
    if (type === undefined) throw new ShmError('ERR_SHM_VALUE', `column ${JSON.stringify(field.name)} has Arrow type ${String(field.type)}, which a table cannot hold`);
    spec[field.name] = field.nullable ? { type: type as never, nullable: true } : (type as FieldSpec);
  }
  return defineSchema(spec);
}
