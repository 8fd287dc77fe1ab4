/**
 * A per-field view of a table, for either layout: numpy's `arr.field` of a
 * structured array (a strided view) for 'rows', a plain stride for 'columns'.
 * @internal
 */
import { ShmError, outOfRange } from '../errors';
import { storageArray } from './codec';
import type { TableLayout } from './layout';

/**
 * The values of one field over rows `[0, length)` of a table, read and
 * written in place: row j's value starts at `byteOffset + j * byteStride` of
 * `buffer` (the segment). `length` is fixed when the view is made.
 */
export interface FieldView<T> {
  readonly length: number;
  /** Byte offset of row 0's value in the segment. */
  readonly byteOffset: number;
  /** Bytes from one row's value to the next (the record size in 'rows' layout); 0 for bits and views. */
  readonly byteStride: number;
  /** Row j's value (null for a null); RangeError if j is not below length. */
  get(j: number): T;
  /** Sets row j's value, as `table.set(j, { [name]: v })` does. */
  set(j: number, v: T): void;
  /** The values, row by row. */
  [Symbol.iterator](): IterableIterator<T>;
  /** The values as a new array. */
  toArray(): T[];
}

/** The FieldView of field k over rows [0, length): loads with the codec's `load`, stores with `store`. */
export function fieldView<T>(plan: TableLayout, k: number, length: number, load: (i: number) => unknown, store: (i: number, v: unknown) => void): FieldView<T> {
  const f = plan.schema.fields[k]!;
  const rows = plan.layout === 'rows';
  const byteOffset = rows ? plan.dataOffset + plan.offsets[k]! : plan.offsets[k]!;
  const byteStride = rows ? plan.rowSize : f.kind === 'bool' || f.variable ? 0 : f.size;
  const check = (j: number) => {
    if (!(Number.isInteger(j) && j >= 0 && j < length)) throw outOfRange('index', length === 0 ? 'below length (the view is empty)' : `an integer from 0 to ${length - 1}`, j);
  };
  const view: FieldView<T> = {
    length,
    byteOffset,
    byteStride,
    get(j) {
      check(j);
      return load(j) as T;
    },
    set(j, v) {
      check(j);
      store(j, v);
    },
    *[Symbol.iterator]() {
      for (let j = 0; j < length; j++) yield load(j) as T;
    },
    toArray() {
      return Array.from({ length }, (_, j) => load(j) as T);
    },
  };
  return Object.freeze(view);
}

/** RecordTable.column: the typed array view of field k's values over rows [0, n) ('columns' layout, fixed width). */
export function columnView(plan: TableLayout, buffer: ArrayBufferLike, k: number, n: number): ArrayBufferView {
  const f = plan.schema.fields[k]!;
  const name = JSON.stringify(f.name);
  if (plan.layout !== 'columns') {
    throw new ShmError('ERR_SHM_LAYOUT', `column(${name}) needs layout 'columns'; this table's records are interleaved ('rows'): use view(${name}) or get(i)`);
  }
  if (f.variable) {
    throw new ShmError('ERR_SHM_LAYOUT', `column(${name}): a ${f.type} column is views into a heap, not one typed array: use toArrow().getChild(${name}) or get(i)`);
  }
  const Ctor = f.kind === 'utf8' || f.kind === 'bool' ? Uint8Array : storageArray(f);
  const count = f.kind === 'utf8' ? n * f.size : f.kind === 'bool' ? Math.ceil(n / 8) : n;
  return new Ctor(buffer, plan.offsets[k]!, count);
}

/** Clears in `rows` (0/1 per row) the rows where field k is null. */
export function andValidity(plan: TableLayout, buffer: ArrayBufferLike, k: number, rows: Uint8Array): Uint8Array {
  const at = plan.validity[k]!;
  if (at < 0) return rows;
  const bits = new Uint8Array(buffer, at, Math.ceil(rows.length / 8));
  for (let i = 0; i < rows.length; i++) rows[i]! &= (bits[i >> 3]! >> (i & 7)) & 1;
  return rows;
}
