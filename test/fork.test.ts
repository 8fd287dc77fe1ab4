import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  RecordTable,
  SharedMemory,
  ShmError,
  defineSchema,
  defineWorker,
  forkMap,
  type ChunkResult,
  type ForkMapOptions,
} from '../lib/index';
import { FIXTURES, ROOT, TS_EXEC_ARGV, exited, forkFixture, nextMessage, processGone, removeAll, shmEntries, testPrefix, waitFor } from './helpers';

const prefix = testPrefix('fork');
afterEach(() => removeAll(prefix));

const SUM = path.join(FIXTURES, 'fork-sum.ts');
/** forkMap's two ways of moving tasks and results: every run-level test runs over both. */
const TRANSPORTS = ['channel', 'ipc'] as const;

/** Runs the enclosing describe's forkMap calls over `transport` (forkMap reads the variable at each call). */
function useTransport(transport: (typeof TRANSPORTS)[number]): void {
  beforeAll(() => void (process.env.SHMKIT_FORKMAP_TRANSPORT = transport));
  afterAll(() => void delete process.env.SHMKIT_FORKMAP_TRANSPORT);
}
const TABLE = path.join(FIXTURES, 'fork-table.ts');

type SumResult = { sum: number; pid: number; inputs: number };

/** Pids of this process's children, read from /proc (not from Node's bookkeeping). */
function childPids(): number[] {
  const out: number[] = [];
  for (const tid of fs.readdirSync(`/proc/${process.pid}/task`)) {
    const text = fs.readFileSync(`/proc/${process.pid}/task/${tid}/children`, 'utf8').trim();
    if (text) out.push(...text.split(/\s+/).map(Number));
  }
  return out;
}

/** True when no process has this pid any more (kill(pid, 0) fails with ESRCH). */
function isGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/** Input, output and control segments for fork-sum.ts; `rows` input values are 0, 1, 2, … */
function setup(rows: number) {
  const input = SharedMemory.create({ size: rows * 8, prefix });
  const data = new Float64Array(input.buffer);
  for (let i = 0; i < rows; i++) data[i] = i;
  const out = SharedMemory.create({ size: rows * 8, prefix });
  const ctl = SharedMemory.create({ size: 64, prefix });
  const all = [input, out, ctl];
  return {
    input,
    data,
    out: new Float64Array(out.buffer),
    ctl: new Int32Array(ctl.buffer),
    options: (extra: Partial<ForkMapOptions> = {}): ForkMapOptions => ({
      input,
      output: { out, ctl },
      length: rows,
      execArgv: TS_EXEC_ARGV,
      ...extra,
    }),
    names: all.map((s) => s.name),
    dispose: () => all.forEach((s) => (s.close(), s.unlink())),
  };
}

/** Starts `start()`, records the worker pids it forked (fork is synchronous), awaits it. */
async function withPids<T>(start: () => Promise<T>): Promise<{ pids: number[]; outcome: PromiseSettledResult<T> }> {
  const before = new Set(childPids());
  const p = start();
  const pids = childPids().filter((pid) => !before.has(pid));
  const [outcome] = await Promise.allSettled([p]);
  return { pids, outcome: outcome! };
}

function rejection(outcome: PromiseSettledResult<unknown>): ShmError & { chunk?: { index: number; start: number; end: number }; pid?: number } {
  expect(outcome.status).toBe('rejected');
  return (outcome as PromiseRejectedResult).reason;
}

