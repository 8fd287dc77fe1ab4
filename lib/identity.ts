/**
 * Who holds something, and whether it provably no longer runs: the one
 * owner identity behind segment owner tags, `sweep`, `list`, Mutex words and
 * table row claims.
 *
 * An identity is a kernel task id (a process's pid, or a worker thread's
 * tid), that task's start time (clock ticks since boot: it tells the owner
 * from a later task that reuses the id), and the pid namespace the id is
 * valid in (another container sharing /dev/shm numbers its tasks apart).
 * Locks and row claims name the *thread* (a worker that ends is dead even
 * while its process lives); segment owner tags name the process.
 *
 * {@link provablyDead} is the only judge. It says true only when the task
 * is provably gone: no such id, a zombie, or an id now used by a task that
 * started at another time. A task in another pid namespace is judged by
 * looking for it through /proc when that namespace is visible from here
 * (a child container), and is dead only when its namespace has no task left
 * and this process sees every namespace (it is in the initial one);
 * otherwise it is never provably dead. A task we may not inspect counts as
 * alive. Never rob what might be a live owner.
 * @internal
 */
import * as fs from 'node:fs';

/** An owner: a task in a pid namespace. */
export interface Identity {
  /** Task id in its pid namespace: a pid, or a worker thread's tid. */
  tid: number;
  /** The task's start time in clock ticks after boot, or its low bits (see `startMask`). */
  start: number;
  /** Which bits of `start` are known: 0xff for the 8-bit fingerprint in packed words, -1 for all, 0 for none. */
  startMask: number;
  /** Inode of the pid namespace `tid` is valid in; 0 if unknown (then it is judged as local). */
  ns: number;
}

/** Inode of the initial pid namespace (the kernel's PROC_PID_INIT_INO): from there every task is visible. */
export const INIT_PID_NS = 0xeffffffc;

/**
 * State letter and start time (clock ticks since boot, field 22) from a
 * /proc/.../stat file; undefined if there is no such task or it is hidden.
 */
export function procStat(pathOrPid: number | string): { state: string; startTime: number } | undefined {
  let text: string;
  try {
    text = fs.readFileSync(typeof pathOrPid === 'number' ? `/proc/${pathOrPid}/stat` : pathOrPid, 'latin1');
  } catch {
    return undefined;
  }
  // comm (field 2) may hold spaces and ')': fields resume after the last ')'.
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { state: rest[0] ?? '?', startTime: Number(rest[19] ?? 0) };
}

function nsInode(link: string): number | undefined {
  try {
    return Number(/\[(\d+)\]/.exec(fs.readlinkSync(link))?.[1] ?? 0);
  } catch {
    return undefined;
  }
}

interface Self extends Identity {
  /** This process's id as `ns` numbers it. */
  pid: number;
  /** This process's start time (its main thread's), 0 if unknown. */
  processStart: number;
  /** `process.pid` when this was read: a forked child reads again. */
  ownPid: number;
}
let me: Self | undefined;

/**
 * The calling thread's identity (module state is per thread: each worker
 * loads its own copy). `tid` and `start` come from /proc/thread-self, and
 * `ns` is the namespace those ids are valid in: our own, or — when /proc was
 * mounted by an ancestor namespace (`unshare --pid` without `--mount-proc`) —
 * that ancestor's, so that ids and namespace always agree.
 */
export function self(): Self {
  if (me === undefined || me.ownPid !== process.pid) {
    let pid = process.pid;
    let tid = pid;
    let ns = 0;
    if (process.platform === 'linux') {
      try {
        const [tgid, , task] = fs.readlinkSync('/proc/thread-self').split('/');
        pid = Number(tgid);
        tid = Number(task);
        ns = pid === process.pid ? (nsInode('/proc/self/ns/pid') ?? 0) : (nsInode('/proc/1/ns/pid') ?? 0);
      } catch {
        // No /proc (a sandbox without it): ids are then judged by kill(pid, 0) only.
      }
    }
    const start = procStat(`/proc/${pid}/task/${tid}/stat`)?.startTime ?? 0;
    const processStart = procStat(pid)?.startTime ?? 0;
    me = { ownPid: process.pid, pid, processStart, tid, start, startMask: start === 0 ? 0 : -1, ns };
  }
  return me;
}

/**
 * False only if `id` provably no longer runs the task it names (see the
 * file comment for the rules across pid namespaces).
 */
export function provablyDead(id: Identity): boolean {
  if (!(id.tid > 0)) return false; // 0 would signal our own process group; no such owner
  return isForeign(id.ns) ? foreignDead(id) : localDead(id);
}

