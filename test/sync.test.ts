import { describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { Mutex, SharedMemory, ShmError, notify, waitAsync, waitSync } from '../lib/index';
import { FIXTURES, TS_EXEC_ARGV, exited, forkFixture, nextMessage, runFixture, testScope, waitFor, rejection, READONLY_GUARDED } from './helpers';

const { fresh, children } = testScope('sync');

interface Reply {
  ok: boolean;
  code?: string;
  message?: string;
  result?: string;
  woken?: number;
  recovered?: boolean | number;
}

/** A sync-child.ts attached to `seg`. */
async function child(seg: SharedMemory): Promise<ChildProcess> {
  const c = forkFixture('sync-child');
  children.push(c);
  await nextMessage(c);
  await ask(c, { op: 'attach', name: seg.name });
  return c;
}

async function ask(c: ChildProcess, cmd: object): Promise<Reply> {
  const reply = nextMessage<Reply>(c);
  c.send(cmd);
  return reply;
}

function segment(size = 4096): SharedMemory {
  return SharedMemory.create({ name: fresh(), size });
}

function done(seg: SharedMemory): void {
  seg.close();
  seg.unlink();
}

/** Whether the main thread of `pid` sleeps in a futex wait (and so in waitSync: Node idles in epoll). */
function inFutexWait(pid: number): boolean {
  try {
    return fs.readFileSync(`/proc/${pid}/wchan`, 'utf8').includes('futex');
  } catch {
    return false;
  }
}

function thrown(fn: () => unknown): NodeJS.ErrnoException {
  try {
    fn();
  } catch (err) {
    return err as NodeJS.ErrnoException;
  }
  throw new Error('expected a throw');
}

describe('waitSync() and notify()', () => {
  it('returns not-equal at once when the word already holds another value', () => {
    const seg = segment();
    const i32 = new Int32Array(seg.buffer);
    i32[3] = 7;
    expect(waitSync(i32, 3, 6, 10_000)).toBe('not-equal');
    expect(waitSync(i32, 3, 0xffff_ffff, 10_000)).toBe('not-equal');
    i32[3] = -1;
    expect(waitSync(i32, 3, 0xffff_ffff, 1)).toBe('timed-out'); // uint32 spelling of -1 compares equal
    done(seg);
  });

  it('times out after the given number of milliseconds', () => {
    const seg = segment();
    const t = performance.now();
    expect(waitSync(new Int32Array(seg.buffer), 0, 0, 50)).toBe('timed-out');
    const elapsed = performance.now() - t;
    expect(elapsed).toBeGreaterThanOrEqual(49);
    expect(elapsed).toBeLessThan(2000);
    done(seg);
  });

  it('wakes a child blocked in waitSync, and notify counts the processes it woke', async () => {
    const seg = segment();
    const i32 = new Int32Array(seg.buffer);
    const c = await child(seg);
    const reply = ask(c, { op: 'waitSync', index: 5, expected: 0, timeout: 30_000 });
    await waitFor(() => inFutexWait(c.pid!), 'the child to sleep in the futex');
    expect(notify(i32, 4)).toBe(0); // another word: nobody woken
    expect(notify(i32, 5)).toBe(1);
    expect(await reply).toMatchObject({ ok: true, result: 'ok' });
    done(seg);
  });

  it('wakes at most `count` waiters', async () => {
    const seg = segment();
    const i32 = new Int32Array(seg.buffer);
    const cs = await Promise.all([child(seg), child(seg), child(seg)]);
    const replies = cs.map((c) => ask(c, { op: 'waitSync', index: 0, expected: 0, timeout: 30_000 }));
    await waitFor(() => cs.every((c) => inFutexWait(c.pid!)), 'three children asleep');
    expect(notify(i32, 0, 2)).toBe(2);
    expect(notify(i32, 0, 0)).toBe(0);
    expect(notify(i32, 0)).toBe(1);
    for (const r of await Promise.all(replies)) expect(r).toMatchObject({ ok: true, result: 'ok' });
    done(seg);
  });

  it('is woken by a child that stores then notifies while the parent sleeps', async () => {
    const seg = segment();
    const i32 = new Int32Array(seg.buffer);
    const c = await child(seg);
    // The child stores 1 and notifies; whether it does so before or while we
    // sleep, waitSync must end: 'not-equal' before, 'ok' during.
    c.send({ op: 'notify', index: 2, store: 1 });
    const r = waitSync(i32, 2, 0, 30_000);
    expect(['ok', 'not-equal']).toContain(r);
    expect(Atomics.load(i32, 2)).toBe(1);
    done(seg);
  });

  it('rejects bad arguments with TypeError and RangeError', () => {
    const seg = segment();
    const i32 = new Int32Array(seg.buffer);
    expect(thrown(() => waitSync(new Uint32Array(4) as unknown as Int32Array, 0, 0, 0))).toMatchObject({
      name: 'TypeError',
      code: 'ERR_INVALID_ARG_TYPE',
    });
    expect(thrown(() => waitSync(i32, i32.length, 0, 0))).toMatchObject({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
    expect(thrown(() => waitSync(i32, 0.5, 0, 0))).toMatchObject({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
    expect(thrown(() => waitSync(i32, 0, 2 ** 32, 0))).toMatchObject({ code: 'ERR_OUT_OF_RANGE' });
    expect(thrown(() => waitSync(i32, 0, 0, -1))).toMatchObject({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
    expect(thrown(() => waitSync(i32, 0, 0, NaN))).toMatchObject({ code: 'ERR_OUT_OF_RANGE' });
    expect(thrown(() => waitSync(i32, 0, 0, '5' as unknown as number))).toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
    expect(thrown(() => notify(i32, 0, -1))).toMatchObject({ code: 'ERR_OUT_OF_RANGE' });
    done(seg);
  });

  it('throws ERR_SHM_CLOSED on a view of a closed segment, and never crashes', () => {
    const seg = segment();
    const i32 = new Int32Array(seg.buffer);
    done(seg);
    const e = thrown(() => waitSync(i32, 0, 0, 0));
    expect(e).toBeInstanceOf(ShmError);
    expect(e.code).toBe('ERR_SHM_CLOSED');
    expect(thrown(() => notify(i32, 0)).code).toBe('ERR_SHM_CLOSED');
  });
});

describe('waitAsync()', () => {
  it('resolves not-equal when the word already holds another value', async () => {
    const seg = segment();
    const i32 = new Int32Array(seg.buffer);
    i32[1] = 42;
    expect(await waitAsync(i32, 1, 41, 10_000)).toBe('not-equal');
    done(seg);
  });

  it('resolves timed-out after its timeout, and at once for a timeout of 0', async () => {
    const seg = segment();
    const i32 = new Int32Array(seg.buffer);
    const t = performance.now();
    expect(await waitAsync(i32, 0, 0, 80)).toBe('timed-out');
    const elapsed = performance.now() - t;
    expect(elapsed).toBeGreaterThanOrEqual(79);
    expect(elapsed).toBeLessThan(2000);
    expect(await waitAsync(i32, 0, 0, 0)).toBe('timed-out');
    done(seg);
  });

  it('is woken by notify from a child while the parent\'s timers keep firing', async () => {
    const seg = segment();
    const i32 = new Int32Array(seg.buffer);
    const c = await child(seg);
    let ticks = 0;
    const timer = setInterval(() => ticks++, 2);
    const settled = waitAsync(i32, 0, 0, 30_000);
    await waitFor(() => ticks >= 10, 'ten timer ticks while waiting');
    const reply = await ask(c, { op: 'notify', index: 0, store: 1 });
    expect(reply).toMatchObject({ ok: true, woken: 1 });
    expect(await settled).toBe('ok');
    clearInterval(timer);
    done(seg);
  });

  it('wakes a child waiting in waitAsync', async () => {
    const seg = segment();
    const i32 = new Int32Array(seg.buffer);
    const c = await child(seg);
    const reply = ask(c, { op: 'waitAsync', index: 9, expected: 0, timeout: 30_000 });
    await waitFor(() => notify(i32, 9) === 1, 'the child\'s wait to be woken');
    expect(await reply).toMatchObject({ ok: true, result: 'ok' });
    done(seg);
  });

  it('keeps fs calls prompt while 100 waits are pending', async () => {
    const seg = segment();
    const i32 = new Int32Array(seg.buffer);
    const pending = Array.from({ length: 100 }, (_, i) => waitAsync(i32, i, 0, 60_000));
    const t = performance.now();
    const reads = await Promise.all(Array.from({ length: 32 }, () => fs.promises.readFile(__filename, 'utf8')));
    const elapsed = performance.now() - t;
    expect(reads.every((r) => r.includes('keeps fs calls prompt'))).toBe(true);
    expect(elapsed).toBeLessThan(2000); // libuv's 4 pool threads would be stuck behind the waits
    // Wake them all (without changing the words); every one settles as 'ok'.
    // Count settled waits, not what notify() returns: a notify can land on a
    // word whose pool thread is already awake, which the kernel counts as a
    // wake that nobody sees (native/waiter_pool.cc, "Re-arm window"); the next
    // round retries it.
    const settled = new Set<number>();
    pending.forEach((p, i) => void p.then(() => settled.add(i)));
    await waitFor(() => {
      for (let i = 0; i < 100; i++) if (!settled.has(i)) notify(i32, i);
      return settled.size === 100;
    }, 'all 100 waiters woken');
    expect(new Set(await Promise.all(pending))).toEqual(new Set(['ok']));
    done(seg);
  });

  it('survives its segment being closed and unlinked while pending, and still gets notified', async (ctx) => {
    if (SharedMemory.bufferKind !== 'external') return ctx.skip();
    const seg = segment();
    const other = SharedMemory.attach(seg.name);
    const i32 = new Int32Array(seg.buffer);
    const settled = waitAsync(i32, 0, 0, 30_000);
    done(seg);
    expect(i32.length).toBe(0);
    const j32 = new Int32Array(other.buffer);
    await waitFor(() => notify(j32, 0) === 1, 'the pending wait to be woken through another mapping');
    expect(await settled).toBe('ok');
    other.close();
  });

  it('survives its SharedArrayBuffer segment being closed and unlinked while pending, and ends at its timeout', async (ctx) => {
    if (SharedMemory.bufferKind !== 'shared') return ctx.skip();
    const seg = segment();
    const i32 = new Int32Array(seg.buffer);
    const settled = waitAsync(i32, 0, 0, 300);
    done(seg);
    expect(i32[0]).toBe(0); // zero pages in place; the wait keeps the range mapped
    expect(await settled).toBe('timed-out');
  });

  it('rejects for an ordinary ArrayBuffer and a closed segment', async () => {
    const seg = segment();
    const e2 = await rejection(waitAsync(new Int32Array(16), 0, 0, 1000));
    expect(e2).toBeInstanceOf(TypeError);
    expect(e2.message).toMatch(/shared segment mapping/);
    const i32 = new Int32Array(seg.buffer);
    done(seg);
    const e3 = await rejection(waitAsync(i32, 0, 0, 1000));
    expect(e3.code).toBe('ERR_SHM_CLOSED');
    const e4 = await rejection(waitAsync(null as unknown as Int32Array, 0, 0));
    expect(e4.code).toBe('ERR_INVALID_ARG_TYPE');
  });

  it.runIf(READONLY_GUARDED)('waits on a readonly attach like on any view, and is woken through the writable one', async () => {
    const seg = segment();
    const ro = SharedMemory.attach(seg.name, { readonly: true });
    const r32 = new Int32Array(ro.buffer);
    expect(await waitAsync(r32, 0, 1, 1000)).toBe('not-equal');
    expect(await waitAsync(r32, 0, 0, 30)).toBe('timed-out');
    const settled = waitAsync(r32, 0, 0, 30_000);
    const w32 = new Int32Array(seg.buffer);
    await waitFor(() => notify(w32, 0) === 1, 'the readonly view\'s wait to be woken');
    expect(await settled).toBe('ok');
    ro.close();
    done(seg);
  });

  it.runIf(!READONLY_GUARDED)('rejects with a TypeError for a readonly attach (a private copy-on-write view here)', async () => {
    const seg = segment();
    const ro = SharedMemory.attach(seg.name, { readonly: true });
    const e1 = await rejection(waitAsync(new Int32Array(ro.buffer), 0, 0, 1000));
    expect(e1).toBeInstanceOf(TypeError);
    expect(e1.message).toMatch(/shared segment mapping/);
    ro.close();
    done(seg);
  });

  it('keeps an otherwise idle process alive until the wait settles', async () => {
    const r = await runFixture('sync-pending', [fresh(), 'alive']);
    expect(r.stdout.trim()).toBe('timed-out');
    expect(r.code).toBe(0);
  });

  it('lets a worker thread with a pending wait be terminated without hanging or crashing', async () => {
    const r = await runFixture('sync-pending', [fresh(), 'worker']);
    expect(r.stdout.split('\n')).toEqual(['waiting', 'terminated 1', '']);
    expect(r.signal).toBe(null);
    expect(r.code).toBe(0);
  });
});

describe('Mutex.create()', () => {
  it('validates the segment and the offset', () => {
    const seg = segment(64);
    expect(Mutex.BYTES).toBeLessThanOrEqual(64);
    expect(thrown(() => Mutex.create({} as SharedMemory, 0))).toMatchObject({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
    expect(thrown(() => Mutex.create(seg, 4))).toMatchObject({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
    expect(thrown(() => Mutex.create(seg, 64 - Mutex.BYTES + 8))).toMatchObject({ code: 'ERR_OUT_OF_RANGE' });
    expect(thrown(() => Mutex.create(seg, -8))).toMatchObject({ code: 'ERR_OUT_OF_RANGE' });
    expect(Mutex.create(seg, 64 - Mutex.BYTES).byteOffset).toBe(64 - Mutex.BYTES);
    const ro = SharedMemory.attach(seg.name, { readonly: true });
    expect(thrown(() => Mutex.create(ro, 0))).toMatchObject({ name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE' });
    ro.close();
    done(seg);
    const e = thrown(() => Mutex.create(seg, 0));
    expect(e).toBeInstanceOf(ShmError);
    expect(e.code).toBe('ERR_SHM_CLOSED');
  });

  it('writes nothing: all-zero bytes are an unlocked mutex', () => {
    const seg = segment();
    const bytes = new Uint8Array(seg.buffer, 0, 64);
    bytes.fill(0);
    Mutex.create(seg, 8);
    expect(bytes.every((b) => b === 0)).toBe(true);
    done(seg);
  });
});

describe('Mutex', () => {
  it('locks and unlocks without waiting when free, naming this process as owner', async () => {
    const seg = segment();
    const m = Mutex.create(seg, 0);
    expect(m.owner).toBe(undefined);
    expect(await m.lock()).toEqual({ recovered: false });
    expect(m.owner).toBe(process.pid);
    expect(m.tryLock()).toBe(false);
    m.unlock();
    expect(m.owner).toBe(undefined);
    expect(m.tryLock()).toBe(true);
    m.unlock();
    done(seg);
  });

  it('counts to exactly 40,000 with 4 processes × 10,000 unsynchronised increments under it', async () => {
    const seg = segment();
    const counter = new Int32Array(seg.buffer, 64, 1);
    const cs = await Promise.all([1, 2, 3, 4].map(() => child(seg)));
    const replies = await Promise.all(
      cs.map((c) => ask(c, { op: 'count', mutexAt: 0, counterAt: 64, iterations: 10_000 })),
    );
    for (const r of replies) expect(r).toMatchObject({ ok: true, recovered: 0 });
    expect(counter[0]).toBe(40_000);
    expect(Mutex.create(seg, 0).owner).toBe(undefined);
    done(seg);
  });

  it('serialises lock() calls from the same process', async () => {
    const seg = segment();
    const m = Mutex.create(seg, 0);
    const order: string[] = [];
    const task = (name: string) =>
      m.withLock(async () => {
        order.push(`${name}+`);
        await new Promise((r) => setImmediate(r));
        order.push(`${name}-`);
      });
    await Promise.all([task('a'), task('b'), task('c')]);
    // No order is promised, only exclusion: each task ends before the next starts.
    expect(order).toHaveLength(6);
    for (let i = 0; i < 6; i += 2) expect(order[i + 1]).toBe(order[i]!.replace('+', '-'));
    expect(new Set(order.filter((_, i) => i % 2 === 0))).toEqual(new Set(['a+', 'b+', 'c+']));
    expect(m.owner).toBe(undefined);
    done(seg);
  });

  it('hands a SIGKILLed owner\'s lock to the next lock() within 1 s, with recovered: true, and keeps working', async () => {
    const seg = segment();
    const m = Mutex.create(seg, 0);
    const holder = await child(seg);
    expect(await ask(holder, { op: 'lock', mutexAt: 0 })).toMatchObject({ ok: true, recovered: false });
    expect(m.owner).toBe(holder.pid);
    const waiting = m.lock({ timeout: 10_000 });
    holder.kill('SIGKILL');
    const t = performance.now();
    await exited(holder);
    expect(await waiting).toEqual({ recovered: true });
    expect(performance.now() - t).toBeLessThan(1000);
    expect(m.owner).toBe(process.pid);
    m.unlock();
    // Still a working lock: another process takes it, we time out, it unlocks.
    const next = await child(seg);
    expect(await ask(next, { op: 'lock', mutexAt: 0 })).toMatchObject({ ok: true, recovered: false });
    expect((await rejection(m.lock({ timeout: 50 }))).code).toBe('ERR_SHM_LOCK_TIMEOUT');
    expect(await ask(next, { op: 'unlock', mutexAt: 0 })).toMatchObject({ ok: true });
    expect(await m.lock({ timeout: 1000 })).toEqual({ recovered: false });
    m.unlock();
    done(seg);
  });

  it('recovers a lock held by a dead process found on the first lock() or lock({ timeout: 0 })', async () => {
    const seg = segment();
    const m = Mutex.create(seg, 16);
    const holder = await child(seg);
    await ask(holder, { op: 'lock', mutexAt: 16 });
    holder.kill('SIGKILL');
    await exited(holder);
    expect(m.tryLock()).toBe(false); // tryLock never takes over
    expect(await m.lock({ timeout: 0 })).toEqual({ recovered: true });
    m.unlock();
    done(seg);
  });

  it('takes over from an owner that was killed but never reaped (a zombie)', async () => {
    const seg = segment();
    const m = Mutex.create(seg, 8);
    // `sleep` replaces the shell and never reaps the background holder.
    const holderCmd = [process.execPath, ...TS_EXEC_ARGV, path.join(FIXTURES, 'sync-holder.ts'), seg.name, '8'];
    const parent = spawn('sh', ['-c', `${holderCmd.map((a) => `'${a}'`).join(' ')} & exec sleep 60`], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    children.push(parent);
    let stdout = '';
    parent.stdout!.on('data', (d) => (stdout += d));
    await waitFor(() => /locked \d+/.test(stdout), 'the holder to lock', 20_000);
    const pid = Number(/locked (\d+)/.exec(stdout)![1]);
    expect(m.owner).toBe(pid);
    process.kill(pid, 'SIGKILL');
    await waitFor(() => /\) Z /.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8')), 'the holder to be a zombie');
    expect(await m.lock({ timeout: 2000 })).toEqual({ recovered: true });
    m.unlock();
    parent.kill('SIGKILL');
    done(seg);
  });

  it('treats a live process whose start time does not match the lock word as a dead owner (pid reuse)', async () => {
    const seg = segment();
    const m = Mutex.create(seg, 0);
    const live = await child(seg);
    await ask(live, { op: 'lock', mutexAt: 0 });
    const word = new Int32Array(seg.buffer, 0, 1);
    const real = Atomics.load(word, 0);
    // Same live pid, another start-time fingerprint: what a reused pid looks like.
    Atomics.store(word, 0, (real & ~(0xff << 22)) | ((((real >>> 22) & 0xff) ^ 0x5a) << 22));
    expect(await m.lock({ timeout: 0 })).toEqual({ recovered: true });
    m.unlock();
    done(seg);
  });

  it('never robs a live owner: lock({ timeout }) rejects with ERR_SHM_LOCK_TIMEOUT and unlock() with ERR_SHM_NOT_OWNER', async () => {
    const seg = segment();
    const m = Mutex.create(seg, 0);
    const holder = await child(seg);
    await ask(holder, { op: 'lock', mutexAt: 0 });
    const word = new Int32Array(seg.buffer, 0, 1);
    const before = Atomics.load(word, 0);
    const t = performance.now();
    const e = await rejection(m.lock({ timeout: 350 })); // several liveness checks happen meanwhile
    expect(performance.now() - t).toBeGreaterThanOrEqual(349);
    expect(e).toBeInstanceOf(ShmError);
    expect(e.code).toBe('ERR_SHM_LOCK_TIMEOUT');
    expect(e.message).toContain(`held by thread ${holder.pid}`);
    const e2 = thrown(() => m.unlock());
    expect(e2).toBeInstanceOf(ShmError);
    expect(e2.code).toBe('ERR_SHM_NOT_OWNER');
    expect(m.owner).toBe(holder.pid);
    expect(Atomics.load(word, 0) & ~(1 << 30)).toBe(before & ~(1 << 30));
    expect(await ask(holder, { op: 'unlock', mutexAt: 0 })).toMatchObject({ ok: true });
    done(seg);
  });

  it('throws ERR_SHM_NOT_OWNER when unlocking a free mutex, in this process or another', async () => {
    const seg = segment();
    const m = Mutex.create(seg, 0);
    expect(thrown(() => m.unlock()).code).toBe('ERR_SHM_NOT_OWNER');
    const c = await child(seg);
    await m.lock();
    expect(await ask(c, { op: 'unlock', mutexAt: 0 })).toMatchObject({ ok: false, code: 'ERR_SHM_NOT_OWNER' });
    expect(m.owner).toBe(process.pid);
    m.unlock();
    done(seg);
  });

  it('wakes a waiting child as soon as it is unlocked', async () => {
    const seg = segment();
    const m = Mutex.create(seg, 0);
    await m.lock();
    const c = await child(seg);
    const reply = ask(c, { op: 'lock', mutexAt: 0, timeout: 30_000 });
    const word = new Int32Array(seg.buffer, 0, 1);
    await waitFor(() => (Atomics.load(word, 0) & (1 << 30)) !== 0, 'the child to mark the lock contended');
    m.unlock();
    expect(await reply).toMatchObject({ ok: true, recovered: false });
    expect(m.owner).toBe(c.pid);
    done(seg);
  });

  it('withLock() passes the lock result, returns what fn returns and unlocks when fn throws', async () => {
    const seg = segment();
    const m = Mutex.create(seg, 0);
    expect(await m.withLock((r) => r)).toEqual({ recovered: false });
    expect(await m.withLock(async () => 5)).toBe(5);
    await expect(m.withLock(() => { throw new Error('boom'); })).rejects.toThrow('boom');
    expect(m.owner).toBe(undefined);
    expect((await rejection(m.withLock(null as unknown as () => void))).code).toBe('ERR_INVALID_ARG_TYPE');
    done(seg);
  });

  it('rejects bad lock options and throws ERR_SHM_CLOSED once its segment is closed', async () => {
    const seg = segment();
    const m = Mutex.create(seg, 0);
    expect((await rejection(m.lock({ timeout: -1 }))).code).toBe('ERR_OUT_OF_RANGE');
    expect((await rejection(m.lock({ timeout: 'x' as unknown as number }))).code).toBe('ERR_INVALID_ARG_TYPE');
    expect((await rejection(m.lock(5 as unknown as object))).code).toBe('ERR_INVALID_ARG_TYPE');
    done(seg);
    expect((await rejection(m.lock())).code).toBe('ERR_SHM_CLOSED');
    expect(thrown(() => m.unlock()).code).toBe('ERR_SHM_CLOSED');
    expect(thrown(() => m.tryLock()).code).toBe('ERR_SHM_CLOSED');
  });

  it('rejects a pending lock() with ERR_SHM_CLOSED when its segment is closed meanwhile', async () => {
    const seg = segment();
    const m = Mutex.create(seg, 0);
    const c = await child(seg);
    await ask(c, { op: 'lock', mutexAt: 0 });
    const pending = m.lock();
    seg.close();
    expect((await rejection(pending)).code).toBe('ERR_SHM_CLOSED');
    seg.unlink();
  });
});
