import { describe, expect, it } from 'vitest';
import type { ChildProcess } from 'node:child_process';
import { Barrier, Semaphore, SharedMemory, ShmError } from '../lib/index';
import { exited, forkFixture, nextMessage, rejection, testScope } from './helpers';

const { fresh, children } = testScope('sem');

interface Reply {
  ok: boolean;
  code?: string;
  message?: string;
  recovered?: boolean | number;
  result?: boolean;
  id?: string;
}

function segment(size = 4096): SharedMemory {
  return SharedMemory.create({ name: fresh(), size });
}

function done(seg: SharedMemory): void {
  seg.close();
  seg.unlink();
}

async function ask(c: ChildProcess, cmd: object): Promise<Reply> {
  const reply = nextMessage<Reply>(c);
  c.send(cmd);
  return reply;
}

/** A sem-child.ts attached to the semaphore at `at` of `seg`. */
async function child(seg: SharedMemory, at = 0): Promise<ChildProcess> {
  const c = forkFixture('sem-child');
  children.push(c);
  await nextMessage(c);
  expect(await ask(c, { op: 'attach', name: seg.name, at })).toMatchObject({ ok: true });
  return c;
}

async function kill(c: ChildProcess): Promise<void> {
  c.kill('SIGKILL');
  await exited(c);
}

function thrown(fn: () => unknown): NodeJS.ErrnoException {
  try {
    fn();
  } catch (err) {
    return err as NodeJS.ErrnoException;
  }
  throw new Error('expected a throw');
}

