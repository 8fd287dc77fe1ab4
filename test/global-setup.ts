/**
 * Fails the run if any test left something in /dev/shm: every entry present
 * at the end that was not there at the start is a leak. Tests name their
 * segments with `shmkit-test-` prefixes (see helpers.ts).
 */
import * as fs from 'node:fs';

function entries(): Set<string> {
  try {
    return new Set(fs.readdirSync('/dev/shm'));
  } catch {
    return new Set();
  }
}

export default function setup(): () => void {
  const before = entries();
  return () => {
    const leaked = [...entries()].filter((n) => !before.has(n));
    if (leaked.length > 0) {
      throw new Error(`tests left ${leaked.length} entries in /dev/shm: ${leaked.slice(0, 20).join(', ')}`);
    }
  };
}
