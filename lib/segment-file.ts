/**
 * File-backed segments: a regular file mapped like a segment (what np.memmap
 * is to Python users). Checking the path and options, creating or opening
 * the file with Node's fs, reserving its blocks, and flushing it;
 * SharedMemory.open wraps the result. shmkit never removes a file, except
 * the one a failed create has just made (O_EXCL: nobody else's).
 * @internal
 */
import * as fs from 'node:fs';
import { constants as osConstants } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { binding } from './binding';
import { ShmError, checkInteger, invalidType, invalidValue, systemError } from './errors';
import type { AttachOptions, OpenOptions } from './segment-types';
import { withSpace } from './space';

const { O_RDONLY, O_RDWR, O_CREAT, O_EXCL, O_NONBLOCK } = fs.constants;

/** What SharedMemory.open needs to build the segment. */
export interface OpenedFile {
  /** Absolute path: the segment's name. */
  path: string;
  size: number;
  buffer: ArrayBufferLike;
  readonly: boolean;
  /** Descriptor kept for allocate() (sparse or keepFd), else -1. Opened by Node's fs: close it with fs.closeSync. */
  fd: number;
}

/**
 * Opens (or, with `create`, creates) `file` and maps all of it.
 * @throws TypeError/RangeError on bad options, before any system call; the
 *   fs errors of open (`ENOENT`, `EACCES`, `EEXIST`, `EISDIR`); `ENOSPC`;
 *   `ERR_SHM_SIZE_MISMATCH`
 */
export function openFile(file: unknown, options: OpenOptions, maxSize: number): OpenedFile {
  const where = checkPath(file);
  if (typeof options !== 'object' || options === null) throw invalidType('options', 'an object', options);
  const create = checkBool('options.create', options.create);
  const readonly = checkBool('options.readonly', options.readonly);
  if (create && readonly) throw invalidValue('options.readonly', 'cannot be combined with options.create');
  if (!create && options.mode !== undefined) throw invalidValue('options.mode', 'is for options.create (an existing file keeps its mode)');
  if (create) {
    const size = checkInteger('options.size', options.size, 1, maxSize);
    const mode = checkInteger('options.mode', options.mode ?? 0o600, 0, 0o7777);
    return createFile(where, size, mode, options.sparse === true);
  }
  const size = options.size === undefined ? undefined : checkInteger('options.size', options.size, 0, Number.MAX_SAFE_INTEGER);
  return openExisting(where, size, readonly, options.keepFd === true, maxSize);
}

/** Whether `value` is the handle of a file-backed segment or table (it carries `path`). */
export function isFileHandle(value: unknown): value is { path: string; size?: number } {
  return typeof value === 'object' && value !== null && typeof (value as { path?: unknown }).path === 'string';
}

/**
 * The SharedMemory.open options that `attach(handle, options)` of a file's
 * handle means: the size must match, and a file cannot be adopted.
 */
export function handleOptions(handle: { path: string; size?: number }, options: AttachOptions): OpenOptions {
  if (typeof options !== 'object' || options === null) throw invalidType('options', 'an object', options);
  if (options.own === true) throw invalidValue('options.own', `cannot be true for a file ('${handle.path}'): shmkit never removes files`);
  const size = handle.size === undefined ? undefined : checkInteger('handle.size', handle.size, 0, Number.MAX_SAFE_INTEGER);
  return { size, readonly: options.readonly, keepFd: options.keepFd };
}

/**
 * msync(MS_SYNC) of the whole mapping, then fsync of the file's directory:
 * the bytes, the size and the name are then on the device.
 */
export function flushFile(view: ArrayBuffer | Uint8Array, file: string): void {
  binding.flush(view, file);
  let dir: number;
  try {
    dir = fs.openSync(path.dirname(file), O_RDONLY);
  } catch {
    return; // a directory we may not read: its entry is as durable as its owner made it
  }
  try {
    fs.fsyncSync(dir);
  } finally {
    fs.closeSync(dir);
  }
}

/** Removes a file that a create just made, when a later step of that create failed. */
export function removeCreated(file: string): void {
  fs.rmSync(file, { force: true });
}

function createFile(file: string, size: number, mode: number, sparse: boolean): OpenedFile {
  const fd = fs.openSync(file, O_RDWR | O_CREAT | O_EXCL, mode);
  let buffer: ArrayBufferLike;
  try {
    fs.fchmodSync(fd, mode); // the umask must not change it
    // Blocks reserved now (ENOSPC here, never a SIGBUS later); a growable
    // table's sparse file gets them ahead of its appends instead.
    if (sparse) fs.ftruncateSync(fd, size);
    else withSpace(size, file, () => binding.reserve(fd, size, file));
    buffer = binding.map(fd, size, false, file);
  } catch (err) {
    fs.closeSync(fd);
    removeCreated(file);
    throw err;
  }
  if (sparse) return { path: file, size, buffer, readonly: false, fd };
  fs.closeSync(fd);
  return { path: file, size, buffer, readonly: false, fd: -1 };
}

function openExisting(file: string, expected: number | undefined, readonly: boolean, keepFd: boolean, maxSize: number): OpenedFile {
  // O_NONBLOCK: opening a FIFO must fail below, not wait for a writer.
  const fd = fs.openSync(file, (readonly ? O_RDONLY : O_RDWR) | O_NONBLOCK);
  let keep = false;
  try {
    const st = fs.fstatSync(fd);
    if (st.isDirectory()) throw systemError(osConstants.errno.EISDIR, 'open', file);
    if (!st.isFile()) throw systemError(osConstants.errno.ENODEV, 'mmap', file);
    const size = st.size;
    if (expected !== undefined && expected !== size) {
      throw new ShmError('ERR_SHM_SIZE_MISMATCH', `file '${file}' is ${size} bytes, not the ${expected} expected`);
    }
    if (size > maxSize) {
      throw new ShmError('ERR_SHM_SIZE_MISMATCH', `file '${file}' is ${size} bytes, more than this Node can map (${maxSize})`);
    }
    // A file made elsewhere may have holes: a write into one on a full disk
    // would be a SIGBUS, so they get blocks now. Tables (keepFd) allocate
    // ahead of their own writes and keep their sparse extent sparse.
    if (!readonly && !keepFd && size > 0) withSpace(Math.max(0, size - st.blocks * 512), file, () => binding.fill(fd, size, file));
    const buffer: ArrayBufferLike = size === 0 ? new ArrayBuffer(0) : binding.map(fd, size, readonly, file);
    keep = keepFd && !readonly;
    return { path: file, size, buffer, readonly, fd: keep ? fd : -1 };
  } finally {
    if (!keep) fs.closeSync(fd);
  }
}

function checkPath(file: unknown): string {
  const p = file instanceof URL ? fileURLToPath(file) : file;
  if (typeof p !== 'string') throw invalidType('path', 'a string or a file: URL', file);
  if (p === '') throw invalidValue('path', 'must not be empty');
  if (p.includes('\0')) throw invalidValue('path', 'must not contain NUL');
  return path.resolve(p);
}

function checkBool(what: string, value: unknown): boolean {
  if (value === undefined) return false;
  if (typeof value !== 'boolean') throw invalidType(what, 'a boolean', value);
  return value;
}
