/**
 * `shmkit ls`: the segments under /dev/shm, one line each.
 * @internal
 */
import * as fs from 'node:fs';
import { SharedMemory, type SegmentInfo } from '../segment';
import { SHM_DIR } from '../names';
import { noPositional, type Args, type Io } from './args';
import { columns, humanAge, humanSize, printable } from './format';

interface LsEntry {
  name: string;
  size: number;
  kind: SegmentInfo['kind'];
  owner: { pid: number; alive: boolean } | null;
  created: string | null;
  ageMs: number | null;
}

/** `shmkit ls [--prefix P] [--json]`. */
export function ls(args: Args, io: Io): number {
  noPositional(args, 'ls');
  const prefix = (args.options.get('--prefix') as string | undefined) ?? '';
  const now = Date.now();
  const entries: LsEntry[] = SharedMemory.list({ prefix }).map((s) => {
    const born = birth(s.name);
    return {
      name: s.name,
      size: s.size,
      kind: s.kind,
      owner: s.owner ?? null,
      created: born === undefined ? null : new Date(born).toISOString(),
      ageMs: born === undefined ? null : Math.max(0, Math.round(now - born)),
    };
  });
  if (args.options.has('--json')) {
    io.out(`${JSON.stringify(entries, null, 2)}\n`);
    return 0;
  }
  if (entries.length === 0) {
    io.out(prefix ? `no segments under '${prefix}'\n` : 'no segments\n');
    return 0;
  }
  const rows = entries.map((e) => [
    printable(e.name),
    humanSize(e.size),
    e.kind,
    e.owner ? String(e.owner.pid) : '-',
    e.owner ? (e.owner.alive ? 'alive' : 'dead') : 'unowned',
    e.ageMs === null ? '?' : humanAge(e.ageMs),
  ]);
  io.out(columns(['NAME', 'SIZE', 'KIND', 'OWNER', 'STATE', 'AGE'], rows, [false, true, false, true, false, true]));
  const total = entries.reduce((s, e) => s + e.size, 0);
  io.out(`${entries.length} segment${entries.length === 1 ? '' : 's'}, ${humanSize(total)}\n`);
  return 0;
}

/** Creation time in ms (birth time where the filesystem records it). */
function birth(name: string): number | undefined {
  try {
    const st = fs.statSync(`${SHM_DIR}/${name}`);
    return st.birthtimeMs > 0 ? st.birthtimeMs : st.ctimeMs;
  } catch {
    return undefined;
  }
}
