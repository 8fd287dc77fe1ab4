/**
 * Validation and writing of appendMany's two input shapes, an array of rows
 * and an object of columns: everything is checked before the table reserves
 * a single row, and `write(s)` then stores the batch at slot s.
 * @internal
 */
import { ShmError, invalidType, invalidValue } from '../errors';
import { SLICE } from './layout';
import type { Codec, HeapCursor } from './codec';
import { NUL, storageArray } from './codec';
import type { TableLayout } from './header';
import type { Field, Schema } from './schema';

/** A validated batch of `n` rows, ready to be stored at a reserved slot. */
export interface Batch {
  n: number;
  /** Heap bytes of each long utf8/binary value, in the order write() stores them (allocated before the rows are reserved). */
  heap: number[];
  /** Stores the rows at [s, s + n); throws only if a value changed since it was validated (a getter, a Proxy). */
  write(s: number, heap: HeapCursor): void;
}

/**
 * ORs n bits into a bitmap of Int32 words from bit `to`, a word at a time
 * and atomically (rows of other writers share the edge words); `bits(i)`
 * gives the 32 source bits starting at bit i of the run.
 */
export function orBits(words: Int32Array, to: number, n: number, bits: (i: number) => number): void {
  for (let i = 0; i < n; ) {
    const at = to + i;
    const lo = at & 31;
    const take = Math.min(32 - lo, n - i);
    const mask = take === 32 ? -1 : ((1 << take) - 1) << lo;
    const v = (bits(i) << lo) & mask;
    if (v !== 0) Atomics.or(words, at >> 5, v);
    i += take;
  }
}

/** Sets bits [from, from + n) of a bitmap of Int32 words. */
export function setBits(words: Int32Array, from: number, n: number): void {
  orBits(words, from, n, () => -1);
}

/** Prefixes a value error with the row it is about. */
export function rowError(err: unknown, j: number): unknown {
  if (err instanceof ShmError) err.message = `row ${j}: ${err.message}`;
  return err;
}

function colError(f: Field, j: number, rule: string, v: unknown): ShmError {
  return new ShmError('ERR_SHM_VALUE', `row ${j}: field ${JSON.stringify(f.name)} (${f.type}) ${rule}, got ${String(v)}`);
}

/** An array of row objects: each is checked whole, then converted again as it is stored. */
export function rowsBatch(codec: Codec, rows: readonly unknown[]): Batch {
  const n = rows.length;
  const heap: number[] = [];
  for (let j = 0; j < n; j++) {
    try {
      codec.check(rows[j], heap);
    } catch (err) {
      throw rowError(err, j);
    }
  }
  return {
    n,
    heap,
    write(s, cursor) {
      for (let j = 0; j < n; j++) {
        try {
          codec.put(s + j, rows[j], cursor);
        } catch (err) {
          throw rowError(err, j);
        }
      }
    },
  };
}

/**
 * An object of equal-length column arrays. A typed array of a column's
 * storage type is copied in bulk ('columns' layout) after a range check of
 * the values a bulk copy could get wrong (bool bytes, category codes); any
 * other array goes through the field's converter.
 */
