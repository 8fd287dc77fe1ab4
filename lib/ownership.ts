/**
 * Which segments this process owns, and unlinking them when it ends.
 *
 * Each owned name is recorded with the identity (device + inode) of the
 * object it created, so that cleanup never removes a newer segment that
 * someone else created under the same name after ours was unlinked.
 * @internal
 */
import * as fs from 'node:fs';
import { binding } from './binding';
import { SHM_DIR } from './names';

interface Identity {
  dev: number;
  ino: number;
}

const owned = new Map<string, Identity>();
let hooked = false;

/** Starts owning `name`; `fd` is the open descriptor of the object. */
export function own(name: string, fd: number): void {
  const st = fs.fstatSync(fd);
  owned.set(name, { dev: st.dev, ino: st.ino });
  if (!hooked) {
    hooked = true;
    process.once('exit', releaseAll);
  }
}

/** Stops owning `name` (handed off, or already unlinked). */
export function disown(name: string): void {
  owned.delete(name);
}

/** Whether this process will unlink `name` when it ends. */
export function owns(name: string): boolean {
  return owned.has(name);
}

/** Unlinks `name` if it is still the object this process created. */
function releaseOne(name: string, id: Identity): void {
  try {
    const st = fs.statSync(`${SHM_DIR}/${name}`);
    if (st.dev !== id.dev || st.ino !== id.ino) return;
    binding.unlink(name);
  } catch {
    // Already gone, or not ours any more: nothing to clean up.
  }
}

function releaseAll(): void {
  for (const [name, id] of owned) releaseOne(name, id);
  owned.clear();
}
