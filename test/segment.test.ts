import { afterEach, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { execFile } from 'node:child_process';
import { SharedMemory, MAX_SIZE, ShmError } from '../lib/index';
import { exited, forkFixture, isRoot, nextMessage, removeAll, ROOT, runFixture, shmEntries, testPrefix, READONLY_GUARDED } from './helpers';

const prefix = testPrefix('segment');
let n = 0;
const fresh = () => `${prefix}-${n++}`;

afterEach(() => removeAll(prefix));

/** Asserts an fs-shaped system error. */
function expectSystemError(fn: () => unknown, code: string, errno: number, syscall: string, path?: string) {
  let caught: NodeJS.ErrnoException | undefined;
  try {
    fn();
  } catch (e) {
    caught = e as NodeJS.ErrnoException;
  }
  expect(caught, `expected ${code}`).toBeInstanceOf(Error);
  expect(caught!.code).toBe(code);
  expect(caught!.errno).toBe(errno);
  expect(caught!.syscall).toBe(syscall);
  if (path !== undefined) {
    expect(caught!.path).toBe(path);
    expect(caught!.message).toMatch(new RegExp(`^${code}: .+, ${syscall} '${path.replace(/\./g, '\\.')}'$`));
  }
  return caught!;
}

describe('SharedMemory.create()', () => {
  it('makes a zero-filled segment of exactly the requested size, owned by default', () => {
    const seg = SharedMemory.create({ name: fresh(), size: 10_000 });
    expect(seg.size).toBe(10_000);
    expect(seg.buffer.byteLength).toBe(10_000);
    expect(fs.statSync(`/dev/shm/${seg.name}`).size).toBe(10_000);
    expect(new Uint8Array(seg.buffer).every((b) => b === 0)).toBe(true);
    expect(seg.owned).toBe(true);
    expect(seg.readonly).toBe(false);
    expect(seg.closed).toBe(false);
    expect(seg.handle).toEqual({ name: seg.name, size: 10_000 });
    expect(JSON.parse(JSON.stringify(seg.handle))).toEqual(seg.handle);
    seg.close();
    seg.unlink();
  });

  it('generates names from the prefix and 64 random bits', () => {
    const names = Array.from({ length: 20 }, () => {
      const s = SharedMemory.create({ size: 1, prefix });
      s.close();
      s.unlink();
      return s.name;
    });
    for (const name of names) expect(name).toMatch(new RegExp(`^${prefix}-[0-9a-f]{16}$`));
    expect(new Set(names).size).toBe(names.length);
  });

  it('throws EEXIST on a taken name and leaves the existing bytes unchanged', () => {
    const name = fresh();
    const seg = SharedMemory.create({ name, size: 64 });
    new Uint8Array(seg.buffer).fill(7);
    expectSystemError(() => SharedMemory.create({ name, size: 4096 }), 'EEXIST', -17, 'shm_open', name);
    expect(fs.statSync(`/dev/shm/${name}`).size).toBe(64);
    const again = SharedMemory.attach(name);
    expect(Array.from(new Uint8Array(again.buffer))).toEqual(new Array(64).fill(7));
    again.close();
    seg.close();
    seg.unlink();
  });

  it.each([0o022, 0o077, 0o000])('applies mode exactly whatever the umask (%o)', (mask) => {
    const old = process.umask(mask);
    try {
      const a = SharedMemory.create({ name: fresh(), size: 1 });
      const b = SharedMemory.create({ name: fresh(), size: 1, mode: 0o640 });
      expect(fs.statSync(`/dev/shm/${a.name}`).mode & 0o7777).toBe(0o600);
      expect(fs.statSync(`/dev/shm/${b.name}`).mode & 0o7777).toBe(0o640);
      for (const s of [a, b]) (s.close(), s.unlink());
    } finally {
      process.umask(old);
    }
  });

  const badNames: [string, unknown, RegExp][] = [
    ['empty', '', /^options\.name must not be empty$/],
    ['with a slash', 'a/b', /^options\.name must not contain '\/'$/],
    ['with a NUL', 'a\0b', /^options\.name must not contain NUL$/],
    ['over 255 bytes', 'é'.repeat(128), /^options\.name must be at most 255 bytes of UTF-8$/],
    ['a dot', '..', /^options\.name must not be '\.' or '\.\.'$/],
    ['not a string', 42, /^options\.name must be a string, got 42$/],
  ];
  it.each(badNames)('rejects a name that is %s with a TypeError before any syscall', (_, name, message) => {
    const before = fs.readdirSync('/dev/shm').length;
    expect(() => SharedMemory.create({ name: name as string, size: 1 })).toThrow(TypeError);
    expect(() => SharedMemory.create({ name: name as string, size: 1 })).toThrow(message);
    expect(fs.readdirSync('/dev/shm').length).toBe(before);
  });

  const badSizes: [unknown, ErrorConstructor][] = [
    [0, RangeError],
    [-1, RangeError],
    [1.5, RangeError],
    [NaN, RangeError],
    [Infinity, RangeError],
    [MAX_SIZE + 1, RangeError],
    [2 ** 60, RangeError],
    ['10', TypeError],
    [10n, TypeError],
    [undefined, TypeError],
  ];
  it.each(badSizes)('rejects size %s with a clear error before any syscall', (size, type) => {
    const name = fresh();
    let caught: Error | undefined;
    try {
      SharedMemory.create({ name, size: size as number });
    } catch (e) {
      caught = e as Error;
    }
    expect(caught).toBeInstanceOf(type);
    expect(caught!.message).toMatch(/^options\.size must be (a positive safe integer|a number)/);
    expect(SharedMemory.exists(name)).toBe(false);
  });

  it.skipIf(MAX_SIZE < 5 * 2 ** 30)('makes a 5 GiB segment on Node ≥ 22, filled at both ends, that a child reads at both ends', async () => {
    const size = 5 * 2 ** 30;
    const seg = SharedMemory.create({ name: fresh(), size });
    const u8 = new Uint8Array(seg.buffer);
    expect(u8.length).toBe(size);
    u8.fill(0xab, 0, 1 << 20);
    u8.fill(0xcd, size - (1 << 20));
    u8[2 ** 32 + 7] = 0x42; // past the 4 GiB that 32-bit lengths reach
    const child = forkFixture('shm-worker');
    try {
      await nextMessage(child);
      child.send({ op: 'attach', name: seg.name });
      expect(await nextMessage(child)).toEqual({ ok: true, size });
      for (const [offset, bytes] of [[0, [0xab, 0xab]], [size - 2, [0xcd, 0xcd]], [2 ** 32 + 6, [0, 0x42]]] as const) {
        child.send({ op: 'read', offset, length: 2 });
        expect(await nextMessage(child)).toEqual({ ok: true, bytes });
      }
      child.send({ op: 'exit' });
      await exited(child);
    } finally {
      child.kill('SIGKILL');
      seg.close();
      seg.unlink();
    }
  }, 120_000);

  it('names the largest size in the message', () => {
    expect(() => SharedMemory.create({ size: MAX_SIZE + 1 })).toThrow(
      `options.size must be a positive safe integer no larger than ${MAX_SIZE}, got ${MAX_SIZE + 1}`,
    );
  });

  it.skipIf(!isRoot)('throws ENOSPC on a full 4 MiB tmpfs, leaves nothing behind and never SIGBUSes', async () => {
    const r = await runFixture('enospc', [], [
      'unshare', '-m', '--propagation', 'private', '--',
      'sh', '-c', 'mount -t tmpfs -o size=4m tmpfs /dev/shm && exec "$@"', 'sh',
    ]);
    expect(r.signal).toBeNull();
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout.trim());
    expect(out.shmSize).toBe(4 << 20);
    expect(out.big).toMatchObject({ code: 'ENOSPC', errno: -28, syscall: 'posix_fallocate', path: 'enospc-big' });
    expect(out.big.message).toMatch(/^ENOSPC: no space left on device, posix_fallocate 'enospc-big': needed 8388608 bytes .* --shm-size=/);
    expect(out.leftAfterFailure).toEqual([]);
    expect(out.filled).toBe(true);
    expect(out.second).toBe('ENOSPC');
    expect(out.leftAtEnd).toEqual([]);
  });
  it.runIf(!isRoot)('skips the ENOSPC case: it needs root for unshare + mount', () => {
    console.warn('ENOSPC test skipped: not root');
    expect(isRoot).toBe(false);
  });
});