export function columnsBatch(schema: Schema, codec: Codec, plan: TableLayout, buffer: ArrayBufferLike, cols: Record<string, unknown>): Batch {
  let n = -1;
  for (const key of Object.keys(cols)) {
    if (!schema.field(key)) throw invalidValue('columns', `has field ${JSON.stringify(key)}, which the schema does not`);
  }
  const plans = schema.fields.map((f, k) => {
    const src = cols[f.name];
    if (src === undefined) throw new ShmError('ERR_SHM_VALUE', `column ${JSON.stringify(f.name)} is missing`);
    const Ctor = f.variable ? undefined : storageArray(f);
    const bulk = f.kind !== 'utf8' && Ctor !== undefined && src instanceof Ctor;
    if (!bulk && !(Array.isArray(src) || (ArrayBuffer.isView(src) && !(src instanceof DataView)))) {
      throw invalidType(`columns.${f.name}`, 'an array or a typed array', src);
    }
    const len = (src as ArrayLike<unknown>).length;
    if (n === -1) n = len;
    else if (len !== n) throw invalidValue('columns', `must all have the same length: ${JSON.stringify(f.name)} has ${len}, others ${n}`);
    return { f, k, src: src as ArrayLike<unknown>, bulk };
  });
  const rows = Math.max(n, 0);
  const heap: number[] = [];
  const lengths: (number[] | undefined)[] = [];
  for (const { f, k, src, bulk } of plans) {
    if (bulk) {
      if (f.kind === 'bool') {
        for (let j = 0; j < rows; j++) if ((src[j] as number) > 1) throw colError(f, j, 'must be 0 or 1 in a Uint8Array bool column', src[j]);
      } else if (f.kind === 'category') {
        const max = f.categories!.length;
        for (let j = 0; j < rows; j++) if ((src[j] as number) >= max) throw colError(f, j, `must be a code below ${max}`, src[j]);
      }
      continue;
    }
    const cv = codec.cv[k]!;
    const len = codec.len[k];
    const ns = len ? (lengths[k] = new Array<number>(rows)) : undefined;
    for (let j = 0; j < rows; j++) {
      try {
        const x = cv(src[j]);
        if (ns) {
          const b = (ns[j] = len!(x));
          if (b > 12) heap.push(b);
        }
      } catch (err) {
        throw rowError(err, j);
      }
    }
  }
  const columnar = plan.layout === 'columns';
  return {
    n: rows,
    heap,
    write(s, cursor) {
      for (const { f, k, src, bulk } of plans) {
        if (bulk && columnar && f.kind !== 'bool') {
          const Ctor = storageArray(f);
          const dst = new Ctor(buffer as ArrayBufferLike, plan.offsets[k]! + s * f.size, rows) as unknown as { set(a: ArrayLike<unknown>): void };
          dst.set(src.length === rows ? src : (src as unknown as Uint8Array).subarray(0, rows));
          // A typed array has no nulls: every row of it is present.
          if (plan.validity[k]! >= 0) setBits(new Int32Array(buffer as ArrayBufferLike, plan.validity[k]!, Math.ceil(plan.capacity / 32)), s, rows);
          continue;
        }
        const cv = codec.cv[k]!;
        const st = codec.st[k]!;
        const ns = lengths[k];
        if (bulk) for (let j = 0; j < rows; j++) st(s + j, src[j]);
        else if (ns) {
          for (let j = 0; j < rows; j++) st(s + j, cv(src[j]), ns[j], ns[j]! > 12 ? cursor.take(ns[j]!) : 0);
        } else for (let j = 0; j < rows; j++) st(s + j, cv(src[j]));
      }
    },
  };
}

/**
 * Allocates heap room for values of the given lengths (each ≤ a slice), in
 * as few chunks as slices allow, and hands it out in the same order. Called
 * before the rows are reserved, so that a full heap or /dev/shm changes no row.
 * @param alloc hands out n heap bytes inside one slice (throws when it cannot)
 */
export function heapCursor(lengths: readonly number[], alloc: (n: number) => number): HeapCursor {
  const chunks: number[] = [];
  let acc = 0;
  for (const n of lengths) {
    if (acc + n > SLICE) chunks.push(acc), (acc = 0);
    acc += n;
  }
  if (acc > 0) chunks.push(acc);
  const starts = chunks.map(alloc);
  let c = 0;
  let at = starts[0] ?? 0;
  let left = chunks[0] ?? 0;
  return {
    take(n: number): number {
      if (n > left) {
        if (++c >= chunks.length || n > chunks[c]!) {
          throw new ShmError('ERR_SHM_VALUE', 'a utf8/binary value changed length while the batch was written (a getter or Proxy?)');
        }
        at = starts[c]!;
        left = chunks[c]!;
      }
      left -= n;
      return (at += n) - n;
    },
  };
}

/**
 * RecordTable.set: validates the given fields of row i, all before storing
 * any. utf8/binary fields and changes to or from null are refused (see set()).
 */
export function setRow(codec: Codec, schema: Schema, i: number, values: unknown): void {
  if (typeof values !== 'object' || values === null) throw invalidType('values', 'an object', values);
  const vals = values as Record<string, unknown>;
  for (const key of Object.keys(vals)) {
    if (!schema.field(key)) throw invalidValue('values', `has field ${JSON.stringify(key)}, which the schema does not`);
  }
  const todo: [number, unknown][] = [];
  schema.fields.forEach((f, k) => {
    if (!Object.hasOwn(vals, f.name)) return;
    if (f.variable) throw new ShmError('ERR_SHM_VALUE', `field ${JSON.stringify(f.name)} (${f.type}) cannot be set: utf8/binary values are immutable once appended`);
    const x = codec.cv[k]!(vals[f.name]);
    if (f.nullable && (x === NUL) !== (codec.ld[k]!(i) === null)) {
      throw new ShmError('ERR_SHM_VALUE', `field ${JSON.stringify(f.name)} of row ${i} cannot change ${x === NUL ? 'to' : 'from'} null: a published row's nulls are fixed (Arrow readers cache null counts)`);
    }
    todo.push([k, x]);
  });
  // utf8[N] converters leave their bytes in a per-field scratch: convert each string again right before storing it.
  for (const [k, x] of todo) {
    const f = schema.fields[k]!;
    codec.st[k]!(i, f.kind === 'utf8' ? codec.cv[k]!(vals[f.name]) : x);
  }
}
