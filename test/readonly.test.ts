import { describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { SharedMemory, notify, waitAsync } from '../lib/index';
import { binding } from '../lib/binding';
import { ROOT, TS_EXEC_ARGV, exited, findCxx, forkFixture, nextMessage, testScope, waitFor, READONLY_GUARDED } from './helpers';
import { STRAY_SEGMENT_SIZE, STRAY_SPOTS, type StrayReport } from './fixtures/readonly-strays';


const { fresh, children } = testScope('readonly');

interface Reply {
  ok: boolean;
  code?: string;
  message?: string;
  result?: string;
  value?: number;
  woken?: number;
  bytes?: number[];
  reports?: StrayReport[];
  maps?: number;
}

async function ask(c: ChildProcess, cmd: object): Promise<Reply> {
  const reply = nextMessage<Reply>(c);
  c.send(cmd);
  return reply;
}

/** A readonly-reader.ts attached readonly to `name`. */
async function reader(name: string): Promise<ChildProcess> {
  const c = forkFixture('readonly-reader');
  children.push(c);
  await nextMessage(c);
  expect(await ask(c, { op: 'attach', name })).toMatchObject({ ok: true, readonly: true });
  return c;
}

/** A sync-child.ts attached read-write to `name`: the "third process" that stores and notifies. */
async function writer(name: string): Promise<ChildProcess> {
  const c = forkFixture('sync-child');
  children.push(c);
  await nextMessage(c);
  expect(await ask(c, { op: 'attach', name })).toMatchObject({ ok: true });
  return c;
}

/** Whether the main thread of `pid` sleeps in a futex wait. */
function inFutexWait(pid: number): boolean {
  try {
    return fs.readFileSync(`/proc/${pid}/wchan`, 'utf8').includes('futex');
  } catch {
    return false;
  }
}

/** A deterministic, non-uniform byte pattern, so any stray byte shows. */
function pattern(u8: Uint8Array, salt: number): void {
  for (let i = 0; i < u8.length; i++) u8[i] = (i * 31 + salt + (i >>> 12)) & 0xff;
}

function expectAllDiscarded(reports: StrayReport[]): void {
  expect(reports.length).toBeGreaterThanOrEqual(25);
  for (const r of reports) expect({ kind: r.kind, unchanged: r.unchanged }).toEqual({ kind: r.kind, unchanged: true });
  const by = Object.fromEntries(reports.map((r) => [r.kind, r.returned]));
  // Read-modify-writes run against the current bytes: they return what the writers left there.
  const [added, found] = by['Atomics.add returns the value it found'] as [number, number];
  expect(added).toBe(found);
  const [swapped, missed, found2] = by['Atomics.compareExchange returns the value it found'] as [number, number, number];
  expect(swapped).toBe(found2);
  expect(missed).toBe(found2);
  // The kernel, not JavaScript, writes here: it refuses with EFAULT instead of a signal.
  expect(by['fs.readSync into the view']).toEqual({ threw: 'EFAULT' });
}

/**
 * After a round of strays through `c`'s view: the writer's bytes are the
 * pattern still, and every page the strays wrote follows a new write.
 */
async function expectUnchangedAndFollowing(seg: SharedMemory, c: ChildProcess, salt: number): Promise<void> {
  const expected = new Uint8Array(seg.size);
  pattern(expected, salt);
  expect(Buffer.from(seg.buffer).equals(expected)).toBe(true);
  const u8 = new Uint8Array(seg.buffer);
  const next = STRAY_SPOTS.map((o) => (u8[o]! + 101) & 0xff);
  STRAY_SPOTS.forEach((o, k) => (u8[o] = next[k]!));
  expect((await ask(c, { op: 'read', offsets: STRAY_SPOTS })).bytes).toEqual(next);
}

describe.runIf(READONLY_GUARDED)('SharedMemory.attach(name, { readonly: true }) under the guard', () => {
  it('maps the shared pages themselves, read-only: every later write shows, and close() leaves no range behind', () => {
    const seg = SharedMemory.create({ name: fresh(), size: 3 * 4096 });
    const ro = SharedMemory.attach(seg.name, { readonly: true });
    const ranges = binding.guardStats().ranges;
    const w = new Uint8Array(seg.buffer);
    const r = new Uint8Array(ro.buffer);
    for (let i = 0; i < 3; i++) {
      w[i * 4096 + 7] = 200 + i;
      expect(r[i * 4096 + 7]).toBe(200 + i);
    }
    r[7] = 1; // discarded…
    expect(r[7]).toBe(200); // …and the page is the shared one again
    w[7] = 111;
    expect(r[7]).toBe(111);
    expect(binding.guardStats()).toMatchObject({ supported: true, installed: true, swappedNow: 0 });
    ro.close();
    expect(binding.guardStats().ranges).toBe(ranges - 1);
    seg.close();
    seg.unlink();
  });

  it('lets a reader blocked in waitSync see the writer’s later write and be woken by a notify from a third process', async () => {
    const seg = SharedMemory.create({ name: fresh(), size: 4096 });
    const i32 = new Int32Array(seg.buffer);
    i32[0] = 111;
    const r = await reader(seg.name);
    const w = await writer(seg.name);
    // The reader first writes to the word's own page (a plain store and an
    // Atomics.add), which used to leave it a private copy forever.
    const woken = ask(r, { op: 'waitSync', index: 0, expected: 111, timeout: 30_000, strayFirst: true });
    await waitFor(() => inFutexWait(r.pid!), 'the reader to sleep in the futex', 10_000);
    expect(await ask(w, { op: 'notify', index: 0, store: 222 })).toMatchObject({ ok: true, woken: 1 });
    expect(await woken).toEqual({ ok: true, result: 'ok', value: 222 });
    // The reader's stray writes reached no one.
    expect([i32[1], i32[2]]).toEqual([0, 0]);
    i32[0] = 333;
    expect((await ask(r, { op: 'read', offsets: [0, 4, 8] })).bytes).toEqual([333 & 0xff, 0, 0]);
    seg.close();
    seg.unlink();
  });

  it('lets a reader waitAsync on a readonly view, and a readonly view notify a writer', async () => {
    const seg = SharedMemory.create({ name: fresh(), size: 4096 });
    const i32 = new Int32Array(seg.buffer);
    const r = await reader(seg.name);
    const w = await writer(seg.name);
    const pending = ask(r, { op: 'waitAsync', index: 5, expected: 0, timeout: 30_000 });
    // The third process notifies until the reader's wait (on a thread of its own) has begun.
    let woken = 0;
    for (let tries = 0; woken === 0 && tries < 500; tries++) {
      woken = (await ask(w, { op: 'notify', index: 5 })).woken!;
      if (woken === 0) await new Promise((res) => setTimeout(res, 10));
    }
    expect(woken).toBe(1);
    expect(await pending).toEqual({ ok: true, result: 'ok', value: 0 });
    i32[5] = 7;
    expect((await ask(r, { op: 'read', offsets: [20] })).bytes).toEqual([7]);
    // The other way round: this process waits on its writable view, the reader notifies.
    const mine = waitAsync(i32, 6, 0, 30_000);
    let reached = 0;
    for (let tries = 0; reached === 0 && tries < 500; tries++) {
      reached = (await ask(r, { op: 'notify', index: 6 })).woken!;
      if (reached === 0) await new Promise((res) => setTimeout(res, 10));
    }
    expect(reached).toBe(1);
    expect(await mine).toBe('ok');
    seg.close();
    seg.unlink();
  });

  it('discards stray writes of every kind from the main thread: the process lives, the segment is unchanged, and the written pages follow the writer', async () => {
    const seg = SharedMemory.create({ name: fresh(), size: STRAY_SEGMENT_SIZE });
    pattern(new Uint8Array(seg.buffer), 1);
    const r = await reader(seg.name);
    expect((await ask(r, { op: 'maps' })).maps).toBe(1);
    const reply = await ask(r, { op: 'strays' });
    expect(reply.ok).toBe(true);
    expectAllDiscarded(reply.reports!);
    await expectUnchangedAndFollowing(seg, r, 1);
    // Each swapped page went back where it was: the view is one mapping again, no alias is left.
    expect((await ask(r, { op: 'maps' })).maps).toBe(1);
    expect(await ask(r, { op: 'stats' })).toMatchObject({ swappedNow: 0, failures: 0 });
    r.send({ op: 'exit' });
    expect(await exited(r)).toEqual({ code: 0, signal: null });
    seg.close();
    seg.unlink();
  }, 120_000);

  it('discards the same stray writes from a worker thread that attached the segment itself', async () => {
    const seg = SharedMemory.create({ name: fresh(), size: STRAY_SEGMENT_SIZE });
    pattern(new Uint8Array(seg.buffer), 2);
    const r = await reader(seg.name);
    const reply = await ask(r, { op: 'strays-in-worker' });
    expect(reply.ok).toBe(true);
    expectAllDiscarded(reply.reports!);
    await expectUnchangedAndFollowing(seg, r, 2);
    r.send({ op: 'exit' });
    expect(await exited(r)).toEqual({ code: 0, signal: null });
    seg.close();
    seg.unlink();
  }, 120_000);

  it('discards a write across a page boundary and a large TypedArray.set over many pages, in this very process', () => {
    const seg = SharedMemory.create({ name: fresh(), size: 300 * 4096 });
    pattern(new Uint8Array(seg.buffer), 3);
    const before = Buffer.from(new Uint8Array(seg.buffer)); // a copy
    const ro = SharedMemory.attach(seg.name, { readonly: true });
    const dv = new DataView(ro.buffer);
    const r = new Uint8Array(ro.buffer);
    dv.setFloat64(4096 - 3, 1e300); // 3 bytes on page 0, 5 on page 1
    Atomics.add(new Int32Array(ro.buffer), 2048, 1); // page 2, read-modify-write
    r.set(new Uint8Array(256 * 4096).fill(9), 16 * 4096 + 1); // 257 pages
    expect(Buffer.from(seg.buffer).equals(before)).toBe(true);
    expect(Buffer.from(ro.buffer).equals(before)).toBe(true);
    const w = new Uint8Array(seg.buffer);
    for (const at of [4095, 4096, 8192, 16 * 4096 + 1, 200 * 4096, 272 * 4096]) {
      w[at] = ~w[at]! & 0xff;
      expect(r[at]).toBe(w[at]);
    }
    expect(binding.guardStats().swappedNow).toBe(0);
    ro.close();
    seg.close();
    seg.unlink();
  });

  it('holds up under many threads writing to the same readonly pages at once (native stress test of guard.cc)', () => {
    const cxx = findCxx();
    if (cxx === undefined) {
      console.warn('native guard stress test skipped: no C++ compiler');
      return;
    }
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shmkit-guard-'));
    try {
      const exe = path.join(dir, 'guard-stress');
      execFileSync(cxx, [
        '-std=c++17', '-O1', '-pthread', '-o', exe,
        path.join(ROOT, 'test', 'native', 'guard-stress.cc'),
        path.join(ROOT, 'native', 'guard.cc'), path.join(ROOT, 'native', 'guard_table.cc'),
        path.join(ROOT, 'native', 'guard_decode.cc'), path.join(ROOT, 'native', 'signal_chain.cc'), '-lrt', '-ldl',
      ]);
      const out = JSON.parse(execFileSync(exe, { encoding: 'utf8', timeout: 60_000 })) as {
        decoder: { cases: number };
        threads: { rmw: number; writes: number; busyRetries: number };
        failures: number;
      };
      expect(out.failures).toBe(0);
      expect(out.decoder.cases).toBeGreaterThanOrEqual(22);
      expect(out.threads.rmw).toBeGreaterThan(0);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});

describe.runIf(READONLY_GUARDED)('the readonly guard and the other handlers of SIGSEGV and SIGTRAP', () => {
  const crash = (mode: string, execArgv: string[] = []) => {
    const name = fresh();
    return new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string }>((resolve) => {
      const c = forkFixture('readonly-crash', [name, mode], {
        execArgv: [...TS_EXEC_ARGV, ...execArgv],
        stdio: ['ignore', 'pipe', 'ignore', 'ipc'],
      });
      children.push(c);
      let stdout = '';
      c.stdout!.on('data', (d) => (stdout += d));
      c.on('close', (code, signal) => resolve({ code, signal, stdout }));
    });
  };

  it('still turns a WebAssembly out-of-bounds access into a RuntimeError, through V8’s own trap handler', async () => {
    const r = await crash('wasm');
    expect(r.signal).toBeNull();
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({
      installed: true,
      storesSkipped: expect.any(Number),
      inBounds: 0,
      error: { name: 'RuntimeError', message: 'memory access out of bounds' },
      chainedSegv: 1, // the fault came to us first and was handed on
    });
  });

  it.each([
    ['a SIGSEGV sent to the process', 'sigsegv', 'SIGSEGV', []],
    ['a SIGTRAP sent to the process', 'sigtrap', 'SIGTRAP', []],
    ['a breakpoint instruction (int3)', 'int3', 'SIGTRAP', []],
    ['a real stack overflow past V8’s limit', 'overflow', 'SIGSEGV', ['--stack-size=50000']],
  ])('still lets %s kill the process as before', async (_, mode, signal, execArgv) => {
    const r = await crash(mode, execArgv as string[]);
    expect(r.stdout).toBe('');
    expect(r.signal).toBe(signal);
  }, 60_000);
});

describe.runIf(!READONLY_GUARDED)('SharedMemory.attach(name, { readonly: true }) without the guard (not x86-64 Linux)', () => {
  it('maps a private copy-on-write view: a written page stays private', () => {
    const seg = SharedMemory.create({ name: fresh(), size: 8192 });
    const ro = SharedMemory.attach(seg.name, { readonly: true });
    expect(binding.guardStats().supported).toBe(false);
    new Uint8Array(ro.buffer)[0] = 9;
    expect(new Uint8Array(seg.buffer)[0]).toBe(0);
    expect(new Uint8Array(ro.buffer)[0]).toBe(9);
    ro.close();
    seg.close();
    seg.unlink();
  });
});