describe('SharedMemory.attach()', () => {
  it('throws ENOENT shaped like an fs error for a missing name', () => {
    const name = fresh();
    const e = expectSystemError(() => SharedMemory.attach(name), 'ENOENT', -2, 'shm_open', name);
    expect(e.message).toBe(`ENOENT: no such file or directory, shm_open '${name}'`);
  });

  it('takes its size from the segment and accepts a handle', () => {
    const seg = SharedMemory.create({ name: fresh(), size: 12345 });
    const byName = SharedMemory.attach(seg.name);
    const byHandle = SharedMemory.attach(seg.handle);
    expect(byName.size).toBe(12345);
    expect(byHandle.size).toBe(12345);
    expect(byName.owned).toBe(true); // same process: ownership is per name
    new Uint8Array(seg.buffer)[12344] = 99;
    expect(new Uint8Array(byHandle.buffer)[12344]).toBe(99);
    for (const s of [byName, byHandle, seg]) s.close();
    seg.unlink();
  });

  it('throws ERR_SHM_SIZE_MISMATCH for a stale handle and does not unlink anything', () => {
    const seg = SharedMemory.create({ name: fresh(), size: 100 });
    let caught: ShmError | undefined;
    try {
      SharedMemory.attach({ name: seg.name, size: 200 });
    } catch (e) {
      caught = e as ShmError;
    }
    expect(caught).toBeInstanceOf(ShmError);
    expect(caught!.code).toBe('ERR_SHM_SIZE_MISMATCH');
    expect(SharedMemory.exists(seg.name)).toBe(true);
    seg.close();
    seg.unlink();
  });

  it('rejects bad handles and options with TypeErrors', () => {
    expect(() => SharedMemory.attach(42 as unknown as string)).toThrow(TypeError);
    expect(() => SharedMemory.attach({ name: 'a/b', size: 1 })).toThrow("handle.name must not contain '/'");
    expect(() => SharedMemory.attach({ name: 'x', size: -1 })).toThrow(RangeError);
    expect(() => SharedMemory.attach('x', { readonly: 'yes' as unknown as boolean })).toThrow(TypeError);
  });

  it('gives a readonly attach a view whose writes never reach others and never crash', async () => {
    const seg = SharedMemory.create({ name: fresh(), size: 8192 });
    new Uint8Array(seg.buffer).fill(5);
    const child = forkFixture('shm-worker');
    await nextMessage(child);
    child.send({ op: 'attach', name: seg.name, readonly: true });
    expect(await nextMessage(child)).toEqual({ ok: true, size: 8192 });
    child.send({ op: 'write', offset: 100, value: 77 });
    expect(await nextMessage(child)).toEqual({ ok: true });
    child.send({ op: 'read', offset: 99, length: 3 });
    // x86-64 Linux: the write is discarded (native/guard.cc). Elsewhere it
    // lands in a private copy of the page.
    expect(await nextMessage(child)).toEqual({ ok: true, bytes: READONLY_GUARDED ? [5, 5, 5] : [5, 77, 5] });
    expect(new Uint8Array(seg.buffer)[100]).toBe(5);
    // The written page still follows the writer under the guard; untouched pages always do.
    new Uint8Array(seg.buffer)[101] = 8;
    new Uint8Array(seg.buffer)[5000] = 6;
    child.send({ op: 'read', offset: 101, length: 1 });
    expect(await nextMessage(child)).toEqual({ ok: true, bytes: [READONLY_GUARDED ? 8 : 5] });
    child.send({ op: 'read', offset: 5000, length: 1 });
    expect(await nextMessage(child)).toEqual({ ok: true, bytes: [6] });
    child.send({ op: 'exit' });
    expect(await exited(child)).toEqual({ code: 0, signal: null });

    const ro = SharedMemory.attach(seg.name, { readonly: true });
    expect(ro.readonly).toBe(true);
    new Float64Array(ro.buffer).fill(1.5);
    expect(new Uint8Array(seg.buffer)[0]).toBe(5);
    expect(new Uint8Array(ro.buffer)[0]).toBe(READONLY_GUARDED ? 5 : new Uint8Array(new Float64Array([1.5]).buffer)[0]);
    ro.close();
    seg.close();
    seg.unlink();
  });

  it.skipIf(!isRoot)('gives another user EACCES on a 0600 segment (setpriv to nobody)', async () => {
    const seg = SharedMemory.create({ name: fresh(), size: 64 });
    const as = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'];
    const env = { ...process.env, HOME: '/tmp' };
    const r = await runFixture('attach-as', [seg.name], as, { env });
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual({
      code: 'EACCES',
      errno: -13,
      syscall: 'shm_open',
      path: seg.name,
      message: `EACCES: permission denied, shm_open '${seg.name}'`,
    });
    expect(SharedMemory.exists(seg.name)).toBe(true);
    seg.close();
    seg.unlink();
  });
});

