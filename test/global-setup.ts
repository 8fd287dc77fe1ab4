/**
 * Fails the run if any test left something in /dev/shm.
 *
 * Every test names its segments under `shmkit-test-<run>-` (see helpers.ts),
 * where <run> is unique to this vitest run and reaches the test workers and
 * their children through the environment. At the end, any entry that was not
 * there at the start is a leak, except those of *other* concurrent runs
 * (`shmkit-test-<other run>-…`), which are theirs to answer for.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';

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
  const before = new Set(entries());
  const mine = `shmkit-test-${run}-`;
  return () => {
    const leaked = entries().filter(
      (n) => !before.has(n) && (n.startsWith(mine) || !n.startsWith('shmkit-test-')),
    );
    if (leaked.length > 0) {
      process.exitCode = 1; // vitest reports a teardown error but would still exit 0
      throw new Error(`tests left ${leaked.length} entries in /dev/shm: ${leaked.slice(0, 20).join(', ')}`);
    }
  };
}
