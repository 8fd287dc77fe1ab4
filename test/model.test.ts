/**
 * Runs the spin model checks (model/check.sh): of the append protocol
 * (model/append.pml), of the growth of a growable table's memory
 * (model/grow.pml), of a channel's message ring (model/channel.pml), and
 * of the semaphore and barrier protocols (model/semaphore.pml,
 * model/barrier.pml). Each correct model must pass every configuration and
 * each deliberately broken variant must be caught. Needs spin (`.ci/run`
 * installs it from Debian's packages); without it the tests are skipped with
 * the reason.
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { ROOT } from './helpers';

const hasSpin = spawnSync('sh', ['-c', 'command -v spin']).status === 0;

/** Runs check.sh on the given models; its output, with a parser of its result rows. */
function check(models: string) {
  const r = spawnSync('bash', [path.join(ROOT, 'model', 'check.sh')], { encoding: 'utf8', timeout: 900_000, env: { ...process.env, JOBS: '2', MODELS: models } });
  const out = `${r.stdout}\n${r.stderr}`;
  // Each row: run expect search errors states depth secs result; then indented lines (what, first violation).
  const row = (name: string) => new RegExp(`^${name}\\s+(\\w+)\\s+\\w+\\s+(\\d+)\\s+\\d+\\s+\\d+\\s+\\d+\\s+(\\w+)`, 'm').exec(out);
  const violation = (name: string) => new RegExp(`^${name}\\s.*\\n(?:    .*\\n)*?    first violation: (.*)$`, 'm').exec(out)?.[1];
  return { status: r.status, out, row, violation };
}

/**
 * Runs check.sh on `models` and expects every run in `passes` to pass, and
 * every broken variant in `caughtBy` to fail with a first violation that
 * matches its pattern (undefined: any violation).
 */
function expectModels(models: string, passes: string[], caughtBy: Record<string, RegExp | undefined>): void {
  const { status, out, row, violation } = check(models);
  expect(status, out).toBe(0);
  for (const name of passes) expect(row(name)?.slice(1), name).toEqual(['pass', '0', 'ok']);
  for (const [name, why] of Object.entries(caughtBy)) {
    const r = row(name);
    expect(r?.[1], name).toBe('fail');
    expect(Number(r?.[2]), name).toBeGreaterThan(0);
    if (why) expect(violation(name), name).toMatch(why);
  }
  expect(out).toContain('check.sh: all runs as expected');
}

describe('model/check.sh', () => {
  it.skipIf(!hasSpin)('finds no violation in the append protocol and catches the broken variants (commit without CAS, zero-stall without CAS)', () => {
    expectModels('append', ['three', 'reader', 'main', 'main-np', 'run3', 'run3-np', 'suspect', 'abandon'], {
      'broken-commit': undefined,
      'broken-zerostall': undefined,
    });
  }, 900_000);

  it.skipIf(!hasSpin)('finds no violation in the growth of a growable table, and catches each broken variant by what it breaks', () => {
    // Checked with -DUSE_ONLY: each must be caught by a consequence, not by a
    // publication assertion: a row written without memory, a value straddling
    // a slice, a committed view past the data buffers a reader would build.
    expectModels('grow', ['grow-rows', 'grow-heap', 'grow-reader', 'grow-three', 'grow-np'], {
      'grow-broken-raise': /assertion violated alloc\[/,
      'grow-broken-reserve': /assertion violated alloc\[/,
      'grow-broken-noskip': /assertion violated \(\(h\/3\)==/,
      'grow-broken-store': /hend\[gj\]<=heapReady/,
    });
  }, 300_000);

  it.skipIf(!hasSpin)("finds no violation in a channel's message ring (dead writers and readers at any step) and catches each broken variant", () => {
    expectModels('channel', ['chan-two', 'chan-one', 'chan-n3', 'chan-three'], {
      'chan-broken-take': /assertion violated \(\(whole/, // a torn copy taken
      'chan-broken-release': /published\[x\]==0\)\|\|\(taken\[x\]==1/, // a live message voided: lost
      'chan-broken-room': /assertion violated \(\(whole/,
      'chan-broken-look': /published\[x\]==0\)\|\|\(taken\[x\]==1/, // a published message skipped as void: lost
    });
  }, 300_000);

  it.skipIf(!hasSpin)('finds no violation in the semaphore and barrier protocols, and catches each broken variant', () => {
    expectModels('semaphore barrier', ['sem', 'bar', 'bar-timeout'], {
      'sem-broken-norepair': /assertion violated \(count==2\)/,
      'sem-broken-seqlate': /invalid end state/,
      'bar-broken-wake': /assertion violated .*rnd\[0\]>=/,
      'bar-broken-norepair': /invalid end state/,
    });
  }, 300_000);
});
