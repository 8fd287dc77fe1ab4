/**
 * RecordTable: a fixed-capacity table of typed records in one shared memory
 * segment, appendable from many processes at once and readable with no copy
 * (column views here, numpy arrays in Python).
 */
import { ShmError, checkInteger, invalidType, invalidValue, outOfRange } from '../errors';
import { MAX_CAPACITY, OFF, parseHeader, planLayout, writeHeader, type TableLayout } from './header';
import { Schema, type ColumnArray, type RowOf, type SchemaSpec } from './schema';
import { MAX_SIZE, SharedMemory } from '../segment';
import { buildCodec, storageArray, type Codec } from './codec';
import { AppendLog, claimWord } from './append';
import { columnsBatch, rowsBatch, type Batch } from './bulk';
import { toArrowTable } from './arrow';
import type { Table as ArrowTable } from 'apache-arrow';
import { provablyDead, selfPacked, unpack } from '../identity';
import type { ColumnsOf, TableAttachOptions, TableCreateOptions, TableHandle } from './types';

export type { ColumnsOf, TableAttachOptions, TableCreateOptions, TableHandle } from './types';


// The append protocol (reserve, claim, commit, recovery of dead writers)
// lives in append.ts; this class validates, encodes and calls it.
const I_RESERVED = OFF.reserved >> 2;
const I_COMMITTED = OFF.committed >> 2;
const I_VOIDS = OFF.voids >> 2;

