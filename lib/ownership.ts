/**
 * Which segments this process owns, and removing them when it ends, however
 * it ends.
 *
 * Three layers, each covering what the one before cannot:
 * - the in-process `exit` hook unlinks at once on a normal exit, an uncaught
 *   exception or an unhandled rejection;
 * - the tracker (native/tracker.c), a ~1 MB helper process started on the
 *   first owned create, holds the read end of a pipe whose only write end is
 *   in this process (close-on-exec, so no child inherits it). Any death of
 *   this process — a signal, SIGKILL, the OOM killer — closes that pipe, and
 *   the tracker unlinks what is still registered. A watcher thread in this
 *   process (native/lifecycle.cc) replaces a tracker that was itself killed
 *   and registers everything again;
 * - the owner tag, an extended attribute `user.shmkit.owner` on the segment
 *   (pid, process start time, pid namespace), lets `list()` say who owns a
 *   segment and `sweep()` remove those whose owner is provably dead should
 *   even the tracker have been killed.
 *
 * Every owned name is recorded with the identity (device + inode) of the
 * object this process created or adopted, and every removal checks it, so a
 * newer segment that reuses the name is never touched.
 * @internal
 */
import * as fs from 'node:fs';
import { isForeign, provablyDead, self } from './identity';
import { binding, TRACKER_PATH } from './binding';
import { systemError } from './errors';
import { SHM_DIR } from './names';

/** "<dev> <ino>" of the object: what the tracker is told, and what every removal checks. */
type Identity = string;

/** Who owns a segment, read from its owner tag. */
export interface OwnerRecord {
  /** Process id, as seen in the owner's pid namespace. */
  pid: number;
  /** The owner's start time in clock ticks after boot (`/proc/<pid>/stat` field 22); 0 if unknown. */
  startTime: number;
  /** False only when the owner is provably gone (see `provablyDead` in identity.ts). */
  alive: boolean;
  /** The owner runs in another pid namespace (another container). */
  foreign: boolean;
}

const owned = new Map<string, Identity>();
let hooked = false;

/** Starts owning `name`; `fd` is the open descriptor of the object. */
export function own(name: string, fd: number): void {
  // Tags the object (best effort: without a tag only list()/sweep() know
  // less) and reads its identity, in one native call.
  const id = binding.ownFd(fd, ownerTag());
  owned.set(name, id);
  tell(`+${id} ${escapeName(name)}\n`);
  if (!hooked) {
    hooked = true;
    process.once('exit', releaseAll);
  }
}

/**
 * Starts owning an existing segment (`attach(h, { own: true })`), under the
 * segment's flock — the one sweep() takes — so that a concurrent sweep()
 * either finds this process recorded as the owner, or has already removed the
 * name: then this throws ENOENT and owns nothing.
 */
export function adopt(name: string, fd: number): void {
  binding.lockFd(fd, true);
  try {
    if (!stillNamed(name, fd)) throw systemError(2 /* ENOENT */, 'shm_open', name);
    own(name, fd);
  } finally {
    binding.unlockFd(fd);
  }
}

/** Whether /dev/shm/`name` still is the object open as `fd`. */
export function stillNamed(name: string, fd: number): boolean {
  try {
    return identity(fs.statSync(`${SHM_DIR}/${name}`, { bigint: true })) === identity(fs.fstatSync(fd, { bigint: true }));
  } catch {
    return false; // the name is gone
  }
}

/** Stops owning `name` (handed off, or already unlinked). */
export function disown(name: string): void {
  if (!owned.delete(name)) return;
  tell(`-${escapeName(name)}\n`);
}

/**
 * Hands `name` off: stops owning it and clears its owner tag (if it is still
 * our object), so that neither the tracker nor a later `sweep()` removes it.
 */
export function handOff(name: string): void {
  const id = owned.get(name);
  disown(name);
  if (id === undefined) return;
  withOurObject(name, id, (fd) => binding.removeOwnerTag(fd));
}

/** Whether this process will unlink `name` when it ends. */
export function owns(name: string): boolean {
  return owned.has(name);
}

/**
 * Unlinks `name` now if this process owns it and it is still the object this
 * process created or adopted; stops owning it either way. Returns whether it
 * unlinked.
 */
export function releaseOwned(name: string): boolean {
  const id = owned.get(name);
  if (id === undefined) return false;
  const done = releaseOne(name, id);
  disown(name);
  return done;
}

