/**
 * Growable tables (lib/table/grow.ts): memory given just ahead of the
 * appends, growth seen by readers in other processes without re-attach,
 * waitForLength on the committed futex, and appends from processes killed
 * at random moments and from worker threads. The protocol alone is
 * model-checked (model/grow.pml); out-of-space is grow-enospc.test.ts.
 */
import { describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import type { ChildProcess } from 'node:child_process';
import { RecordTable, SharedMemory, defineSchema } from '../lib/index';
import { OFF } from '../lib/table/layout';
import { exited, forkFixture, nextMessage, rejection, testScope, tsWorker, waitFor, workerMessage } from './helpers';
import { Stress, appendRows, checkArrow, makeRow, rng, rowCrc, textPool, type StressRow, type StressTable } from './fixtures/grow-rows';

const { fresh, children } = testScope('grow');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const now = () => performance.timeOrigin + performance.now();

/** Bytes of /dev/shm memory the segment holds (st_blocks × 512, what du counts). */
const shmBytes = (name: string) => fs.statSync(`/dev/shm/${name}`).blocks * 512;

/** Forks a fixture and records it for the scope's cleanup. */
function child(role: string, args: string[]): ChildProcess {
  const c = forkFixture(role, args);
  children.push(c);
  return c;
}

describe('a growable table grown by appends', () => {
  it('holds 2 GiB of appended Arrow bytes in at most 1.1 × that much /dev/shm, at every step from 256 MiB on', () => {
    const Wide = defineSchema({ id: 'int64', s: 'utf8', v: { type: 'int32', nullable: true } });
    const t = RecordTable.create(Wide, { name: fresh() });
    // One batch of 2000 strings of 1–4 KiB, appended again and again: few
    // rows, long values (the bytes of each batch are copied anew).
    const batch = 2000;
    const pool = Array.from({ length: batch }, (_, j) => String.fromCharCode(97 + (j % 26)).repeat(1024 + ((j * 7919) % 3073)));
    const poolBytes = pool.reduce((s, x) => s + x.length, 0);
    const v = Array.from({ length: batch }, (_, j) => (j % 5 === 0 ? null : j));
    const id = new BigInt64Array(batch);
    const target = 2 * 2 ** 30;
    // Arrow buffer bytes of n rows: id values, string views, v values and validity, string bytes.
    const arrowBytes = (n: number) => n * (8 + 16 + 4) + Math.ceil(n / 8) + (n / batch) * poolBytes;
    const t0 = performance.now();
    let rows = 0;
    let worst = 0;
    const steps: string[] = [];
    while (arrowBytes(rows) < target) {
      for (let j = 0; j < batch; j++) id[j] = BigInt(rows + j);
      expect(t.appendMany({ id, s: pool, v })).toBe(rows);
      rows += batch;
      const appended = arrowBytes(rows);
      if (appended >= 256 * 2 ** 20) {
        const ratio = shmBytes(t.name) / appended;
        worst = Math.max(worst, ratio);
        if ((rows / batch) % 100 === 0) steps.push(`${(appended / 2 ** 20).toFixed(0)} MiB: ${ratio.toFixed(3)}`);
        expect(ratio, `at ${appended} bytes appended`).toBeLessThanOrEqual(1.1);
      }
    }
    const secs = (performance.now() - t0) / 1000;
    const appended = arrowBytes(rows);
    const used = shmBytes(t.name);
    expect(t.length).toBe(rows);
    expect(used / appended).toBeLessThanOrEqual(1.1);
    // The bytes are the right ones, through get() and toArrow(), at both ends
    // and in between; every view lies in its data buffer (the heap spans 3
    // slices: values that would straddle 1 GiB go to the next one).
    const a = t.toArrow();
    expect(a.numRows).toBe(rows);
    const data = a.getChild('s')!.data[0]!;
    const views = new Int32Array(data.values.buffer, data.values.byteOffset, 4 * rows);
    const buffers = (data as unknown as { variadicBuffers: Uint8Array[] }).variadicBuffers;
    expect(buffers.length).toBe(3);
    let outside = 0;
    for (let i = 0; i < rows; i++) {
      const len = views[4 * i]!;
      const b = views[4 * i + 2]!;
      const o = views[4 * i + 3]!;
      if (len !== pool[i % batch]!.length || !(b >= 0 && b < buffers.length && o >= 0 && o + len <= buffers[b]!.length)) outside++;
    }
    expect(outside).toBe(0);
    const r = rng(3);
    for (let k = 0; k < 200; k++) {
      const i = k < 100 ? Math.floor(r() * rows) : k < 150 ? k - 100 : rows - 1 - (k - 150);
      const want = { id: BigInt(i), s: pool[i % batch]!, v: v[i % batch]! };
      expect(t.get(i)).toEqual(want);
      expect(a.getChild('s')!.get(i)).toBe(want.s);
      expect(a.getChild('id')!.get(i)).toBe(want.id);
      expect(a.getChild('v')!.get(i)).toBe(want.v);
    }
    console.log(
      `grow 2 GiB: ${rows} rows, ${appended} Arrow bytes appended, ${used} bytes in /dev/shm (ratio ${(used / appended).toFixed(4)}, worst from 256 MiB on ${worst.toFixed(4)}), ${secs.toFixed(1)} s; ${steps.join(', ')}`,
    );
    t.close();
    t.unlink();
  }, 240_000);
});

/** Appends rows seq = from .. to - 1 of writer 0, in batches of `batch`, strings up to maxChars. */
function fill(t: StressTable, from: number, to: number, batch: number, maxChars: number): void {
  const rand = rng(from + 1);
  const pool = textPool(7);
  for (let s = from; s < to; s += batch) {
    const rows = Array.from({ length: Math.min(batch, to - s) }, (_, j) => makeRow(0, 0, s + j, rand, pool, maxChars));
    expect(appendRows(t, rows, rows.length === 1 ? 'single' : 'columns')).toBe(s);
  }
}

describe('a reader in another process, attached before the table grew', () => {
  it('sees the rows appended after it attached (length, get, toArrow), read-only or not, without re-attaching', async () => {
    const t = RecordTable.create(Stress, { name: fresh() });
    const readers = [child('grow-reader', [t.name, 'ro']), child('grow-reader', [t.name, 'rw'])];
    for (const c of readers) expect(await nextMessage<{ length: number }>(c)).toEqual({ attached: true, length: 0 });
    // Past the first row step (4096 rows) and far past the first heap step (256 KiB).
    let n = 0;
    for (const upto of [1, 3000, 8000]) {
      fill(t, n, upto, 500, 2000);
      n = upto;
      for (const c of readers) {
        c.send({ check: n });
        expect(await nextMessage(c)).toEqual({ checked: true, length: n, problems: [] });
      }
    }
    for (const c of readers) {
      c.send({ exit: true });
      expect(await exited(c)).toEqual({ code: 0, signal: null });
    }
    t.close();
    t.unlink();
  });

  /**
   * Rounds of: the reader waits for one more row; 30 ms later (it sleeps by
   * then) this process appends it. Returns the latencies (ms) from the append
   * to waitForLength resolving, and the header's waiters word seen while the
   * reader slept.
   */
  async function wakeLatencies(t: StressTable, reader: ChildProcess, rounds: number): Promise<{ ms: number[]; waiters: number[] }> {
    const header = new Int32Array(t.segment.buffer, 0, OFF.schema >> 2);
    const ms: number[] = [];
    const waiters: number[] = [];
    for (let k = 0; k < rounds; k++) {
      const n = t.length;
      reader.send({ wait: n + 1, timeout: 5000 });
      expect(await nextMessage(reader)).toEqual({ waiting: true });
      const done = nextMessage<{ result: string; at: number; length: number }>(reader);
      await sleep(30);
      waiters.push(Atomics.load(header, OFF.waiters >> 2));
      const at = now();
      fill(t, n, n + 1, 1, 200);
      const r = await done;
      expect(r.result).toBe('ok');
      expect(r.length).toBe(n + 1);
      ms.push(r.at - at);
    }
    return { ms, waiters };
  }

  it("waitForLength resolves 'ok' within a few ms of another process's append (a futex wake, not a poll), and 'timed-out' on time when none comes", async () => {
    const t = RecordTable.create(Stress, { name: fresh() });
    const reader = child('grow-reader', [t.name, 'rw']);
    await nextMessage(reader);
    fill(t, 0, 100, 50, 100);
    await wakeLatencies(t, reader, 1); // warm-up: first calls compile
    const { ms, waiters } = await wakeLatencies(t, reader, 7);
    const shown = `latencies ${ms.map((x) => x.toFixed(2)).join(' ')} ms`;
    // Asleep on the futex: the reader counts itself in the header's waiters
    // word, which makes the committer wake it.
    expect(waiters).toEqual([1, 1, 1, 1, 1, 1, 1]);
    // Polling would take 70 ms at least here (100 ms slices, the append 30 ms
    // into one); a wake takes a few ms, more on a busy machine now and then.
    expect(Math.min(...ms), shown).toBeLessThan(20);
    expect([...ms].sort((a, b) => a - b)[3], shown).toBeLessThan(65);
    // No append: 'timed-out', after the timeout and promptly after it.
    const n = t.length;
    reader.send({ wait: n + 1, timeout: 250 });
    await nextMessage(reader);
    const t0 = now();
    const r = await nextMessage<{ result: string; at: number }>(reader);
    expect(r.result).toBe('timed-out');
    expect(r.at - t0).toBeGreaterThanOrEqual(240);
    expect(r.at - t0).toBeLessThan(500);
    expect(Atomics.load(new Int32Array(t.segment.buffer, 0, OFF.schema >> 2), OFF.waiters >> 2)).toBe(0);
    console.log(`waitForLength wake (rw reader): ${shown}; timed-out after ${(r.at - t0).toFixed(1)} ms`);
    // Bad arguments are refused before any wait.
    await expect(rejection(t.waitForLength(-1))).resolves.toBeInstanceOf(RangeError);
    reader.send({ exit: true });
    await exited(reader);
    t.close();
    t.unlink();
  });

  // A read-only view cannot raise the header's waiters word (the readonly
  // guard discards the write), so no committer wakes a read-only reader: it
  // looks every 10 ms instead of sleeping through a 100 ms slice.
  it('waitForLength on a read-only attach never writes the waiters word (it writes nothing) and sees an append within its 10 ms look', async () => {
    const t = RecordTable.create(Stress, { name: fresh() });
    const reader = child('grow-reader', [t.name, 'ro']);
    try {
      await nextMessage(reader);
      const { ms, waiters } = await wakeLatencies(t, reader, 5);
      console.log(`waitForLength wake (read-only reader): latencies ${ms.map((x) => x.toFixed(2)).join(' ')} ms, waiters word ${waiters}`);
      expect(waiters).toEqual([0, 0, 0, 0, 0]);
      // A 10 ms look, not a 100 ms slice (the append lands 30 ms into the wait), with room for a busy machine.
      expect(Math.min(...ms)).toBeLessThan(50);
    } finally {
      reader.send({ exit: true });
      await exited(reader);
      t.close();
      t.unlink();
    }
  });
});

describe('writers SIGKILLed at random moments while the table grows', () => {
  it('4 writer processes killed and restarted: length reaches every reserved row, each row whole or void, and toArrow() valid at every length a concurrent reader saw', async () => {
    const t = RecordTable.create(Stress, { name: fresh() });
    const flagSeg = SharedMemory.create({ name: fresh(), size: 4096 });
    // Word w: writer w is in its appending slice; word 4: the reader's samples so far.
    const busy = new Int32Array(flagSeg.buffer, 0, 8);
    const MAX_ROWS = 60_000; // about 150 MB; the writers stop there
    const KILLS = 10;
    const sampler = child('grow-sampler', [t.name, flagSeg.name]);
    // The 4 writers and a standby for each kill are started first, all at
    // once (a process takes a while to start, more on a busy machine): a
    // killed writer is replaced at once, as writer w of its next generation.
    const standby = () => {
      const c = child('grow-writer', [t.name, String(MAX_ROWS), flagSeg.name]);
      return { c, ready: nextMessage(c) };
    };
    const pool = Array.from({ length: 4 + KILLS }, standby);
    await Promise.all([nextMessage(sampler), ...pool.map((s) => s.ready)]);
    const gens = [0, 0, 0, 0];
    const started = [false, false, false, false]; // at its first append
    const activate = (w: number) => {
      const c = pool.shift()!.c;
      c.once('message', () => (started[w] = true));
      c.send({ w, gen: gens[w] });
      return c;
    };
    const writers = gens.map((_, w) => activate(w));
    await waitFor(() => started.every(Boolean), 'the 4 writers to start', 30_000);
    const rand = rng(42);
    const t0 = performance.now();
    let kills = 0;
    let inSlice = 0;
    let midWrite = 0;
    while (kills < KILLS) {
      // The reader samples between any two kills (it takes its time on a busy machine).
      const samples = Atomics.load(busy, 4);
      await sleep(rand() * 300);
      await waitFor(() => Atomics.load(busy, 4) > samples, 'the reader to sample toArrow()', 20_000);
      const w = Math.floor(rand() * 4);
      // Wait (up to 200 ms) for the writer to be in its appending slice, or
      // every other time in a slow write (rows reserved, not yet committed).
      const want = kills % 2 === 0 ? 1 : 2;
      for (const until = performance.now() + 200; Atomics.load(busy, w) < want && performance.now() < until; ) await new Promise(setImmediate);
      const at = Atomics.load(busy, w);
      writers[w]!.kill('SIGKILL');
      if (at >= 1) inSlice++;
      if (at === 2) midWrite++;
      await exited(writers[w]!);
      Atomics.store(busy, w, 0);
      kills++;
      gens[w]!++;
      writers[w] = activate(w);
    }
    await sleep(200); // the last ones append a little
    const stressMs = performance.now() - t0;
    for (const c of writers) {
      c.kill('SIGKILL');
      await exited(c);
    }
    sampler.send({ stop: true });
    const sampled = await nextMessage<{ samples: number; lengths: number; last: number; problems: string[] }>(sampler);
    expect(sampled.problems).toEqual([]);
    expect(sampled.samples).toBeGreaterThanOrEqual(KILLS);

    // Every reserved row ends below length: recovery voids the dead writers' holes.
    const header = new Int32Array(t.segment.buffer, 0, OFF.schema >> 2);
    const reserved = Atomics.load(header, OFF.reserved >> 2);
    await waitFor(() => t.length === reserved, `length to reach the ${reserved} reserved rows`, 10_000);
    const n = t.length;
    const a = t.toArrow();
    expect(a.numRows).toBe(n);
    const cols = (['w', 'gen', 'seq', 's', 'v', 'crc'] as const).map((k) => a.getChild(k)!);
    const seqs = new Map<string, number[]>();
    let voids = 0;
    for (let i = 0; i < n; i++) {
      if (t.isVoid(i)) {
        voids++;
        expect(() => t.get(i)).toThrow(expect.objectContaining({ code: 'ERR_SHM_VOID_ROW' }));
        for (const c of cols) expect(c.isValid(i), `void row ${i} in toArrow()`).toBe(false);
        continue;
      }
      const r = t.get(i) as StressRow;
      if (rowCrc(r) !== r.crc) expect.fail(`row ${i} is torn: ${JSON.stringify({ ...r, s: r.s.slice(0, 40) })}`);
      if (cols[2]!.get(i) !== r.seq || cols[3]!.get(i) !== r.s || cols[5]!.get(i) !== r.crc || cols[4]!.get(i) !== r.v) {
        expect.fail(`row ${i}: toArrow() differs from get()`);
      }
      const key = `${r.w}/${r.gen}`;
      const list = seqs.get(key) ?? [];
      list.push(r.seq);
      seqs.set(key, list);
    }
    expect(checkArrow(t, 0).problems).toEqual([]);
    // Each writer generation's rows are seq 0, 1, ... m-1, each once: none lost
    // (only the batch in flight at the kill is void) and none twice.
    for (const [key, list] of seqs) {
      list.sort((x, y) => x - y);
      expect(list.every((s, j) => s === j), `writer/generation ${key}: ${list.length} rows, not 0..${list.length - 1}`).toBe(true);
    }
    expect(seqs.size).toBeGreaterThan(4);
    // The header's void count is an upper bound (a writer killed between its
    // two steps leaves it one too high), never below the void rows.
    expect(Atomics.load(header, OFF.voids >> 2)).toBeGreaterThanOrEqual(voids);
    console.log(
      `grow kill stress: ${n} rows (${voids} void), ${kills} kills, ${seqs.size} writer generations, heap ${t.segment.size} address bytes, ${shmBytes(t.name)} in /dev/shm; ` +
        `reader: ${sampled.samples} toArrow() samples at ${sampled.lengths} lengths; ${inSlice} of the kills in an appending slice, ${midWrite} in a slow write; ${(stressMs / 1000).toFixed(1)} s`,
    );
    t.close();
    t.unlink();
    flagSeg.close();
    flagSeg.unlink();
  }, 120_000);
});

describe('worker threads appending to one growable table', () => {
  it('2 worker threads and the main thread append at once: every row whole, each writer\'s rows all there, once', async () => {
    const t = RecordTable.create(Stress, { name: fresh() });
    const ROWS = 4000;
    const gate = new Int32Array(new SharedArrayBuffer(4));
    const workers = [1, 2].map((w) => tsWorker('grow-thread', { name: t.name, writer: w, rows: ROWS, gate }));
    try {
      // Listen to both at once: a message posted while nobody listens is lost.
      await Promise.all(workers.map((w) => workerMessage(w)));
      const done = workers.map((w) => workerMessage<{ done: number; rows: number }>(w));
      Atomics.store(gate, 0, 1);
      Atomics.notify(gate, 0);
      // The main thread, meanwhile: writer 0.
      const rand = rng(9);
      const pool = textPool(9);
      for (let seq = 0; seq < ROWS; ) {
        const k = Math.min(ROWS - seq, rand() < 0.4 ? 1 : 1 + Math.floor(rand() * 20));
        appendRows(t, Array.from({ length: k }, (_, j) => makeRow(0, 0, seq + j, rand, pool, 5000)), k === 1 ? 'single' : 'rows');
        seq += k;
      }
      expect(await Promise.all(done)).toEqual([{ done: 1, rows: ROWS }, { done: 2, rows: ROWS }]);
    } finally {
      for (const w of workers) await w.terminate();
    }
    expect(t.length).toBe(3 * ROWS);
    const seqs: number[][] = [[], [], []];
    let interleaved = 0;
    let prev = -1;
    for (let i = 0; i < t.length; i++) {
      expect(t.isVoid(i)).toBe(false);
      const r = t.get(i) as StressRow;
      expect(rowCrc(r), `row ${i}`).toBe(r.crc);
      seqs[r.w]!.push(r.seq);
      if (r.w !== prev) interleaved++;
      prev = r.w;
    }
    for (const list of seqs) expect(list).toEqual(Array.from({ length: ROWS }, (_, j) => j)); // in order too: one writer's appends are sequential
    expect(checkArrow(t, 0).problems).toEqual([]);
    console.log(`grow threads: ${t.length} rows, writer changes along the table: ${interleaved}`);
    t.close();
    t.unlink();
  }, 60_000);
});
