import { describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { generateName } from '../lib/names';
import { DEFAULT_NAME, leaks } from './leak-check';
import { exited, ROOT, waitFor } from './helpers';

describe('leaks()', () => {
  const run = 'abc123';

  it('reports, sorted, the new entries under this run\'s prefix and the new default names', () => {
    const after = ['old', `shmkit-test-${run}-segment-1a2b3c4d-0`, 'shmkit-0123456789abcdef'];
    expect(leaks(['old'], after, run)).toEqual(['shmkit-0123456789abcdef', `shmkit-test-${run}-segment-1a2b3c4d-0`]);
  });

  it('ignores what was there at the start', () => {
    const both = [`shmkit-test-${run}-x-0`, 'shmkit-0123456789abcdef'];
    expect(leaks(both, both, run)).toEqual([]);
  });

  it('ignores foreign entries, other runs and names that only look like ours', () => {
    const after = [
      '.org.chromium.Chromium.a1b2c3',
      'PostgreSQL.1804289383',
      'sem.mp-x',
      'shmkit-test-abc12-x-0', // another run, whose id is a prefix of ours
      `shmkit-test-${run}x-0`,
      'shmkit-demo-0123456789abcdef',
      'shmkit-0123456789abcde',
      'shmkit-0123456789ABCDEF',
    ];
    expect(leaks([], after, run)).toEqual([]);
  });

  it('recognises the names generateName() makes by default', () => {
    for (let i = 0; i < 20; i++) expect(generateName()).toMatch(DEFAULT_NAME);
  });
});

describe('the global teardown, in a real nested vitest run', () => {
  /** Runs test/fixtures/leak-run.fixture.ts under its own run id and the real global setup. */
  function nested(mode: 'clean' | 'leak'): Promise<{ code: number | null; output: string; names: string[] }> {
    const report = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'shmkit-leak-run-')), 'names.json');
    // Not this run's vitest variables: the nested vitest is a run of its own.
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('VITEST')));
    Object.assign(env, {
      SHMKIT_TEST_RUN: randomBytes(3).toString('hex'),
      SHMKIT_LEAK_FIXTURE: mode,
      SHMKIT_LEAK_REPORT: report,
    });
    const vitest = path.join(ROOT, 'node_modules', 'vitest', 'vitest.mjs');
    const child = spawn(process.execPath, [vitest, 'run', '--config', 'test/fixtures/leak-run.config.mts'], {
      cwd: ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    return new Promise((resolve, reject) => {
      child.on('error', reject);
      child.on('close', (code) => {
        const names = fs.existsSync(report) ? (JSON.parse(fs.readFileSync(report, 'utf8')) as string[]) : [];
        fs.rmSync(path.dirname(report), { recursive: true, force: true });
        resolve({ code, output, names });
      });
    });
  }

  /*
   * Another process's traffic in /dev/shm: every 5 ms it creates an entry
   * (a browser's, a database's, a semaphore, another test run's) and removes
   * the oldest, keeping the last 8. argv: <token> <other run id>.
   */
  const CHURN = `
    const fs = require('node:fs');
    const [tok, other] = process.argv.slice(1);
    const kinds = [
      (i) => '.org.chromium.Chromium.' + tok + '.' + i,
      (i) => 'PostgreSQL.' + tok + '.' + i,
      (i) => 'sem.' + tok + '.' + i,
      (i) => 'shmkit-test-' + other + '-foreign-' + tok + '-' + i,
    ];
    const live = [];
    let i = 0;
    setInterval(() => {
      const name = kinds[i % kinds.length](i++);
      fs.writeFileSync('/dev/shm/' + name, 'x');
      live.push(name);
      while (live.length > 8) fs.rmSync('/dev/shm/' + live.shift(), { force: true });
    }, 5);`;
  const churned = (tok: string) => fs.readdirSync('/dev/shm').filter((n) => n.includes(tok));
  const index = (name: string) => Number(/(\d+)$/.exec(name)![1]);

  it('passes while another process keeps creating and removing entries of its own', async () => {
    const tok = randomBytes(4).toString('hex');
    const churner = spawn(process.execPath, ['-e', CHURN, tok, randomBytes(3).toString('hex')], { stdio: 'ignore' });
    try {
      await waitFor(() => churned(tok).length >= 8, 'the other process to get going');
      const startedAt = Math.max(...churned(tok).map(index));
      const r = await nested('clean');
      const atEnd = churned(tok);
      expect(r.code, r.output).toBe(0);
      expect(r.names).toHaveLength(2); // the fixture ran, and removed what it made:
      for (const n of r.names) expect(fs.existsSync(`/dev/shm/${n}`)).toBe(false);
      // ...while /dev/shm held only entries the other process made after the nested run began.
      expect(atEnd.length).toBeGreaterThan(0);
      expect(Math.min(...atEnd.map(index))).toBeGreaterThan(startedAt);
    } finally {
      churner.kill('SIGKILL');
      await exited(churner);
      for (const n of churned(tok)) fs.rmSync(`/dev/shm/${n}`, { force: true });
    }
  });

  it('fails, naming them, when a test leaves a segment under its prefix and one with a default name', async () => {
    const r = await nested('leak');
    try {
      expect(r.names).toHaveLength(2);
      expect(r.output).toMatch(/1 passed/); // the test itself passed: the teardown failed the run
      expect(r.code).not.toBe(0);
      expect(r.output).toContain(`tests left 2 entries in /dev/shm: ${[...r.names].sort().join(', ')}`);
    } finally {
      for (const n of r.names) fs.rmSync(`/dev/shm/${n}`, { force: true });
    }
  });
});