describe('Semaphore', () => {
  it('hands out its permits, counts them per thread, and takes them back', async () => {
    const seg = segment();
    expect(Semaphore.BYTES % 8).toBe(0);
    const s = Semaphore.create(seg, 8, 3);
    expect([s.permits, s.available, s.held, s.byteOffset, s.segment]).toEqual([3, 3, 0, 8, seg]);
    expect(await s.acquire()).toEqual({ recovered: false });
    expect(s.tryAcquire()).toBe(true);
    expect(await s.acquire({ timeout: 0 })).toEqual({ recovered: false });
    expect(s.tryAcquire()).toBe(false);
    expect([s.available, s.held]).toEqual([0, 3]);
    s.release(2);
    expect([s.available, s.held]).toEqual([2, 1]);
    const t = Semaphore.attach(seg, 8);
    expect(t.held).toBe(1); // the same thread, through another handle
    t.release();
    expect([s.available, s.held]).toEqual([3, 0]);
    done(seg);
  });

  it('never lets more than 3 of 8 processes in at once', async () => {
    const seg = segment();
    Semaphore.create(seg, 0, 3);
    const insidersAt = Semaphore.BYTES;
    const cs = await Promise.all(Array.from({ length: 8 }, () => child(seg)));
    const replies = await Promise.all(cs.map((c) => ask(c, { op: 'hammer', iterations: 300, insidersAt })));
    for (const r of replies) expect(r).toMatchObject({ ok: true, recovered: 0 });
    const insiders = new Int32Array(seg.buffer, insidersAt, 2);
    expect(insiders[0]).toBe(0);
    expect(insiders[1]).toBeLessThanOrEqual(3);
    expect(insiders[1]).toBeGreaterThanOrEqual(2); // they did overlap: the test can see a breach
    expect(Semaphore.attach(seg, 0).available).toBe(3);
    done(seg);
  }, 120_000);

  it('wakes a process waiting in acquire() when a permit is released', async () => {
    const seg = segment();
    const s = Semaphore.create(seg, 0, 1);
    await s.acquire();
    const c = await child(seg);
    const reply = ask(c, { op: 'acquire', timeout: 30_000 });
    await new Promise((r) => setTimeout(r, 50));
    s.release();
    expect(await reply).toMatchObject({ ok: true, recovered: false });
    expect(s.available).toBe(0);
    expect(await ask(c, { op: 'release' })).toMatchObject({ ok: true });
    expect(s.available).toBe(1);
    done(seg);
  });

  it('returns the permits of a SIGKILLed holder to a waiting acquire(), which reports recovered', async () => {
    const seg = segment();
    const s = Semaphore.create(seg, 0, 3);
    const c = await child(seg);
    expect(await ask(c, { op: 'acquire' })).toMatchObject({ ok: true });
    expect(await ask(c, { op: 'acquire' })).toMatchObject({ ok: true });
    await s.acquire();
    expect(s.available).toBe(0);
    const waiting = s.acquire({ timeout: 30_000 });
    await kill(c);
    const t = performance.now();
    expect(await waiting).toEqual({ recovered: true });
    expect(performance.now() - t).toBeLessThan(5000);
    expect([s.available, s.held]).toEqual([1, 2]); // both of the dead child's permits came back
    s.release(2);
    expect(s.available).toBe(3);
    done(seg);
  });

  it('returns a SIGKILLed holder\'s permit to another process that waits', async () => {
    const seg = segment();
    Semaphore.create(seg, 0, 1);
    const holder = await child(seg);
    const waiter = await child(seg);
    expect(await ask(holder, { op: 'acquire' })).toMatchObject({ ok: true });
    const reply = ask(waiter, { op: 'acquire', timeout: 30_000 });
    await new Promise((r) => setTimeout(r, 150));
    await kill(holder);
    expect(await reply).toMatchObject({ ok: true, recovered: true });
    done(seg);
  });

  it('rejects with ERR_SHM_LOCK_TIMEOUT when no permit comes free in time, naming the holders', async () => {
    const seg = segment();
    const s = Semaphore.create(seg, 0, 1);
    const c = await child(seg);
    expect(await ask(c, { op: 'acquire' })).toMatchObject({ ok: true });
    const t = performance.now();
    const e = await rejection(s.acquire({ timeout: 150 }));
    expect(performance.now() - t).toBeGreaterThanOrEqual(149);
    expect(e).toBeInstanceOf(ShmError);
    expect(e.code).toBe('ERR_SHM_LOCK_TIMEOUT');
    expect(e.message).toContain(String(c.pid));
    expect((await rejection(s.acquire({ timeout: 0 }))).code).toBe('ERR_SHM_LOCK_TIMEOUT');
    expect(s.tryAcquire()).toBe(false);
    expect(await ask(c, { op: 'acquire', timeout: 50 })).toMatchObject({ ok: false, code: 'ERR_SHM_LOCK_TIMEOUT' });
    done(seg);
  });

  it('throws ERR_SHM_NOT_OWNER for a release of permits this thread does not hold, and changes nothing', async () => {
    const seg = segment();
    const s = Semaphore.create(seg, 0, 2);
    expect(thrown(() => s.release())).toMatchObject({ code: 'ERR_SHM_NOT_OWNER' });
    const c = await child(seg);
    expect(await ask(c, { op: 'acquire' })).toMatchObject({ ok: true });
    expect(thrown(() => s.release())).toMatchObject({ code: 'ERR_SHM_NOT_OWNER' });
    await s.acquire();
    const e = thrown(() => s.release(2));
    expect(e).toBeInstanceOf(ShmError);
    expect(e.code).toBe('ERR_SHM_NOT_OWNER');
    expect(e.message).toMatch(/holds 1 permit\b/);
    expect([s.available, s.held]).toEqual([0, 1]);
    expect(await ask(c, { op: 'release', n: 2 })).toMatchObject({ ok: false, code: 'ERR_SHM_NOT_OWNER' });
    done(seg);
  });

  it('repairs its count when a thread died inside the state lock', async () => {
    const seg = segment();
    const s = Semaphore.create(seg, 0, 3);
    const c = await child(seg);
    const dead = BigInt((await ask(c, { op: 'identity' })).id!);
    await kill(c);
    await s.acquire();
    // As if a holder died between lowering its slot and raising the count:
    // the slots say 1 held, the count says 1 free.
    const i32 = new Int32Array(seg.buffer, 0, Semaphore.BYTES / 4);
    const i64 = new BigInt64Array(seg.buffer, 0, Semaphore.BYTES / 8);
    i32[3] = 1;
    i64[2] = dead;
    expect(s.tryAcquire()).toBe(true); // waits out the dead holder, takes the lock over, repairs
    expect([s.available, s.held]).toEqual([1, 2]);
    expect(i64[2]).toBe(0n);
    done(seg);
  });

  it('rejects a pending acquire() with ERR_SHM_CLOSED when its segment is closed', async () => {
    const seg = segment();
    const s = Semaphore.create(seg, 0, 1);
    await s.acquire();
    const pending = s.acquire();
    await new Promise((r) => setTimeout(r, 20));
    done(seg);
    expect((await rejection(pending)).code).toBe('ERR_SHM_CLOSED');
  });

  it('rejects bad input: segment, offset, permits, options, a closed or readonly segment', async () => {
    const seg = segment();
    const s = Semaphore.create(seg, 0, 1);
    expect(thrown(() => Semaphore.create(seg, 4, 1))).toMatchObject({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
    expect(thrown(() => Semaphore.create(seg, 4096 - 8, 1))).toMatchObject({ code: 'ERR_OUT_OF_RANGE' });
    expect(thrown(() => Semaphore.create(seg, -8, 1))).toMatchObject({ code: 'ERR_OUT_OF_RANGE' });
    expect(thrown(() => Semaphore.attach(seg, 12))).toMatchObject({ code: 'ERR_OUT_OF_RANGE' });
    for (const p of [0, -1, 1.5, 2 ** 31, NaN]) {
      expect(thrown(() => Semaphore.create(seg, 0, p)), String(p)).toMatchObject({ code: 'ERR_OUT_OF_RANGE' });
    }
    expect(thrown(() => Semaphore.create(seg, 0, '3' as unknown as number))).toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
    expect(thrown(() => Semaphore.create({} as SharedMemory, 0, 1))).toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
    expect(thrown(() => new (Semaphore as unknown as new () => unknown)())).toBeInstanceOf(TypeError);
    expect((await rejection(s.acquire({ timeout: -1 }))).code).toBe('ERR_OUT_OF_RANGE');
    expect((await rejection(s.acquire({ timeout: '5' as unknown as number }))).code).toBe('ERR_INVALID_ARG_TYPE');
    expect((await rejection(s.acquire(5 as unknown as object))).code).toBe('ERR_INVALID_ARG_TYPE');
    await s.acquire();
    for (const n of [0, -1, 1.5]) expect(thrown(() => s.release(n))).toMatchObject({ code: 'ERR_OUT_OF_RANGE' });
    const small = SharedMemory.create({ name: fresh(), size: 64 });
    expect(thrown(() => Semaphore.create(small, 0, 1))).toMatchObject({ code: 'ERR_OUT_OF_RANGE' });
    done(small);
    const ro = SharedMemory.attach(seg.name, { readonly: true });
    expect(thrown(() => Semaphore.create(ro, 0, 1))).toMatchObject({ name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE' });
    expect(thrown(() => Semaphore.attach(ro, 0))).toMatchObject({ code: 'ERR_INVALID_ARG_VALUE' });
    ro.close();
    done(seg);
    for (const fn of [() => s.tryAcquire(), () => s.release(), () => s.available, () => Semaphore.attach(seg, 0), () => Semaphore.create(seg, 0, 1)]) {
      const e = thrown(fn);
      expect(e).toBeInstanceOf(ShmError);
      expect(e.code).toBe('ERR_SHM_CLOSED');
    }
    expect((await rejection(s.acquire())).code).toBe('ERR_SHM_CLOSED');
  });

  it('refuses with ERR_SHM_BAD_HEADER to attach bytes that are not a semaphore', () => {
    const seg = segment();
    const e = thrown(() => Semaphore.attach(seg, 0)); // zeros
    expect(e).toBeInstanceOf(ShmError);
    expect(e.code).toBe('ERR_SHM_BAD_HEADER');
    expect(e.message).toMatch(/no semaphore there/);
    Barrier.create(seg, 0, 2);
    expect(thrown(() => Semaphore.attach(seg, 0)).code).toBe('ERR_SHM_BAD_HEADER');
    Semaphore.create(seg, 0, 2);
    const i32 = new Int32Array(seg.buffer);
    i32[1] = 9;
    expect(thrown(() => Semaphore.attach(seg, 0)).message).toMatch(/version 9/);
    Semaphore.create(seg, 0, 2);
    i32[3] = 5;
    expect(thrown(() => Semaphore.attach(seg, 0)).message).toMatch(/free permits 5/);
    done(seg);
  });
});
