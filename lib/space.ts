/**
 * Room on the filesystem under a segment: what `statfs` says, the ENOSPC
 * message that tells a user how much was needed, how much is free and how
 * to get more, and the one-time warning before a request takes most of what
 * is left. A container's /dev/shm is 64 MiB unless someone asked for more
 * (Docker's default), the commonest way shared memory runs out.
 * @internal
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { humanSize } from './cli/format';
import type { SystemError } from './errors';
import { SHM_DIR } from './names';

/** A filesystem's size, used and free bytes, as `df -B1` prints them. */
export interface FsSpace {
  /** Total bytes (`blocks × bsize`: df's "1B-blocks"). */
  size: number;
  /** Bytes in use (`(blocks − bfree) × bsize`: df's "Used"). */
  used: number;
  /** Bytes an unprivileged process may still take (`bavail × bsize`: df's "Available"). */
  free: number;
}

/** An `ENOSPC` from shmkit: the fs-shaped error plus the numbers of its message (`free` absent if statfs failed). */
export type NoSpaceError = SystemError & { requested: number };

/**
 * `statfs` of the filesystem holding `where` (default /dev/shm).
 * @throws the fs error of statfs (`ENOENT` if `where` does not exist)
 * @example
 * const { size, used, free } = fsSpace();   // /dev/shm, in bytes
 */
export function fsSpace(where: string = SHM_DIR): FsSpace {
  const s = fs.statfsSync(where);
  return { size: s.blocks * s.bsize, used: (s.blocks - s.bfree) * s.bsize, free: s.bavail * s.bsize };
}

/** fsSpace, or undefined where statfs is missing (Node < 18.15) or fails. */
function trySpace(where: string): FsSpace | undefined {
  if (typeof fs.statfsSync !== 'function') return undefined;
  try {
    return fsSpace(where);
  } catch {
    return undefined;
  }
}

/** Whether `where` is a shm segment's name (not a path) or a path under /dev/shm. */
function onShm(where: string): boolean {
  return !path.isAbsolute(where) || where.startsWith(`${SHM_DIR}/`);
}

const count = (n: number) => `${n} bytes (${humanSize(n)})`;

/** How to give a container's /dev/shm more room, for the ENOSPC message and the warning. */
export const SHM_HINT =
  'for more room: docker run --shm-size=1g, compose shm_size: 1gb, or in Kubernetes an emptyDir ' +
  '{ medium: Memory, sizeLimit: 1Gi } mounted at /dev/shm (a container gets 64 MiB unless asked); ' +
  '`npx shmkit df` shows what holds it';

/**
 * Completes an `ENOSPC` thrown while asking for `requested` bytes of the
 * segment `where` (a shm name, or a file's absolute path): appends to its
 * message how many bytes were needed, how many are free on that filesystem
 * and how to get more, and sets `requested` and `free`. `code`, `errno`,
 * `syscall` and `path` stay as they are. Any other error is returned as is.
 * @example
 * try { binding.reserve(fd, size, name) } catch (err) { throw noSpace(err, size, name) }
 */
export function noSpace(err: unknown, requested: number, where: string): unknown {
  if (!(err instanceof Error) || (err as SystemError).code !== 'ENOSPC') return err;
  const e = err as NoSpaceError;
  const shm = onShm(where);
  const fsPath = shm ? SHM_DIR : path.dirname(where);
  const space = trySpace(fsPath);
  e.requested = requested;
  // Without statfs (Node < 18.15, or no such mount) the message says what it knows.
  const room = space === undefined ? '' : `, ${shm ? '' : 'the filesystem of '}${fsPath} has ${count(space.free)} free of ${humanSize(space.size)}`;
  if (space !== undefined) e.free = space.free;
  const hint = shm ? SHM_HINT : 'free some space there, or put the file on a larger filesystem';
  e.message = `${e.message}: needed ${count(requested)}${room}; ${hint}`;
  if (typeof e.stack === 'string') e.stack = `${e.name}: ${e.message}${e.stack.slice(e.stack.indexOf('\n'))}`;
  return e;
}

/**
 * Runs `allocate` (a call that reserves `requested` bytes of the segment
 * `where`), first warning (see {@link warnIfLarge}) if a segment under
 * /dev/shm is about to take most of what is free; an `ENOSPC` it throws
 * gets the message of {@link noSpace}.
 * @throws what `allocate` throws
 * @example
 * withSpace(size, name, () => binding.reserve(fd, size, name));
 */
export function withSpace(requested: number, where: string, allocate: () => void): void {
  if (onShm(where)) warnIfLarge(requested, `'${where}'`);
  try {
    allocate();
  } catch (err) {
    throw noSpace(err, requested, where);
  }
}

let warned = false;

/**
 * Warns, once per process (per thread in worker threads; `process.emitWarning`, code `SHMKIT_SHM_LOW`),
 * when `bytes` would take more than half of what is free on the
 * filesystem of `where` (default /dev/shm) yet still fit: the next request
 * may not. A request larger than all that is free is not warned of: it
 * fails with ENOSPC, whose message says the same. Never throws. Used before
 * every create and growth step of a segment under /dev/shm.
 * @param what names the request in the warning (`'app.cache'`, `forkMap output`)
 * @returns whether it warned now
 * @example
 * warnIfLarge(rows * rowBytes, 'forkMap output');
 */
export function warnIfLarge(bytes: number, what: string, where: string = SHM_DIR): boolean {
  if (warned) return false;
  const space = trySpace(where);
  if (space === undefined || bytes <= space.free / 2 || bytes > space.free) return false;
  warned = true;
  process.emitWarning(
    `${what} takes ${count(bytes)} of the ${count(space.free)} free on ${where} (${humanSize(space.size)} in all); ` +
      `later requests may fail with ENOSPC${where === SHM_DIR ? `; ${SHM_HINT}` : ''}`,
    { code: 'SHMKIT_SHM_LOW', detail: 'shmkit warns of this once per process.' },
  );
  return true;
}
