/**
 * Runs the spin model check of the append protocol (model/check.sh): the
 * correct model must pass every configuration and each deliberately broken
 * variant must be caught. Needs spin (`.ci/run` installs it from Debian's
 * packages); without it the test is skipped with the reason.
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { ROOT } from './helpers';

const hasSpin = spawnSync('sh', ['-c', 'command -v spin']).status === 0;

describe('model/check.sh', () => {
  it.skipIf(!hasSpin)('finds no violation in the append protocol and catches the broken variants (commit without CAS, zero-stall without CAS)', () => {
    const r = spawnSync('bash', [path.join(ROOT, 'model', 'check.sh')], { encoding: 'utf8', timeout: 900_000, env: { ...process.env, JOBS: '2' } });
    const out = `${r.stdout}\n${r.stderr}`;
    expect(r.status, out).toBe(0);
    // Each row: run expect search errors states depth secs result.
    const row = (name: string) => new RegExp(`^${name}\\s+(\\w+)\\s+\\w+\\s+(\\d+)\\s+\\d+\\s+\\d+\\s+\\d+\\s+(\\w+)`, 'm').exec(out);
    for (const name of ['three', 'reader', 'main', 'main-np', 'run3', 'run3-np', 'suspect', 'abandon']) {
      expect(row(name)?.slice(1), name).toEqual(['pass', '0', 'ok']);
    }
    for (const name of ['broken-commit', 'broken-zerostall']) {
      const r = row(name);
      expect(r?.[1], name).toBe('fail');
      expect(Number(r?.[2]), name).toBeGreaterThan(0);
    }
    expect(out).toContain('check.sh: all runs as expected');
  }, 900_000);
});
