/**
 * forkMap's channel transport (lib/fork/lanes.ts): tasks and results through
 * two shared-memory channels, the IPC pipe kept for control. The run-level
 * behaviour (errors, aborts, deaths, tables) is tested over both transports
 * in fork.test.ts; these are the cases only the channels have.
 */
import { afterEach, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SharedMemory, ShmError, forkMap } from '../lib/index';
import { FIXTURES, TS_EXEC_ARGV, cannotUnshare, runFixture } from './helpers';
import { rng as seeded } from './rng';

const ECHO = path.join(FIXTURES, 'fork-echo.ts');
const base = { execArgv: TS_EXEC_ARGV };
type Echo = { index: number; start: number; end: number; pid: number };

/** Pids of this process's children, from /proc. */
function childPids(): number[] {
  return fs
    .readdirSync(`/proc/${process.pid}/task`)
    .flatMap((tid) => fs.readFileSync(`/proc/${process.pid}/task/${tid}/children`, 'utf8').trim().split(/\s+/))
    .filter(Boolean)
    .map(Number);
}

/** forkMap's own segments (two channels and the board) that this process owns now. */
const ownLanes = () => SharedMemory.list({ prefix: 'shmkit-fork' }).filter((e) => e.owner?.pid === process.pid);

afterEach(() => void delete process.env.SHMKIT_FORKMAP_TRANSPORT);

