/**
 * What crosses the IPC channel between forkMap and its workers: handles of
 * shared inputs and outputs (never their data), the task protocol, and
 * errors flattened so they survive serialization.
 * @internal
 */
import { SharedMemory, type SegmentHandle } from '../segment';
// Types only: the table module is loaded at run time only when a table handle arrives.
import type { RecordTable, TableHandle } from '../table/index';
import { ShmError, invalidType, invalidValue } from '../errors';
import type { LanesWire } from './lanes';

/** Environment variable that tells a forked process who forked it (the parent pid). */
export const WORKER_ENV = 'SHMKIT_FORKMAP_PARENT';

/**
 * What a table is recognised by: its handle's `kind: 'table'` (duck-typed,
 * so that this file need not load the table module).
 */
interface TableLike {
  readonly handle: { readonly kind: 'table' };
  readonly length: number;
}

/** One shared object: a raw segment or a record table. */
export type Shareable = SharedMemory | RecordTable<any>;

/** What forkMap takes as `input`/`output`: one shared object or a map of them. */
export type Shared = Shareable | { readonly [key: string]: Shareable };

/** The JSON form of a {@link Shared}: handles only. */
export type Wire =
  | { type: 'segment'; handle: SegmentHandle }
  | { type: 'table'; handle: TableHandle }
  | { type: 'map'; entries: { [key: string]: Wire } };

/** A flattened Error: what survives the trip from worker to parent. */
export interface WireError {
  name: string;
  message: string;
  stack?: string;
  code?: unknown;
}

/** Parent → worker. */
export type ToWorker =
  | { shmkit: 'init'; input: Wire | null; output: Wire | null; workerData: unknown; lanes: LanesWire | null; chunk: number; total: number }
  | { shmkit: 'task'; index: number; start: number; end: number };

/** Worker → parent. `index` is null for a failure outside any task (attaching). */
export type FromWorker =
  | { shmkit: 'ready' }
  | { shmkit: 'idle' }
  | { shmkit: 'done'; index: number; result: unknown }
  | { shmkit: 'error'; index: number | null; error: WireError };

function isTableLike(value: unknown): value is TableLike {
  if (typeof value !== 'object' || value === null) return false;
  const h = (value as { handle?: unknown }).handle;
  return typeof h === 'object' && h !== null && (h as { kind?: unknown }).kind === 'table';
}

function isClosed(value: object): boolean {
  return (value as { closed?: unknown }).closed === true;
}

function encodeOne(value: unknown, what: string): Wire | undefined {
  if (value instanceof SharedMemory) {
    if (value.closed) throw new ShmError('ERR_SHM_CLOSED', `${what} is a closed segment`);
    return { type: 'segment', handle: value.handle };
  }
  if (isTableLike(value)) {
    if (isClosed(value)) throw new ShmError('ERR_SHM_CLOSED', `${what} is a closed table`);
    // Round-trip through JSON: the handle must be plain data to cross the channel.
    return { type: 'table', handle: JSON.parse(JSON.stringify(value.handle)) as TableHandle };
  }
  return undefined;
}

/**
 * Turns `input`/`output` into handles.
 * @throws TypeError when it is not a SharedMemory, a RecordTable, or a
 *   non-empty plain object of those; ShmError ERR_SHM_CLOSED for a closed one
 */
export function encode(value: unknown, what: string): Wire {
  const one = encodeOne(value, what);
  if (one) return one;
  const expected = 'a SharedMemory, a RecordTable or an object of them';
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalidType(what, expected, value);
  const entries: { [key: string]: Wire } = {};
  for (const [key, v] of Object.entries(value)) {
    const w = encodeOne(v, `${what}.${key}`);
    if (!w) throw invalidType(`${what}.${key}`, 'a SharedMemory or a RecordTable', v);
    entries[key] = w;
  }
  if (Object.keys(entries).length === 0) throw invalidValue(what, 'must not be an empty object');
  return { type: 'map', entries };
}

/**
 * The row count implied by the tables in `value`: their common length, or
 * undefined when it holds no table.
 * @throws TypeError when its tables differ in length
 */
export function tableLength(value: unknown, what: string): number | undefined {
  const tables: [string, TableLike][] = [];
  if (isTableLike(value)) tables.push([what, value]);
  else if (typeof value === 'object' && value !== null && !(value instanceof SharedMemory)) {
    for (const [k, v] of Object.entries(value)) if (isTableLike(v)) tables.push([`${what}.${k}`, v]);
  }
  if (tables.length === 0) return undefined;
  const n = tables[0]![1].length;
  if (tables.some(([, t]) => t.length !== n)) {
    const list = tables.map(([k, t]) => `${k}: ${t.length}`).join(', ');
    throw invalidValue(what, `holds tables of different lengths (${list}); pass options.length`);
  }
  return n;
}

/** Something a worker opened and closes when it ends. */
interface Closable {
  close(): void;
}

/**
 * Attaches what a handle names, in a worker. Inputs are mapped read-only
 * (a worker's stray write never reaches others — see SharedMemory.attach's
 * `readonly` — and a table input refuses append/set); outputs are mapped
 * read-write. Nothing here ever unlinks. The table module is loaded only
 * when a table handle arrives.
 */
export function attach(wire: Wire, role: 'input' | 'output', opened: Closable[]): unknown {
  switch (wire.type) {
    case 'segment': {
      const seg = SharedMemory.attach(wire.handle, { readonly: role === 'input' });
      opened.push(seg);
      return seg;
    }
    case 'table': {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { RecordTable: Table } = require('../table') as typeof import('../table');
      const table = Table.attach(wire.handle, { readonly: role === 'input' });
      opened.push(table);
      return table;
    }
    case 'map': {
      const out: { [key: string]: unknown } = {};
      for (const [k, w] of Object.entries(wire.entries)) out[k] = attach(w, role, opened);
      return out;
    }
  }
}

/** Flattens an error (or anything thrown) for the IPC channel. */
export function flattenError(err: unknown): WireError {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return { name: err.name, message: err.message, stack: err.stack, ...(code === undefined ? {} : { code }) };
  }
  return { name: 'Error', message: `non-error thrown: ${String(err)}` };
}

/** Rebuilds a worker's error in the parent, its stack the worker's own. */
export function restoreError(w: WireError): Error {
  const err = new Error(w.message);
  err.name = w.name;
  if (w.stack !== undefined) err.stack = w.stack;
  if (w.code !== undefined) Object.assign(err, { code: w.code });
  return err;
}