describe('SharedMemory#close()', () => {
  it('detaches views so reads see length 0, and the process lives (an ArrayBuffer)', (ctx) => {
    if (SharedMemory.bufferKind !== 'external') return ctx.skip();
    const seg = SharedMemory.create({ name: fresh(), size: 1 << 20 });
    const bytes = new Uint8Array(seg.buffer);
    const floats = new Float64Array(seg.buffer, 8, 100);
    const dv = new DataView(seg.buffer);
    bytes[0] = 1;
    seg.close();
    expect(seg.closed).toBe(true);
    expect(seg.buffer.byteLength).toBe(0);
    expect(bytes.length).toBe(0);
    expect(floats.length).toBe(0);
    expect(bytes[0]).toBeUndefined();
    bytes[0] = 5; // ignored, not a crash
    expect(floats[3]).toBeUndefined();
    expect(() => dv.getUint8(0)).toThrow(TypeError);
    expect(() => bytes.fill(3)).toThrow(TypeError);
    seg.close(); // idempotent
    expect(SharedMemory.exists(seg.name)).toBe(true); // close is not unlink
    seg.unlink();
  });

  it('zeroes views in place so reads see zeros and writes reach no one, and the process lives (a SharedArrayBuffer)', (ctx) => {
    if (SharedMemory.bufferKind !== 'shared') return ctx.skip();
    const seg = SharedMemory.create({ name: fresh(), size: 1 << 20 });
    const other = SharedMemory.attach(seg.name);
    const bytes = new Uint8Array(seg.buffer);
    const floats = new Float64Array(seg.buffer, 8, 100);
    const dv = new DataView(seg.buffer);
    bytes.fill(1);
    seg.close();
    expect(seg.closed).toBe(true);
    expect(seg.buffer.byteLength).toBe(1 << 20);
    expect(bytes[0]).toBe(0);
    expect(floats[3]).toBe(0);
    expect(dv.getUint32(4096)).toBe(0);
    bytes.fill(3); // private zero pages: not a crash, not shared
    expect(bytes[5]).toBe(3);
    expect(new Uint8Array(other.buffer)[5]).toBe(1);
    seg.close(); // idempotent
    expect(SharedMemory.exists(seg.name)).toBe(true); // close is not unlink
    other.close();
    seg.unlink();
  });

  it('is what Symbol.dispose does', () => {
    const name = fresh();
    let view: Uint8Array;
    {
      using seg = SharedMemory.create({ name, size: 16 });
      view = new Uint8Array(seg.buffer);
      view[0] = 1;
      expect(view.length).toBe(16);
    }
    if (SharedMemory.bufferKind === 'external') expect(view.length).toBe(0);
    else expect(view[0]).toBe(0);
    SharedMemory.unlink(name);
  });

  it('survives many create/close cycles and garbage collection of unclosed buffers', () => {
    for (let i = 0; i < 200; i++) {
      const s = SharedMemory.create({ name: fresh(), size: 4096 * (1 + (i % 5)) });
      new Uint32Array(s.buffer)[0] = i;
      if (i % 2) s.close(); // the others are left to the finalizer
      s.unlink();
    }
    (globalThis as { gc?: () => void }).gc?.();
    expect(shmEntries(prefix)).toEqual([]);
  });
});

