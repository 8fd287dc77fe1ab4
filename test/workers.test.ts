/**
 * Segments and worker threads, on whichever buffer kind this Node gives
 * (`npm run test:versions` runs this file on Node 20, 22, 24 and 26):
 * posting a segment's buffer to workers (the same memory where it is a
 * SharedArrayBuffer, a copy where it is an ArrayBuffer), attaching by handle
 * in a worker, closing under a worker that still uses the memory, old views
 * after close in a worker, futex waits and the mutex between a worker and a
 * forked child, and the address space of many closed segments.
 */
import { describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { RecordTable, SharedMemory, defineSchema, type SegmentHandle } from '../lib/index';
import { FIXTURES, ROOT, TS_EXEC_ARGV, forkFixture, nextMessage, testScope, tsWorker, waitFor, workerMessage } from './helpers';

const { prefix, fresh, children } = testScope('workers');
const SHARED = SharedMemory.bufferKind === 'shared';

/** Runs one command of test/fixtures/thread-segment.ts in a new worker and returns its reply. */
async function inWorker<T = Record<string, unknown>>(cmd: object): Promise<T> {
  const w = tsWorker('thread-segment', cmd);
  try {
    const reply = await workerMessage<T & { error?: string }>(w);
    if (reply.error) throw new Error(`worker: ${reply.error}`);
    return reply;
  } finally {
    await w.terminate();
  }
}

/** The bytes another process sees: the segment read through its file, not through any mapping. */
function fileBytes(name: string): Uint8Array {
  return new Uint8Array(fs.readFileSync(`/dev/shm/${name}`));
}

/** How a worker reaches the segment: its posted buffer where that is the same memory, else by handle. */
function reach(seg: SharedMemory): { buffer: ArrayBufferLike } | { handle: SegmentHandle } {
  return SHARED ? { buffer: seg.buffer } : { handle: seg.handle };
}

describe(`worker threads (bufferKind '${SharedMemory.bufferKind}')`, () => {
  it('hands 4 workers one 16 MiB segment: each sums its quarter in the same memory', async () => {
    const seg = SharedMemory.create({ name: fresh(), size: 16 << 20 });
    const f64 = new Float64Array(seg.buffer);
    for (let i = 0; i < f64.length; i++) f64[i] = i % 1000;
    const q = f64.length / 4;
    const expected = (from: number) => {
      let s = 0;
      for (let i = from; i < from + q; i++) s += i % 1000;
      return s;
    };
    for (const how of ['buffer', 'handle'] as const) {
      const via = () => (how === 'buffer' ? { buffer: seg.buffer } : { handle: seg.handle });
      const replies = await Promise.all(
        [0, 1, 2, 3].map((k) => inWorker<{ sum: number; isSab: boolean }>({ op: 'sum', ...via(), from: k * q, to: (k + 1) * q, stamp: -(k + 1) })),
      );
      for (let k = 0; k < 4; k++) {
        expect(replies[k]!.sum).toBe(expected(k * q));
        expect(replies[k]!.isSab).toBe(SHARED);
        // A posted SharedArrayBuffer is this very memory, as is a worker's own attach; a posted ArrayBuffer is a copy.
        const reached = how === 'handle' || SHARED;
        expect(f64[k * q]).toBe(reached ? -(k + 1) : (k * q) % 1000);
        f64[k * q] = (k * q) % 1000; // undo the stamp for the next round
      }
    }
    seg.close();
    seg.unlink();
  }, 60_000);

  it("posts a growable table's segment buffer: the worker sums a column in place and sees later appends", async () => {
    const t = RecordTable.create(defineSchema({ x: 'float64', s: 'utf8' }), { name: fresh() });
    for (let i = 0; i < 5000; i++) t.append({ x: i, s: `row ${i}` });
    const col = t.column('x') as Float64Array;
    const from = col.byteOffset / 8;
    const cmd = (stamp: number) => ({ op: 'sum', ...reach(t.segment), from, to: from + t.length, stamp });
    const first = await inWorker<{ sum: number }>(cmd(-1));
    expect(first.sum).toBe((4999 * 5000) / 2);
    expect(t.get(0).x).toBe(-1); // the worker's write is in the table
    for (let i = 5000; i < 6000; i++) t.append({ x: 1, s: '' });
    const second = await inWorker<{ sum: number }>(cmd(0));
    expect(second.sum).toBe(-1 + (4999 * 5000) / 2 + 1000);
    expect(t.get(0).x).toBe(0);
    t.close();
    t.unlink();
  }, 60_000);

  it('keeps a worker alive that uses the buffer while the creating thread closes it', async () => {
    const name = fresh();
    const seg = SharedMemory.create({ name, size: 1 << 20 });
    new Uint8Array(seg.buffer).fill(7);
    const control = new Int32Array(new SharedArrayBuffer(8));
    const w = tsWorker('thread-segment', { op: 'hammer', ...reach(seg), control: control.buffer });
    const reply = workerMessage<Record<string, unknown>>(w);
    try {
      await waitFor(() => Atomics.load(control, 1) > 1000, 'the worker to start hammering', 20_000);
      seg.close();
      const at = Atomics.load(control, 1);
      await waitFor(() => Atomics.load(control, 1) > at + 1000, 'the worker to go on after close', 20_000);
      Atomics.store(control, 0, 1);
      const r = await reply;
      if (SHARED) {
        // The same memory, swapped for zero pages: zeros from then on, and nothing the worker does reaches the segment.
        expect(r).toMatchObject({ first: 0, read: { len: 1 << 20, first: 0, last: 5 }, atomicStore: 11, atomicLoad: 11 }); // last: its own write after close
        expect([r.waitSync, r.waitAsync, r.notify]).toEqual(['ERR_SHM_CLOSED', 'ERR_SHM_CLOSED', 'ERR_SHM_CLOSED']);
        const bytes = fileBytes(name);
        expect(bytes[0]).toBe(7);
        expect(bytes[100]).toBe(7); // fill(9) after close went nowhere (word 2 is the worker's counter)
        expect(new Int32Array(bytes.buffer, 16, 1)[0]).toBe(0x07070707);
      } else {
        // The worker's own mapping: untouched by another thread's close.
        expect(r).toMatchObject({ first: 7, read: { len: 1 << 20, first: 7 } });
        expect(fileBytes(name)[0]).toBe(9);
      }
    } finally {
      Atomics.store(control, 0, 1);
      await w.terminate();
    }
    SharedMemory.unlink(name);
  }, 60_000);

  it('lets a worker read, write, Atomics and wait on old views of a segment it closed, without a crash', async () => {
    const name = fresh();
    const r = await inWorker<Record<string, unknown>>({ op: 'closeOwn', name });
    expect(r.kind).toBe(SharedMemory.bufferKind);
    if (SHARED) {
      expect(r).toMatchObject({ read: { len: 1 << 16, first: 0, last: 0 }, fill: 'done', setFloat64: 'done', atomicStore: 11, atomicLoad: 11 });
      expect(r.atomicAdd).toBe(0x09090909); // after fill(9): the private zero pages are writable, and ours alone
    } else {
      // Detached: JavaScript's own TypeError/RangeError, never a fault.
      expect(r).toMatchObject({ read: { len: 0 }, fill: 'TypeError', setFloat64: 'TypeError', atomicStore: 'TypeError', atomicLoad: 'TypeError' });
    }
    expect([r.waitSync, r.waitAsync, r.notify]).toEqual(['ERR_SHM_CLOSED', 'ERR_SHM_CLOSED', 'ERR_SHM_CLOSED']);
    expect(fileBytes(name).every((b) => b === 7)).toBe(true); // no write after close reached the segment
    SharedMemory.unlink(name);
  }, 60_000);

  it('lets a worker and a forked child wake each other with notify/waitSync and waitAsync, and share the mutex', async () => {
    const seg = SharedMemory.create({ name: fresh(), size: 4096 });
    const i32 = new Int32Array(seg.buffer);
    const child = forkFixture('sync-child');
    children.push(child);
    await nextMessage(child);
    child.send({ op: 'attach', name: seg.name });
    await nextMessage(child);

    for (const async of [false, true]) {
      i32.fill(0, 0, 4);
      // The child waits (asynchronously) on word 2 before anything can wake it.
      child.send({ op: 'waitAsync', index: 2, expected: 0, timeout: 20_000, id: 1 });
      const worker = inWorker<{ result: string; value: number }>({ op: 'waitFor', ...reach(seg), index: 1, reply: 2, ready: 3, async });
      await waitFor(() => Atomics.load(i32, 3) === 1, 'the worker to reach its wait', 20_000);
      await new Promise((r) => setTimeout(r, 100)); // from the flag to the futex call: microseconds
      child.send({ op: 'notify', index: 1, store: 41, id: 2 }); // child → worker
      const replies: Record<number, { result?: string }> = {};
      while (!replies[1] || !replies[2]) {
        const m = await nextMessage<{ id: number; result?: string }>(child);
        replies[m.id] = m;
      }
      expect(await worker).toEqual({ result: 'ok', value: 41 });
      expect(replies[1]!.result).toBe('ok'); // worker → child
      expect(Atomics.load(i32, 2)).toBe(42);
    }

    // Both increment one counter under the mutex, a plain read-modify-write.
    child.send({ op: 'count', mutexAt: 64, counterAt: 128, iterations: 3000 });
    const [, fromWorker] = await Promise.all([
      nextMessage(child),
      inWorker({ op: 'count', handle: seg.handle, mutexAt: 64, counterAt: 128, iterations: 3000 }),
    ]);
    expect(fromWorker).toEqual({ done: true });
    expect(i32[32]).toBe(6000);
    child.send({ op: 'exit' });
    seg.close();
    seg.unlink();
  }, 60_000);
});

describe('closed segments give their address space back', () => {
  it('after 1,000 create/attach/close cycles of 64 MiB with views kept until GC, /proc/self/maps returns to its start', async () => {
    const script = path.join(FIXTURES, 'segment-cycles.ts');
    const child = spawn(process.execPath, ['--expose-gc', ...TS_EXEC_ARGV, script, `${prefix}-cyc`, '1000'], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    const code = await new Promise((resolve) => child.on('close', resolve));
    expect(code).toBe(0);
    const r = JSON.parse(out) as { kind: string; start: { total: number; shm: number }; peak: { total: number; shm: number }; end: { total: number; shm: number }; liveViews: number };
    const SIZE = 64 << 20;
    expect(r.kind).toBe(SharedMemory.bufferKind);
    expect(r.liveViews).toBe(2000);
    expect(r.peak.shm).toBe(0); // no segment stays mapped after close…
    // …but a SharedArrayBuffer's range stays reserved (zero pages) while views of it live
    // (give or take what V8's own heap gave back meanwhile).
    if (SHARED) expect(r.peak.total - r.start.total).toBeGreaterThanOrEqual(2000 * SIZE - (64 << 20));
    expect(r.end.shm).toBe(0);
    expect(r.end.total - r.start.total).toBeLessThan(SIZE); // collected: every range is unmapped
  }, 180_000);
});
