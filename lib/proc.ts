/**
 * What /proc says of a process: used to tell a live owner (of a segment or
 * of a lock) from a dead one whose pid may since have been reused.
 * @internal
 */
import * as fs from 'node:fs';

/**
 * State letter and start time (clock ticks since boot, field 22) from
 * /proc/<pid>/stat; undefined if there is no such process or it is hidden.
 */
export function procStat(pid: number): { state: string; startTime: number } | undefined {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return undefined;
  }
  // comm (field 2) may hold spaces and ')': fields resume after the last ')'.
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { state: rest[0] ?? '?', startTime: Number(rest[19] ?? 0) };
}

/**
 * False only if `pid` provably no longer runs the process it names: no such
 * pid, a zombie, or a process whose start time `sameStart` rejects (the pid
 * was reused). A process we may not signal (EPERM) or whose /proc entry is
 * hidden counts as alive: never rob what might be a live owner.
 */
export function processAlive(pid: number, sameStart: (startTime: number) => boolean = () => true): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
  }
  const st = procStat(pid);
  if (st === undefined) return true;
  if (st.state === 'Z' || st.state === 'X') return false; // exited, not yet reaped
  return sameStart(st.startTime);
}