describe('forkMap over channels', () => {
  it('runs 5,000 one-row chunks (about five times the task ring) through its channels: every result once, in order, nothing left after', async () => {
    let during: ReturnType<typeof ownLanes> = [];
    const results = await forkMap<Echo>(ECHO, {
      ...base,
      length: 5000,
      chunk: 1,
      workers: 2,
      onProgress: (done) => void (done === 1 && (during = ownLanes())),
    });
    expect(results.map((r) => r.index)).toEqual([...Array(5000).keys()]);
    expect(results.every((r, i) => r.start === i && r.end === i + 1)).toBe(true);
    expect(new Set(results.map((r) => r.pid)).size).toBeLessThanOrEqual(2);
    // Mid-run the parent owned the two channels and the board; after the run, nothing.
    expect(during.map((e) => e.kind).sort()).toEqual(['channel', 'channel', 'raw']);
    expect(ownLanes()).toEqual([]);
  });

  it('brings back every kind of result exactly as the child.send transport does', async () => {
    const values = [42.5, -0, NaN, 2 ** 53 + 2, 'héllo ✓', '', null, undefined, true, false, new Uint8Array([1, 2, 3]), Buffer.from('buf'), { a: 1n, m: new Map([[1, 'x']]), d: new Date(0) }, [1, [2, 'x']]];
    const options = { ...base, length: values.length, chunk: 1, workers: 2, workerData: { values } };
    const viaChannel = await forkMap(ECHO, options);
    process.env.SHMKIT_FORKMAP_TRANSPORT = 'ipc';
    const viaIpc = await forkMap(ECHO, options);
    expect(viaChannel).toStrictEqual(viaIpc); // same values and the same classes (Buffer stays Buffer)
    expect(viaChannel.slice(0, 11)).toStrictEqual(values.slice(0, 11));
    expect(Object.is(viaChannel[1], -0)).toBe(true);
  });

  it('sends a result too large for its results ring (1 MiB) over IPC instead', async () => {
    const results = await forkMap(ECHO, { ...base, length: 4, chunk: 1, workers: 2, workerData: { bigAt: 2, bigBytes: 3 << 20 } });
    const big = results[2] as Uint8Array;
    expect(big).toBeInstanceOf(Uint8Array);
    expect(big.length).toBe(3 << 20);
    expect(big.every((b) => b === 2)).toBe(true);
    expect((results[3] as Echo).index).toBe(3);
    expect(ownLanes()).toEqual([]);
  });

  it('fails with ERR_SHM_WORKER naming the chunk when a result cannot be cloned, and unlinks its channels', async () => {
    const err = (await forkMap(ECHO, { ...base, length: 6, chunk: 1, workers: 2, workerData: { fnAt: 4 } }).catch((e: unknown) => e)) as ShmError & {
      chunk: unknown;
    };
    expect(err).toBeInstanceOf(ShmError);
    expect(err.code).toBe('ERR_SHM_WORKER');
    expect(err.message).toMatch(/chunk 4 \(rows 4 to 4\) failed in worker \d+: the result of chunk 4 cannot be sent to the parent/);
    expect(err.chunk).toEqual({ index: 4, start: 4, end: 5 });
    expect(ownLanes()).toEqual([]);
  });

  it('fails cleanly, never hangs or loses a result silently, when a worker is SIGKILLed at a random point mid-run', async () => {
    const rng = seeded(0x5eed);
    const outcomes: string[] = [];
    for (let round = 0; round < 6; round++) {
      const before = new Set(childPids());
      const at = 1 + Math.floor(rng() * 10_000); // chunks done when the kill comes: mid-run
      let victim = 0;
      const run = forkMap<Echo>(ECHO, {
        ...base,
        length: 20_000,
        chunk: 1,
        workers: 2,
        onProgress: (done) => {
          if (done !== at) return;
          victim = pids[Math.floor(rng() * 2)]!;
          process.kill(victim, 'SIGKILL');
        },
      });
      const pids = childPids().filter((p) => !before.has(p));
      expect(pids).toHaveLength(2);
      // (The victim may be one that had not started yet: the other can do thousands of one-row chunks first.)
      const [r] = await Promise.allSettled([run]);
      if (r!.status === 'fulfilled') {
        expect(r.value.map((x) => x.index)).toEqual([...Array(20_000).keys()]);
        outcomes.push('finished');
      } else {
        const err = r.reason as ShmError & { pid: number };
        expect(err.code).toBe('ERR_SHM_WORKER');
        expect(err.message).toMatch(new RegExp(`^forkMap: worker ${victim} was killed by SIGKILL (while running chunk \\d+|between chunks|before taking a task)`));
        expect(err.pid).toBe(victim);
        outcomes.push('failed');
      }
      expect(pids.every((p) => !fs.existsSync(`/proc/${p}`) || fs.readFileSync(`/proc/${p}/stat`, 'utf8').split(' ')[2] === 'Z')).toBe(true);
      expect(ownLanes()).toEqual([]);
    }
    // A run whose victim held no chunk may still finish if the survivor ends the work before the exit is
    // seen (complete and correct, as checked above); a death is seen mid-stream (the result pump yields to the
    // event loop), so most runs fail.
    expect(outcomes.filter((o) => o === 'failed').length, outcomes.join()).toBeGreaterThanOrEqual(3);
  });

  it('refuses an unknown SHMKIT_FORKMAP_TRANSPORT before forking anything', async () => {
    process.env.SHMKIT_FORKMAP_TRANSPORT = 'pipes';
    const err = (await forkMap(ECHO, { ...base, length: 1 }).catch((e: unknown) => e)) as Error & { code?: string };
    expect(err).toBeInstanceOf(TypeError);
    expect(err.code).toBe('ERR_INVALID_ARG_VALUE');
    expect(err.message).toMatch(/SHMKIT_FORKMAP_TRANSPORT.*'channel' or 'ipc', got 'pipes'/);
  });
});


describe('forkMap on a /dev/shm too small for its channels', () => {
  it.skipIf(cannotUnshare() !== undefined)('falls back to child.send and still returns every result', async () => {
    const r = await runFixture('fork-small-shm', [], [
      'unshare', '-m', '--propagation', 'private', '--',
      'sh', '-c', 'mount -t tmpfs -o size=256k tmpfs /dev/shm && exec "$@"', 'sh',
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.indexes).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(out.lanes).toBe(0); // the 1 MiB results ring did not fit: no channels, nothing half-made
  });
});
