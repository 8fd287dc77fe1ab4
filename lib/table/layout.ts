/**
 * Where every byte of a record table lives: the header, the row states, one
 * Arrow buffer per column (or packed records), and the heap of
 * variable-length values. Pure arithmetic; header.ts writes and parses it.
 * @internal
 */
import type { Schema } from './schema';

/** Format version this code writes and the only one it reads. */
export const FORMAT_VERSION = 3;
/** Bytes of per-row state (see append.ts). */
export const STATE_BYTES = 8;
/** Most rows a table may hold: the slot counters are Int32 words (Atomics on them are cheap, no BigInt). */
export const MAX_CAPACITY = 0x7fff_ffff;
/** Most rows of a table with utf8/binary fields: a view region is read as Int32 words, at most 2^32 of them. */
export const MAX_VIEW_ROWS = 0x3fff_ffff;
/** Largest header (schema JSON with a big category dictionary included). */
export const MAX_HEADER = 64 << 20;
/** Bytes of one heap slice: one Arrow variadic data buffer (view offsets are Int32). */
export const SLICE = 1 << 30;
/** Every region starts on a 64-byte boundary, as the Arrow spec recommends. */
export const ALIGN = 64;

/** Byte offsets of the fixed header words (see the table in header.ts). */
export const OFF = {
  magic: 0,
  version: 8,
  layout: 12,
  headerLength: 16,
  schemaLength: 20,
  flags: 24,
  rowSize: 28,
  maxRows: 32,
  stateOffset: 40,
  dataOffset: 48,
  heapOffset: 56,
  heapSize: 64,
  end: 72,
  slice: 80,
  /** Int32, own cache line: the next free slot; advanced with compareExchange. */
  reserved: 128,
  /** Int32, own cache line: rows [0, committed) are all fully written; futex word of waitForLength. */
  committed: 192,
  /** Int32: processes sleeping in waitForLength (a committer wakes them only when it is not 0). */
  waiters: 196,
  /** Int32: how many slots are void (any reader can skip building a validity mask while it is 0). */
  voids: 256,
  /** Int32, own cache line: rows whose row-region memory is allocated (appends stay below it). */
  rowsReady: 320,
  /** BigInt64: bytes of the heap handed out (bump pointer, compareExchange). */
  heapTop: 384,
  /** BigInt64: bytes of the heap whose memory is allocated. */
  heapReady: 448,
  schema: 512,
} as const;

/** Header flag: the table grows (no capacity was given). */
export const FLAG_GROWABLE = 1;

/** Where a table's bytes live, as parsed from (or written into) its header. */
export interface TableLayout {
  version: number;
  layout: 'columns' | 'rows';
  /** Bytes of header; the first data area starts at or after it. */
  headerLength: number;
  /** No capacity was given: rows and heap memory are allocated as appends need them. */
  growable: boolean;
  /** Most rows: the capacity, or the rows a growable table has address space for. */
  capacity: number;
  /** Sum of the field sizes; the record size (numpy itemsize) in 'rows' layout. */
  rowSize: number;
  /** Start of the 8-byte per-row commit states. */
  stateOffset: number;
  /** 'rows': start of record 0. 'columns': start of the first column region. */
  dataOffset: number;
  /** Start of the heap of utf8/binary bytes (0 and heapSize 0 without such fields). */
  heapOffset: number;
  heapSize: number;
  /** Bytes the table spans, at most the segment's size. */
  end: number;
  schema: Schema;
  /** Per field: 'columns' → absolute offset of its values (views for utf8/binary); 'rows' → offset in the record. */
  offsets: number[];
  /** Per field: absolute offset of its validity bitmap, -1 when not nullable. */
  validity: number[];
}

/** A region that grows with the row count: `at` + bytes for n rows. */
export interface RowRegion {
  at: number;
  /** Bytes per row, or 0 for a bitmap (one bit per row). */
  per: number;
  /** What it holds, for error messages. */
  what: string;
}

export const roundUp = (n: number, a: number): number => Math.ceil(n / a) * a;

/** Bytes a row region needs for n rows. */
export function regionBytes(r: Pick<RowRegion, 'per'>, n: number): number {
  return r.per === 0 ? Math.ceil(n / 8) : r.per * n;
}

/** Bytes per row of a field's values region in 'columns' layout (0: a bitmap). */
function perRow(f: Schema['fields'][number]): number {
  return f.kind === 'bool' ? 0 : f.size;
}

