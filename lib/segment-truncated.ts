/**
 * A truncated segment is an error, not a crash: the JavaScript half of
 * native/truncation.cc. When another process shrinks a segment under us,
 * the addon's SIGBUS handler puts zero pages where the file's end used to be
 * and bumps {@link TRUNCATIONS}; every call on a segment (and on the tables
 * and channels over it) compares that word with what it saw last, one typed
 * array load, and only when it moved asks the addon whether its own mapping
 * was hit. A hit segment throws `ERR_SHM_TRUNCATED` from then on.
 * @internal
 */
import * as fs from 'node:fs';
import { binding } from './binding';
import { ShmError } from './errors-base';

const HAS_SAB = typeof SharedArrayBuffer === 'function';

/**
 * How many times, in this process, the SIGBUS handler repaired a mapping:
 * word 0 of a SharedArrayBuffer the addon writes from its handler (in any
 * thread).
 */
export const TRUNCATIONS: Int32Array = HAS_SAB ? new Int32Array(new SharedArrayBuffer(4)) : new Int32Array(1);
/**
 * False where the addon had no slot left for this environment, or the runtime
 * has no SharedArrayBuffer (a renderer that is not cross-origin isolated):
 * then every check asks the addon.
 */
const WATCHED: boolean = HAS_SAB && binding.watchTruncations(TRUNCATIONS);

/** The segment's size now, as its file says (another process may have shrunk it), or undefined if it is gone. */
function sizeNow(name: string, file: boolean): number | undefined {
  try {
    if (file) return fs.statSync(name).size;
    const fd = binding.open(name, fs.constants.O_RDONLY, 0);
    try {
      return binding.size(fd, name);
    } finally {
      binding.close(fd);
    }
  } catch {
    return undefined;
  }
}

/**
 * The error of a segment whose mapping met a SIGBUS: what it should be, what
 * it is now, who to suspect and what was lost.
 * @param from the offset from which this process's view reads zeros
 */
export function truncatedError(name: string, size: number, file: boolean, from: number): ShmError {
  const what = file ? `file '${name}'` : `segment '${name}'`;
  const now = sizeNow(name, file);
  const is =
    now === undefined ? `it cannot be opened any more (removed?)`
    : now < size ? `it is now ${now} bytes`
    : `it is still ${now} bytes`;
  const suspect =
    now !== undefined && now >= size
      ? `a page could not be allocated for it (a full /dev/shm or tmpfs), or another process shrank it and grew it back`
      : `another process shrank it (ftruncate, truncate -s) while this process had it mapped`;
  return new ShmError(
    'ERR_SHM_TRUNCATED',
    `${what} was truncated under this process: it was mapped as ${size} bytes but ${is}; ${suspect}. ` +
      `Bytes from offset ${from} on are lost to this process: its view reads them as zeros and its writes there reach no one. ` +
      `Close it and attach again (or re-create it) to see what the file holds now.`,
  );
}

/**
 * One segment's view of {@link TRUNCATIONS}: `moved()` is one load and a
 * compare while nothing happened; `check()` asks the addon and throws from
 * then on if this segment's mapping was hit.
 */
export class TruncationCheck {
  #seen = 0;
  #from = -1;

  /** True when check() must run: some mapping was repaired since the last look, or this one was. */
  moved(): boolean {
    return this.#from >= 0 || TRUNCATIONS[0] !== this.#seen;
  }

  /** @throws `ERR_SHM_TRUNCATED` if a SIGBUS hit the mapping under `view` */
  check(view: ArrayBuffer | Uint8Array, name: string, size: number, file: boolean): void {
    if (this.#from < 0) {
      this.#seen = WATCHED ? TRUNCATIONS[0]! : NaN; // NaN: never equal, so moved() stays true
      this.#from = binding.truncatedFrom(view);
    }
    if (this.#from >= 0) throw truncatedError(name, size, file, this.#from);
  }
}
