/**
 * Fails the run if any test left something of its own in /dev/shm.
 *
 * Every test names its segments under `shmkit-test-<run>-` (see helpers.ts),
 * where <run> is unique to this vitest run and reaches the test workers and
 * their children through the environment. At the end, an entry that was not
 * there at the start is a leak if this run answers for it (leak-check.ts):
 * its own prefix, or the library's default name. Others' entries (a browser,
 * a database, concurrent runs) come and go as they please.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { leaks } from './leak-check';

function entries(): string[] {
  try {
    return fs.readdirSync('/dev/shm');
  } catch {
    return [];
  }
}

export default function setup(): () => void {
  const run = process.env.SHMKIT_TEST_RUN ?? randomBytes(3).toString('hex');
  process.env.SHMKIT_TEST_RUN = run;
  const before = entries();
  return () => {
    const leaked = leaks(before, entries(), run);
    if (leaked.length > 0) {
      process.exitCode = 1; // vitest reports a teardown error but would still exit 0
      throw new Error(`tests left ${leaked.length} entries in /dev/shm: ${leaked.slice(0, 20).join(', ')}`);
    }
  };
}
