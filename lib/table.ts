/**
 * RecordTable: a fixed-capacity table of typed records in one shared memory
 * segment, appendable from many processes at once and readable with no copy
 * (column views here, numpy arrays in Python).
 */
import * as fs from 'node:fs';
import { types } from 'node:util';
import { ShmError, checkInteger, invalidType, invalidValue, outOfRange } from './errors';
import { MAX_CAPACITY, OFF, parseHeader, planLayout, writeHeader, type TableLayout } from './header';
import { Schema, type ColumnArray, type Field, type RowOf, type SchemaSpec } from './schema';
import { MAX_SIZE, SharedMemory } from './segment';

/** Plain JSON naming a table; {@link RecordTable.attach} accepts it in any process. */
export interface TableHandle {
  name: string;
  size: number;
  kind: 'table';
}

/** Options of {@link RecordTable.create}. */
export interface TableCreateOptions {
  /** Rows the table can hold, 1 to 2^31 - 1. Required: the segment is sized once. */
  capacity: number;
  /** `'columns'` (default): one 64-byte aligned array per column. `'rows'`: packed records, numpy's structured dtype. */
  layout?: 'columns' | 'rows';
  /** Segment name; generated from `prefix` when absent. */
  name?: string;
  /** Prefix of a generated name. Default `'shmkit'`. */
  prefix?: string;
  /** Permission bits. Default 0o600. */
  mode?: number;
  /** Unlink the table when this process ends. Default true. */
  owned?: boolean;
}

/** Options of {@link RecordTable.attach}. */
export interface TableAttachOptions<S extends SchemaSpec = SchemaSpec> {
  /** Expected schema: attach throws `ERR_SHM_SCHEMA_MISMATCH` if the table's differs. */
  schema?: Schema<S>;
  /** Private copy-on-write view: reads only; append/set throw `ERR_SHM_READONLY`. */
  readonly?: boolean;
  /** Adopt the segment: this process unlinks it when it ends. */
  own?: boolean;
}

/** Column arrays for {@link RecordTable.appendMany}: typed arrays of the storage type are copied in bulk. */
export type ColumnsOf<S extends SchemaSpec> = { [K in keyof S]: ArrayLike<RowOf<S>[K]> | ArrayBufferView };

/*
 * Concurrent append protocol.
 *
 * Header words (Int32): `reserved` = next free slot, `committed` = length.
 * Per row, an Int32 commit state in the segment:
 *      0  free (or reserved, not yet claimed)
 *      1  committed: fully written
 *      2  void: abandoned by a dead writer, zero-filled, never reused
 *   -pid  claimed: process `pid` is writing it
 *
 * Append of n rows:
 *  1. validate every value (nothing is written if one is bad);
 *  2. reserve [s, s+n) by compareExchange on `reserved` (never past capacity,
 *     so a full table changes nothing — an Atomics.add would overshoot and
 *     could not be undone safely with others reserving concurrently);
 *  3. claim: compareExchange state[s] 0 → -pid, then fill [s+1, s+n) with -pid.
 *     If the claim fails, a recoverer voided the slot while this writer was
 *     stalled: void the rest of the reservation and start again;
 *  4. write the data;
 *  5. commit: fill [s+1, s+n) with 1, then Atomics.store(state[s], 1) last;
 *  6. advance `committed` over every leading state that is 1 or 2 (any
 *     process may; compareExchange keeps it monotonic).
 * Readers see `committed`: every row below it was committed (1) or voided (2),
 * so no torn row is ever visible. The head is stored last and the prefix scan
 * reads it first, with Atomics, so the plain fills are ordered for free.
 *
 * A writer SIGKILLed mid-append leaves state[s] = -pid for ever. Whoever
 * advances `committed` and finds the same hole there for HOLE_CHECK_MS checks
 * whether pid is alive; if it is dead, it takes the slot over (compareExchange
 * to its own -pid, so a dying recoverer is recovered in turn), voids it and
 * every following slot in state 0 or -deadpid (zero data, then state 2) and
 * advances. A hole in state 0 (killed between steps 2 and 3, or stalled
 * there) is voided after ZERO_STALL_MS. Limits: all writers must share a PID
 * namespace, and a live but stopped writer (SIGSTOP) holds `committed` back.
 */
const HOLE_CHECK_MS = 20;
const ZERO_STALL_MS = 2000;
const FREE = 0;
const COMMITTED = 1;
const VOID = 2;
const I_RESERVED = OFF.reserved >> 2;
const I_COMMITTED = OFF.committed >> 2;

/** Whether process `pid` is alive (a zombie counts as dead). */
function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  if (process.platform !== 'linux') return true;
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
    const state = stat.charAt(stat.lastIndexOf(')') + 2);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/** What a schema's generated code offers: per-field converters, plus row-level fast paths. */
