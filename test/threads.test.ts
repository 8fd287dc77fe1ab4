/**
 * Worker threads that end in the middle of an append or while holding a
 * Mutex: their process lives on, and nothing they held may block others.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Mutex, RecordTable, SharedMemory, defineSchema } from '../lib/index';
import { OFF } from '../lib/table/header';
import { removeAll, testPrefix, tsWorker, waitFor, workerMessage, rejection } from './helpers';

const prefix = testPrefix('threads');
let n = 0;
const fresh = () => `${prefix}-${n++}`;
afterEach(() => removeAll(prefix));

const Log = defineSchema({ writer: 'uint8', seq: 'uint32', check: 'float64', tag: 'utf8[12]' });

describe('a worker thread terminated mid-append', () => {
  it('15 times at random points: each time length catches up with every reserved slot within 2 s, and later rows are visible', async () => {
    const t = RecordTable.create(Log, { name: fresh(), capacity: 2_000_000 });
    const header = new Int32Array(t.segment.buffer, 0, OFF.schema >> 2);
    const waits: number[] = [];
    for (let round = 0; round < 15; round++) {
      const w = tsWorker('thread-appender', { name: t.name, writer: round });
      await workerMessage(w);
      await new Promise((r) => setTimeout(r, 5 + Math.random() * 60));
      await w.terminate();
      const reserved = Atomics.load(header, OFF.reserved >> 2);
      waits.push(await waitFor(() => t.length === reserved, `length to reach the ${reserved} reserved slots (round ${round})`, 2000));
      // A row appended now is visible at once, right after everything reserved before it.
      const i = t.append({ writer: 99, seq: round, check: 99e6 + round, tag: `w99-${round}` });
      expect(i).toBe(reserved);
      expect(t.length).toBe(reserved + 1);
      expect(t.get(i)).toEqual({ writer: 99, seq: round, check: 99e6 + round, tag: `w99-${round}` });
    }
    // Every row is whole or void; every writer's rows are a prefix of its
    // sequence, each once (a batch is committed whole or not at all).
    const seen = new Map<number, number[]>();
    let voids = 0;
    const len = t.length;
    for (let i = 0; i < len; i++) {
      if (t.isVoid(i)) {
        voids++;
        continue;
      }
      const r = t.get(i);
      expect(r.check).toBe(r.writer * 1e6 + r.seq);
      expect(r.tag).toBe(`w${r.writer}-${r.seq}`);
      const seqs = seen.get(r.writer) ?? [];
      seqs.push(r.seq);
      seen.set(r.writer, seqs);
    }
    for (let round = 0; round < 15; round++) {
      const seqs = seen.get(round)!.sort((a, b) => a - b);
      expect(new Set(seqs).size).toBe(seqs.length);
      expect(seqs.length).toBeGreaterThan(0);
    }
    expect(seen.get(99)).toEqual(Array.from({ length: 15 }, (_, k) => k));
    // The header's count of void slots agrees with the rows (every reserved slot is below length now).
    expect(Atomics.load(header, OFF.voids >> 2)).toBe(voids);
    console.log(`thread-appender: ${t.length} rows, ${voids} void, catch-up ms ${JSON.stringify(waits)}`);
    t.close();
    t.unlink();
  });
});

describe('a worker thread terminated while holding a Mutex', () => {
  it('the next lock() takes it over with recovered: true within 1 s, and the lock works after', async () => {
    const seg = SharedMemory.create({ name: fresh(), size: 4096 });
    const m = Mutex.create(seg, 0);
    for (let round = 0; round < 3; round++) {
      const w = tsWorker('thread-locker', { name: seg.name, offset: 0 });
      await workerMessage(w);
      expect(m.tryLock()).toBe(false);
      expect(m.owner).not.toBe(process.pid); // held by the worker's own thread id
      const t0 = performance.now();
      const waiting = m.lock({ timeout: 5000 });
      await w.terminate();
      const r = await waiting;
      const ms = performance.now() - t0;
      expect(r.recovered).toBe(true);
      expect(ms).toBeLessThan(1000);
      m.unlock();
      expect(m.tryLock()).toBe(true);
      m.unlock();
    }
    seg.close();
    seg.unlink();
  });

  it('a live worker keeps its lock: the main thread of the same process is another owner', async () => {
    const seg = SharedMemory.create({ name: fresh(), size: 4096 });
    const m = Mutex.create(seg, 0);
    const w = tsWorker('thread-locker', { name: seg.name, offset: 0 });
    await workerMessage(w);
    const e = await rejection(m.lock({ timeout: 300 }));
    expect(e.code).toBe('ERR_SHM_LOCK_TIMEOUT');
    expect(() => m.unlock()).toThrow(expect.objectContaining({ code: 'ERR_SHM_NOT_OWNER' }));
    await w.terminate();
    seg.close();
    seg.unlink();
  });
});
