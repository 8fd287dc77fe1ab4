/**
 * The plain types of the RecordTable API: handles and options.
 */
import type { RowOf, Schema, SchemaSpec } from './schema';

/** Plain JSON naming a table; {@link RecordTable.attach} accepts it in any process. */
export interface TableHandle {
  name: string;
  size: number;
  kind: 'table';
  /** A file-backed table's absolute path (its `name` too); absent for /dev/shm tables. */
  path?: string;
}

/** What {@link RecordTable.attach} maps: a name, a handle, or a file-backed table's `{ path }`. */
export type TableRef = string | TableHandle | { name: string; size?: number } | { path: string; size?: number };

/** Options of {@link RecordTable.create}. */
export interface TableCreateOptions {
  /**
   * Rows the table can hold, 1 to 2^31 - 1 (2^30 - 1 with utf8/binary
   * fields); their memory is reserved at create. Without it the table grows
   * as rows are appended, from any process, into a sparse address range of
   * `maxBytes` that gets memory only as it fills.
   */
  capacity?: number;
  /**
   * Address space of the segment in bytes: a growable table's rows and
   * utf8/binary bytes, or a fixed table's utf8/binary bytes, must fit in it.
   * Sparse: it costs no memory until used. Default: the most this Node maps,
   * up to 1 TiB (4 GiB on Node 20); for a file (`path`), up to 64 GiB, the
   * file's apparent size.
   */
  maxBytes?: number;
  /**
   * Growable tables: the most rows (default: what `maxBytes` holds with
   * utf8/binary values of 64 bytes on average; the rest is their heap).
   */
  maxRows?: number;
  /** `'columns'` (default): one 64-byte aligned array per column. `'rows'`: packed records, numpy's structured dtype. */
  layout?: 'columns' | 'rows';
  /** Segment name; generated from `prefix` when absent. */
  name?: string;
  /**
   * Put the table in a new regular file at this path instead of /dev/shm
   * (see SharedMemory.open): created exclusively (`EEXIST` if it exists),
   * never owned nor removed by shmkit; open it again with RecordTable.open.
   * Not with `name`, `prefix` or `owned`.
   */
  path?: string;
  /** Prefix of a generated name. Default `'shmkit'`. */
  prefix?: string;
  /** Permission bits (of the file, with `path`). Default 0o600. */
  mode?: number;
  /** Unlink the table when this process ends. Default true. */
  owned?: boolean;
}

/** Options of {@link RecordTable.attach}. */
export interface TableAttachOptions<S extends SchemaSpec = SchemaSpec> {
  /** Expected schema: attach throws `ERR_SHM_SCHEMA_MISMATCH` if the table's differs. */
  schema?: Schema<S>;
  /** Map the segment read-only (see SharedMemory.attach): append/set throw `ERR_SHM_READONLY`. */
  readonly?: boolean;
  /** Adopt the segment: this process unlinks it when it ends. */
  own?: boolean;
}

/** Options of {@link RecordTable.waitForLength}. */
export interface WaitForLengthOptions {
  /** Milliseconds to wait at most; default: no limit. */
  timeout?: number;
}

/** Column arrays for {@link RecordTable.appendMany}: typed arrays of the storage type are copied in bulk. */
export type ColumnsOf<S extends SchemaSpec> = { [K in keyof S]: ArrayLike<RowOf<S>[K]> | ArrayBufferView };
