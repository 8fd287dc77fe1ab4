/**
 * RecordTable: a table of typed records in one shared memory segment, in
 * Arrow's layout, appendable from many processes at once (growing as they
 * do) and readable with no copy (column views and Arrow here; Arrow and
 * numpy in Python).
 */
import { ShmError, invalidType, invalidValue, outOfRange } from '../errors';
import type { TableLayout } from './header';
import { Schema, type ColumnArray, type RowOf, type SchemaSpec } from './schema';
import type { SharedMemory } from '../segment';
import type { Codec } from './codec';
import type { AppendLog } from './append';
import { columnsBatch, rowsBatch, setRow, type Batch } from './bulk';
import { TableStore, WORDS } from './store';
import { waitForLength } from './wait-length';
import { andValidity, columnView, fieldView, type FieldView } from './view';
import { toArrowTable } from './arrow';
import { createTable, discardCreated, openTable } from './create';
import type { Table as ArrowTable, Vector as ArrowVector } from 'apache-arrow';
import { arrowBatch, isArrowInput, schemaFromArrow } from './arrow-in';
import { arrowFromIPC, arrowToIPC } from './ipc';
import type { ColumnsOf, TableAttachOptions, TableCreateOptions, TableHandle, TableRef, WaitForLengthOptions } from './types';

export type { ColumnsOf, TableAttachOptions, TableCreateOptions, TableHandle, TableRef, WaitForLengthOptions } from './types';

const token = Symbol('RecordTable');