interface Codec {
  /** Validates and converts field k's JS value to its stored form; throws ShmError. */
  cv: ((v: unknown) => unknown)[];
  /** Stores a converted value of field k into slot i. */
  st: ((i: number, x: unknown) => void)[];
  /** Loads field k of slot i as a JS value. */
  ld: ((i: number) => unknown)[];
  /** append(row) → slot, in one generated function. */
  append(row: unknown): number;
  /** get(i) → row object. */
  read(i: number): Record<string, unknown>;
  /** Validates a row; writes nothing. */
  check(row: unknown): void;
  /** Validates and writes a row into slot i. */
  put(i: number, row: unknown): void;
  /** Zero-fills slot i. */
  zero(i: number): void;
}

interface Engine {
  reserve(n: number): number;
  commit(s: number, n: number): void;
}

function valueError(field: Field, v: unknown, reason: string): ShmError {
  if (v === undefined) return new ShmError('ERR_SHM_VALUE', `field ${JSON.stringify(field.name)} is missing`);
  const shown = typeof v === 'bigint' ? `${v}n` : typeof v === 'string' ? JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v) : types.isDate(v) ? `Date(${(v as Date).getTime()})` : typeof v === 'object' && v !== null ? (Array.isArray(v) ? 'an array' : 'an object') : String(v);
  return new ShmError('ERR_SHM_VALUE', `field ${JSON.stringify(field.name)} (${field.type}) ${reason}, got ${shown}`);
}

const INT_CHECK: Record<string, string> = {
  int8: '(v << 24 >> 24) !== v',
  uint8: '(v & 0xff) !== v',
  int16: '(v << 16 >> 16) !== v',
  uint16: '(v & 0xffff) !== v',
  int32: '(v | 0) !== v',
  uint32: '(v >>> 0) !== v',
};
const INT_RANGE: Record<string, string> = {
  int8: 'an integer from -128 to 127',
  uint8: 'an integer from 0 to 255',
  int16: 'an integer from -32768 to 32767',
  uint16: 'an integer from 0 to 65535',
  int32: 'an integer from -2147483648 to 2147483647',
  uint32: 'an integer from 0 to 4294967295',
};
const DV_SUFFIX: Record<string, string> = {
  int8: 'Int8', uint8: 'Uint8', int16: 'Int16', uint16: 'Uint16', int32: 'Int32', uint32: 'Uint32',
  int64: 'BigInt64', uint64: 'BigUint64', float32: 'Float32', float64: 'Float64', bool: 'Uint8', datetime64: 'BigInt64',
};
const ARRAY_OF: Record<string, new (b: ArrayBuffer, o: number, n: number) => ArrayBufferView & ArrayLike<unknown>> = {
  int8: Int8Array, uint8: Uint8Array, int16: Int16Array, uint16: Uint16Array, int32: Int32Array, uint32: Uint32Array,
  int64: BigInt64Array, uint64: BigUint64Array, float32: Float32Array, float64: Float64Array, bool: Uint8Array,
  datetime64: BigInt64Array,
};
/** Typed array class holding a field's stored values (category: its codes). */
function storageArray(f: Field): new (b: ArrayBuffer, o: number, n: number) => ArrayBufferView & ArrayLike<unknown> {
  if (f.kind === 'category') return f.size === 1 ? Uint8Array : f.size === 2 ? Uint16Array : Uint32Array;
  return ARRAY_OF[f.kind]!;
}

/**
 * Generates the codec of one table once: straight-line code per schema, so
 * the hot paths do no per-field dispatch and allocate only the row object.
 */