describe.each(TRANSPORTS)('forkMap() — tasks and results over %s', (transport) => {
  useTransport(transport);
  it('returns every chunk result in chunk order, writes the output in place, and leaves no process', async () => {
    const s = setup(1000);
    const progress: [number, number][] = [];
    const { pids, outcome } = await withPids(() =>
      forkMap<SumResult>(SUM, s.options({ workers: 2, chunk: 90, onProgress: (d, t) => progress.push([d, t]) })),
    );
    expect(outcome.status).toBe('fulfilled');
    const results = (outcome as PromiseFulfilledResult<SumResult[]>).value;
    expect(results).toHaveLength(12); // ceil(1000 / 90)
    results.forEach((r, k) => {
      const start = k * 90;
      const end = Math.min(start + 90, 1000);
      expect(r.sum).toBe(((start + end - 1) * (end - start)) / 2);
    });
    for (let i = 0; i < 1000; i++) expect(s.out[i]).toBe(2 * i);
    // At most two processes served twelve chunks (one may do all: the tasks are tiny), each attaching its input once.
    expect(pids).toHaveLength(2);
    expect(results.every((r) => pids.includes(r.pid))).toBe(true);
    expect(results.every((r) => r.inputs === 1)).toBe(true);
    expect(progress.map(([d]) => d)).toEqual([...progress.map(([d]) => d)].sort((a, b) => a - b));
    expect(progress.at(-1)).toEqual([1000, 1000]);
    expect(progress.every(([, t]) => t === 1000)).toBe(true);
    expect(pids.every(isGone)).toBe(true);
    s.dispose();
  });

  it('accepts a file: URL as the script and defaults the chunk size', async () => {
    const s = setup(64);
    const results = await forkMap<SumResult>(pathToFileURL(SUM), s.options({ workers: 2 }));
    expect(results).toHaveLength(8); // 4 tasks per worker
    expect(results.reduce((a, r) => a + r.sum, 0)).toBe((63 * 64) / 2);
    s.dispose();
  });

  it('maps raw-segment inputs copy-on-write, so a worker cannot change them for anyone else', async () => {
    const s = setup(100);
    s.data[42] = -Infinity; // the worker writes 0 over it
    await forkMap(SUM, s.options({ workers: 1 }));
    expect(s.data[42]).toBe(-Infinity);
    s.dispose();
  });

  it('resolves with an empty array and forks nothing when there are no rows', async () => {
    const s = setup(1);
    const { pids, outcome } = await withPids(() => forkMap(SUM, s.options({ length: 0 })));
    expect(outcome).toEqual({ status: 'fulfilled', value: [] });
    expect(pids).toEqual([]);
    s.dispose();
  });

  it('rejects with ERR_SHM_WORKER naming the chunk when a worker throws, kills every worker and keeps the segments', async () => {
    const s = setup(1000);
    s.data[250] = NaN;
    const { pids, outcome } = await withPids(() => forkMap(SUM, s.options({ workers: 2, chunk: 100 })));
    const err = rejection(outcome);
    expect(err).toBeInstanceOf(ShmError);
    expect(err.code).toBe('ERR_SHM_WORKER');
    expect(err.message).toMatch(/chunk 2 \(rows 200 to 299\) failed in worker \d+: NaN at row 250/);
    expect(err.chunk).toEqual({ index: 2, start: 200, end: 300 });
    expect(pids).toContain(err.pid);
    const cause = err.cause as Error;
    expect(cause.name).toBe('RangeError');
    expect(cause.message).toBe('NaN at row 250');
    expect(cause.stack).toContain('fork-sum.ts'); // the worker's own stack
    expect(pids).toHaveLength(2);
    expect(pids.every(isGone)).toBe(true);
    // Workers never unlink what they were given (forkMap's own channels have another prefix).
    expect(shmEntries(prefix).sort()).toEqual([...s.names].sort());
    s.dispose();
  });

  it('rejects with ERR_SHM_WORKER naming the chunk and the signal when a worker is SIGKILLed mid-task', async () => {
    const s = setup(1000);
    s.data[555] = Infinity; // that worker publishes its pid, then hangs
    const { pids, outcome } = await withPids(async () => {
      const run = forkMap(SUM, s.options({ workers: 2, chunk: 100 }));
      await Promise.race([run.catch(() => {}), waitFor(() => Atomics.load(s.ctl, 0) !== 0, 'the hanging worker', 20_000)]);
      process.kill(Atomics.load(s.ctl, 0), 'SIGKILL');
      return run;
    });
    const err = rejection(outcome);
    expect(err.code).toBe('ERR_SHM_WORKER');
    expect(err.message).toMatch(/^forkMap: worker \d+ was killed by SIGKILL while running chunk 5 \(rows 500 to 599\)$/);
    expect(err.pid).toBe(Atomics.load(s.ctl, 0));
    expect(err.chunk).toEqual({ index: 5, start: 500, end: 600 });
    expect((err.cause as { signal?: string }).signal).toBe('SIGKILL');
    expect(pids).toHaveLength(2);
    expect(pids.every(isGone)).toBe(true);
    expect(shmEntries(prefix).sort()).toEqual([...s.names].sort());
    s.dispose();
  });

  it('rejects with the abort reason, kills every worker and keeps the segments when the signal aborts', async () => {
    const s = setup(1000);
    s.data[10] = Infinity;
    const ac = new AbortController();
    const { pids, outcome } = await withPids(async () => {
      const run = forkMap(SUM, s.options({ workers: 2, chunk: 100, signal: ac.signal }));
      await Promise.race([run.catch(() => {}), waitFor(() => Atomics.load(s.ctl, 0) !== 0, 'the hanging worker', 20_000)]);
      ac.abort();
      return run;
    });
    expect(outcome.status).toBe('rejected');
    const reason = (outcome as PromiseRejectedResult).reason as DOMException;
    expect(reason).toBe(ac.signal.reason);
    expect(reason.name).toBe('AbortError');
    expect(pids).toHaveLength(2);
    expect(pids.every(isGone)).toBe(true);
    expect(shmEntries(prefix).sort()).toEqual([...s.names].sort());
    s.dispose();
  });

  it('rejects at once with the reason, forking nothing, when the signal is already aborted', async () => {
    const s = setup(10);
    const reason = new Error('stop before starting');
    const { pids, outcome } = await withPids(() => forkMap(SUM, s.options({ signal: AbortSignal.abort(reason) })));
    expect(outcome).toEqual({ status: 'rejected', reason });
    expect(pids).toEqual([]);
    s.dispose();
  });

  it('fails the run, killing the workers, when onProgress throws', async () => {
    const s = setup(1000);
    const boom = new Error('progress bar broke');
    const { pids, outcome } = await withPids(() =>
      forkMap(SUM, s.options({ workers: 2, chunk: 10, onProgress: () => { throw boom; } })),
    );
    expect(outcome).toEqual({ status: 'rejected', reason: boom });
    expect(pids.every(isGone)).toBe(true);
    s.dispose();
  });

  it('rejects with ERR_SHM_WORKER when the script exits without calling defineWorker()', async () => {
    const s = setup(10);
    const err = await forkMap(path.join(FIXTURES, 'fork-no-define.ts'), s.options({ workers: 1 })).catch((e: ShmError) => e);
    expect(err).toBeInstanceOf(ShmError);
    expect((err as ShmError).code).toBe('ERR_SHM_WORKER');
    expect((err as Error).message).toMatch(/worker \d+ exited with code 3 before taking a task/);
    s.dispose();
  });

  it('rejects with ERR_SHM_WORKER when the worker calls defineWorker() twice (the second call throws there)', async () => {
    const s = setup(10);
    const err = await forkMap(path.join(FIXTURES, 'fork-twice.ts'), s.options({ workers: 1 })).catch((e: ShmError) => e);
    expect((err as ShmError).code).toBe('ERR_SHM_WORKER');
    expect((err as Error).message).toMatch(/exited with code 1/);
    s.dispose();
  });

  it('checks its arguments before forking anything', async () => {
    const s = setup(10);
    const bad = (script: unknown, options: unknown) => forkMap(script as string, options as ForkMapOptions).catch((e: Error) => e);
    const before = childPids().length;
    await expect(bad(SUM, { input: s.input })).resolves.toMatchObject({
      name: 'TypeError',
      code: 'ERR_INVALID_ARG_VALUE',
      message: 'options.length is required when options.input holds no RecordTable',
    });
    await expect(bad(SUM, s.options({ chunk: 0 }))).resolves.toMatchObject({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
    await expect(bad(SUM, s.options({ workers: 1.5 }))).resolves.toMatchObject({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
    await expect(bad(SUM, s.options({ length: -1 }))).resolves.toMatchObject({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
    await expect(bad(SUM, { ...s.options(), input: new Float64Array(4) })).resolves.toMatchObject({
      name: 'TypeError',
      code: 'ERR_INVALID_ARG_TYPE',
    });
    await expect(bad(SUM, { ...s.options(), input: { a: 1 } })).resolves.toMatchObject({
      message: expect.stringMatching(/^options\.input\.a must be a SharedMemory or a RecordTable/),
    });
    await expect(bad(SUM, s.options({ onProgress: 5 as never }))).resolves.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
    await expect(bad(SUM, s.options({ signal: {} as never }))).resolves.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
    await expect(bad(SUM, s.options({ workerData: { f: () => 1 } }))).resolves.toMatchObject({
      name: 'TypeError',
      code: 'ERR_INVALID_ARG_VALUE',
      message: expect.stringMatching(/^options\.workerData must be structured-cloneable/),
    });
    await expect(bad(42, s.options())).resolves.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
    await expect(bad(new URL('https://example.com/w.js'), s.options())).resolves.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE' });
    await expect(bad(path.join(FIXTURES, 'no-such-worker.ts'), s.options())).resolves.toMatchObject({
      code: 'ENOENT',
      syscall: 'access',
    });
    const closed = SharedMemory.create({ size: 8, prefix });
    closed.close();
    await expect(bad(SUM, { ...s.options(), input: closed })).resolves.toMatchObject({ code: 'ERR_SHM_CLOSED' });
    closed.unlink();
    expect(childPids().length).toBe(before);
    s.dispose();
  });
});

describe('forkMap() workerData and isForkWorker()', () => {
  it('lets one file be both parent and worker, and gives every task the same structured clone of workerData', async () => {
    const r = await new Promise<{ code: number | null; out: string }>((resolve, reject) => {
      const c = spawn(process.execPath, [...TS_EXEC_ARGV, path.join(FIXTURES, 'fork-self.ts')], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      c.stdout!.on('data', (d) => (out += d));
      c.on('error', reject);
      c.on('close', (code) => resolve({ code, out }));
    });
    expect(r.code).toBe(0);
    const got = JSON.parse(r.out);
    expect(got.parentIsWorker).toBe(false);
    // 10 rows, chunks of 3: four tasks, each run in a worker that saw itself as one and got the same data.
    expect(got.results).toEqual([0, 1, 2, 3].map((i) => ({ index: i, wasWorker: true, factor: '3', tag: 7, bytes: [1, 2, 3] })));
    expect(new Set(got.pids).size).toBeGreaterThanOrEqual(1);
    expect(got.pids).not.toContain(got.parentPid);
  });
});

describe('forkMap() when its own process dies', () => {
  it('leaves no worker behind when the parent is SIGKILLed mid-run: the workers see the channel close and exit', async () => {
    const p = testPrefix('fork-parent');
    const parent = forkFixture('fork-parent', [p]);
    const ready = await nextMessage<{ ready: boolean; hanging: number }>(parent);
    expect(ready.ready).toBe(true);
    const workers = fs
      .readdirSync(`/proc/${parent.pid}/task`)
      .flatMap((tid) => fs.readFileSync(`/proc/${parent.pid}/task/${tid}/children`, 'utf8').trim().split(/\s+/))
      .filter(Boolean)
      .map(Number)
      .filter((pid) => fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('fork-sum.ts'));
    expect(workers).toHaveLength(2);
    expect(workers).toContain(ready.hanging);
    parent.kill('SIGKILL');
    await exited(parent);
    await waitFor(() => workers.every(processGone), 'the orphaned workers to exit', 10_000);
    // The dead parent's own segments are cleaned up by its owner tracker.
    await waitFor(() => shmEntries(p).length === 0, "the dead parent's segments to be unlinked", 10_000);
    // forkMap's own channels and board too.
    await waitFor(
      () => SharedMemory.list({ prefix: 'shmkit-fork' }).every((e) => e.owner?.pid !== parent.pid),
      "the dead parent's forkMap channels to be unlinked",
      10_000,
    );
  });
});

describe.each(TRANSPORTS)('forkMap() over record tables — %s', (transport) => {
  useTransport(transport);
  const In = defineSchema({ x: 'float64', tag: { category: ['keep', 'drop'] } });
  const Out = defineSchema({ y: 'float64' });
  type TableResult = { kept: number; pid: number; inputs: number; length: number };

  function tables(rows: number) {
    const input = RecordTable.create(In, { capacity: rows, prefix });
    const x = Float64Array.from({ length: rows }, (_, i) => i);
    const tag = Uint8Array.from({ length: rows }, (_, i) => (i % 3 === 0 ? 1 : 0)); // every third row 'drop'
    input.appendMany({ x, tag });
    const output = RecordTable.create(Out, { capacity: rows, prefix });
    output.appendMany({ y: new Float64Array(rows) }); // sized in the parent; workers write in place
    return { input, output, dispose: () => [input, output].forEach((t) => (t.close(), t.unlink())) };
  }

  it('takes the row count from the input table, returns results in chunk order and fills the output table', async () => {
    const t = tables(1000);
    const { pids, outcome } = await withPids(() =>
      forkMap<TableResult>(TABLE, { input: t.input, output: t.output, workers: 2, chunk: 64, execArgv: TS_EXEC_ARGV }),
    );
    expect(outcome.status).toBe('fulfilled');
    const results = (outcome as PromiseFulfilledResult<TableResult[]>).value;
    expect(results).toHaveLength(16);
    results.forEach((r, k) => {
      let kept = 0;
      for (let i = k * 64; i < Math.min(k * 64 + 64, 1000); i++) if (i % 3 !== 0) kept++;
      expect(r.kept).toBe(kept);
      expect(r.inputs).toBe(1);
      expect(r.length).toBe(1000);
    });
    const y = t.output.column('y') as Float64Array;
    for (let i = 0; i < 1000; i++) expect(y[i]).toBe(i % 3 === 0 ? -1 : 2 * i);
    expect(pids.every(isGone)).toBe(true);
    t.dispose();
  });

  it('accepts an object of tables and segments as input, attaching each one in the workers', async () => {
    const t = tables(100);
    const extra = SharedMemory.create({ size: 24, prefix });
    const results = await forkMap<TableResult & { extra: number }>(TABLE, {
      input: { t: t.input, extra },
      output: t.output,
      workers: 1,
      chunk: 50,
      execArgv: TS_EXEC_ARGV,
    });
    expect(results.map((r) => r.extra)).toEqual([24, 24]);
    expect(results.map((r) => r.length)).toEqual([100, 100]); // the row count came from the map's table
    extra.close();
    extra.unlink();
    t.dispose();
  });

  it('attaches input tables read-only in the workers: set() there throws ERR_SHM_READONLY', async () => {
    const t = tables(10);
    t.input.set(4, { x: -1 });
    const err = await forkMap(TABLE, { input: t.input, output: t.output, workers: 1, chunk: 10, execArgv: TS_EXEC_ARGV }).catch((e: ShmError) => e);
    expect((err as ShmError).code).toBe('ERR_SHM_WORKER');
    expect((err as ShmError).message).toMatch(/chunk 0 \(rows 0 to 9\) failed in worker \d+: /);
    expect(((err as ShmError).cause as { code?: string }).code).toBe('ERR_SHM_READONLY');
    expect(t.input.get(4).x).toBe(-1);
    t.dispose();
  });

  it('asks for options.length when the input tables differ in length', async () => {
    const a = tables(10);
    const b = tables(20);
    const err = await forkMap(TABLE, { input: { a: a.input, b: b.input }, execArgv: TS_EXEC_ARGV }).catch((e: Error) => e);
    expect(err).toMatchObject({ name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE' });
    expect((err as Error).message).toBe('options.input holds tables of different lengths (options.input.a: 10, options.input.b: 20); pass options.length');
    a.dispose();
    b.dispose();
  });
});

describe.each(TRANSPORTS)('forkMap.stream() — %s', (transport) => {
  useTransport(transport);
  it('yields every chunk exactly once, as each completes, with its rows and result', async () => {
    const s = setup(500);
    const seen: ChunkResult<SumResult>[] = [];
    for await (const r of forkMap.stream<SumResult>(SUM, s.options({ workers: 2, chunk: 50 }))) seen.push(r);
    expect(seen.map((r) => r.index).sort((a, b) => a - b)).toEqual([...Array(10).keys()]);
    for (const r of seen) {
      expect(r.start).toBe(r.index * 50);
      expect(r.end).toBe(r.start + 50);
      expect(r.result.sum).toBe(((r.start + r.end - 1) * 50) / 2);
    }
    s.dispose();
  });

  it('kills and waits for the workers when the consumer leaves the loop early', async () => {
    const s = setup(10_000);
    const before = new Set(childPids());
    let pids: number[] = [];
    let got = 0;
    for await (const r of forkMap.stream<SumResult>(SUM, s.options({ workers: 2, chunk: 10 }))) {
      pids = childPids().filter((p) => !before.has(p));
      expect(r.result.pid).toBeGreaterThan(0);
      got++;
      break;
    }
    expect(got).toBe(1);
    expect(pids).toHaveLength(2);
    expect(pids.every(isGone)).toBe(true);
    s.dispose();
  });

  it('throws the same ERR_SHM_WORKER error as forkMap when a worker throws', async () => {
    const s = setup(100);
    s.data[77] = NaN;
    let caught: unknown;
    try {
      for await (const r of forkMap.stream(SUM, s.options({ workers: 1, chunk: 10 }))) void r;
    } catch (e) {
      caught = e;
    }
    expect((caught as ShmError).code).toBe('ERR_SHM_WORKER');
    expect((caught as Error).message).toMatch(/chunk 7 \(rows 70 to 79\) failed in worker \d+: NaN at row 77/);
    s.dispose();
  });
});

describe('defineWorker()', () => {
  it('throws ERR_SHM_WORKER in a process that forkMap did not start', () => {
    // This vitest worker has an IPC channel of its own; defineWorker must not take it over.
    expect(() => defineWorker(() => 0)).toThrow(
      expect.objectContaining({ code: 'ERR_SHM_WORKER', message: 'defineWorker() must run in a process started by forkMap()' }),
    );
  });

  it('throws a TypeError when given something other than a function', () => {
    expect(() => defineWorker(42 as never)).toThrow(expect.objectContaining({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' }));
  });
});

describe('examples/genome-matrix', () => {
  const dir = path.join(ROOT, 'examples', 'genome-matrix');
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const T = require(path.join(dir, 'transform.js')) as { haplotype(ref: string, samples: string[]): string[] };
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { generate } = require(path.join(dir, 'generate.js')) as { generate(file: string, rows: number, seed?: number): number };

  /** Runs one strategy script (plain JS over dist/) and resolves with its exit code and stderr. */
  const runScript = (script: string, args: string[]) =>
    new Promise<{ code: number | null; stderr: string }>((resolve, reject) => {
      const child = spawn(process.execPath, [path.join(dir, script), ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr!.on('data', (d) => (stderr += d));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, stderr }));
    });
  const sha = (file: string) => createHash('sha256').update(fs.readFileSync(file)).digest('hex');

  it('writes byte-identical TSV the shmkit way and the naive way, each row the shared transform of its input row', async () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shmkit-genome-test-'));
    try {
      const input = path.join(tmp, 'in.tsv');
      generate(input, 5000, 7);
      const p = testPrefix('genome');
      const shm = await runScript('shmkit.js', [input, path.join(tmp, 'shm.tsv'), '--chunk', '700', '--prefix', p]);
      expect(shm).toEqual({ code: 0, stderr: '' });
      const naive = await runScript('naive.js', [input, path.join(tmp, 'naive.tsv'), '--chunk', '700']);
      expect(naive).toEqual({ code: 0, stderr: '' });
      expect(sha(path.join(tmp, 'shm.tsv'))).toBe(sha(path.join(tmp, 'naive.tsv')));
      const inRows = fs.readFileSync(input, 'latin1').trimEnd().split('\n');
      const outRows = fs.readFileSync(path.join(tmp, 'shm.tsv'), 'latin1').trimEnd().split('\n');
      expect(outRows).toHaveLength(5001);
      expect(outRows[0]!.split('\t')).toHaveLength(4 + 16);
      for (const k of [1, 2, 2500, 5000]) {
        const f = inRows[k]!.split('\t');
        expect(outRows[k]).toBe([f[0], f[1], f[2], ...T.haplotype(f[2]!, f.slice(3))].join('\t'));
      }
      expect(shmEntries(p)).toEqual([]); // the tables were unlinked
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('rejects a malformed row, naming the file and line, and leaves no table behind', async () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shmkit-genome-test-'));
    try {
      const input = path.join(tmp, 'in.tsv');
      generate(input, 10, 7);
      const lines = fs.readFileSync(input, 'latin1').split('\n');
      lines[3] = lines[3]!.replace(/\t[ACGTN-]$/, '\tX'); // S31 of data row 3 (line 4)
      fs.writeFileSync(input, lines.join('\n'));
      const p = testPrefix('genome-bad');
      const r = await runScript('shmkit.js', [input, path.join(tmp, 'out.tsv'), '--prefix', p]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`${input}:4: sample 31 is not one of A C G T N -`);
      expect(shmEntries(p)).toEqual([]);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });
});
