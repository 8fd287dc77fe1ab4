/**
 * Segments as SharedArrayBuffers (issue 13): where the runtime has
 * node_api_create_external_sharedarraybuffer the addon built here hands out
 * SharedArrayBuffers, elsewhere ArrayBuffers as before. This Node (20) gives
 * the external kind; Node 24 runs the same built package through
 * `npx -y node@24` and must give the shared kind.
 */
import { describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { SharedMemory } from '../lib/index';
import { ROOT, shmEntries, testPrefix } from './helpers';

function nodeMajor(major: number): string[] | undefined {
  const r = spawnSync('npx', ['-y', `node@${major}`, '--version'], { encoding: 'utf8', timeout: 120_000 });
  return r.status === 0 && r.stdout.startsWith(`v${major}.`) ? ['npx', '-y', `node@${major}`] : undefined;
}

describe('SharedMemory.bufferKind', () => {
  it('is external on Node 20, where close() detaches the buffer', () => {
    if (!process.version.startsWith('v20.')) return;
    expect(SharedMemory.bufferKind).toBe('external');
    const seg = SharedMemory.create({ name: testPrefix('sab20'), size: 4096 });
    expect(seg.buffer).toBeInstanceOf(ArrayBuffer);
    const u8 = new Uint8Array(seg.buffer);
    seg.close();
    seg.unlink();
    expect(u8.length).toBe(0);
    expect(seg.buffer.byteLength).toBe(0);
  });
});

// Runs under Node 24 against the built package (dist/) and prints one JSON line.
const SCRIPT = (prefix: string): string => `
const { SharedMemory, RecordTable, defineSchema, waitSync, waitAsync, notify, Mutex } = require(${JSON.stringify(ROOT)});
const { Worker } = require('node:worker_threads');
const out = { version: process.version, kind: SharedMemory.bufferKind };
(async () => {
  // create, attach, close: old views keep their length, read zeros, writes reach no one.
  const a = SharedMemory.create({ name: ${JSON.stringify(`${prefix}-raw`)}, size: 1 << 16 });
  out.isSab = a.buffer instanceof SharedArrayBuffer;
  new Uint8Array(a.buffer).fill(7);
  const b = SharedMemory.attach(a.handle);
  const u8 = new Uint8Array(b.buffer), i32 = new Int32Array(b.buffer), dv = new DataView(b.buffer);
  out.before = [u8[0], u8[65535]];
  b.close();
  b.close(); // idempotent
  out.after = { len: u8.length, first: u8[0], last: u8[65535], dv: dv.getUint32(100), atomic: Atomics.load(i32, 5) };
  u8.fill(9); Atomics.add(i32, 3, 5); dv.setFloat64(40, 1.5); Atomics.store(i32, 7, 11);
  out.afterWrite = { byte: u8[0], add: Atomics.load(i32, 3), store: Atomics.load(i32, 7) };
  try { waitSync(i32, 0, 0); out.waitClosed = 'returned'; } catch (e) { out.waitClosed = e.code; }
  out.waitAsyncClosed = await waitAsync(i32, 0, 0).then(() => 'resolved', (e) => e.code);
  out.othersSee = [new Uint8Array(a.buffer)[0], new Int32Array(a.buffer)[3]];
  // A mutex and notify/waitSync keep working on the live segment.
  const m = Mutex.create(a, 0);
  await m.lock(); m.unlock();
  out.tryLock = m.tryLock(); m.unlock();
  out.waitAsync = await waitAsync(new Int32Array(a.buffer), 12, 0x07070707, 5);
  out.notify = notify(new Int32Array(a.buffer), 8);

  // RecordTable: utf8 of every length, nulls, toArrow.
  const S = defineSchema({ s: 'utf8', n: { type: 'int32', nullable: true }, x: 'float64' });
  const t = RecordTable.create(S, { name: ${JSON.stringify(`${prefix}-table`)} });
  const vals = ['', 'é', 'ascii only', 'ü'.repeat(40), '日本語テキスト'.repeat(10), 'x'.repeat(5000)];
  for (let i = 0; i < 600; i++) t.append({ s: vals[i % vals.length] + i, n: i % 3 ? i : null, x: i / 2 });
  const r = RecordTable.attach(t.handle);
  out.tableSab = r.segment.buffer instanceof SharedArrayBuffer;
  const bad = [];
  for (let i = 0; i < 600; i++) {
    const row = r.get(i);
    if (row.s !== vals[i % vals.length] + i || row.n !== (i % 3 ? i : null) || row.x !== i / 2) bad.push(i);
  }
  out.badRows = bad.length;
  const arrow = r.toArrow();
  out.arrow = { rows: arrow.numRows, s4: arrow.getChild('s').get(4), n0: arrow.getChild('n').get(0), x9: arrow.getChild('x').get(9) };
  r.close();
  t.close(); t.unlink();

  // A worker gets the same memory by postMessage, no copy.
  const w = new Worker(\`
    const { parentPort } = require('node:worker_threads');
    parentPort.once('message', (sab) => {
      const u8 = new Uint8Array(sab);
      u8[1] = 42;
      parentPort.postMessage({ isSab: sab instanceof SharedArrayBuffer, seen: u8[0] });
    });\`, { eval: true });
  new Uint8Array(a.buffer)[0] = 99;
  w.postMessage(a.buffer);
  const reply = await new Promise((res) => w.once('message', res));
  out.worker = { ...reply, wrote: new Uint8Array(a.buffer)[1] };
  await w.terminate();

  a.close(); a.unlink();
  // Closed buffers give their address range back when collected.
  const vm = () => Number(/VmSize:\\s+(\\d+)/.exec(require('node:fs').readFileSync('/proc/self/status', 'utf8'))[1]) * 1024;
  gc(); await new Promise((r) => setTimeout(r, 20)); gc();
  const vm0 = vm();
  // A plain function, so no suspended async frame keeps the last buffer alive.
  let keep = (() => {
    const views = [];
    for (let i = 0; i < 50; i++) {
      const s = SharedMemory.create({ name: ${JSON.stringify(`${prefix}-loop`)}, size: 64 << 20 });
      views.push(new Uint8Array(s.buffer, 4096, 16));
      s.close(); s.unlink();
    }
    return views;
  })();
  out.vmGrew = vm() - vm0;
  keep = null;
  for (let i = 0; i < 10 && vm() - vm0 >= (64 << 20); i++) { gc(); await new Promise((r) => setTimeout(r, 50)); }
  out.vmLeft = vm() - vm0;
  console.log(JSON.stringify(out));
})().catch((e) => { console.error(e); process.exit(1); });
`;

describe('SharedArrayBuffer segments under Node 24', () => {
  it('hands out SharedArrayBuffers that zero on close, carry tables and Arrow, and post to workers without a copy', (ctx) => {
    const cmd = nodeMajor(24);
    if (!cmd) {
      console.warn('skipped: node@24 could not be fetched from the registry');
      ctx.skip();
      return;
    }
    const prefix = testPrefix('sab24');
    const text = execFileSync(cmd[0]!, [...cmd.slice(1), '--expose-gc', '-e', SCRIPT(prefix)], { encoding: 'utf8', cwd: ROOT, maxBuffer: 1 << 24 });
    const out = JSON.parse(text.trim().split('\n').pop()!);
    expect(out.version.startsWith('v24.')).toBe(true);
    expect(out.kind).toBe('shared');
    expect(out.isSab).toBe(true);
    expect(out.before).toEqual([7, 7]);
    expect(out.after).toEqual({ len: 1 << 16, first: 0, last: 0, dv: 0, atomic: 0 });
    expect(out.afterWrite).toEqual({ byte: 9, add: 0x09090909 + 5, store: 11 }); // private zero pages: writable, but ours alone
    expect(out.waitClosed).toBe('ERR_SHM_CLOSED'); // not a sleep on pages no one else sees
    expect(out.waitAsyncClosed).toBe('ERR_SHM_CLOSED');
    expect(out.othersSee).toEqual([7, 0x07070707]); // the write after close reached no one
    expect(out.notify).toBe(0);
    expect(out.tryLock).toBe(true);
    expect(out.waitAsync).toBe('timed-out');
    expect(out.tableSab).toBe(true);
    expect(out.badRows).toBe(0);
    expect(out.arrow).toEqual({ rows: 600, s4: '日本語テキスト'.repeat(10) + '4', n0: null, x9: 4.5 });
    expect(out.worker).toEqual({ isSab: true, seen: 99, wrote: 42 });
    expect(out.vmGrew).toBeGreaterThanOrEqual(50 * (64 << 20)); // views kept alive keep their (zeroed) ranges
    expect(out.vmLeft).toBeLessThan(64 << 20); // collected: the ranges are unmapped
    expect(shmEntries(prefix)).toEqual([]);
  }, 180_000);
});
