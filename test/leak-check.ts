/**
 * Which entries of /dev/shm a test run has leaked: the judgement the global
 * teardown (global-setup.ts) makes, kept pure so that it can be tested alone.
 *
 * /dev/shm is shared with everything else on the machine (a browser, a
 * database, other test runs), so a run answers only for names it can tell
 * are its own:
 * - `shmkit-test-<run>-…`, the prefix of every name a test makes
 *   (helpers.ts `testPrefix`);
 * - `shmkit-<16 hex digits>`, the library's default name (lib/names.ts
 *   `generateName()`), which a test that passes no name or prefix gets.
 *   Nothing on the machine marks which process made one, so any new one
 *   counts as this run's. The price: shmkit code outside this run using
 *   default names (another run's stray test, an app) and leaving one
 *   behind while this run ends fails this run too. Not judging them
 *   would let such a test leak unnoticed; making the library read its
 *   default prefix from the environment would put a test hook into it.
 * Everything else is foreign, including other runs' `shmkit-test-<other>-…`.
 */

/** The library's default names: generateName() with no prefix (lib/names.ts). */
export const DEFAULT_NAME = /^shmkit-[0-9a-f]{16}$/;

/** Whether this run (id `run`) answers for entry `name`. */
export function judged(name: string, run: string): boolean {
  return name.startsWith(`shmkit-test-${run}-`) || DEFAULT_NAME.test(name);
}

/**
 * The entries of `after` that were not in `before` and that run `run`
 * answers for, sorted: what it leaked.
 */
export function leaks(before: Iterable<string>, after: Iterable<string>, run: string): string[] {
  const had = new Set(before);
  return [...after].filter((name) => !had.has(name) && judged(name, run)).sort();
}