/** Whether ids of pid namespace `ns` are another namespace's than ours (both known; unknown ones are judged as local). */
export function isForeign(ns: number): boolean {
  const local = self().ns;
  return ns !== 0 && local !== 0 && ns !== local;
}

/** Whether a stat result is provably another task than `id` names, or a dead one. */
function goneBy(st: { state: string; startTime: number }, id: Identity): boolean {
  if (st.state === 'Z' || st.state === 'X') return true; // exited, not yet reaped
  if (id.startMask === 0) return false;
  return id.startMask === -1 ? st.startTime !== id.start : (st.startTime & id.startMask) !== (id.start & id.startMask);
}

function localDead(id: Identity): boolean {
  // /proc/<tid>/stat answers for any task, thread or process, though only
  // processes are listed.
  const st = procStat(id.tid);
  if (st !== undefined) return goneBy(st, id);
  try {
    process.kill(id.tid, 0);
    return false; // it exists but /proc hides it (hidepid): alive
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/**
 * The last (innermost namespace) id of a status file's NSpid line; with
 * `nestedOnly`, undefined for a task that has a single id (it lives in the
 * namespace /proc belongs to).
 */
function innermostId(statusPath: string, nestedOnly = false): number | undefined {
  try {
    const line = /^NSpid:\s*(.*)$/m.exec(fs.readFileSync(statusPath, 'latin1'))?.[1];
    const ids = line?.trim().split(/\s+/);
    if (ids === undefined || (nestedOnly && ids.length < 2)) return undefined;
    return Number(ids[ids.length - 1]);
  } catch {
    return undefined;
  }
}

/**
 * A task in another pid namespace: look for its namespace among the
 * processes we can see; if some are there, the task is alive only if one of
 * their threads has its id (innermost NSpid) and start time.
 */
function foreignDead(id: Identity): boolean {
  let names: string[];
  try {
    names = fs.readdirSync('/proc');
  } catch {
    return false;
  }
  let seen = false;
  for (const p of names) {
    if (!/^\d+$/.test(p)) continue;
    const ns = nsInode(`/proc/${p}/ns/pid`);
    if (ns === undefined) {
      // Gone meanwhile, or one we may not inspect (no CAP_SYS_PTRACE): its
      // status still tells its ids, one per namespace from ours inwards. A
      // process with only one lives in /proc's own namespace, not the
      // owner's; one whose innermost id is the owner's could be it.
      if (innermostId(`/proc/${p}/status`, true) === id.tid) return false;
      continue;
    }
    if (ns !== id.ns) continue;
    seen = true;
    let tasks: string[];
    try {
      tasks = fs.readdirSync(`/proc/${p}/task`);
    } catch {
      continue; // exited meanwhile
    }
    for (const t of tasks) {
      if (innermostId(`/proc/${p}/task/${t}/status`) !== id.tid) continue;
      const st = procStat(`/proc/${p}/task/${t}/stat`);
      return st === undefined ? false : goneBy(st, id);
    }
  }
  if (seen) return true; // its namespace is visible and nobody there has its id
  return self().ns === INIT_PID_NS; // from the initial namespace an empty namespace is a dead one
}

/*
 * Packed identity, for words that change hands with one compare-and-swap
 * (Mutex words, table row claims): 64 bits, little-endian halves.
 *   low  int32  bits  0–21  tid (Linux ids are below 2^22)
 *               bits 22–29  tid start time mod 256 (fingerprint)
 *               bits 30–31  0 — free for the user of the word (a Mutex
 *                           keeps its CONTENDED flag in bit 30, a row claim
 *                           sets bit 31)
 *   high uint32             pid namespace inode (0 if unknown)
 */
export const TID_MASK = (1 << 22) - 1;

/** The calling thread's low word (tid and fingerprint); see the layout above. */
export function selfWord(): number {
  const s = self();
  if (s.tid > TID_MASK) throw new RangeError(`thread id ${s.tid} does not fit 22 bits`);
  return s.tid | ((s.start & 0xff) << 22);
}

/** The calling thread's packed identity (low word and namespace), as Mutex words and row claims hold it. */
export function selfPacked(): bigint {
  return pack(selfWord(), self().ns);
}

/** Packs a low word and a namespace into one 64-bit value. */
export function pack(low: number, ns: number): bigint {
  return BigInt.asIntN(64, (BigInt(ns >>> 0) << 32n) | BigInt(low >>> 0));
}

/** The identity named by a packed word (flag bits 30–31 ignored). */
export function unpack(word: bigint): Identity {
  const low = Number(word & 0xffffffffn);
  return { tid: low & TID_MASK, start: (low >>> 22) & 0xff, startMask: 0xff, ns: Number((word >> 32n) & 0xffffffffn) };
}
