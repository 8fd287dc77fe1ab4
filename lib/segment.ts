/**
 * SharedMemory: a named POSIX shared memory segment mapped into this process
 * and handed to JavaScript as a SharedArrayBuffer (where the runtime can) or
 * an ArrayBuffer, with no copy.
 */
import * as fs from 'node:fs';
import { constants as bufferConstants } from 'node:buffer';
import { binding } from './binding';
import { ShmError, checkInteger, invalidType, type SystemError } from './errors';
import { checkName, generateName } from './names';
import { parseHandle } from './segment-handle';
import { TruncationCheck } from './segment-truncated';
import { adopt, disown, handOff, own, owns } from './ownership';
import { sweep, type SweepOptions } from './sweep';
import { listHoldings } from './segment-list';
import { withSpace } from './space';
import { flushFile, handleOptions, isFileHandle, openFile } from './segment-file';
import type { AttachOptions, BufferKind, CreateOptions, OpenOptions, SegmentHandle, SegmentInfo } from './segment-types';

export type { AttachOptions, BufferKind, CreateOptions, OpenOptions, SegmentHandle, SegmentInfo } from './segment-types';

const { O_RDONLY, O_RDWR, O_CREAT, O_EXCL } = fs.constants;

/**
 * Largest segment this Node can hand to JavaScript as one buffer:
 * `buffer.constants.MAX_LENGTH` (4 GiB on Node 20; 2^53 − 1 on 64-bit Node
 * 22 and later), capped at 128 TiB (2^47), the address space a 64-bit Linux
 * process gets, beyond which no mapping can exist.
 * @example
 * SharedMemory.create({ size: Math.min(wanted, MAX_SIZE) });
 */
export const MAX_SIZE: number = Math.min(bufferConstants.MAX_LENGTH, 2 ** 47);

/** Views for the native calls: a SharedArrayBuffer's pointer is only reachable through a typed array. */
function bytes(buffer: ArrayBufferLike): ArrayBuffer | Uint8Array {
  return buffer instanceof ArrayBuffer ? buffer : new Uint8Array(buffer);
}

const token = Symbol('SharedMemory');

/**
 * A named shared memory segment mapped into this process.
 *
 * `close()` ends this process's view; `unlink()` removes the name for every
 * process (mappings stay valid until each one is closed). A segment this
 * process created is `owned` by default and unlinked when the process ends.
 *
 * @example
 * const seg = SharedMemory.create({ size: 1 << 20 });
 * new Float64Array(seg.buffer)[0] = 42;          // another process: SharedMemory.attach(seg.handle)
 */
export class SharedMemory implements Disposable {
  readonly #name: string;
  readonly #size: number;
  readonly #readonly: boolean;
  #buffer: ArrayBufferLike;
  #closed = false;
  /** A descriptor kept for allocate() (sparse segments), else -1. */
  #fd: number;
  /** File-backed ({@link SharedMemory.open}): #name is the absolute path, #fd came from Node's fs. */
  readonly #file: boolean;
  readonly #intact = new TruncationCheck();

  /** @internal use {@link SharedMemory.create}, {@link SharedMemory.attach} or {@link SharedMemory.open}. */
  constructor(key: typeof token, name: string, size: number, buffer: ArrayBufferLike, readonly: boolean, fd = -1, file = false) {
    if (key !== token) throw new TypeError('use SharedMemory.create(), attach() or open()');
    this.#name = name;
    this.#size = size;
    this.#buffer = buffer;
    this.#readonly = readonly;
    this.#fd = fd;
    this.#file = file;
  }

