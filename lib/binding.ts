/**
 * Loads the compiled addon and types its functions. The only file that knows
 * where the `.node` file and the tracker executable live.
 * @internal
 */
import * as path from 'node:path';
import { ShmError } from './errors-base';

/** The native exports; see native/*.cc for what each one does. */
export interface Binding {
  /** The factory every native error is made by: (errno, syscall, path) for a system call, (0, '', path, code) for a ShmError code. */
  setErrorFactory(factory: (errno: number, syscall: string, path: string, code?: string) => Error): void;
  /** shm_open('/' + name, oflag | O_CLOEXEC, mode) → fd. */
  open(name: string, oflag: number, mode: number): number;
  /** close(fd) of a descriptor from open(). */
  close(fd: number): void;
  /** fstat's st_size of a descriptor. */
  size(fd: number, name: string): number;
  /** shm_unlink('/' + name). */
  unlink(name: string): void;
  /** posix_fallocate(fd, 0, size): size set and every page reserved. */
  reserve(fd: number, size: number, name: string): void;
  /** posix_fallocate(fd, offset, length): the pages of that range exist (ENOSPC if /dev/shm is full). */
  allocate(fd: number, offset: number, length: number, name: string): void;
  /**
   * fallocate(fd, 0, 0, size) of an existing file: its holes get blocks (ENOSPC
   * if the disk cannot hold them) → true; false where the filesystem has no
   * fallocate (nothing done; never posix_fallocate's zero-writing fallback).
   */
  fill(fd: number, size: number, path: string): boolean;
  /** msync(MS_SYNC) of the pages under the buffer or view (start rounded down to a page). */
  flush(buffer: ArrayBuffer | Uint8Array, path: string): void;
  /** madvise(MADV_POPULATE_WRITE) of [offset, offset + length) of a live mapping → 0 or an errno (never a signal). */
  populate(buffer: ArrayBuffer | Uint8Array, offset: number, length: number): number;
  /**
   * mmap the whole object. readonly: MAP_SHARED + PROT_READ under the guard
   * of native/guard.cc where it exists (x86-64 Linux), else a private
   * copy-on-write view.
   */
  map(fd: number, size: number, readonly: boolean, name: string): ArrayBufferLike;
  /**
   * ArrayBuffer: detach, then munmap. SharedArrayBuffer (passed as a
   * Uint8Array over it): replace its pages by private zero pages, munmap when
   * collected. False if the buffer was not a live mapping.
   */
  unmap(buffer: ArrayBuffer | Uint8Array): boolean;
  /** Whether the view lies in a SharedArrayBuffer segment that close() zeroed (in any thread of this process). */
  isClosed(view: ArrayBufferView): boolean;
  /** What map() returns on this runtime: 'shared' where node_api_create_external_sharedarraybuffer exists. */
  readonly bufferKind: 'shared' | 'external';
  /**
   * FUTEX_WAIT_BITSET, shared (no private flag), on `i32[index]` while it
   * holds `expected`; `ms` < 0 waits forever. Blocks the calling thread.
   */
  futexWait(i32: Int32Array, index: number, expected: number, ms: number): 'ok' | 'not-equal' | 'timed-out';
  /** FUTEX_WAKE, shared, of up to `count` waiters (`count` < 0: all) → how many woke. */
  futexWake(i32: Int32Array, index: number, count: number): number;
  /**
   * futexWait in the process-wide waiter pool (native/waiter_pool.cc); the
   * promise settles on the calling JS thread. Throws TypeError unless the
   * word lies in a live MAP_SHARED mapping of this environment.
   */
  futexWaitAsync(i32: Int32Array, index: number, expected: number, ms: number): Promise<'ok' | 'not-equal' | 'timed-out'>;
  /**
   * Registers `word` (an Int32Array over a SharedArrayBuffer) with the SIGBUS
   * handler of native/truncation.cc, which adds one to word[0] each time it
   * repairs a mapping, for the life of this environment. False if every slot is taken.
   */
  watchTruncations(word: Int32Array): boolean;
  /** The offset from which a SIGBUS made the mapping under the view read zeros, or -1 if none did. */
  truncatedFrom(view: ArrayBuffer | Uint8Array): number;
  /** What the SIGBUS handler has done in this process: SIGBUSes repaired in our mappings, and handed on. */
  truncationStats(): { installed: boolean; repaired: number; chained: number };
  /** What the readonly-view guard (native/guard.cc) has done in this process; for tests and diagnostics. */
  guardStats(): GuardStats;
  /** The waiter pool's state, for tests: threads started, word groups (and how many spilled), pending waits, futex_waitv in use. */
  futexPoolStats(): { threads: number; groups: number; spilled: number; waits: number; waitv: boolean };
  /** Writes one line to this process's tracker, starting or replacing it as needed (a new tracker is told every registered name). */
  trackerWrite(path: string, line: string): void;
  /** Starts the tracker if none runs, or replaces it (`restart`). */
  startTracker(path: string, restart: boolean): { pid: number };
  /** The current tracker's pid, -1 when none runs. */
  trackerInfo(): { pid: number };
  /** Sets xattr 'user.shmkit.owner' = tag on fd (best effort) and returns its identity "<dev> <ino>". */
  ownFd(fd: number, tag: string): string;
  /** fremovexattr(fd, 'user.shmkit.owner') → 0 or the errno. */
  removeOwnerTag(fd: number): number;
  /** getxattr(path, 'user.shmkit.owner'), undefined if absent or unsupported. */
  getOwnerTag(path: string): string | undefined;
  /** flock(fd, LOCK_EX [| LOCK_NB]): true once held, false if `wait` is false and another holds it. */
  lockFd(fd: number, wait: boolean): boolean;
  /** flock(fd, LOCK_UN). */
  unlockFd(fd: number): void;
}

