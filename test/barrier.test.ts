import { describe, expect, it } from 'vitest';
import type { ChildProcess } from 'node:child_process';
import { Barrier, Semaphore, SharedMemory, ShmError } from '../lib/index';
import { pack, procStat, self } from '../lib/identity';
import * as B from '../lib/sync/barrier-state';
import { exited, forkFixture, nextMessage, rejection, testScope, waitFor } from './helpers';

const { fresh, children } = testScope('barrier');

interface Reply {
  ok: boolean;
  code?: string;
  message?: string;
  serial?: boolean | number;
  early?: number;
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

/** A barrier-child.ts attached to the barrier at `at` of `seg`. */
async function child(seg: SharedMemory, at = 0): Promise<ChildProcess> {
  const c = forkFixture('barrier-child');
  children.push(c);
  await nextMessage(c);
  expect(await ask(c, { op: 'attach', name: seg.name, at })).toMatchObject({ ok: true });
  return c;
}

function thrown(fn: () => unknown): NodeJS.ErrnoException {
  try {
    fn();
  } catch (err) {
    return err as NodeJS.ErrnoException;
  }
  throw new Error('expected a throw');
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('Barrier', () => {
  it('lets a round pass only when every party has arrived, with one serial party per round', async () => {
    const seg = segment();
    expect(Barrier.BYTES % 8).toBe(0);
    const b = Barrier.create(seg, 16, 3);
    expect([b.parties, b.broken, b.byteOffset, b.segment]).toEqual([3, false, 16, seg]);
    for (let round = 0; round < 3; round++) {
      let passed = 0;
      const waits = [b.wait(), b.wait()].map((p) => p.then((r) => (passed++, r)));
      // Both have arrived (they take the state lock asynchronously: on a loaded machine that is not at once) …
      const state = new Int32Array(seg.buffer, 16, B.BAR_BYTES / 4);
      const gen = Atomics.load(state, B.I_GEN);
      await waitFor(() => B.arrivals(state, gen) === 2, 'two arrivals', 10_000);
      // … and wait: nobody passes before the third.
      await sleep(30);
      expect(passed).toBe(0);
      const last = await b.wait();
      const all = [last, ...(await Promise.all(waits))];
      expect(all.filter((r) => r.serial)).toHaveLength(1);
      expect(last.serial).toBe(true);
    }
    const one = Barrier.create(seg, 16, 1);
    expect(await one.wait()).toEqual({ serial: true });
    done(seg);
  });

  it('lets no one of 4 processes pass early in 1,000 rounds', async () => {
    const seg = segment();
    Barrier.create(seg, 0, 4);
    const slotsAt = Barrier.BYTES;
    const cs = await Promise.all(Array.from({ length: 4 }, () => child(seg)));
    const t = performance.now();
    const replies = await Promise.all(cs.map((c, me) => ask(c, { op: 'rounds', rounds: 1000, slotsAt, parties: 4, me })));
    const elapsed = performance.now() - t;
    for (const r of replies) expect(r).toMatchObject({ ok: true, early: 0 });
    expect(replies.reduce((n, r) => n + Number(r.serial), 0)).toBe(1000);
    expect(Array.from(new Int32Array(seg.buffer, slotsAt, 4))).toEqual([1000, 1000, 1000, 1000]);
    console.log(`barrier: 4 processes x 1000 rounds in ${elapsed.toFixed(0)} ms`);
    done(seg);
  }, 120_000);

  it('breaks when a member process is SIGKILLed before arriving: waiters now and later get ERR_SHM_BARRIER_BROKEN', async () => {
    const seg = segment();
    const b = Barrier.create(seg, 0, 3);
    const [a, victim] = await Promise.all([child(seg), child(seg)]);
    // Round 0 with all three: the victim becomes a member.
    const r0 = [ask(a, { op: 'wait', timeout: 30_000 }), ask(victim, { op: 'wait', timeout: 30_000 })];
    await b.wait();
    for (const r of await Promise.all(r0)) expect(r).toMatchObject({ ok: true });
    // Round 1: two arrive, the victim dies instead.
    const ra = ask(a, { op: 'wait', timeout: 30_000 });
    const mine = b.wait({ timeout: 30_000 });
    victim.kill('SIGKILL');
    await exited(victim);
    const t = performance.now();
    const e = await rejection(mine);
    expect(performance.now() - t).toBeLessThan(5000);
    expect(e).toBeInstanceOf(ShmError);
    expect(e.code).toBe('ERR_SHM_BARRIER_BROKEN');
    expect(e.message).toContain(`thread ${victim.pid} died`);
    expect(await ra).toMatchObject({ ok: false, code: 'ERR_SHM_BARRIER_BROKEN' });
    expect(b.broken).toBe(true);
    expect((await rejection(b.wait())).code).toBe('ERR_SHM_BARRIER_BROKEN');
    expect(await ask(a, { op: 'wait' })).toMatchObject({ ok: false, code: 'ERR_SHM_BARRIER_BROKEN' });
    expect(Barrier.create(seg, 0, 1).broken).toBe(false); // a fresh one over the same bytes
    done(seg);
  });

  it('lets the round end when a party SIGKILLed after arriving was the last one needed, and breaks the next round', async () => {
    const seg = segment();
    const b = Barrier.create(seg, 0, 2);
    const c = await child(seg);
    const arrived = ask(c, { op: 'wait' });
    void arrived.catch(() => undefined);
    await sleep(100);
    c.kill('SIGKILL');
    await exited(c);
    expect((await rejection(arrived)).message).toMatch(/SIGKILL/); // it died waiting
    expect(await b.wait({ timeout: 10_000 })).toEqual({ serial: true }); // its arrival still counts
    expect((await rejection(b.wait({ timeout: 10_000 }))).code).toBe('ERR_SHM_BARRIER_BROKEN');
    done(seg);
  });

  it('rejects a wait that times out with ERR_SHM_LOCK_TIMEOUT and breaks the barrier for the others', async () => {
    const seg = segment();
    const b = Barrier.create(seg, 0, 3);
    const c = await child(seg);
    const other = ask(c, { op: 'wait', timeout: 30_000 });
    await sleep(50);
    const t = performance.now();
    const e = await rejection(b.wait({ timeout: 150 }));
    expect(performance.now() - t).toBeGreaterThanOrEqual(149);
    expect(e).toBeInstanceOf(ShmError);
    expect(e.code).toBe('ERR_SHM_LOCK_TIMEOUT');
    const r = await other;
    expect(r).toMatchObject({ ok: false, code: 'ERR_SHM_BARRIER_BROKEN' });
    expect(r.message).toMatch(/timed out/);
    expect(b.broken).toBe(true);
    const b2 = Barrier.create(seg, 0, 2);
    expect((await rejection(b2.wait({ timeout: 0 }))).code).toBe('ERR_SHM_LOCK_TIMEOUT');
    done(seg);
  });

  it('ends a round whose last arrival died inside the state lock', async () => {
    const seg = segment();
    const b = Barrier.create(seg, 0, 2);
    const c = await child(seg);
    const c2 = await child(seg);
    const r0 = ask(c, { op: 'wait', timeout: 30_000 });
    await sleep(50);
    expect(await ask(c2, { op: 'wait' })).toMatchObject({ ok: true, serial: true }); // round 0: c2 becomes a member
    expect(await r0).toMatchObject({ ok: true });
    const waiting = ask(c, { op: 'wait', timeout: 30_000 });
    await sleep(50);
    // As if c2 died in the lock after recording its arrival in round 2 but
    // before moving the round on.
    const dead = new BigInt64Array(seg.buffer, 0, Barrier.BYTES / 8);
    const i32 = new Int32Array(seg.buffer, 0, Barrier.BYTES / 4);
    // Set up while c2 lives (it sits idle), then kill it.
    const slot = [0, 1].find((i) => i32[10 + 4 * i] !== 2)!; // c2's slot: not arrived in round 2
    const id = dead[4 + 2 * slot]!;
    expect(Number(id & 0x3fffffn)).toBe(c2.pid);
    dead[2] = id;
    i32[10 + 4 * slot] = 2;
    c2.kill('SIGKILL');
    await exited(c2);
    expect(await waiting).toMatchObject({ ok: true, serial: false });
    expect(i32[3]).toBe(4);
    done(seg);
  });

  it('throws ERR_SHM_BARRIER_FULL when every member slot belongs to another live thread', async () => {
    const seg = segment();
    const b = Barrier.create(seg, 0, 2);
    // The vitest worker's parent: alive for the whole test, and not us.
    const st = procStat(process.ppid)!;
    const other = pack(process.ppid | ((st.startTime & 0xff) << 22), self().ns);
    const i64 = new BigInt64Array(seg.buffer, 0, Barrier.BYTES / 8);
    for (let i = 0; i < Barrier.MAX_PARTIES; i++) i64[4 + 2 * i] = other;
    const e = await rejection(b.wait({ timeout: 1000 }));
    expect(e).toBeInstanceOf(ShmError);
    expect(e.code).toBe('ERR_SHM_BARRIER_FULL');
    done(seg);
  });

  it('rejects a pending wait() with ERR_SHM_CLOSED when its segment is closed', async () => {
    const seg = segment();
    const b = Barrier.create(seg, 0, 2);
    const pending = b.wait();
    await sleep(20);
    done(seg);
    expect((await rejection(pending)).code).toBe('ERR_SHM_CLOSED');
  });

  it('rejects bad input: segment, offset, parties, options, a closed or readonly segment', async () => {
    const seg = segment();
    const b = Barrier.create(seg, 0, 2);
    expect(thrown(() => Barrier.create(seg, 4, 2))).toMatchObject({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
    expect(thrown(() => Barrier.create(seg, 4096 - 8, 2))).toMatchObject({ code: 'ERR_OUT_OF_RANGE' });
    expect(thrown(() => Barrier.attach(seg, 4))).toMatchObject({ code: 'ERR_OUT_OF_RANGE' });
    for (const p of [0, -1, 2.5, Barrier.MAX_PARTIES + 1, NaN]) {
      expect(thrown(() => Barrier.create(seg, 0, p)), String(p)).toMatchObject({ code: 'ERR_OUT_OF_RANGE' });
    }
    expect(thrown(() => Barrier.create(seg, 0, '2' as unknown as number))).toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
    expect(thrown(() => Barrier.create(null as unknown as SharedMemory, 0, 2))).toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
    expect((await rejection(b.wait({ timeout: -5 }))).code).toBe('ERR_OUT_OF_RANGE');
    expect((await rejection(b.wait(null as unknown as object))).code).toBe('ERR_INVALID_ARG_TYPE');
    expect(b.broken).toBe(false); // bad options never arrive
    const ro = SharedMemory.attach(seg.name, { readonly: true });
    expect(thrown(() => Barrier.create(ro, 0, 2))).toMatchObject({ name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE' });
    expect(thrown(() => Barrier.attach(ro, 0))).toMatchObject({ code: 'ERR_INVALID_ARG_VALUE' });
    ro.close();
    done(seg);
    for (const fn of [() => b.broken, () => b.parties, () => Barrier.attach(seg, 0), () => Barrier.create(seg, 0, 2)]) {
      const e = thrown(fn);
      expect(e).toBeInstanceOf(ShmError);
      expect(e.code).toBe('ERR_SHM_CLOSED');
    }
    expect((await rejection(b.wait())).code).toBe('ERR_SHM_CLOSED');
  });

  it('refuses with ERR_SHM_BAD_HEADER to attach bytes that are not a barrier', () => {
    const seg = segment();
    const e = thrown(() => Barrier.attach(seg, 0));
    expect(e).toBeInstanceOf(ShmError);
    expect(e.code).toBe('ERR_SHM_BAD_HEADER');
    expect(e.message).toMatch(/no barrier there/);
    Semaphore.create(seg, 0, 2);
    expect(thrown(() => Barrier.attach(seg, 0)).code).toBe('ERR_SHM_BAD_HEADER');
    Barrier.create(seg, 0, 2);
    new Int32Array(seg.buffer)[2] = 1000;
    expect(thrown(() => Barrier.attach(seg, 0)).message).toMatch(/party count 1000/);
    done(seg);
  });
});