/** Pid of this process's tracker, if one is running. @internal for tests and benchmarks */
export function trackerPid(): number | undefined {
  const { pid } = binding.trackerInfo();
  return pid > 0 ? pid : undefined;
}

/**
 * The owner recorded on segment `name`, with whether it is alive; undefined
 * when the segment carries no owner tag (unowned, handed off, or made by
 * something other than shmkit).
 */
export function ownerOf(name: string): OwnerRecord | undefined {
  const tag = binding.getOwnerTag(`${SHM_DIR}/${name}`);
  if (tag === undefined) return undefined;
  const m = /^shmkit1 (\d+) (\d+) (\d+)$/.exec(tag);
  if (!m) return undefined;
  const pid = Number(m[1]);
  const startTime = Number(m[2]);
  const ns = Number(m[3]);
  const dead = provablyDead({ tid: pid, start: startTime, startMask: startTime === 0 ? 0 : -1, ns });
  return { pid, startTime, foreign: isForeign(ns), alive: !dead };
}

/*
 * Owner tag, the value of xattr `user.shmkit.owner`, ASCII:
 *   "shmkit1 <pid> <start time in clock ticks> <pid namespace inode>"
 * The start time tells a reused pid from the owner; the namespace tells a
 * pid we cannot see (another container sharing /dev/shm) from a dead one.
 */
let tag: { pid: number; value: string } | undefined;
function ownerTag(): string {
  if (tag === undefined || tag.pid !== process.pid) {
    const s = self();
    tag = { pid: process.pid, value: `shmkit1 ${s.pid} ${s.processStart} ${s.ns}` };
  }
  return tag.value;
}

/** Identity of a stat result, in the form ownFd returns. */
function identity(st: fs.BigIntStats): Identity {
  return `${st.dev} ${st.ino}`;
}

// ---------------------------------------------------------------------------
// Unlinking

/** Runs `fn` on a descriptor of `name` if it is still the object `id`. */
function withOurObject(name: string, id: Identity, fn: (fd: number) => void): boolean {
  let fd: number;
  try {
    fd = fs.openSync(`${SHM_DIR}/${name}`, fs.constants.O_RDONLY);
  } catch {
    return false; // gone, or not readable by us any more
  }
  try {
    if (identity(fs.fstatSync(fd, { bigint: true })) !== id) return false;
    fn(fd);
    return true;
  } finally {
    fs.closeSync(fd);
  }
}

/** Unlinks `name` if it is still the object this process created. */
function releaseOne(name: string, id: Identity): boolean {
  try {
    if (identity(fs.statSync(`${SHM_DIR}/${name}`, { bigint: true })) !== id) return false;
    binding.unlink(name);
    return true;
  } catch {
    return false; // already gone, or not ours any more
  }
}

function releaseAll(): void {
  for (const [name, id] of owned) releaseOne(name, id);
  owned.clear();
  // The tracker learns nothing more: our exit closes its pipe, and it finds
  // these names gone (or reused by newer objects, which it leaves alone).
}

// ---------------------------------------------------------------------------
// The tracker

let trackerBroken = false;

/** Names may hold '\' and newlines; the tracker's protocol is one line per message. */
function escapeName(name: string): string {
  if (!name.includes('\\') && !name.includes('\n')) return name;
  return name.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

/**
 * Sends one message to the tracker, starting it on first use. The write is
 * synchronous and a whole line (< PIPE_BUF) at once, so a register is in the
 * pipe before create() returns, whatever happens to this process next —
 * except while the watcher thread replaces a killed tracker: then the line is
 * queued, and the new tracker gets it before it takes over. The addon keeps
 * the set of registered names for the whole process (every thread) and
 * replays it to any tracker it starts in place of a dead one.
 * Never throws: create() has already made the segment, and losing the
 * tracker only weakens cleanup (the exit hook and sweep() remain).
 */
function tell(line: string): void {
  if (trackerBroken) return;
  try {
    binding.trackerWrite(TRACKER_PATH, line);
  } catch (err) {
    trackerFailed(err);
  }
}

function trackerFailed(err: unknown): void {
  trackerBroken = true;
  process.emitWarning(
    `shmkit: cannot run the ownership tracker (${(err as Error).message}); owned segments will be removed ` +
      'on a normal exit but not if this process is killed',
    { code: 'SHMKIT_NO_TRACKER' },
  );
}
