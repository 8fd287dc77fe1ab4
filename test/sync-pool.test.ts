/**
 * The waiter pool behind waitAsync (native/waiter_pool.cc): many pending
 * waits on few threads, grouped per word, settled by notify from another
 * process, by timeout or at once; the mapping pinned while waits are pending;
 * worker teardown; the fallback without futex_waitv.
 */
import { describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import { spawnSync, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { SharedMemory, notify, waitAsync } from '../lib/index';
import { binding } from '../lib/binding';
import { ROOT, forkFixture, nextMessage, runFixture, testScope, waitFor } from './helpers';

const { fresh, children } = testScope('sync-pool');

interface Reply {
  ok: boolean;
  code?: string;
  message?: string;
  result?: string;
  results?: string[];
  woken?: number;
  stats?: ReturnType<typeof binding.futexPoolStats>;
}

/** A sync-child.ts attached to `seg`; `env` adds to its environment. */
async function child(seg: SharedMemory, env: Record<string, string> = {}): Promise<ChildProcess> {
  const c = forkFixture('sync-child', [], { env: { ...process.env, ...env } });
  children.push(c);
  await nextMessage(c);
  await ask(c, { op: 'attach', name: seg.name });
  return c;
}

let asked = 0;

/** Sends `cmd` and resolves with its own reply (matched by id: several may be in flight). */
function ask(c: ChildProcess, cmd: object): Promise<Reply> {
  const id = ++asked;
  return new Promise((resolve, reject) => {
    const onMessage = (m: Reply & { id?: number }) => {
      if (m.id !== id) return;
      cleanup();
      resolve(m);
    };
    const onExit = (code: number | null, signal: string | null) => {
      cleanup();
      reject(new Error(`child exited (code ${code}, signal ${signal}) before answering`));
    };
    const cleanup = () => {
      c.off('message', onMessage);
      c.off('exit', onExit);
    };
    c.on('message', onMessage);
    c.on('exit', onExit);
    c.send({ ...cmd, id });
  });
}

/** Asks `cmd` again (every 10 ms) until `check` accepts a reply. */
async function askUntil(c: ChildProcess, cmd: object, check: (r: Reply) => boolean, what: string): Promise<Reply> {
  for (let tries = 0; tries < 500; tries++) {
    const r = await ask(c, cmd);
    if (check(r)) return r;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

function segment(size = 4096): SharedMemory {
  return SharedMemory.create({ name: fresh(), size });
}

function done(seg: SharedMemory): void {
  seg.close();
  seg.unlink();
}

const threads = () => fs.readdirSync('/proc/self/task').length;
const mapsLines = () => fs.readFileSync('/proc/self/maps', 'utf8').split('\n').length;
/** Lines of /proc/self/maps that map segment `name`. */
const mappingsOf = (name: string) =>
  fs.readFileSync('/proc/self/maps', 'utf8').split('\n').filter((l) => l.includes(`/dev/shm/${name}`)).length;

/** `p`'s result and when it settled, in ms after `t0`. */
async function timed<T>(p: Promise<T>, t0: number): Promise<[T, number]> {
  const r = await p;
  return [r, performance.now() - t0];
}

function tally(results: string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const r of results) counts[r] = (counts[r] ?? 0) + 1;
  return counts;
}

describe('waitAsync() waiter pool', () => {
  it('settles 10,000 pending waits over 2,000 words on fewer than 64 threads: by notify from another process, by timeout, or not-equal at once', async () => {
    const seg = segment(4 * 4096);
    const i32 = new Int32Array(seg.buffer);
    const c = await child(seg);
    const threadsBefore = threads();
    const mapsBefore = mapsLines();
    const t0 = performance.now();
    // Words 0..999: 5 waits each, no timeout, to be notified by the child.
    const notified = Array.from({ length: 5000 }, (_, k) => waitAsync(i32, k % 1000, 0));
    // Words 1000..1999: 5 waits each with timeouts of 300..500 ms.
    const deadlines = Array.from({ length: 5000 }, (_, k) => 300 + (k % 5) * 50);
    const expiring = deadlines.map((ms, k) => timed(waitAsync(i32, 1000 + (k % 1000), 0, ms), t0));
    expect(threads()).toBeLessThan(64);
    expect(mapsLines() - mapsBefore).toBeLessThan(1000);
    expect(threads() - threadsBefore).toBeLessThanOrEqual(32);
    const stats = binding.futexPoolStats();
    expect(stats.groups).toBe(2000); // one per word
    if (stats.waitv) expect(stats.spilled).toBe(0);
    // Words 2000..2999 hold 0: waits expecting 1 settle at once.
    const unequal = Array.from({ length: 1000 }, (_, k) => waitAsync(i32, 2000 + k, 1, 60_000));
    expect(tally(await Promise.all(unequal))).toEqual({ 'not-equal': 1000 });

    const reply = await ask(c, { op: 'notifyRange', from: 0, to: 1000, store: 1 });
    expect(reply.ok).toBe(true);
    expect(reply.woken).toBeLessThanOrEqual(1000); // one kernel waiter per word, however many waits
    expect(tally(await Promise.all(notified))).toEqual({ ok: 5000 });
    const ends = await Promise.all(expiring);
    expect(tally(ends.map(([r]) => r))).toEqual({ 'timed-out': 5000 });
    for (const [k, [, at]] of ends.entries()) expect(at).toBeGreaterThanOrEqual(deadlines[k]! - 1);
    expect(binding.futexPoolStats()).toMatchObject({ groups: 0, waits: 0 });
    done(seg);
  });

  it('settles 10,000 pending waits on one word: timeouts, a notify without a change settles the oldest, a change and notify the rest', async () => {
    const seg = segment();
    const i32 = new Int32Array(seg.buffer);
    const c = await child(seg);
    const mapsBefore = mapsLines();
    const expiring = Array.from({ length: 4000 }, () => waitAsync(i32, 7, 0, 300));
    const settled = new Map<number, string>();
    const forever = Array.from({ length: 6000 }, (_, k) => waitAsync(i32, 7, 0).then((r) => settled.set(k, r)));
    expect(threads()).toBeLessThan(64);
    expect(mapsLines() - mapsBefore).toBeLessThan(1000);
    expect(binding.futexPoolStats()).toMatchObject({ groups: 1, waits: 10_000 });
    expect(tally(await Promise.all(expiring))).toEqual({ 'timed-out': 4000 });

    // The value is unchanged: the one kernel waiter is woken and settles the oldest wait.
    await askUntil(c, { op: 'notify', index: 7, count: 1 }, (r) => r.woken === 1, 'a bare notify to land');
    await waitFor(() => settled.size > 0, 'the oldest wait to settle');
    expect(settled.get(0)).toBe('ok');
    expect(settled.size).toBeLessThan(6000);
    // Change, then notify once: everything left settles.
    expect(await ask(c, { op: 'notify', index: 7, store: 1, count: 1 })).toMatchObject({ ok: true });
    await Promise.all(forever);
    expect(tally([...settled.values()])).toEqual({ ok: 6000 });
    const unequal = Array.from({ length: 1000 }, () => waitAsync(i32, 7, 0, 60_000));
    expect(tally(await Promise.all(unequal))).toEqual({ 'not-equal': 1000 });
    done(seg);
  });

  it('spills words beyond 32 × 127 to a poll that still sees changes of value and deadlines', async () => {
    const seg = segment(4 * 8192);
    const i32 = new Int32Array(seg.buffer);
    const c = await child(seg);
    // 5,000 words, one wait each: even words wait for a change, odd ones time
    // out (late enough that none has by the time all 5,000 are queued, even
    // on a loaded machine).
    const waits = Array.from({ length: 5000 }, (_, k) => waitAsync(i32, k, 0, k % 2 ? 2000 : undefined));
    const stats = binding.futexPoolStats();
    expect(stats.threads).toBeLessThanOrEqual(32);
    expect(stats.spilled, JSON.stringify(stats)).toBe(5000 - stats.threads * (stats.waitv ? 127 : 1));
    expect(stats.spilled).toBeGreaterThan(0);
    expect(tally(await Promise.all(waits.filter((_, k) => k % 2)))).toEqual({ 'timed-out': 2500 });
    expect(await ask(c, { op: 'notifyRange', from: 0, to: 5000, store: 1 })).toMatchObject({ ok: true });
    expect(tally(await Promise.all(waits.filter((_, k) => k % 2 === 0)))).toEqual({ ok: 2500 });
    expect(binding.futexPoolStats()).toMatchObject({ groups: 0, spilled: 0, waits: 0 });
    done(seg);
  });

  it('gives each of up to 32 pending words a thread of its own, so bare notifies to different words all land', async () => {
    const seg = segment();
    const i32 = new Int32Array(seg.buffer);
    const pending = Array.from({ length: 30 }, (_, i) => waitAsync(i32, i, 0));
    expect(binding.futexPoolStats().threads).toBeGreaterThanOrEqual(30);
    // Each round notifies every word still waiting, without changing it; a
    // notify the kernel counts as a wake is one that settles a wait.
    let woken = 0;
    await waitFor(() => {
      for (let i = 0; i < 30; i++) woken += notify(i32, i);
      return woken >= 30;
    }, 'all 30 waiters woken');
    expect(woken).toBe(30);
    expect(await Promise.all(pending)).toEqual(pending.map(() => 'ok'));
    done(seg);
  });

  it('keeps a closed segment mapped while waits are pending, settles them, then unmaps it', async (ctx) => {
    // A closed SharedArrayBuffer is zero pages instead (README, Closing under a wait; test/sab.test.ts, test/sync.test.ts).
    if (SharedMemory.bufferKind !== 'external') return ctx.skip();
    const seg = segment();
    const name = seg.name;
    const i32 = new Int32Array(seg.buffer);
    const c = await child(seg);
    const woken = [0, 1, 2, 2, 2].map((i) => waitAsync(i32, i, 0));
    const expiring = waitAsync(i32, 3, 0, 300);
    seg.close();
    expect(i32.length).toBe(0);
    expect(mappingsOf(name)).toBe(1); // still mapped: the waits pin it
    expect(await ask(c, { op: 'notifyRange', from: 0, to: 3, store: 1 })).toMatchObject({ ok: true });
    expect(await Promise.all(woken)).toEqual(['ok', 'ok', 'ok', 'ok', 'ok']);
    expect(mappingsOf(name)).toBe(1); // one wait still pending
    expect(await expiring).toBe('timed-out');
    expect(mappingsOf(name)).toBe(0);
    seg.unlink();
  });

  it('keeps a garbage-collected segment mapped until its pending wait settles', async () => {
    const r = await runFixture('sync-pending', [fresh(), 'gc']);
    expect(r.stderr).toBe('');
    expect(r.stdout.split('\n')).toEqual(['collected, mappings 2', 'ok', 'mappings 1', '']);
    expect(r.code).toBe(0);
  });

  it('lets a worker thread with 2,000 pending waits be terminated while the main thread\'s waits carry on', async () => {
    const r = await runFixture('sync-pending', [fresh(), 'workers']);
    expect(r.stderr).toBe('');
    expect(r.stdout.split('\n')).toEqual([
      'waiting',
      'terminated 1',
      'worker mapping gone, its waits gone true',
      'main ok×300, timed-out×100',
      '',
    ]);
    expect(r.signal).toBe(null);
    expect(r.code).toBe(0);
  });
});

describe('waitAsync() without futex_waitv (SHMKIT_NO_FUTEX_WAITV=1)', () => {
  const fallback = { SHMKIT_NO_FUTEX_WAITV: '1' };

  it('resolves not-equal at once and times out after its timeout', async () => {
    const seg = segment();
    const c = await child(seg, fallback);
    expect((await ask(c, { op: 'poolStats' })).stats).toMatchObject({ waitv: false });
    new Int32Array(seg.buffer)[1] = 5;
    expect(await ask(c, { op: 'waitAsync', index: 1, expected: 4, timeout: 10_000 })).toMatchObject({ result: 'not-equal' });
    const t = performance.now();
    expect(await ask(c, { op: 'waitAsync', index: 2, expected: 0, timeout: 150 })).toMatchObject({ result: 'timed-out' });
    expect(performance.now() - t).toBeGreaterThanOrEqual(149);
    done(seg);
  });

  it('is woken by a bare notify from another process, and by a change then notify', async () => {
    const seg = segment();
    const i32 = new Int32Array(seg.buffer);
    const c = await child(seg, fallback);
    const bare = ask(c, { op: 'waitAsync', index: 9, expected: 0, timeout: 30_000 });
    await waitFor(() => notify(i32, 9) === 1, "the child's wait to be woken");
    expect(await bare).toMatchObject({ ok: true, result: 'ok' });
    const many = ask(c, { op: 'waitAsyncMany', indexes: [10, 11, 11, 12], expected: 0, timeout: 30_000 });
    await askUntil(c, { op: 'poolStats' }, (r) => r.stats?.groups === 3, 'the child to start its waits');
    // Whether the child's threads are asleep yet or not: a changed value is never missed.
    for (const i of [10, 11, 12]) {
      Atomics.store(i32, i, 1);
      notify(i32, i);
    }
    expect(await many).toMatchObject({ ok: true, results: ['ok', 'ok', 'ok', 'ok'] });
    done(seg);
  });

  it('serves more words than threads: one thread per word, the rest polled', async () => {
    const seg = segment();
    const i32 = new Int32Array(seg.buffer);
    const c = await child(seg, fallback);
    const indexes = Array.from({ length: 40 }, (_, k) => k);
    const many = ask(c, { op: 'waitAsyncMany', indexes, expected: 0, timeout: 30_000 });
    const expiring = ask(c, { op: 'waitAsyncMany', indexes: [100, 101], expected: 0, timeout: 1000 });
    const { stats } = await askUntil(c, { op: 'poolStats' }, (r) => r.stats?.groups === 42, 'the child to start its waits');
    expect(stats).toMatchObject({ waitv: false, threads: 32 });
    expect(stats!.spilled).toBe(42 - stats!.threads); // one word per thread, the rest polled
    expect(await expiring).toMatchObject({ ok: true, results: ['timed-out', 'timed-out'] });
    for (const i of indexes) {
      Atomics.store(i32, i, 1);
      notify(i32, i);
    }
    expect((await many).results).toEqual(indexes.map(() => 'ok'));
    done(seg);
  });
});

describe('the addon under its own threads', () => {
  const hasReadelf = spawnSync('sh', ['-c', 'command -v readelf']).status === 0;
  it.skipIf(process.platform !== 'linux' || !hasReadelf)('is linked -z nodelete, so Node cannot unload it under its pool, watcher and signal handlers', () => {
    const out = spawnSync('readelf', ['-d', path.join(ROOT, 'build', 'Release', 'shmkit.node')], { encoding: 'utf8' }).stdout;
    expect(out).toMatch(/FLAGS_1\)\s+Flags:.*\bNODELETE\b/);
  });
});