/** How a table's protocol learns whether a claimant is dead, and the time. */
const PORTS = { dead: (claim: bigint) => provablyDead(unpack(claim)), now: () => performance.now() };

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
  readonly #log: AppendLog;
  readonly #codec: Codec;
  #writable: boolean;
  #closed = false;

  /** @internal use {@link RecordTable.create} or {@link RecordTable.attach}. */
  constructor(key: typeof token, seg: SharedMemory, plan: TableLayout) {
    if (key !== token) throw new TypeError('use RecordTable.create() or RecordTable.attach()');
    this.#seg = seg;
    this.#plan = plan;
    this.#schema = plan.schema as Schema<S>;
    this.#writable = !seg.readonly;
    const header = new Int32Array(seg.buffer, 0, OFF.schema >> 2);
    const states = new BigInt64Array(seg.buffer, plan.stateOffset, plan.capacity);
    this.#log = new AppendLog(header, I_RESERVED, I_COMMITTED, I_VOIDS, states, plan.capacity, claimWord(selfPacked()), PORTS);
    this.#codec = buildCodec(plan, seg.buffer, {
      reserve: (n) => this.#reserve(n),
      commit: (s) => this.#log.commit(s, 1),
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
      if (t.#writable) t.#log.advance();
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
    const c = this.#log.committed;
    if (!this.#writable || c === this.#log.reserved) return Math.min(c, this.#plan.capacity);
    return Math.min(this.#log.advance(), this.#plan.capacity);
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
    if (Array.isArray(rows)) return this.#appendBatch(rowsBatch(this.#codec, rows));
    if (typeof rows !== 'object' || rows === null) throw invalidType('rows', 'an array of rows or an object of columns', rows);
    return this.#appendBatch(columnsBatch(this.#schema, this.#codec, this.#plan, this.#seg.buffer, rows as Record<string, unknown>));
  }

  /**
   * Row `i` as an object typed from the schema.
   * @throws RangeError if `i` is not an index below `length`; `ERR_SHM_CLOSED`;
   *   `ERR_SHM_VOID_ROW` if row `i` is void (its writer died before finishing
   *   it: there is no row there; see {@link RecordTable.isVoid});
   *   `ERR_SHM_VALUE` if a category code in the row is outside its dictionary
   *   (only bytes written by something other than shmkit can do that)
   * @example
   * const { price } = t.get(0);
   */
  get(i: number): RowOf<S> {
    if (this.#closed) throw this.#closedError();
    if (!((i >>> 0) === i && i < this.#log.committed)) this.#checkIndex(i);
    if (this.#log.isVoid(i)) {
      throw new ShmError('ERR_SHM_VOID_ROW', `row ${i} of table '${this.#seg.name}' is void: its writer died before finishing it, so there is no row there (skip it: t.isVoid(i), t.validity())`);
    }
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
   * Whether row `i` is void: a writer reserved it and died (process killed,
   * worker thread terminated) before finishing it, and recovery marked it.
   * A void row is missing, not a row of zeros: `get(i)` throws
   * `ERR_SHM_VOID_ROW`, {@link RecordTable.validity} has 0 for it, and
   * Python's `read_table` masks it. Its bytes in `column()` views are
   * unspecified.
   * @throws RangeError if `i` is not an index below `length`; `ERR_SHM_CLOSED`
   * @example
   * for (let i = 0; i < t.length; i++) if (!t.isVoid(i)) use(t.get(i));
   */
  isVoid(i: number): boolean {
    if (this.#closed) throw this.#closedError();
    this.#checkIndex(i);
    return this.#log.isVoid(i);
  }

  /**
   * The validity mask of rows `[0, length)` as a new Uint8Array: 1 for a
   * row, 0 for a void one. Use it with `column()` views, whose void rows hold
   * unspecified bytes.
   * @throws `ERR_SHM_CLOSED`
   * @example
   * const price = t.column('price'), ok = t.validity();
   * let sum = 0; for (let i = 0; i < price.length; i++) if (ok[i]) sum += price[i];
   */
  validity(): Uint8Array {
    if (this.#closed) throw this.#closedError();
    return this.#log.validity(this.length);
  }

  /**
   * An apache-arrow `Table` of rows `[0, length)` whose column buffers are
   * views of the segment — no copy of the data (bool columns, stored a byte a
   * value, are bit-packed into a new buffer). Void rows are nulls in every
   * column. Types: numbers → Int8…Uint64/Float32/64, datetime64 → Timestamp,
   * utf8[N] → FixedSizeBinary(N) (NUL-padded bytes), category → Dictionary
   * (Utf8 values). Rows appended later are not in it (call again); `set()`
   * shows through. Needs the `apache-arrow` package (an optional peer
   * dependency).
   * @throws `ERR_SHM_LAYOUT` for a 'rows' table (interleaved records are not
   *   Arrow buffers); `ERR_SHM_CLOSED`; `MODULE_NOT_FOUND` without apache-arrow
   * @example
   * const at = t.toArrow(); at.getChild('price')!.get(0);   // the same bytes as t.column('price')
   */
  toArrow(): ArrowTable {
    if (this.#closed) throw this.#closedError();
    if (this.#plan.layout !== 'columns') {
      throw new ShmError('ERR_SHM_LAYOUT', `toArrow() needs layout 'columns'; this table's records are interleaved ('rows')`);
    }
    const n = this.length;
    // Without a void slot anywhere there is no null to mark: skip the scan.
    return toArrowTable(this.#plan, this.#seg.buffer, n, this.#log.voidCount === 0 ? undefined : this.#log.validity(n));
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

  /**
   * Appends a validated batch as one block: reserve and claim, write, commit
   * (append.ts). A write that throws voids the whole batch; a batch that
   * recovery voided meanwhile (this writer was judged dead) is written again.
   */
  #appendBatch(batch: Batch): number {
    if (batch.n <= 0) return this.length;
    for (;;) {
      const s = this.#reserve(batch.n);
      try {
        batch.write(s);
      } catch (err) {
        this.#log.abandon(s);
        throw err;
      }
      if (this.#log.commit(s, batch.n)) return s;
    }
  }

  /** Reserves and claims n rows (append.ts); throws ERR_SHM_TABLE_FULL, changing nothing, if they do not fit. */
  #reserve(n: number): number {
    const s = this.#log.begin(n);
    if (s < 0) {
      const cap = this.#plan.capacity;
      const r = this.#log.reserved;
      throw new ShmError('ERR_SHM_TABLE_FULL', `table '${this.#seg.name}' is full: ${cap - r} of ${cap} rows free, ${n} needed`);
    }
    return s;
  }
}