/**
 * A table of typed records in a shared memory segment, with a capacity or
 * growing as rows come. Many processes may append at once; readers only ever see fully
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
  readonly #store: TableStore;
  readonly #log: AppendLog; // #store's, as are #codec's
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
    this.#store = new TableStore(seg, plan);
    this.#log = this.#store.log;
    this.#codec = this.#store.codec;
  }

  /**
   * Creates a table in a new segment: with `capacity`, room for that many
   * rows, reserved now; without it, a table that grows as rows are appended
   * (from any process; readers need no re-attach), its memory allocated just
   * ahead of the appends. With `path`, in a new regular file (README, "File-backed segments").
   * @throws TypeError/RangeError on a bad schema or options; `ERR_SHM_LAYOUT`
   *   for nullable or utf8/binary fields in 'rows' layout; `EEXIST` if the
   *   name (or file) is taken; `ENOSPC` if /dev/shm (the disk) cannot hold a fixed table
   * @example
   * const t = RecordTable.create(Trade, { capacity: 1_000_000, layout: 'rows', name: 'app.trades' });
   * const onDisk = RecordTable.create(Trade, { path: '/data/trades.shm' });      // RecordTable.open(path) later
   * const log = RecordTable.create(defineSchema({ user: 'utf8', score: { type: 'float64', nullable: true } }));
   */
  static create<S extends SchemaSpec>(schema: Schema<S>, options: TableCreateOptions = {}): RecordTable<S> {
    const { seg, plan } = createTable(schema, options);
    return new RecordTable<S>(token, seg, { ...plan, schema });
  }

  /**
   * Creates a growable table holding `table`'s rows: the schema from its
   * Arrow schema (numbers, bool, timestamps, utf8/binary of any Arrow kind,
   * dictionaries of strings as categories; Arrow's nullable fields nullable),
   * the rows copied a buffer at a time.
   * @throws `ERR_SHM_VALUE` for a column whose Arrow type a table cannot
   *   hold; as {@link RecordTable.create} for the options
   * @example
   * const t = RecordTable.fromArrow(tableFromArrays({ id: Int32Array.of(1, 2), name: ['a', 'b'] }), { name: 'app.t' });
   */
  static fromArrow(table: ArrowTable, options: TableCreateOptions = {}): RecordTable {
    const t = RecordTable.create(schemaFromArrow(table), options);
    try {
      if (table.numRows > 0) t.appendMany(table);
    } catch (err) {
      discardCreated(t.#seg);
      throw err;
    }
    return t;
  }

  /**
   * Creates a growable table from Arrow IPC bytes or a file (Feather v2,
   * file or stream), as pyarrow, polars and DuckDB write them; LZ4/ZSTD
   * bodies need the `lz4js`/`fzstd` packages.
   * @throws `ERR_SHM_IPC` for bytes that are not Arrow IPC; `ERR_SHM_IPC_CODEC` for a
   *   compressed file without its codec (the message names the fix); as {@link RecordTable.fromArrow}
   * @example
   * const t = RecordTable.fromIPC('/data/frame.feather', { name: 'app.frame' });
   */
  static fromIPC(bytesOrPath: Uint8Array | string, options: TableCreateOptions = {}): RecordTable {
    return RecordTable.fromArrow(arrowFromIPC(bytesOrPath), options);
  }

  /**
   * Maps an existing table by name or handle. The schema, layout and offsets
   * come from its header, validated against the segment's real size.
   * @throws `ENOENT` if there is no such segment; `ERR_SHM_BAD_HEADER` (with
   *   the reason) if it is not a valid table; `ERR_SHM_SCHEMA_MISMATCH` if
   *   `schema` is given and differs; `ERR_SHM_SIZE_MISMATCH` for a stale handle
   * @example
   * const t = RecordTable.attach('app.trades', Trade);   // or RecordTable.attach(handle)
   */
  static attach<S extends SchemaSpec = SchemaSpec>(nameOrHandle: TableRef, schemaOrOptions?: Schema<S> | TableAttachOptions<S>): RecordTable<S> {
    const { seg, plan, options } = openTable(nameOrHandle, schemaOrOptions);
    try {
      const t = new RecordTable<S>(token, seg, plan);
      if (t.#writable) t.#log.advance();
      return t;
    } catch (err) {
      if (options.own) seg.unregister();
      seg.close();
      throw err;
    }
  }

  /**
   * Maps a file-backed table (`create(schema, { path })` made it, in any process, before a reboot or on another host).
   * @throws fs errors of `open` (`ENOENT`, `EACCES`, `EISDIR`); as {@link RecordTable.attach}
   * @example
   * const t = RecordTable.open('/data/trades.shm', { readonly: true });
   */
  static open<S extends SchemaSpec = SchemaSpec>(path: string, schemaOrOptions?: Schema<S> | TableAttachOptions<S>): RecordTable<S> {
    if (typeof path !== 'string') throw invalidType('path', 'a string', path);
    return RecordTable.attach({ path }, schemaOrOptions);
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
  /** Rows the table can hold: its capacity, or Infinity for a growable table (see `maxRows`). */
  get capacity(): number { return this.#plan.growable ? Infinity : this.#plan.capacity; }
  /** The most rows the segment has address space for (the capacity of a fixed table). */
  get maxRows(): number { return this.#plan.capacity; }
  /** The segment's name (a file-backed table's absolute path). */
  get name(): string { return this.#seg.name; }
  /** Plain JSON (`{ name, size, kind: 'table' }`, plus `path` for a file) that {@link RecordTable.attach} accepts in any process. */
  get handle(): TableHandle { return { ...this.#seg.handle, kind: 'table' }; }
  /** The schema, as read from the header (or the one passed to create/attach). */
  get schema(): Schema<S> { return this.#schema; }
  /** `'columns'` or `'rows'`. */
  get layout(): 'columns' | 'rows' { return this.#plan.layout; }
  /** The segment underneath. */
  get segment(): SharedMemory { return this.#seg; }
  /** True while this process will unlink the table when it ends. */
  get owned(): boolean { return this.#seg.owned; }
  /** True after `close()`. */
  get closed(): boolean { return this.#closed; }

  /**
   * Appends one row and returns its index; safe from many processes at once. The row is validated before anything is written.
   * @throws `ERR_SHM_VALUE` (missing field, wrong type, integer out of range,
   *   unknown category), `ERR_SHM_STRING_TOO_LONG`, `ERR_SHM_TABLE_FULL` —
   *   each leaving the table unchanged; `ERR_SHM_READONLY`, `ERR_SHM_CLOSED`
   * @example
   * const i = t.append({ id: 1n, price: 9.5 });
   */
  append(row: RowOf<S>): number {
    this.#live(true);
    return this.#codec.append(row);
  }

  /**
   * Appends many rows as one contiguous block and returns the first index.
   * `rows` is an array of row objects, an object of column arrays of equal
   * length, or an apache-arrow `Table` (or object of `Vector`s). A typed
   * array of a column's storage type (BigInt64Array for int64/datetime64,
   * Uint8Array of 0/1 for bool, codes for a category) is copied in bulk, and
   * Arrow columns a buffer at a time (no per-string decoding; dictionaries
   * mapped onto the categories). All is validated before anything is written.
   * @throws as {@link RecordTable.append}; TypeError if column lengths
   *   differ; `ERR_SHM_VALUE` for an Arrow column of another type or with
   *   nulls in a non-nullable field
   * @example
   * t.appendMany({ id: BigInt64Array.of(1n, 2n), price: Float64Array.of(9.5, 9.75) });
   * t.appendMany(tableFromIPC(bytes));   // an apache-arrow Table with the same column names
   */
  appendMany(rows: readonly RowOf<S>[] | ColumnsOf<S> | ArrowTable | Record<string, ArrowVector>): number {
    this.#live(true);
    if (Array.isArray(rows)) return this.#append(rowsBatch(this.#codec, rows));
    if (typeof rows !== 'object' || rows === null) throw invalidType('rows', 'an array of rows or an object of columns', rows);
    if (isArrowInput(rows)) {
      if (this.#plan.layout !== 'columns') throw new ShmError('ERR_SHM_LAYOUT', "appendMany of Arrow data needs layout 'columns'");
      return this.#append(arrowBatch(this.#plan, this.#codec, this.#seg.buffer, rows as ArrowTable));
    }
    return this.#append(columnsBatch(this.#schema, this.#codec, this.#plan, this.#seg.buffer, rows as Record<string, unknown>));
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
    this.#live();
    if (!((i >>> 0) === i && i < this.#log.committed)) this.#checkIndex(i);
    if (this.#log.isVoid(i)) {
      throw new ShmError('ERR_SHM_VOID_ROW', `row ${i} of table '${this.#seg.name}' is void: its writer died before finishing it, so there is no row there (skip it: t.isVoid(i), t.validity())`);
    }
    return this.#codec.read(i) as RowOf<S>;
  }

  /**
   * Overwrites some fields of row `i` (below `length`), all validated first;
   * not atomic across fields for concurrent readers. Nulls never change
   * (Arrow readers cache null counts) and utf8/binary values are immutable
   * (a reader could see a 16-byte view half-changed): README, "Nulls".
   * @throws as {@link RecordTable.append}; `ERR_SHM_VALUE` for a utf8/binary
   *   field or a change to or from null; RangeError on a bad index
   * @example
   * t.set(0, { price: 10 });
   */
  set(i: number, values: Partial<RowOf<S>>): void {
    this.#live(true);
    this.#checkIndex(i);
    setRow(this.#codec, this.#schema, i, values);
  }

  /**
   * A zero-copy view of a column over shared memory, of length `length`
   * (call again for later rows): the type's typed array (BigInt64Array for
   * int64 and datetime64); bool: its bits, LSB first (Arrow's layout);
   * category: the codes; utf8[N]: length × N NUL-padded bytes (numpy's
   * `S{N}`). Nulls hold unspecified values: see {@link RecordTable.validity}.
   * @throws `ERR_SHM_LAYOUT` for a 'rows' table (its fields are interleaved:
   *   use get(i), or numpy's structured array) and for utf8/binary (views into
   *   a heap: use toArrow()); TypeError for an unknown name
   * @example
   * let sum = 0; for (const p of t.column('price')) sum += p;
   */
  column<K extends keyof S & string>(name: K): ColumnArray<S[K]> {
    this.#live();
    return columnView(this.#plan, this.#seg.buffer, this.#index(name), this.length) as ColumnArray<S[K]>;
  }

  /**
   * A view of one field over rows `[0, length)`, in either layout (numpy's
   * `arr.field` for 'rows'): row j's value at `byteOffset + j * byteStride`
   * of the segment. `get`/`set` read and write in place, as `get(i)[name]`
   * and `set(i, { [name]: v })` do (void rows' values are unspecified).
   * @throws TypeError for an unknown name; `ERR_SHM_CLOSED`
   * @example
   * const price = t.view('price');             // a 'rows' table
   * for (let j = 0; j < price.length; j++) price.set(j, price.get(j) * 2);
   */
  view<K extends keyof S & string>(name: K): FieldView<RowOf<S>[K]> {
    this.#live();
    const k = this.#index(name);
    return fieldView(this.#plan, k, this.length, this.#codec.ld[k]!, (j, v) => this.set(j, { [name]: v } as Partial<RowOf<S>>));
  }

  /**
   * Whether row `i` is void: its writer died (process killed, worker
   * terminated) before finishing it. A void row is missing, not zeros:
   * `get(i)` throws `ERR_SHM_VOID_ROW`, `validity()` has 0 and every Arrow
   * reader null for it; its bytes in `column()` views are unspecified.
   * @throws RangeError if `i` is not an index below `length`; `ERR_SHM_CLOSED`
   * @example
   * for (let i = 0; i < t.length; i++) if (!t.isVoid(i)) use(t.get(i));
   */
  isVoid(i: number): boolean {
    this.#live();
    this.#checkIndex(i);
    return this.#log.isVoid(i);
  }

  /**
   * The validity of rows `[0, length)` as a new Uint8Array of 0/1: without
   * `name`, 0 for a void row; with a field's name, 0 where that field is
   * null or the row is void. Use it with `column()` views, whose nulls and
   * void rows hold unspecified bytes.
   * @throws `ERR_SHM_CLOSED`; TypeError for an unknown name
   * @example
   * const price = t.column('price'), ok = t.validity('price');
   * let sum = 0; for (let i = 0; i < price.length; i++) if (ok[i]) sum += price[i];
   */
  validity(name?: keyof S & string): Uint8Array {
    this.#live();
    const n = this.length;
    const rows = this.#log.validity(n);
    return name === undefined ? rows : andValidity(this.#plan, this.#seg.buffer, this.#index(name), rows);
  }

  /**
   * Resolves once `length` is at least `n` (rows appended by any process),
   * or when `timeout` ms pass: sleeps on the futex of the committed count.
   * A writable table also looks every 100 ms (recovering dead writers'
   * rows); a read-only attach, which cannot ask to be woken, every 10 ms.
   * @returns `'ok'` or `'timed-out'`
   * @throws RangeError for a bad `n` or timeout; `ERR_SHM_CLOSED` (also if
   *   the table is closed while waiting)
   * @example
   * if (await t.waitForLength(1000, { timeout: 5000 }) === 'ok') use(t.column('price'));
   */
  async waitForLength(n: number, options: WaitForLengthOptions = {}): Promise<'ok' | 'timed-out'> {
    return waitForLength(this.#store.h, WORDS.committed, WORDS.waiters, n, options.timeout, this.#writable, () => {
      this.#live();
      return this.length;
    });
  }

  /**
   * An apache-arrow `Table` of rows `[0, length)` whose buffers are views
   * of the segment — no copy (types: README, "Record tables"). Void rows are
   * nulls in every column (only then are validity bitmaps built). Rows
   * appended later are not in it; `set()` shows through. Needs the
   * `apache-arrow` package (an optional peer dependency).
   * @throws `ERR_SHM_LAYOUT` for a 'rows' table (interleaved records are not
   *   Arrow buffers); `ERR_SHM_CLOSED`; `MODULE_NOT_FOUND` without apache-arrow
   * @example
   * const at = t.toArrow(); at.getChild('price')!.get(0);   // the same bytes as t.column('price')
   */
  toArrow(): ArrowTable {
    this.#live();
    if (this.#plan.layout !== 'columns') {
      throw new ShmError('ERR_SHM_LAYOUT', `toArrow() needs layout 'columns'; this table's records are interleaved ('rows')`);
    }
    const n = this.length;
    // Without a void slot anywhere there is no null to mark: skip the scan.
    return toArrowTable(this.#plan, this.#seg.buffer, n, this.#log.voidCount === 0 ? undefined : this.#log.validity(n), this.#store.grow.heapReady);
  }

  /**
   * The table's rows `[0, length)` as Arrow IPC bytes: `'file'` (Feather v2,
   * the default) or `'stream'`, uncompressed, readable by pyarrow, polars,
   * DuckDB and apache-arrow. The bytes are a copy (that is what IPC is).
   * @throws as {@link RecordTable.toArrow}
   * @example
   * fs.writeFileSync('out.arrow', t.toIPC({ format: 'file' }));
   */
  toIPC(options: { format?: 'file' | 'stream' } = {}): Uint8Array {
    const format = options.format ?? 'file';
    if (format !== 'file' && format !== 'stream') throw invalidValue('options.format', `must be 'file' or 'stream', got ${String(format)}`);
    return arrowToIPC(this.toArrow(), format);
  }

  /** Unmaps this process's view (see {@link SharedMemory.close}). Idempotent. */
  close(): void {
    this.#closed = true;
    this.#writable = false;
    this.#seg.close();
  }
  /** Removes the table's name for every process (see {@link SharedMemory.unlink}; a file: `ERR_SHM_FILE_BACKED`). */
  unlink(): void { this.#seg.unlink(); }
  /** Stops owning the table: it outlives this process. */
  unregister(): void { this.#seg.unregister(); }
  /** Same as {@link RecordTable.close}. */
  [Symbol.dispose](): void { this.close(); }

  #closedError(): ShmError { return new ShmError('ERR_SHM_CLOSED', `table '${this.#seg.name}' is closed`); }
  #notWritable(): ShmError { return this.#closed ? this.#closedError() : new ShmError('ERR_SHM_READONLY', `table '${this.#seg.name}' was attached read-only`); }
  /** Throws unless the table is open (and writable, for `write`) and its segment intact (`ERR_SHM_TRUNCATED`). */
  #live(write = false): void { if (write ? !this.#writable : this.#closed) throw this.#notWritable(); this.#seg.assertIntact(); }
  #append(batch: Batch): number {
    const s = this.#store.appendBatch(batch);
    return s < 0 ? this.length : s;
  }
  /** Index of field `name`; TypeError if there is none. */
  #index(name: string): number {
    const k = this.#schema.fields.findIndex((f) => f.name === name);
    if (k < 0) throw invalidValue('name', `is not a field of this table: ${JSON.stringify(name)}`);
    return k;
  }
  #checkIndex(i: number): void {
    const n = this.length;
    if (typeof i !== 'number') throw invalidType('index', 'a number', i);
    if (!Number.isInteger(i) || i < 0 || i >= n) throw outOfRange('index', n === 0 ? 'below length (the table is empty)' : `an integer from 0 to ${n - 1}`, i);
  }
}