describe('SharedMemory#unlink() and SharedMemory.unlink()', () => {
  it('throws ENOENT with syscall shm_unlink when the name is gone', () => {
    const name = fresh();
    expectSystemError(() => SharedMemory.unlink(name), 'ENOENT', -2, 'shm_unlink', name);
    const seg = SharedMemory.create({ name, size: 1 });
    seg.unlink();
    expect(seg.owned).toBe(false);
    expectSystemError(() => seg.unlink(), 'ENOENT', -2, 'shm_unlink', name);
    seg.close();
  });

  it('keeps a child’s existing view valid while new attaches get ENOENT', async () => {
    const name = fresh();
    const seg = SharedMemory.create({ name, size: 4096 });
    new Uint8Array(seg.buffer).fill(3);
    const child = forkFixture('shm-worker');
    await nextMessage(child);
    child.send({ op: 'attach', name });
    await nextMessage(child);
    seg.unlink();
    expect(SharedMemory.exists(name)).toBe(false);
    expectSystemError(() => SharedMemory.attach(name), 'ENOENT', -2, 'shm_open', name);
    new Uint8Array(seg.buffer)[10] = 42; // both views still share the pages
    child.send({ op: 'read', offset: 9, length: 2 });
    expect(await nextMessage(child)).toEqual({ ok: true, bytes: [3, 42] });
    child.send({ op: 'write', offset: 11, value: 43 });
    await nextMessage(child);
    expect(new Uint8Array(seg.buffer)[11]).toBe(43);
    child.send({ op: 'attach', name });
    expect(await nextMessage(child)).toMatchObject({ ok: false, code: 'ENOENT', errno: -2, syscall: 'shm_open' });
    child.send({ op: 'exit' });
    await exited(child);
    seg.close();
  });
});

