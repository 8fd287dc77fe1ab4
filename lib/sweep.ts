/**
 * sweep(): removes segments whose recorded owner is provably dead — what is
 * left when even an owner's tracker was killed (or the owner ran a shmkit
 * without one).
 */
import * as fs from 'node:fs';
import { binding } from './binding';
import { invalidType, type SystemError } from './errors';
import { SHM_DIR } from './names';
import { ownerOf, stillNamed } from './ownership';

/** Options of {@link sweep}. */
export interface SweepOptions {
  /** Only consider names that start with this. Default: every segment. */
  prefix?: string;
}

/**
 * Unlinks every segment (under `prefix`) whose owner tag names a process that
 * provably no longer runs: no such pid, a zombie, or a newer process reusing
 * the pid (start times differ); an owner in another pid namespace only when
 * that is provable from here (see `provablyDead` in identity.ts). Never
 * touches segments without an owner tag — unowned, handed off with
 * `unregister()`, or made by other programs. Returns the names it removed,
 * sorted.
 *
 * @throws TypeError if `prefix` is not a string
 * @example
 * const removed = sweep({ prefix: 'myapp.' });
 */
export function sweep(options: SweepOptions = {}): string[] {
  if (typeof options !== 'object' || options === null) throw invalidType('options', 'an object', options);
  const prefix = options.prefix ?? '';
  if (typeof prefix !== 'string') throw invalidType('options.prefix', 'a string', prefix);
  const removed: string[] = [];
  for (const entry of fs.readdirSync(SHM_DIR, { withFileTypes: true })) {
    if (!entry.isFile() || !entry.name.startsWith(prefix)) continue;
    if (ownerOf(entry.name)?.alive !== false) continue; // the cheap look first: most are alive or untagged
    if (sweepOne(entry.name)) removed.push(entry.name);
  }
  return removed.sort();
}

/**
 * Unlinks `name` if its owner is dead, deciding under the segment's flock
 * (see adopt() in ownership.ts): an adopter that tagged it first is seen as
 * the live owner; one that comes after finds the name gone. A segment whose
 * flock is held right now is left for the next sweep.
 */
function sweepOne(name: string): boolean {
  let fd: number;
  try {
    fd = binding.open(name, fs.constants.O_RDONLY, 0);
  } catch {
    return false; // gone meanwhile, or not ours to read (and so not ours to unlink)
  }
  try {
    if (!binding.lockFd(fd, false)) return false;
    try {
      if (!stillNamed(name, fd) || ownerOf(name)?.alive !== false) return false;
      binding.unlink(name);
      return true;
    } finally {
      binding.unlockFd(fd);
    }
  } catch (err) {
    if ((err as SystemError).code === 'ENOENT') return false; // someone else removed it first
    throw err;
  } finally {
    binding.close(fd);
  }
}