function buildCodec(plan: TableLayout, buffer: ArrayBuffer, engine: Engine): Codec {
  const { schema, layout, capacity, dataOffset, rowSize, offsets } = plan;
  const fields = schema.fields;
  const env: Record<string, unknown> = {
    U8: new Uint8Array(buffer),
    BUF: Buffer.from(buffer),
    DV: new DataView(buffer),
    ENC: new TextEncoder(),
    isDate: types.isDate,
    getTime: Date.prototype.getTime,
    E: engine,
    bad: (k: number, v: unknown, reason: string) => {
      throw valueError(fields[k]!, v, reason);
    },
    tooLong: (k: number, v: string) => {
      const f = fields[k]!;
      throw new ShmError(
        'ERR_SHM_STRING_TOO_LONG',
        `field ${JSON.stringify(f.name)} (${f.type}) holds ${f.width} bytes of UTF-8; ${JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v)} needs ${Buffer.byteLength(v)}`,
      );
    },
    notRow: (v: unknown) => {
      throw invalidType('row', 'an object', v);
    },
    badCode: (k: number, i: number, c: number) => {
      throw new ShmError('ERR_SHM_VALUE', `row ${i} field ${JSON.stringify(fields[k]!.name)} holds code ${c}, outside its ${fields[k]!.categories!.length} categories`);
    },
  };
  const src: string[] = [];
  fields.forEach((f, k) => {
    const cols = layout === 'columns';
    // Where slot i's value of field k starts, in bytes from the segment start.
    const at = cols ? `(${offsets[k]} + i * ${f.size})` : `(${dataOffset + offsets[k]!} + i * ${rowSize})`;
    if (cols && f.kind !== 'utf8') env[`A${k}`] = new (storageArray(f))(buffer, offsets[k]!, capacity);
    const dvSet = (x: string) => `DV.set${DV_SUFFIX[f.kind]}(${at}, ${x}, true)`;
    const dvGet = `DV.get${DV_SUFFIX[f.kind]}(${at}, true)`;
    const store = (x: string) => (cols ? `A${k}[i] = ${x}` : dvSet(x));
    const load = cols ? `A${k}[i]` : dvGet;
    let cv: string;
    let st = store('x');
    let ld = load;
    switch (f.kind) {
      case 'int8': case 'uint8': case 'int16': case 'uint16': case 'int32': case 'uint32':
        cv = `if (typeof v !== 'number' || ${INT_CHECK[f.kind]}) bad(${k}, v, 'must be ${INT_RANGE[f.kind]}'); return v;`;
        if (!cols && f.size === 1) st = `DV.set${DV_SUFFIX[f.kind]}(${at}, x)`, ld = `DV.get${DV_SUFFIX[f.kind]}(${at})`;
        break;
      case 'int64':
        cv = `if (typeof v !== 'bigint' || v < -0x8000000000000000n || v > 0x7fffffffffffffffn) bad(${k}, v, 'must be a bigint from -2^63 to 2^63-1'); return v;`;
        break;
      case 'uint64':
        cv = `if (typeof v !== 'bigint' || v < 0n || v > 0xffffffffffffffffn) bad(${k}, v, 'must be a bigint from 0 to 2^64-1'); return v;`;
        break;
      case 'float32': case 'float64':
        cv = `if (typeof v !== 'number') bad(${k}, v, 'must be a number'); return v;`;
        break;
      case 'bool':
        cv = `if (typeof v !== 'boolean') bad(${k}, v, 'must be a boolean'); return v ? 1 : 0;`;
        ld = cols ? `A${k}[i] !== 0` : `DV.getUint8(${at}) !== 0`;
        if (!cols) st = `DV.setUint8(${at}, x)`;
        break;
      case 'datetime64':
        if (f.unit === 's' || f.unit === 'ms') {
          const scale = f.unit === 's' ? 1000 : 1;
          cv = `if (!isDate(v)) bad(${k}, v, 'must be a Date'); const t = getTime.call(v);
            if (t !== t) bad(${k}, v, 'must be a valid Date');
            ${scale === 1 ? '' : `if (t % 1000 !== 0) bad(${k}, v, 'must be a whole number of seconds (no silent rounding)');`}
            return BigInt(t${scale === 1 ? '' : ' / 1000'});`;
          ld = `new Date(Number(${load})${scale === 1 ? '' : ' * 1000'})`;
        } else {
          cv = `if (typeof v !== 'bigint' || v < -0x8000000000000000n || v > 0x7fffffffffffffffn) bad(${k}, v, 'must be a bigint (${f.unit} since 1970) from -2^63 to 2^63-1'); return v;`;
        }
        break;
      case 'category': {
        env[`MAP${k}`] = new Map(f.categories!.map((c, i) => [c, i]));
        env[`CAT${k}`] = f.categories;
        cv = `const c = MAP${k}.get(v); if (c === undefined) bad(${k}, v, 'must be one of its ${f.categories!.length} categories'); return c;`;
        const sfx = f.size === 1 ? 'Uint8' : f.size === 2 ? 'Uint16' : 'Uint32';
        if (!cols) {
          st = f.size === 1 ? `DV.setUint8(${at}, x)` : `DV.set${sfx}(${at}, x, true)`;
          ld = f.size === 1 ? `DV.getUint8(${at})` : `DV.get${sfx}(${at}, true)`;
        }
        ld = `const c = ${ld}; return c < ${f.categories!.length} ? CAT${k}[c] : badCode(${k}, i, c);`;
        break;
      }
      case 'utf8': {
        const n = f.width!;
        env[`S${k}`] = new Uint8Array(n);
        cv = `if (typeof v !== 'string') bad(${k}, v, 'must be a string');
          if (!v.isWellFormed()) bad(${k}, v, 'must be well-formed UTF-16 (a lone surrogate cannot be stored)');
          if (v.indexOf('\\0') !== -1) bad(${k}, v, 'must not contain NUL (strings are NUL-padded)');
          const r = ENC.encodeInto(v, S${k}); if (r.read !== v.length) tooLong(${k}, v); return r.written;`;
        st = `const p = ${at}; let j = 0; for (; j < x; j++) U8[p + j] = S${k}[j]; for (; j < ${n}; j++) U8[p + j] = 0;`;
        ld = `const p = ${at}; let e = p; while (e < p + ${n} && U8[e] !== 0) e++; return e === p ? '' : BUF.utf8Slice(p, e);`;
        break;
      }
    }
    if (!ld.startsWith('const')) ld = `return ${ld};`;
    src.push(`function cv${k}(v) { ${cv} }`, `function st${k}(i, x) { ${st}; }`, `function ld${k}(i) { ${ld} }`);
  });
  const key = (f: Field) => JSON.stringify(f.name);
  const all = (fn: (f: Field, k: number) => string, sep = '\n') => fields.map(fn).join(sep);
  const zero =
    layout === 'rows' ? `U8.fill(0, ${dataOffset} + i * ${rowSize}, ${dataOffset} + (i + 1) * ${rowSize});`
    : all((f, k) => `U8.fill(0, ${offsets[k]} + i * ${f.size}, ${offsets[k]} + (i + 1) * ${f.size});`);
  src.push(
    `function append(row) {
      if (typeof row !== 'object' || row === null) notRow(row);
      ${all((f, k) => `const v${k} = row[${key(f)}];`)}
      ${all((_f, k) => `const x${k} = cv${k}(v${k});`)}
      const i = E.reserve(1);
      ${all((_f, k) => `st${k}(i, x${k});`)}
      E.commit(i, 1);
      return i;
    }`,
    `function check(row) {
      if (typeof row !== 'object' || row === null) notRow(row);
      ${all((f, k) => `cv${k}(row[${key(f)}]);`)}
    }`,
    `function put(i, row) {
      ${all((f, k) => `const x${k} = cv${k}(row[${key(f)}]);`)}
      ${all((_f, k) => `st${k}(i, x${k});`)}
    }`,
    `function read(i) { return { ${all((f, k) => `${key(f)}: ld${k}(i)`, ', ')} }; }`,
    `function zero(i) { ${zero} }`,
    `return { append, check, put, read, zero,
      cv: [${all((_f, k) => `cv${k}`, ', ')}], st: [${all((_f, k) => `st${k}`, ', ')}], ld: [${all((_f, k) => `ld${k}`, ', ')}] };`,
  );
  const names = Object.keys(env);
  // eslint-disable-next-line @typescript-eslint/no-implied-eval
  return new Function(...names, `'use strict';\n${src.join('\n')}`)(...names.map((n) => env[n])) as Codec;
}

