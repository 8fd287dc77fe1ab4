/**
 * `shmkit df`: how full the shared-memory filesystem is, and what the
 * segments in it hold, per owner. A container's /dev/shm is 64 MiB unless
 * asked for more: this is where a user sees it before an ENOSPC does.
 * @internal
 */
import { SHM_DIR } from '../names';
import { listHoldings } from '../segment-list';
import { fsSpace } from '../space';
import { noPositional, type Args, type Io } from './args';
import { columns, humanSize } from './format';

/** One owner's share of /dev/shm in a {@link DfReport}. */
export interface DfOwner {
  /** The owner's pid; null for segments no process owns (handed off, or not made by shmkit). */
  pid: number | null;
  state: 'alive' | 'dead' | 'unowned';
  /** How many segments it owns. */
  segments: number;
  /** Their apparent sizes, added (a growable table's sparse extent counts in full). */
  size: number;
  /** Bytes of the filesystem they take (their pages). */
  held: number;
}

/** What `shmkit df --json` prints; every number in bytes. */
export interface DfReport {
  /** The filesystem's mount point as shmkit sees it: `/dev/shm`. */
  path: string;
  /** Total size, as `df -B1` "1B-blocks". */
  size: number;
  /** Bytes in use, as `df -B1` "Used". */
  used: number;
  /** Bytes free, as `df -B1` "Available". */
  free: number;
  /** Every segment (regular file) directly under /dev/shm: how many, apparent size, bytes held. */
  segments: { count: number; size: number; held: number };
  /** The same per owner: largest holder first, the unowned last. */
  owners: DfOwner[];
}

/**
 * Size, used and free bytes of /dev/shm (statfs) and what its segments
 * hold, per owner (`SharedMemory.list`'s owners).
 * @throws the fs errors of statfs and readdir (`ENOENT` where there is no /dev/shm)
 * @example
 * const r = diskFree(); if (r.free < 1 << 30) console.warn(`only ${r.free} bytes free in /dev/shm`);
 */
export function diskFree(): DfReport {
  const entries = listHoldings();
  const space = fsSpace(SHM_DIR);
  const owners = new Map<string, DfOwner>();
  for (const e of entries) {
    const key = e.owner ? `${e.owner.pid}` : '-';
    let o = owners.get(key);
    if (o === undefined) {
      o = { pid: e.owner?.pid ?? null, state: e.owner ? (e.owner.alive ? 'alive' : 'dead') : 'unowned', segments: 0, size: 0, held: 0 };
      owners.set(key, o);
    }
    o.segments++;
    o.size += e.size;
    o.held += e.held;
  }
  const sorted = [...owners.values()].sort((a, b) => (a.pid === null ? 1 : b.pid === null ? -1 : b.held - a.held || a.pid - b.pid));
  return {
    path: SHM_DIR,
    ...space,
    segments: { count: entries.length, size: entries.reduce((s, e) => s + e.size, 0), held: entries.reduce((s, e) => s + e.held, 0) },
    owners: sorted,
  };
}

/** As df rounds Use%: up, of what a user could have (used + free). */
const percent = (part: number, whole: number) => (whole > 0 ? `${Math.ceil((100 * part) / whole)}%` : '-');

/** `shmkit df [--json]`. */
export function df(args: Args, io: Io): number {
  noPositional(args, 'df');
  const r = diskFree();
  if (args.options.has('--json')) {
    io.out(`${JSON.stringify(r, null, 2)}\n`);
    return 0;
  }
  io.out(columns(['FILESYSTEM', 'SIZE', 'USED', 'FREE', 'USE%'], [[r.path, humanSize(r.size), humanSize(r.used), humanSize(r.free), percent(r.used, r.used + r.free)]], [false, true, true, true, true]));
  if (r.owners.length === 0) {
    io.out('no segments\n');
    return 0;
  }
  io.out('\n');
  const rows = r.owners.map((o) => [o.pid === null ? '-' : String(o.pid), o.state, String(o.segments), humanSize(o.held)]);
  io.out(columns(['OWNER', 'STATE', 'SEGMENTS', 'HELD'], rows, [true, false, true, true]));
  const n = r.segments.count;
  io.out(`${n} segment${n === 1 ? ' holds' : 's hold'} ${humanSize(r.segments.held)}, ${percent(r.segments.held, r.used)} of what is used\n`);
  return 0;
}