/** The regions that grow with the row count, in address order. */
export function rowRegions(plan: TableLayout): RowRegion[] {
  const out: RowRegion[] = [{ at: plan.stateOffset, per: STATE_BYTES, what: 'row states' }];
  if (plan.layout === 'rows') {
    out.push({ at: plan.dataOffset, per: plan.rowSize, what: 'records' });
    return out;
  }
  plan.schema.fields.forEach((f, k) => {
    if (plan.validity[k]! >= 0) out.push({ at: plan.validity[k]!, per: 0, what: `validity of ${JSON.stringify(f.name)}` });
    out.push({ at: plan.offsets[k]!, per: perRow(f), what: `column ${JSON.stringify(f.name)}` });
  });
  return out;
}

/** Bytes of address space per row (states, values, validity), rounded up. */
export function bytesPerRow(schema: Schema, layout: 'columns' | 'rows'): number {
  if (layout === 'rows') return STATE_BYTES + schema.fields.reduce((s, f) => s + f.size, 0);
  return schema.fields.reduce((s, f) => s + (perRow(f) || 0.125) + (f.nullable ? 0.125 : 0), STATE_BYTES);
}

/**
 * Lays out a table of at most `maxRows` rows and a heap of `heapSize` bytes:
 * header, row states, then per field its validity bitmap (nullable only) and
 * its values (bool: a bitmap; utf8/binary: 16-byte views), each region on a
 * 64-byte boundary and sized for maxRows; then the heap. 'rows' packs the
 * fields of a record with no padding, at numpy's packed structured-dtype
 * offsets (no nullable or variable-length fields there).
 *
 * @param headerLength bytes of header, from {@link headerBytes}
 */
export function planLayout(schema: Schema, layout: 'columns' | 'rows', maxRows: number, heapSize: number, growable: boolean, headerLength: number): TableLayout {
  const rowSize = schema.fields.reduce((s, f) => s + f.size, 0);
  const stateOffset = headerLength;
  const dataOffset = roundUp(stateOffset + STATE_BYTES * maxRows, ALIGN);
  let o = dataOffset;
  let offsets: number[];
  const validity = schema.fields.map(() => -1);
  if (layout === 'rows') {
    let r = 0;
    offsets = schema.fields.map((f) => ((r += f.size), r - f.size));
    o = roundUp(dataOffset + maxRows * rowSize, ALIGN);
  } else {
    offsets = schema.fields.map((f, k) => {
      if (f.nullable) {
        validity[k] = o;
        o = roundUp(o + Math.ceil(maxRows / 8), ALIGN);
      }
      const at = o;
      o = roundUp(o + regionBytes({ per: perRow(f) }, maxRows), ALIGN);
      return at;
    });
  }
  const heapOffset = heapSize > 0 ? o : 0;
  const end = o + heapSize;
  return { version: FORMAT_VERSION, layout, headerLength, growable, capacity: maxRows, rowSize, stateOffset, dataOffset, heapOffset, heapSize, end, schema, offsets, validity };
}

/** Whether any field holds utf8/binary values (then the table has a heap). */
export function hasHeap(schema: Schema): boolean {
  return schema.fields.some((f) => f.variable);
}

/**
 * Sizes a growable table to an address-space budget: without utf8/binary
 * fields every byte goes to rows; with them, rows get room as if each
 * variable-length value averaged 64 bytes, and the heap the rest.
 * @returns maxRows and heapSize with planLayout(...).end ≤ budget
 */
export function sizeToBudget(schema: Schema, layout: 'columns' | 'rows', budget: number, headerLength: number, maxRows?: number): { maxRows: number; heapSize: number } {
  const per = bytesPerRow(schema, layout);
  const vars = schema.fields.filter((f) => f.variable).length;
  const slack = ALIGN * (2 * schema.fields.length + 2);
  const room = budget - headerLength - slack;
  const cap = vars > 0 ? MAX_VIEW_ROWS : MAX_CAPACITY;
  const rows = maxRows ?? Math.min(cap, Math.floor(room / (per + 64 * vars)));
  if (rows < 1) return { maxRows: 0, heapSize: 0 };
  if (vars === 0) return { maxRows: rows, heapSize: 0 };
  const used = planLayout(schema, layout, rows, 0, true, headerLength).end;
  return { maxRows: rows, heapSize: Math.max(0, Math.floor((budget - used) / ALIGN) * ALIGN) };
}