const token = Symbol('RecordTable');

/**
 * A table of typed records in a shared memory segment, with a fixed
 * capacity. Many processes may append at once; readers only ever see fully
 * written rows. The segment describes itself, so `attach` needs only its
 * name or handle. `close()` ends this process's view; `unlink()` removes the
 * table for every process.
 *
 * @example
 * const t = RecordTable.create(defineSchema({ id: 'int64', price: 'float64' }), { capacity: 1000 });
 * t.append({ id: 1n, price: 9.5 }); t.column('price'); // Float64Array [9.5], no copy
 */
export class RecordTable<S extends SchemaSpec = SchemaSpec> implements Disposable {
  readonly #seg: SharedMemory;
  readonly #plan: TableLayout;
  readonly #schema: Schema<S>;
  readonly #h: Int32Array;
  readonly #state: Int32Array;
  readonly #codec: Codec;
  readonly #pid = process.pid;
  #writable: boolean;
  #closed = false;
  #holeSlot = -1;
  #holeSince = 0;
  #holeChecked = 0;

  /** @internal use {@link RecordTable.create} or {@link RecordTable.attach}. */
  constructor(key: typeof token, seg: SharedMemory, plan: TableLayout) {
    if (key !== token) throw new TypeError('use RecordTable.create() or RecordTable.attach()');
    this.#seg = seg;
    this.#plan = plan;
    this.#schema = plan.schema as Schema<S>;
    this.#writable = !seg.readonly;
    this.#h = new Int32Array(seg.buffer, 0, OFF.schema >> 2);
    this.#state = new Int32Array(seg.buffer, plan.stateOffset, plan.capacity);
    this.#codec = buildCodec(plan, seg.buffer, {
      reserve: (n) => this.#reserve(n),
      commit: (s, n) => this.#commit(s, n),
    });
  }

  /**
   * Creates a table in a new segment sized for `capacity` rows.
   *
   * @throws TypeError/RangeError on a bad schema or options; `EEXIST` if the
   *   name is taken; `ENOSPC` if /dev/shm cannot hold it
   * @example
   * const t = RecordTable.create(Trade, { capacity: 1_000_000, layout: 'rows', name: 'app.trades' });
   */
  static create<S extends SchemaSpec>(schema: Schema<S>, options: TableCreateOptions): RecordTable<S> {
    if (!(schema instanceof Schema)) throw invalidType('schema', 'a Schema from defineSchema()', schema);
    if (typeof options !== 'object' || options === null) throw invalidType('options', 'an object', options);
    const capacity = checkInteger('options.capacity', options.capacity, 1, MAX_CAPACITY);
    const layout = options.layout ?? 'columns';
    if (layout !== 'columns' && layout !== 'rows') throw invalidValue('options.layout', `must be 'columns' or 'rows', got ${String(layout)}`);
    const { plan, json } = planLayout(schema, layout, capacity);
    if (plan.end > MAX_SIZE) throw outOfRange('options.capacity', `small enough for the table to fit in ${MAX_SIZE} bytes`, capacity);
    const seg = SharedMemory.create({ size: plan.end, name: options.name, prefix: options.prefix, mode: options.mode, owned: options.owned });
    writeHeader(new Uint8Array(seg.buffer), plan, json);
    return new RecordTable<S>(token, seg, { ...plan, schema });
  }

  /**
   * Maps an existing table by name or handle. The schema, layout and offsets
   * come from its header, validated against the segment's real size.
   *
   * @throws `ENOENT` if there is no such segment; `ERR_SHM_BAD_HEADER` (with
   *   the reason) if it is not a valid table; `ERR_SHM_SCHEMA_MISMATCH` if
   *   `schema` is given and differs; `ERR_SHM_SIZE_MISMATCH` for a stale handle
   * @example
   * const t = RecordTable.attach('app.trades', Trade);   // or RecordTable.attach(handle)
   */
  static attach<S extends SchemaSpec = SchemaSpec>(
    nameOrHandle: string | TableHandle | { name: string; size?: number },
    schemaOrOptions?: Schema<S> | TableAttachOptions<S>,
  ): RecordTable<S> {
    const options: TableAttachOptions<S> =
      schemaOrOptions instanceof Schema ? { schema: schemaOrOptions } : schemaOrOptions ?? {};
    if (typeof options !== 'object' || options === null) throw invalidType('options', 'a Schema or an options object', options);
    if (options.schema !== undefined && !(options.schema instanceof Schema)) {
      throw invalidType('options.schema', 'a Schema from defineSchema()', options.schema);
    }
    const seg = SharedMemory.attach(nameOrHandle as string, { readonly: options.readonly, own: options.own });
    try {
      const plan = parseHeader(new Uint8Array(seg.buffer), seg.size);
      if (options.schema && !options.schema.equals(plan.schema)) {
        throw new ShmError(
          'ERR_SHM_SCHEMA_MISMATCH',
          `table '${seg.name}' has schema ${JSON.stringify(plan.schema.toJSON())}, not the expected ${JSON.stringify(options.schema.toJSON())}`,
        );
      }
      const t = new RecordTable<S>(token, seg, options.schema ? { ...plan, schema: options.schema } : plan);
      if (t.#writable) t.#advance(-1, -1);
      return t;
    } catch (err) {
      if (options.own) seg.unregister();
      seg.close();
      throw err;
    }
  }

  /**
   * Rows readable now: every row below it is fully written (or void). On a
   * writable table, reading it also moves past a dead writer's slots; a
   * read-only attach only reports what writers have published.
   */
  get length(): number {
    if (this.#closed) return 0;
    const c = Atomics.load(this.#h, I_COMMITTED);
    if (!this.#writable || c === Atomics.load(this.#h, I_RESERVED)) return Math.min(c, this.#plan.capacity);
    return Math.min(this.#advance(-1, -1), this.#plan.capacity);
  }
  /** Rows the table can hold. */
  get capacity(): number {
    return this.#plan.capacity;
  }
  /** The segment's name. */
  get name(): string {
    return this.#seg.name;
  }
  /** Plain JSON (`{ name, size, kind: 'table' }`) that {@link RecordTable.attach} accepts in any process. */
  get handle(): TableHandle {
    return { name: this.#seg.name, size: this.#seg.size, kind: 'table' };
  }
  /** The schema, as read from the header (or the one passed to create/attach). */
  get schema(): Schema<S> {
    return this.#schema;
  }
  /** `'columns'` or `'rows'`. */
  get layout(): 'columns' | 'rows' {
    return this.#plan.layout;
  }
  /** The segment underneath. */
  get segment(): SharedMemory {
    return this.#seg;
  }
  /** True while this process will unlink the table when it ends. */
  get owned(): boolean {
    return this.#seg.owned;
  }
  /** True after `close()`. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Appends one row and returns its index. Safe from many processes at once.
   * The whole row is validated before anything is written.
   *
   * @throws `ERR_SHM_VALUE` (missing field, wrong type, integer out of range,
   *   unknown category), `ERR_SHM_STRING_TOO_LONG`, `ERR_SHM_TABLE_FULL` —
   *   each leaving the table unchanged; `ERR_SHM_READONLY`, `ERR_SHM_CLOSED`
   * @example
   * const i = t.append({ id: 1n, price: 9.5 });
   */
  append(row: RowOf<S>): number {
    if (!this.#writable) throw this.#notWritable();
    return this.#codec.append(row);
  }

  /**
   * Appends many rows as one contiguous block and returns the first index.
   * `rows` is an array of row objects, or an object of column arrays of equal
   * length; a typed array of a column's storage type (Float64Array for
   * float64, BigInt64Array for int64 and datetime64, Uint8Array for bool,
   * the code array for a category) is copied in bulk. Everything is validated
   * before anything is written.
   *
   * @throws as {@link RecordTable.append}; TypeError if column lengths differ
   * @example
   * t.appendMany({ id: BigInt64Array.of(1n, 2n), price: Float64Array.of(9.5, 9.75) });
   */
  appendMany(rows: readonly RowOf<S>[] | ColumnsOf<S>): number {
    if (!this.#writable) throw this.#notWritable();
    if (Array.isArray(rows)) return this.#appendRows(rows);
    if (typeof rows !== 'object' || rows === null) throw invalidType('rows', 'an array of rows or an object of columns', rows);
    return this.#appendColumns(rows as Record<string, unknown>);
  }

  /**
   * Row `i` as an object typed from the schema.
   * @throws RangeError if `i` is not an index below `length`; `ERR_SHM_CLOSED`;
   *   `ERR_SHM_VALUE` if a category code in the row is outside its dictionary
   *   (only bytes written by something other than shmkit can do that)
   * @example
   * const { price } = t.get(0);
   */
  get(i: number): RowOf<S> {
    if (this.#closed) throw this.#closedError();
    if (!((i >>> 0) === i && i < Atomics.load(this.#h, I_COMMITTED))) this.#checkIndex(i);
    return this.#codec.read(i) as RowOf<S>;
  }

  /**
   * Overwrites some fields of row `i` (below `length`). The given fields are
   * all validated first. Not atomic across fields for concurrent readers.
   * @throws as {@link RecordTable.append}, RangeError on a bad index
   * @example
   * t.set(0, { price: 10 });
   */
  set(i: number, values: Partial<RowOf<S>>): void {
    if (!this.#writable) throw this.#notWritable();
    this.#checkIndex(i);
    if (typeof values !== 'object' || values === null) throw invalidType('values', 'an object', values);
    const fields = this.#schema.fields;
    const todo: [number, unknown][] = [];
    for (let k = 0; k < fields.length; k++) {
      if (!Object.hasOwn(values, fields[k]!.name)) continue;
      todo.push([k, this.#codec.cv[k]!((values as Record<string, unknown>)[fields[k]!.name])]);
    }
    for (const key of Object.keys(values)) {
      if (!this.#schema.field(key)) throw invalidValue('values', `has field ${JSON.stringify(key)}, which the schema does not`);
    }
    // utf8 converters leave their bytes in a per-field scratch: convert each string again right before storing it.
    for (const [k, x] of todo) {
      const f = fields[k]!;
      this.#codec.st[k]!(i, f.kind === 'utf8' ? this.#codec.cv[k]!((values as Record<string, unknown>)[f.name]) : x);
    }
  }

  /**
   * A zero-copy view of a column over shared memory, of length `length`
   * (rows appended later are not in it; call again). Numbers: the typed
   * array of the type (BigInt64Array for int64); bool: Uint8Array of 0/1;
   * datetime64: BigInt64Array of units since 1970; category: the codes
   * (index into `schema.field(name).categories`); utf8[N]: Uint8Array of
   * length × N bytes, each value NUL-padded (numpy's `S{N}`).
   *
   * @throws `ERR_SHM_LAYOUT` for a 'rows' table (its fields are interleaved:
   *   use get(i), or numpy's structured array); TypeError for an unknown name
   * @example
   * let sum = 0; for (const p of t.column('price')) sum += p;
   */
  column<K extends keyof S & string>(name: K): ColumnArray<S[K]> {
    if (this.#closed) throw this.#closedError();
    const k = this.#schema.fields.findIndex((f) => f.name === name);
    if (k < 0) throw invalidValue('name', `is not a field of this table: ${JSON.stringify(name)}`);
    if (this.#plan.layout !== 'columns') {
      throw new ShmError('ERR_SHM_LAYOUT', `column(${JSON.stringify(name)}) needs layout 'columns'; this table's records are interleaved ('rows'): use get(i)`);
    }
    const f = this.#schema.fields[k]!;
    const n = this.length;
    const Ctor = f.kind === 'utf8' ? Uint8Array : storageArray(f);
    return new Ctor(this.#seg.buffer, this.#plan.offsets[k]!, f.kind === 'utf8' ? n * f.size : n) as ColumnArray<S[K]>;
  }

  /**
   * Whether row `i` was voided: reserved by a writer that died before
   * committing it, then zero-filled by recovery. Its values are zeros.
   * @example
   * for (let i = 0; i < t.length; i++) if (!t.isVoid(i)) use(t.get(i));
   */
  isVoid(i: number): boolean {
    if (this.#closed) throw this.#closedError();
    this.#checkIndex(i);
    return Atomics.load(this.#state, i) === VOID;
  }

  /** Unmaps this process's view (see {@link SharedMemory.close}). Idempotent. */
  close(): void {
    this.#closed = true;
    this.#writable = false;
    this.#seg.close();
  }
  /** Removes the table's name for every process (see {@link SharedMemory.unlink}). */
  unlink(): void {
    this.#seg.unlink();
  }
  /** Stops owning the table: it outlives this process. */
  unregister(): void {
    this.#seg.unregister();
  }
  /** Same as {@link RecordTable.close}. */
  [Symbol.dispose](): void {
    this.close();
  }

  #closedError(): ShmError {
    return new ShmError('ERR_SHM_CLOSED', `table '${this.#seg.name}' is closed`);
  }
  #notWritable(): ShmError {
    if (this.#closed) return this.#closedError();
    return new ShmError('ERR_SHM_READONLY', `table '${this.#seg.name}' was attached read-only`);
  }
  #checkIndex(i: number): void {
    const n = this.length;
    if (typeof i !== 'number') throw invalidType('index', 'a number', i);
    if (!Number.isInteger(i) || i < 0 || i >= n) throw outOfRange('index', n === 0 ? 'below length (the table is empty)' : `an integer from 0 to ${n - 1}`, i);
  }

  #appendRows(rows: readonly unknown[]): number {
    const n = rows.length;
    if (n === 0) return this.length;
    const codec = this.#codec;
    for (let j = 0; j < n; j++) {
      try {
        codec.check(rows[j]);
      } catch (err) {
        throw rowError(err, j);
      }
    }
    const s = this.#reserve(n);
    let j = 0;
    try {
      for (; j < n; j++) codec.put(s + j, rows[j]);
    } catch (err) {
      // Only a row that changed between the two passes (a getter, a Proxy) gets here.
      this.#voidOwn(s + j, s + n);
      this.#commit(s, j);
      throw rowError(err, j);
    }
    this.#commit(s, n);
    return s;
  }

  #appendColumns(cols: Record<string, unknown>): number {
    const fields = this.#schema.fields;
    let n = -1;
    for (const key of Object.keys(cols)) {
      if (!this.#schema.field(key)) throw invalidValue('columns', `has field ${JSON.stringify(key)}, which the schema does not`);
    }
    const plans = fields.map((f, k) => {
      const src = cols[f.name];
      if (src === undefined) throw new ShmError('ERR_SHM_VALUE', `column ${JSON.stringify(f.name)} is missing`);
      const Ctor = storageArray(f);
      const bulk = f.kind !== 'utf8' && src instanceof Ctor;
      if (!bulk && !(Array.isArray(src) || (ArrayBuffer.isView(src) && !(src instanceof DataView)))) {
        throw invalidType(`columns.${f.name}`, 'an array or a typed array', src);
      }
      const len = (src as ArrayLike<unknown>).length;
      if (n === -1) n = len;
      else if (len !== n) throw invalidValue('columns', `must all have the same length: ${JSON.stringify(f.name)} has ${len}, others ${n}`);
      return { f, k, src: src as ArrayLike<unknown>, bulk };
    });
    if (n <= 0) return this.length;
    // Validate everything first.
    for (const { f, k, src, bulk } of plans) {
      if (bulk) {
        if (f.kind === 'bool') {
          for (let j = 0; j < n; j++) if ((src[j] as number) > 1) throw colError(f, j, 'must be 0 or 1 in a Uint8Array bool column', src[j]);
        } else if (f.kind === 'category') {
          const max = f.categories!.length;
          for (let j = 0; j < n; j++) if ((src[j] as number) >= max) throw colError(f, j, `must be a code below ${max}`, src[j]);
        }
        continue;
      }
      const cv = this.#codec.cv[k]!;
      for (let j = 0; j < n; j++) {
        try {
          cv(src[j]);
        } catch (err) {
          throw rowError(err, j);
        }
      }
    }
    const s = this.#reserve(n);
    const cols_ = this.#plan.layout === 'columns';
    try {
      for (const { f, k, src, bulk } of plans) {
        if (bulk && cols_) {
          const Ctor = storageArray(f);
          const dst = new Ctor(this.#seg.buffer, this.#plan.offsets[k]! + s * f.size, n) as unknown as { set(a: ArrayLike<unknown>): void };
          dst.set(src.length === n ? src : (src as unknown as Uint8Array).subarray(0, n));
          continue;
        }
        const cv = this.#codec.cv[k]!;
        const st = this.#codec.st[k]!;
        if (bulk) for (let j = 0; j < n; j++) st(s + j, src[j]);
        else for (let j = 0; j < n; j++) st(s + j, cv(src[j]));
      }
    } catch (err) {
      this.#voidOwn(s, s + n);
      this.#advance(-1, -1);
      throw err;
    }
    this.#commit(s, n);
    return s;
  }

  /** Reserves n slots by compareExchange (never past capacity) and claims them for this process. */
  #reserve(n: number): number {
    const h = this.#h;
    const cap = this.#plan.capacity;
    for (;;) {
      const r = Atomics.load(h, I_RESERVED);
      if (r + n > cap) {
        throw new ShmError('ERR_SHM_TABLE_FULL', `table '${this.#seg.name}' is full: ${cap - r} of ${cap} rows free, ${n} needed`);
      }
      if (Atomics.compareExchange(h, I_RESERVED, r, r + n) !== r) continue;
      const me = -this.#pid;
      if (Atomics.compareExchange(this.#state, r, FREE, me) === FREE) {
        if (n > 1) this.#state.fill(me, r + 1, r + n);
        return r;
      }
      // A recoverer voided our head while we stalled after reserving: give the rest back as void too.
      this.#voidOwn(r + 1, r + n);
      this.#advance(-1, -1);
    }
  }

  /** Publishes [s, s+n): continuation states first, the head last (see the protocol above). */
  #commit(s: number, n: number): void {
    if (n <= 0) return;
    if (n > 1) this.#state.fill(COMMITTED, s + 1, s + n);
    Atomics.store(this.#state, s, COMMITTED);
    this.#advance(s, s + n);
  }

  /** Voids slots of ours that are still free or claimed by us. */
  #voidOwn(from: number, to: number): void {
    const st = this.#state;
    const me = -this.#pid;
    for (let j = from; j < to; j++) {
      const cur = Atomics.load(st, j);
      if (cur !== me && (cur !== FREE || Atomics.compareExchange(st, j, FREE, me) !== FREE)) continue;
      this.#codec.zero(j);
      Atomics.store(st, j, VOID);
    }
  }

  /**
   * Moves `committed` forward over committed and void rows; returns it.
   * [mine, mineEnd) are rows this process just committed (skipped without reading).
   */
  #advance(mine: number, mineEnd: number): number {
    const h = this.#h;
    const st = this.#state;
    for (;;) {
      const c = Atomics.load(h, I_COMMITTED);
      const r = Math.min(Atomics.load(h, I_RESERVED), this.#plan.capacity);
      let k = c;
      while (k < r) {
        if (k === mine) k = mineEnd;
        else if (Atomics.load(st, k) > 0) k++;
        else break;
      }
      if (k > c && Atomics.compareExchange(h, I_COMMITTED, c, k) !== c) continue;
      if (k < r) this.#hole(k);
      return k;
    }
  }

  /** Seen a hole at slot k (below reserved): recover it if its writer is gone. */
  #hole(k: number): void {
    const now = Date.now();
    if (k !== this.#holeSlot) {
      this.#holeSlot = k;
      this.#holeSince = now;
      this.#holeChecked = now;
      return;
    }
    if (now - this.#holeChecked < HOLE_CHECK_MS) return;
    this.#holeChecked = now;
    const s = Atomics.load(this.#state, k);
    if (s < 0 ? !pidAlive(-s) : s === FREE && now - this.#holeSince >= ZERO_STALL_MS) {
      this.#recover(k, s);
    }
  }

  /** Takes over slot k (state `dead`), voids it and the following slots in state 0 or `dead`. */
  #recover(k: number, dead: number): void {
    const st = this.#state;
    const me = -this.#pid;
    if (Atomics.compareExchange(st, k, dead, me) !== dead) return;
    const r = Math.min(Atomics.load(this.#h, I_RESERVED), this.#plan.capacity);
    let j = k + 1;
    for (; j < r; j++) {
      const cur = Atomics.load(st, j);
      if (cur !== FREE && cur !== dead) break;
      if (Atomics.compareExchange(st, j, cur, me) !== cur) break;
    }
    for (let i = k; i < j; i++) this.#codec.zero(i);
    if (j > k + 1) st.fill(VOID, k + 1, j);
    Atomics.store(st, k, VOID);
    this.#holeSlot = -1;
    this.#advance(-1, -1);
  }
}

function rowError(err: unknown, j: number): unknown {
  if (err instanceof ShmError) err.message = `row ${j}: ${err.message}`;
  return err;
}

function colError(f: Field, j: number, rule: string, v: unknown): ShmError {
  return new ShmError('ERR_SHM_VALUE', `row ${j}: field ${JSON.stringify(f.name)} (${f.type}) ${rule}, got ${String(v)}`);
}

/** What {@link describeTable} returns. */
export interface TableDescription {
  name: string;
  layout: 'columns' | 'rows';
  /** `[{ name, type, categories? }]` */
  schema: { name: string; type: string; categories?: string[] }[];
  length: number;
  capacity: number;
  /** The first rows, at most `options.rows`. */
  rows: Record<string, unknown>[];
}

/**
 * Reads a table's schema, size and first rows, read-only (for `shmkit inspect`).
 * @throws as {@link RecordTable.attach}
 * @example
 * const { schema, length, rows } = describeTable('app.trades', { rows: 10 });
 */
export function describeTable(name: string, options: { rows?: number } = {}): TableDescription {
  const want = checkInteger('options.rows', options.rows ?? 10, 0, Number.MAX_SAFE_INTEGER);
  const t = RecordTable.attach(name, { readonly: true });
  try {
    const length = t.length;
    const rows: Record<string, unknown>[] = [];
    for (let i = 0; i < Math.min(want, length); i++) rows.push(t.get(i) as Record<string, unknown>);
    return { name: t.name, layout: t.layout, schema: t.schema.toJSON(), length, capacity: t.capacity, rows };
  } finally {
    t.close();
  }
}