/** Counters of the readonly-view guard; see native/guard.h. */
export interface GuardStats {
  /** This build guards readonly views (x86-64 Linux). */
  supported: boolean;
  /** The handlers are installed (at the first readonly attach). */
  installed: boolean;
  /** Readonly views registered now. */
  ranges: number;
  /** Pages swapped for a one-instruction private copy right now. */
  swappedNow: number;
  /** Plain stores skipped. */
  storesSkipped: number;
  /** REP STOS/MOVS instructions skipped in part or whole. */
  stringsSkipped: number;
  /** Pages swapped for one instruction (Atomics and other read-modify-writes). */
  pagesSwapped: number;
  /** Faults on a page another thread had swapped: the instruction ran again. */
  retries: number;
  /** mmap/mremap calls that failed during a swap (retried). */
  failures: number;
  /** SIGSEGVs that were not ours, handed to the previous handler. */
  chainedSegv: number;
  /** SIGTRAPs that were not ours, handed on. */
  chainedTrap: number;
}

/**
 * The addon's file. `SHMKIT_NATIVE_DIR` (relative to the package root) names
 * a folder to load it from, e.g. the sanitizer build `build-asan` that
 * `npm run test:asan` loads (scripts/test-asan.sh). Otherwise node-gyp-build
 * chooses: `build/Release/shmkit.node` when this package was compiled (a
 * clone, or an install where no prebuilt fitted), else the prebuilt for this
 * platform, CPU and libc (`prebuilds/linux-x64/shmkit.glibc.node`; see
 * scripts/prebuild.js).
 */
function addonPath(): string {
  if (process.platform !== 'linux') {
    // Ownership checks, list(), sweep and the exit hook go through /dev/shm
    // paths, waits through the futex syscall: nothing else is built or tested.
    throw new ShmError('ERR_SHM_UNSUPPORTED_PLATFORM', `shmkit runs on Linux only; this is ${process.platform}`);
  }
  const dir = process.env['SHMKIT_NATIVE_DIR'];
  if (dir) return path.resolve(__dirname, '..', dir, 'shmkit.node');
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const nodeGypBuild = require('node-gyp-build') as { path(dir: string): string };
  return nodeGypBuild.path(path.join(__dirname, '..'));
}

const ADDON_PATH = addonPath();

/**
 * The tracker executable (native/tracker.c): binding.gyp builds it next to
 * the addon, and scripts/prebuild.js ships it next to the prebuilt one.
 */
export const TRACKER_PATH: string = path.join(path.dirname(ADDON_PATH), 'shmkit-tracker');

/** The addon, loaded once per process. */
// eslint-disable-next-line @typescript-eslint/no-require-imports
export const binding: Binding = require(ADDON_PATH) as Binding;