describe('SharedMemory across processes', () => {
  it('lets a child write what the parent reads', async () => {
    const name = fresh();
    const child = forkFixture('shm-worker');
    await nextMessage(child);
    child.send({ op: 'create', name, size: 1000, fill: 0x5a, owned: false });
    expect(await nextMessage(child)).toEqual({ ok: true });
    const seg = SharedMemory.attach(name);
    expect(seg.owned).toBe(false);
    expect(new Uint8Array(seg.buffer).every((b) => b === 0x5a)).toBe(true);
    child.send({ op: 'write', offset: 999, value: 1 });
    await nextMessage(child);
    expect(new Uint8Array(seg.buffer)[999]).toBe(1);
    child.send({ op: 'exit' });
    await exited(child);
    seg.close();
    SharedMemory.unlink(name);
  });

  it('lets the parent write what 4 children read, each summing a quarter', async () => {
    const N = 1 << 20;
    const seg = SharedMemory.create({ name: fresh(), size: N * 8 });
    const a = new Float64Array(seg.buffer);
    for (let i = 0; i < N; i++) a[i] = i % 1000;
    const children = Array.from({ length: 4 }, () => forkFixture('shm-worker'));
    await Promise.all(children.map((c) => nextMessage(c)));
    const sums = await Promise.all(
      children.map((c, k) => {
        c.send({ op: 'sum-f64', name: seg.name, from: (k * N) / 4, to: ((k + 1) * N) / 4 });
        return nextMessage<{ sum: number }>(c);
      }),
    );
    let expected = 0;
    for (let i = 0; i < N; i++) expected += i % 1000;
    expect(sums.reduce((s, r) => s + r.sum, 0)).toBe(expected);
    for (const c of children) c.send({ op: 'exit' });
    await Promise.all(children.map(exited));
    seg.close();
    seg.unlink();
  });
});