  /** @internal Throws `ERR_SHM_TRUNCATED` once a SIGBUS hit this mapping (lib/segment-truncated.ts); tables and channels call it after checking `closed`. */
  assertIntact(): void {
    if (this.#intact.moved()) this.#intact.check(bytes(this.#buffer), this.#name, this.#size, this.#file);
  }

  /** @internal Closes the descriptor kept for allocate() (a table that never grows needs none). */
  releaseFd(): void {
    // Node's fs opened a file's descriptor: it must close it (a worker thread tracks its own).
    if (this.#fd >= 0 && this.#file) fs.closeSync(this.#fd);
    else if (this.#fd >= 0) binding.close(this.#fd);
    this.#fd = -1;
  }

  /**
   * @internal Gives [offset, offset + length) of a sparse segment its memory,
   * so that writing it can never fault: the pages are made and mapped in one
   * call (MADV_POPULATE_WRITE), or, where that fails (a full /dev/shm, an
   * old kernel), by posix_fallocate, which says why.
   * @throws `ENOSPC` (syscall 'posix_fallocate') when /dev/shm is full, its message completed by lib/space.ts;
   *   `ERR_SHM_CLOSED`; TypeError if the segment keeps no descriptor
   */
  allocate(offset: number, length: number): void {
    if (this.#closed) throw new ShmError('ERR_SHM_CLOSED', `segment '${this.#name}' is closed`);
    this.assertIntact();
    if (this.#fd < 0) throw new TypeError(`segment '${this.#name}' was not opened to grow`);
    // A file's blocks come from fallocate alone (populating would dirty pages of zeros).
    withSpace(length, this.#name, () => {
      if (!this.#file && binding.populate(bytes(this.#buffer), offset, length) === 0) return;
      binding.allocate(this.#fd, offset, length, this.#name);
    });
  }

  /**
   * Creates a new segment, exclusively (`O_CREAT|O_EXCL`), reserves all of its
   * memory and maps it.
   *
   * @throws TypeError/RangeError on bad options, before any system call
   * @throws `EEXIST` if the name is taken (the existing segment is untouched);
   *   `ENOSPC` if /dev/shm cannot hold `size` (nothing left behind; see `err.requested`, `err.free`)
   * @example
   * const seg = SharedMemory.create({ name: 'app.cache', size: 4096 });
   */
  static create(options: CreateOptions): SharedMemory {
    if (typeof options !== 'object' || options === null) throw invalidType('options', 'an object', options);
    const size = checkInteger('options.size', options.size, 1, MAX_SIZE);
    const mode = checkInteger('options.mode', options.mode ?? 0o600, 0, 0o7777);
    if (options.owned !== undefined && typeof options.owned !== 'boolean') {
      throw invalidType('options.owned', 'a boolean', options.owned);
    }
    const name = options.name === undefined ? generateName(options.prefix) : checkName(options.name, 'options.name');

    const fd = binding.open(name, O_RDWR | O_CREAT | O_EXCL, mode);
    const keep = options.sparse === true;
    let buffer: ArrayBufferLike;
    try {
      fs.fchmodSync(fd, mode);
      if (keep) fs.ftruncateSync(fd, size);
      else withSpace(size, name, () => binding.reserve(fd, size, name));
      buffer = binding.map(fd, size, false, name);
      if (options.owned !== false) own(name, fd);
    } catch (err) {
      if (keep) binding.close(fd);
      // The object is ours (O_EXCL): remove the half-made segment.
      try {
        binding.unlink(name);
      } catch {
        /* already gone */
      }
      throw err;
    } finally {
      if (!keep) binding.close(fd);
    }
    return new SharedMemory(token, name, size, buffer, false, keep ? fd : -1);
  }

  /**
   * Maps an existing segment by name or handle. The size is the segment's
   * real size (`fstat`). Attaching never unlinks anything, even on failure.
   *
   * @throws `ENOENT` if there is no such segment (with `own: true`, also if a
   *   concurrent `sweep()` removed it before this process could record itself
   *   as the owner); `EACCES` if its mode forbids it;
   *   `ERR_SHM_SIZE_MISMATCH` if a handle's size differs from the segment's
   * @example
   * const seg = SharedMemory.attach('app.cache', { readonly: true });
   */
  static attach(nameOrHandle: string | SegmentHandle, options: AttachOptions = {}): SharedMemory {
    if (isFileHandle(nameOrHandle)) return SharedMemory.open(nameOrHandle.path, handleOptions(nameOrHandle, options));
    const { name, size: expected } = parseHandle(nameOrHandle);
    if (typeof options !== 'object' || options === null) throw invalidType('options', 'an object', options);
    const readonly = options.readonly ?? false;
    if (typeof readonly !== 'boolean') throw invalidType('options.readonly', 'a boolean', readonly);
    if (options.own !== undefined && typeof options.own !== 'boolean') {
      throw invalidType('options.own', 'a boolean', options.own);
    }

    const fd = binding.open(name, readonly ? O_RDONLY : O_RDWR, 0);
    let keep = options.keepFd === true && !readonly;
    try {
      const size = binding.size(fd, name);
      if (expected !== undefined && expected !== size) {
        throw new ShmError(
          'ERR_SHM_SIZE_MISMATCH',
          `segment '${name}' is ${size} bytes but the handle says ${expected}: the name now belongs to another segment`,
        );
      }
      if (size > MAX_SIZE) {
        throw new ShmError('ERR_SHM_SIZE_MISMATCH', `segment '${name}' is ${size} bytes, more than this Node can map (${MAX_SIZE})`);
      }
      // A zero-length object cannot be mmapped; its view is simply empty.
      const buffer: ArrayBufferLike = size === 0 ? new ArrayBuffer(0) : binding.map(fd, size, readonly, name);
      if (options.own === true) {
        try {
          adopt(name, fd);
        } catch (err) {
          if (size !== 0) binding.unmap(bytes(buffer)); // swept meanwhile: leave no mapping behind
          throw err;
        }
      }
      const seg = new SharedMemory(token, name, size, buffer, readonly, keep ? fd : -1);
      return seg;
    } catch (err) {
      keep = false;
      throw err;
    } finally {
      if (!keep) binding.close(fd);
    }
  }

  /**
   * Maps a regular file as a segment (what `np.memmap` is to Python): the
   * same zero-copy buffer, shared with every process that maps the file, and
   * the same rules — exclusive `create` with its blocks reserved before it
   * returns, no crash after `close()` — except that shmkit never removes a
   * file: `owned` is false and `unlink()` throws. The bytes live in the page
   * cache (a file may be larger than RAM) and survive a crash of any process;
   * {@link SharedMemory.flush} makes them survive a power loss. `name` is the
   * absolute path. An existing file opened for writing gets blocks for its
   * holes first (fallocate), so no write through the view can SIGBUS.
   * @throws TypeError/RangeError on bad options; fs errors of `open` with
   *   `code`, `errno`, `syscall` and `path` (`ENOENT`, `EACCES`, `EISDIR`,
   *   and `EEXIST` with `create`, the file untouched); `ENOSPC` if the disk
   *   cannot hold `size` (nothing is left behind); `ERR_SHM_SIZE_MISMATCH` if
   *   `size` is given without `create` and differs from the file's
   * @example
   * const f = SharedMemory.open('/data/prices.bin', { size: 1 << 30, create: true });
   * const ro = SharedMemory.open('/data/prices.bin', { readonly: true }); // any process
   */
  static open(path: string | URL, options: OpenOptions = {}): SharedMemory {
    const f = openFile(path, options, MAX_SIZE);
    return new SharedMemory(token, f.path, f.size, f.buffer, f.readonly, f.fd, true);
  }

  /**
   * Removes the name `name`. Processes that mapped it keep their views until
   * they close them.
   * @throws `ENOENT` if there is no such segment
   * @example
   * SharedMemory.unlink('app.cache');
   */
  static unlink(name: string): void {
    checkName(name);
    binding.unlink(name);
    disown(name);
  }

  /**
   * Whether a segment called `name` exists (even one this process may not open).
   * @example
   * if (!SharedMemory.exists('app.cache')) SharedMemory.create({ name: 'app.cache', size: 4096 });
   */
  static exists(name: string): boolean {
    checkName(name);
    try {
      binding.close(binding.open(name, O_RDONLY, 0));
      return true;
    } catch (err) {
      if ((err as SystemError).code === 'ENOENT') return false;
      if ((err as SystemError).code === 'EACCES') return true;
      throw err;
    }
  }

  /**
   * Lists the segments under /dev/shm, optionally only names that start with
   * `prefix`, sorted by name.
   * @example
   * for (const s of SharedMemory.list({ prefix: 'myapp.' })) console.log(s.name, s.size);
   */
  static list(options: { prefix?: string } = {}): SegmentInfo[] {
    const prefix = options.prefix ?? '';
    if (typeof prefix !== 'string') throw invalidType('options.prefix', 'a string', prefix);
    return listHoldings(prefix).map(({ held: _held, ...info }) => info);
  }

  /**
   * Unlinks the segments whose owner process is provably dead; see {@link sweep}.
   * @example
   * SharedMemory.sweep({ prefix: 'myapp.' });   // → names removed
   */
  static sweep(options: SweepOptions = {}): string[] {
    return sweep(options);
  }

  /** Name without a leading '/'; on Linux the file `/dev/shm/<name>`. A file-backed segment's absolute path. */
  get name(): string {
    return this.#name;
  }
  /** The absolute path of a file-backed segment ({@link SharedMemory.open}), else undefined. */
  get path(): string | undefined {
    return this.#file ? this.#name : undefined;
  }
  /** Size in bytes: as requested by `create`, the real size for `attach`. */
  get size(): number {
    return this.#size;
  }
  /**
   * What `buffer` is in this runtime ({@link BufferKind}); the same for every segment.
   * @example
   * if (SharedMemory.bufferKind === 'shared') worker.postMessage(seg.buffer); // no copy
   */
  static get bufferKind(): BufferKind {
    return binding.bufferKind;
  }

  /**
   * The mapping, zero-copy: a SharedArrayBuffer or an ArrayBuffer, see
   * {@link SharedMemory.bufferKind}. After `close()` an ArrayBuffer is
   * detached (byteLength 0); a SharedArrayBuffer keeps its length but reads
   * zeros and its writes reach no one.
   * @throws `ERR_SHM_TRUNCATED` once another process shrank the segment
   *   under a read or write of this process (which then met zeros, not a SIGBUS)
   */
  get buffer(): ArrayBufferLike {
    if (!this.#closed) this.assertIntact();
    return this.#buffer;
  }
  /** True for a `readonly` attach: writes through `buffer` never reach the segment. */
  get readonly(): boolean {
    return this.#readonly;
  }
  /** True while this process will unlink the segment when it ends (never for a file). */
  get owned(): boolean {
    return !this.#file && owns(this.#name);
  }
  /** True after `close()`. */
  get closed(): boolean {
    return this.#closed;
  }
  /** Plain JSON (`{ name, size }`, plus `path` for a file) that {@link SharedMemory.attach} accepts in any process. */
  get handle(): SegmentHandle {
    return this.#file ? { name: this.#name, size: this.#size, path: this.#name } : { name: this.#name, size: this.#size };
  }

  /**
   * Makes what was written through any mapping durable against power loss:
   * `msync(MS_SYNC)` of the whole mapping, then `fsync` of a file's
   * directory. Without it a crash of any process loses nothing (the page
   * cache holds the bytes) but a power loss may. On a /dev/shm segment
   * (memory, gone at reboot anyway) it costs a system call and changes nothing.
   * @throws `ERR_SHM_CLOSED`; `ERR_SHM_TRUNCATED`; `EIO` and the like (syscall 'msync') if the
   *   device failed to write
   * @example
   * t.appendMany(rows); t.segment.flush();   // the rows survive a power loss
   */
  flush(): void {
    if (this.#closed) throw new ShmError('ERR_SHM_CLOSED', `segment '${this.#name}' is closed`);
    this.assertIntact();
    if (this.#buffer.byteLength === 0) return;
    if (this.#file) flushFile(bytes(this.#buffer), this.#name);
    else binding.flush(bytes(this.#buffer), this.#name);
  }

  /**
   * Unmaps this process's view; nothing changes for other processes.
   * Idempotent. With an ArrayBuffer every typed array over `buffer` then
   * reads as length 0. A SharedArrayBuffer cannot be detached: its views keep
   * their length, read zeros, and their writes (in any thread) reach no one;
   * its address range is released when it is garbage collected.
   * @example
   * seg.close(); new Uint8Array(seg.buffer)[0] === undefined || new Uint8Array(seg.buffer)[0] === 0;
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.releaseFd();
    if (this.#buffer.byteLength > 0) binding.unmap(bytes(this.#buffer));
  }

  /**
   * Removes the segment's name for every process; this process stops owning
   * it. Mappings, this one included, stay valid until closed.
   * @throws `ENOENT` if the name is already gone; `ERR_SHM_FILE_BACKED` for a
   *   file-backed segment (shmkit never removes files: `fs.rmSync(seg.path)`)
   * @example
   * seg.unlink(); seg.close();
   */
  unlink(): void {
    if (this.#file) throw new ShmError('ERR_SHM_FILE_BACKED', `'${this.#name}' is a file: shmkit never removes files (fs.rmSync(seg.path) does)`);
    disown(this.#name);
    binding.unlink(this.#name);
  }

  /**
   * Stops owning the segment: it will outlive this process until someone
   * unlinks it (or adopts it with `attach(h, { own: true })`).
   * @example
   * seg.unregister(); process.send(seg.handle);
   */
  unregister(): void {
    if (!this.#file) handOff(this.#name);
  }

  /** Same as {@link SharedMemory.close}, for `using seg = SharedMemory.create(…)`. */
  [Symbol.dispose](): void {
    this.close();
  }
}
