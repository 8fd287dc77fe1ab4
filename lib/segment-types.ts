/**
 * The plain types of the SharedMemory API: handles, options, list entries.
 */

/**
 * What `seg.buffer` is on this runtime: `'shared'`, a SharedArrayBuffer
 * (Node 22.23.3+, 24.16+, 26.1+: no external-memory charge, so attach costs
 * the same at any size, and it posts to worker threads without a copy), or
 * `'external'`, an ArrayBuffer (older Node).
 */
export type BufferKind = 'shared' | 'external';

/**
 * Plain JSON that names a segment; send it to another process and `attach`
 * it there. A file-backed segment's handle also carries `path` (its `name`
 * is that path too), and `attach` opens that file.
 */
export interface SegmentHandle {
  name: string;
  size: number;
  /** The absolute path of a file-backed segment ({@link SharedMemory.open}); absent for /dev/shm segments. */
  path?: string;
}

/** Options of {@link SharedMemory.create}. */
export interface CreateOptions {
  /** Bytes; a positive safe integer, at most {@link MAX_SIZE}. */
  size: number;
  /** Name without a leading '/'; generated (`<prefix>-<16 hex>`) when absent. */
  name?: string;
  /** Permission bits, applied with fchmod so the umask cannot change them. Default 0o600. */
  mode?: number;
  /** Unlink the segment when this process ends. Default true. */
  owned?: boolean;
  /** Prefix of a generated name. Default `'shmkit'`. */
  prefix?: string;
  /**
   * @internal Growable tables: set the size without allocating memory (a
   * sparse extent) and keep the descriptor for {@link SharedMemory.allocate}.
   */
  sparse?: boolean;
}

/** Options of {@link SharedMemory.open} (a file-backed segment). */
export interface OpenOptions {
  /**
   * Bytes; a positive safe integer, at most {@link MAX_SIZE}. Required with
   * `create`. Without `create` the size is the file's, and a given `size`
   * must equal it (else `ERR_SHM_SIZE_MISMATCH`).
   */
  size?: number;
  /**
   * Create the file, exclusively (`O_CREAT|O_EXCL`: an existing file throws
   * `EEXIST` and is left untouched), with `size` bytes whose blocks are
   * reserved (`posix_fallocate`) before `open` returns. Default false.
   */
  create?: boolean;
  /** Open `O_RDONLY` and map read-only, as `attach(name, { readonly: true })` does. Not with `create`. Default false. */
  readonly?: boolean;
  /** Permission bits of a created file, applied with fchmod so the umask cannot change them. Default 0o600. */
  mode?: number;
  /** @internal with `create`: set the size without reserving blocks, and keep the descriptor for allocate() (growable tables). */
  sparse?: boolean;
  /** @internal keep the descriptor for allocate() and leave holes as they are (file-backed tables). */
  keepFd?: boolean;
}

/** Options of {@link SharedMemory.attach}. */
export interface AttachOptions {
  /**
   * Map the segment read-only: nothing done through this view ever changes
   * it for anyone. On x86-64 Linux the view is the shared pages themselves,
   * so it follows every later write by others, and a write through it is
   * discarded without crashing (an `Atomics` read-modify-write returns the
   * value it found); futex waits and notifies work on it. Elsewhere it is a
   * private copy-on-write view: a page written through it becomes this
   * process's own copy and stops following the writers. README, "Readonly
   * attaches", says exactly what happens. Default false.
   */
  readonly?: boolean;
  /** Adopt the segment: this process unlinks it when it ends. Default false. */
  own?: boolean;
  /** @internal Keep the descriptor open for {@link SharedMemory.allocate} (growable tables). */
  keepFd?: boolean;
}

/** One entry of {@link SharedMemory.list}. */
export interface SegmentInfo {
  name: string;
  size: number;
  owner?: { pid: number; alive: boolean };
  kind: 'raw' | 'table' | 'channel';
}