describe('ownership at exit', () => {
  it.each([
    ['owned', 'exit', false],
    ['owned', 'throw', false],
    ['unowned', 'exit', true],
    ['unregister', 'exit', true],
  ])('a %s segment whose creator ends by %s survives: %s', async (mode, end, survives) => {
    const name = fresh();
    const r = await runFixture('owner', [name, mode, end]);
    expect(r.code).toBe(end === 'throw' ? 1 : 0);
    expect(SharedMemory.exists(name)).toBe(survives);
    if (survives) {
      const seg = SharedMemory.attach(name);
      expect(new Uint8Array(seg.buffer)[0]).toBe(42);
      seg.close();
      SharedMemory.unlink(name);
    }
  });

  it('never unlinks a newer segment that reuses an owned name', async () => {
    const name = fresh();
    const child = forkFixture('owner', [name, 'owned', 'wait']);
    expect(await nextMessage(child)).toEqual({ created: name, owned: true });
    // Someone else removes the child's segment and makes a new one under the same name…
    SharedMemory.unlink(name);
    const other = SharedMemory.create({ name, size: 16, owned: false });
    // …so the child's exit must leave the new one alone.
    child.send('exit');
    expect(await exited(child)).toEqual({ code: 0, signal: null });
    expect(SharedMemory.exists(name)).toBe(true);
    other.close();
    other.unlink();
  });
});

describe('platforms and limits', () => {
  it('throws EMFILE from shm_open when the process is out of descriptors, and leaves nothing behind', async () => {
    const name = fresh();
    const r = await runFixture('fd-limit', [name], ['prlimit', '--nofile=128']);
    expect(r.stderr).toBe('');
    const out = JSON.parse(r.stdout);
    expect(out.held).toBeGreaterThan(0);
    expect(out.create).toEqual({ code: 'EMFILE', errno: -24, syscall: 'shm_open', path: name });
    expect(out.attach).toEqual({ code: 'EMFILE', errno: -24, syscall: 'shm_open', path: name });
    expect(out.exists).toBe(false);
  });

  it('works in a worker thread without Node warning about descriptors', async () => {
    const name = fresh();
    const r = await runFixture('in-worker', [name]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ value: 7, exists: true });
    expect(SharedMemory.exists(name)).toBe(false);
  });
});

describe('SharedMemory.exists() and SharedMemory.list()', () => {
  it('reports names, sizes and kinds under a prefix, sorted', () => {
    const a = SharedMemory.create({ name: `${prefix}-list-b`, size: 300 });
    const b = SharedMemory.create({ name: `${prefix}-list-a`, size: 200 });
    const list = SharedMemory.list({ prefix: `${prefix}-list-` });
    expect(list.map((s) => [s.name, s.size, s.kind])).toEqual([
      [b.name, 200, 'raw'],
      [a.name, 300, 'raw'],
    ]);
    expect(SharedMemory.exists(a.name)).toBe(true);
    for (const s of [a, b]) (s.close(), s.unlink());
    expect(SharedMemory.exists(a.name)).toBe(false);
    expect(SharedMemory.list({ prefix: `${prefix}-list-` })).toEqual([]);
  });

  it('validates names', () => {
    expect(() => SharedMemory.exists('')).toThrow(TypeError);
    expect(() => SharedMemory.unlink('a/b')).toThrow(TypeError);
  });
});

describe('examples/fanout', () => {
  it('hands 4 children the data three ways, checks their sums, and leaves no segment behind', async () => {
    const p = testPrefix('fanout');
    const script = path.join(ROOT, 'examples', 'fanout', 'demo.js');
    const args = ['--mb', '8', '--json-mb', '1', '--rounds', '2', '--prefix', p, '--json'];
    const r = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
      execFile(process.execPath, [script, ...args], (err, stdout, stderr) =>
        err && typeof err.code !== 'number' ? reject(err) : resolve({ code: err ? (err.code as number) : 0, stdout, stderr }),
      );
    });
    expect(r.stderr).toBe(''); // a wrong sum in any child would be thrown and printed here
    expect(r.code).toBe(0);
    const res = JSON.parse(r.stdout.trim().split('\n').pop()!) as {
      rounds: number;
      rows: { label: string; bytes: number; handoff: number; total: number; peak: number; baseline: number }[];
    };
    expect(res.rounds).toBe(2);
    expect(res.rows.map((row) => row.bytes)).toEqual([8 * 1024 * 1024, 8 * 1024 * 1024, 1024 * 1024]);
    for (const row of res.rows) {
      expect(row.handoff).toBeGreaterThan(0);
      expect(row.total).toBeGreaterThanOrEqual(row.handoff);
      expect(row.peak).toBeGreaterThan(row.baseline); // the sampler saw the tree, and it held the data
    }
    expect(shmEntries(p)).toEqual([]);
  }, 60_000);
});
