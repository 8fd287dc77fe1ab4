/**
 * Registry: a namespace of segment names, the role Python's
 * SharedMemoryManager plays, without a server process. Every process that
 * uses the same prefix sees the same segments; only the segments a registry
 * created (and still owns) are its to remove.
 */
import { ShmError, invalidType, invalidValue } from './errors';
import { checkName } from './names';
import { releaseOwned } from './ownership';
import { SharedMemory, type AttachOptions, type CreateOptions, type SegmentInfo } from './segment';
import type { Schema, SchemaSpec } from './table/schema';
import { RecordTable, type TableAttachOptions, type TableCreateOptions } from './table/index';

/** Options of the {@link Registry} constructor. */
export interface RegistryOptions {
  /** Namespace: segment names are `<prefix>.<key>`. */
  prefix: string;
}

/** One entry of {@link Registry.list}: a segment and its key in the registry. */
export interface RegistryEntry extends SegmentInfo {
  /** The name without `<prefix>.`. */
  key: string;
}

/**
 * A namespace of named segments: `reg.create('prices', …)` makes the segment
 * `myapp.prices`, and any process can `attach('prices')` or `list()` them.
 * `dispose()` unlinks the segments this registry created and still owns, and
 * nothing else: not those it only attached, not those handed off with
 * `unregister()`, not those another process made under the same prefix.
 *
 * @example
 * using reg = new Registry({ prefix: 'myapp' });
 * const prices = reg.create('prices', { size: 1 << 20 });   // 'myapp.prices'
 */
export class Registry implements Disposable {
  readonly #prefix: string;
  /** Names this registry created, in creation order. */
  readonly #created = new Set<string>();
  #disposed = false;

  /**
   * @throws TypeError if `prefix` is not a valid name (non-empty, no '/' or NUL, at most 254 bytes)
   * @example
   * const reg = new Registry({ prefix: 'myapp' });
   */
  constructor(options: RegistryOptions) {
    if (typeof options !== 'object' || options === null) throw invalidType('options', 'an object', options);
    // The '.' separator must still fit: a prefix alone may be at most NAME_MAX - 2.
    this.#prefix = checkName(options.prefix, 'options.prefix');
    checkName(`${this.#prefix}.x`, 'options.prefix');
  }

  /** The namespace; segment names are `<prefix>.<key>`. */
  get prefix(): string {
    return this.#prefix;
  }

  /** True after {@link Registry.dispose}. */
  get disposed(): boolean {
    return this.#disposed;
  }

  /**
   * The segment name of `key`: `<prefix>.<key>`.
   * @throws TypeError for a key that is not a non-empty string without '/' or NUL, or a name over 255 bytes
   * @example
   * reg.nameOf('prices') === 'myapp.prices';
   */
  nameOf(key: string): string {
    if (typeof key !== 'string') throw invalidType('key', 'a string', key);
    if (key.length === 0) throw invalidValue('key', 'must not be empty');
    return checkName(`${this.#prefix}.${key}`, 'key');
  }

  /**
   * Creates segment `<prefix>.<key>` (exclusively, like
   * {@link SharedMemory.create}), owned by this process unless
   * `owned: false`; `dispose()` will unlink it while it is still owned.
   *
   * @throws `ERR_SHM_CLOSED` after dispose(); `EEXIST` if the key is taken; as {@link SharedMemory.create}
   * @example
   * const prices = reg.create('prices', { size: 1 << 20 });
   */
  create(key: string, options: Omit<CreateOptions, 'name' | 'prefix'>): SharedMemory {
    this.#check();
    const name = this.nameOf(key);
    if (typeof options !== 'object' || options === null) throw invalidType('options', 'an object', options);
    const seg = SharedMemory.create({ ...options, name, prefix: undefined });
    this.#created.add(name);
    return seg;
  }

  /**
   * Maps the existing segment `<prefix>.<key>`, made by any process.
   * Attaching never makes this registry remove it, even with `own: true`
   * (the process then owns it, the registry does not).
   *
   * @throws `ERR_SHM_CLOSED` after dispose(); `ENOENT` if no such key; as {@link SharedMemory.attach}
   * @example
   * const prices = reg.attach('prices', { readonly: true });
   */
  attach(key: string, options: AttachOptions = {}): SharedMemory {
    this.#check();
    return SharedMemory.attach(this.nameOf(key), options);
  }

  /**
   * Whether `<prefix>.<key>` exists.
   * @example
   * if (!reg.has('prices')) reg.create('prices', { size: 4096 });
   */
  has(key: string): boolean {
    return SharedMemory.exists(this.nameOf(key));
  }

  /**
   * Every segment under the prefix, whoever made it, sorted by key; each with
   * its owner (pid, alive) when known.
   * @example
   * for (const { key, size, owner } of reg.list()) console.log(key, size, owner?.pid);
   */
  list(): RegistryEntry[] {
    const start = this.#prefix.length + 1;
    return SharedMemory.list({ prefix: `${this.#prefix}.` }).map((s) => ({ key: s.name.slice(start), ...s }));
  }

  /**
   * Creates the record table `<prefix>.<key>` (see {@link RecordTable.create});
   * `dispose()` unlinks it while this process still owns it.
   *
   * @throws `ERR_SHM_CLOSED` after dispose(); `EEXIST` if the key is taken; as {@link RecordTable.create}
   * @example
   * const trades = reg.createTable('trades', Trade, { capacity: 1_000_000 });
   * const log = reg.createTable('log', Event);   // growable
   */
  createTable<S extends SchemaSpec>(key: string, schema: Schema<S>, options: Omit<TableCreateOptions, 'name' | 'prefix'> = {}): RecordTable<S> {
    this.#check();
    const name = this.nameOf(key);
    if (typeof options !== 'object' || options === null) throw invalidType('options', 'an object', options);
    const table = RecordTable.create(schema, { ...options, name, prefix: undefined });
    this.#created.add(name);
    return table;
  }

  /**
   * Maps the existing record table `<prefix>.<key>`, made by any process; with
   * a schema, checks that the table has it (see {@link RecordTable.attach}).
   *
   * @throws `ERR_SHM_CLOSED` after dispose(); `ENOENT` if no such key; `ERR_SHM_BAD_HEADER`, `ERR_SHM_SCHEMA_MISMATCH`
   * @example
   * const trades = reg.attachTable('trades', Trade);
   */
  attachTable<S extends SchemaSpec = SchemaSpec>(key: string, schemaOrOptions?: Schema<S> | TableAttachOptions<S>): RecordTable<S> {
    this.#check();
    return RecordTable.attach<S>(this.nameOf(key), schemaOrOptions);
  }

  /**
   * Unlinks every segment this registry created that this process still owns
   * (not unregistered, not unlinked, not replaced by a newer segment of the
   * same name), and nothing else. Views stay mapped until closed. Idempotent.
   * Returns the names it unlinked.
   * @example
   * reg.dispose();
   */
  dispose(): string[] {
    if (this.#disposed) return [];
    this.#disposed = true;
    const removed: string[] = [];
    for (const name of this.#created) if (releaseOwned(name)) removed.push(name);
    this.#created.clear();
    return removed;
  }

  /** Same as {@link Registry.dispose}, for `using reg = new Registry(…)`. */
  [Symbol.dispose](): void {
    this.dispose();
  }

  #check(): void {
    if (this.#disposed) throw new ShmError('ERR_SHM_CLOSED', `registry '${this.#prefix}' is disposed`);
  }
}
