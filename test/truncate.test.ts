/**
 * A truncated segment is an error, not a crash (native/truncation.cc,
 * lib/segment-truncated.ts): real readers in other processes and threads,
 * a real `truncate` process shrinking what they map, and V8's own signal
 * handling (WebAssembly bounds traps) checked alongside.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Channel, RecordTable, SharedMemory, ShmError, defineSchema } from '../lib/index';
import { nativeError } from '../lib/errors';
import { ROOT, exited, findCxx, forkFixture, nextMessage, runFixture, testScope, waitFor } from './helpers';

const { fresh, children } = testScope('truncate');
const MiB = 1 << 20;

interface Result {
  code?: string;
  message: string;
  passes: number;
  sums: number[];
  wasm: { errors: string[]; inBounds: number };
  stats: { installed: boolean; repaired: number; chained: number };
  closed: string;
  fromWorker?: boolean;
  workerError?: string;
}

/** Runs truncate-reader.ts on `target`, shrinks `file` to 4 KiB with the `truncate` command once it loops, and returns its report and exit. */
async function readWhileTruncated(kind: string, target: string, file: string) {
  const child = forkFixture('truncate-reader', [kind, target]);
  children.push(child);
  const first = await nextMessage<{ looping?: boolean; sum: number; workerError?: string }>(child);
  expect(first.workerError).toBeUndefined();
  expect(first.looping).toBe(true);
  const report = nextMessage<Result>(child);
  execFileSync('truncate', ['-s', '4096', file]); // another process, as a user would
  const result = await report;
  return { first, result, exit: await exited(child) };
}

/** What every reader must show: alive, the code, a message that says what happened, V8's traps intact. */
function expectSurvived(r: Awaited<ReturnType<typeof readWhileTruncated>>, what: string, size: number) {
  expect(r.exit).toEqual({ code: 0, signal: null });
  expect(r.result.code).toBe('ERR_SHM_TRUNCATED');
  expect(r.result.message).toContain(what);
  expect(r.result.message).toContain(`mapped as ${size} bytes`);
  expect(r.result.message).toContain('it is now 4096 bytes');
  expect(r.result.message).toMatch(/another process shrank it \(ftruncate, truncate -s\)/);
  expect(r.result.message).toMatch(/Bytes from offset \d+ on are lost to this process: its view reads them as zeros/);
  expect(r.result.stats.repaired).toBeGreaterThanOrEqual(1);
  expect(r.result.wasm.errors).toEqual(Array(3).fill('RuntimeError: memory access out of bounds'));
  expect(r.result.closed).toBe('ok'); // close() of a broken segment works
}

describe('a segment another process truncates', () => {
  it('a raw SharedMemory reader survives, and its next call throws ERR_SHM_TRUNCATED', async () => {
    const seg = SharedMemory.create({ name: fresh(), size: 16 * MiB });
    try {
      new Float64Array(seg.buffer).fill(1);
      const r = await readWhileTruncated('segment', seg.name, `/dev/shm/${seg.name}`);
      expect(r.first.sum).toBe(2 * MiB);
      expectSurvived(r, `segment '${seg.name}'`, 16 * MiB);
      expect(r.result.sums.at(-1)).toBeLessThan(2 * MiB); // the pass that met the truncation read zeros
      // This process never touched the missing pages: its mapping is not broken (yet).
      expect(() => seg.buffer).not.toThrow();
    } finally {
      seg.close();
      seg.unlink();
    }
  }, 60_000);

  it('a child summing a column of a 64 MiB table survives; its next table call throws; WebAssembly still traps', async () => {
    const rows = 8 * MiB;
    const t = RecordTable.create(defineSchema({ x: 'float64' }), { name: fresh(), capacity: rows });
    try {
      t.appendMany({ x: new Float64Array(rows).fill(2) });
      expect(t.segment.size).toBeGreaterThan(64 * MiB);
      const r = await readWhileTruncated('table', t.name, `/dev/shm/${t.name}`);
      expect(r.first.sum).toBe(2 * rows);
      expectSurvived(r, `segment '${t.name}'`, t.segment.size);
      // In this process too, once a read meets the missing pages.
      expect(() => t.column('x').reduce((a: number, b: number) => a + b, 0)).not.toThrow();
      for (const call of [() => t.column('x'), () => t.get(0), () => t.append({ x: 1 }), () => t.toArrow(), () => t.validity()]) {
        expect(call).toThrow(expect.objectContaining({ code: 'ERR_SHM_TRUNCATED' }));
      }
      expect(() => t.segment.buffer).toThrow(ShmError);
    } finally {
      t.close();
      t.unlink();
    }
  }, 120_000);

  it('a worker thread reading when the truncation happens survives and throws ERR_SHM_TRUNCATED', async () => {
    const seg = SharedMemory.create({ name: fresh(), size: 16 * MiB });
    try {
      new Float64Array(seg.buffer).fill(1);
      const r = await readWhileTruncated('worker', seg.name, `/dev/shm/${seg.name}`);
      expect(r.result.fromWorker).toBe(true);
      expectSurvived(r, `segment '${seg.name}'`, 16 * MiB);
    } finally {
      seg.close();
      seg.unlink();
    }
  }, 60_000);

  // Only where buffers are SharedArrayBuffers (bufferKind 'shared': Node ≥ 22.23.3, 24.16, 26.1); npm run test:versions runs it there.
  it.runIf(SharedMemory.bufferKind === 'shared')('a worker thread reading a posted SharedArrayBuffer meets the truncation; the owning thread\'s next call throws', async () => {
    const seg = SharedMemory.create({ name: fresh(), size: 16 * MiB });
    try {
      new Float64Array(seg.buffer).fill(1);
      const r = await readWhileTruncated('posted', seg.name, `/dev/shm/${seg.name}`);
      expect(r.first.sum).toBe(2 * MiB);
      expectSurvived(r, `segment '${seg.name}'`, 16 * MiB);
    } finally {
      seg.close();
      seg.unlink();
    }
  }, 60_000);

  it('a file-backed segment whose file is truncated: the reader survives and throws ERR_SHM_TRUNCATED naming the file', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shmkit-truncate-'));
    const file = path.join(dir, 'data.bin');
    try {
      const f = SharedMemory.open(file, { create: true, size: 16 * MiB });
      new Float64Array(f.buffer).fill(1);
      f.close();
      const r = await readWhileTruncated('file', file, file);
      expectSurvived(r, `file '${file}'`, 16 * MiB);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it('a channel whose segment is truncated: the send that meets it completes, the next send and receive throw', () => {
    const ch = Channel.create({ name: fresh(), bytes: 64 * 1024 });
    try {
      execFileSync('truncate', ['-s', '0', `/dev/shm/${ch.name}`]);
      // The first touch of a missing page is repaired with zeros (no SIGBUS death); whatever it returns, the calls after it throw.
      try {
        ch.send({ n: 1 });
      } catch {
        /* the ring read as zeros may say anything */
      }
      expect(() => ch.send({ n: 2 })).toThrow(expect.objectContaining({ code: 'ERR_SHM_TRUNCATED' }));
      expect(() => ch.receiveSync(0)).toThrow(expect.objectContaining({ code: 'ERR_SHM_TRUNCATED' }));
      expect(() => ch.segment.buffer).toThrow(/it is now 0 bytes/);
    } finally {
      ch.segment.close();
      SharedMemory.unlink(ch.name);
    }
  });

  it('this process: reads past the new end are zeros, writes there stay private, and flush() throws ERR_SHM_TRUNCATED', () => {
    const seg = SharedMemory.create({ name: fresh(), size: 1 * MiB });
    const other = SharedMemory.attach(seg.name);
    try {
      const a = new Uint8Array(seg.buffer);
      a.fill(7);
      execFileSync('truncate', ['-s', '8192', `/dev/shm/${seg.name}`]);
      expect(a[8191]).toBe(7); // still in the file
      expect(a[8192]).toBe(0); // repaired
      a[9000] = 5;
      expect(a[9000]).toBe(5);
      expect(a[4000]).toBe(7);
      expect(() => seg.flush()).toThrow(expect.objectContaining({ code: 'ERR_SHM_TRUNCATED' }));
      expect(() => seg.buffer).toThrow(/Bytes from offset 8192 on are lost/);
      // Another mapping of the same segment that has not met the end yet is not broken.
      expect(() => other.buffer).not.toThrow();
      expect(new Uint8Array(other.buffer)[100]).toBe(7);
    } finally {
      seg.close();
      other.close();
      seg.unlink();
    }
  });
});

describe('the handlers of SIGBUS and SIGSEGV that were there before', () => {
  const signals = (mode: string) => runFixture('truncate-signals', [mode, fresh()]);

  it('a WebAssembly out-of-bounds access after shmkit installed its SIGSEGV and SIGBUS handlers still throws RuntimeError', async () => {
    const r = await signals('wasm');
    expect(r.stderr).toBe('');
    expect({ code: r.code, signal: r.signal }).toEqual({ code: 0, signal: null });
    const out = JSON.parse(r.stdout) as { wasm: { errors: string[]; inBounds: number }; guard: boolean; stats: { repaired: number } };
    expect(out.wasm.errors).toEqual(Array(3).fill('RuntimeError: memory access out of bounds'));
    expect(out.wasm.inBounds).toBe(0);
    expect(out.stats.repaired).toBe(1);
    expect(out.guard).toBe(process.platform === 'linux' && process.arch === 'x64');
  });

  it('a SIGBUS sent to the process reaches a process.on("SIGBUS") listener registered before shmkit', async () => {
    const r = await signals('listener');
    expect({ code: r.code, signal: r.signal }).toEqual({ code: 0, signal: null });
    const out = JSON.parse(r.stdout) as { listener: number; stats: { chained: number } };
    expect(out.listener).toBe(1);
    expect(out.stats.chained).toBe(1);
  });

  it('without a previous handler a SIGBUS outside our mappings still kills the process with SIGBUS', async () => {
    const r = await signals('default');
    expect(r.signal).toBe('SIGBUS');
    expect(r.stdout).toBe('');
  });

  it('native unit test: kernel SIGBUSes outside our mappings go to the previous handler; faults at several pages; the external-buffer status mapping', () => {
    const cxx = findCxx();
    if (cxx === undefined) {
      console.warn('native truncation test skipped: no C++ compiler');
      return;
    }
    // js_native_api_types.h from the Node headers node-gyp built the addon with.
    const gypi = fs.readFileSync(path.join(ROOT, 'build', 'config.gypi'), 'utf8');
    const nodedir = /"nodedir": "([^"]+)"/.exec(gypi)?.[1] ?? '/usr';
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shmkit-trunc-'));
    try {
      const exe = path.join(dir, 'truncation-test');
      execFileSync(cxx, [
        '-std=c++17', '-O1', '-Wall', '-Wextra', '-pthread', `-I${path.join(nodedir, 'include', 'node')}`, '-o', exe,
        path.join(ROOT, 'test', 'native', 'truncation.cc'),
        path.join(ROOT, 'native', 'truncation.cc'), path.join(ROOT, 'native', 'external_buffers.cc'),
        path.join(ROOT, 'native', 'signal_chain.cc'),
      ]);
      for (const where of [dir, '/dev/shm']) {
        const out = JSON.parse(execFileSync(exe, { encoding: 'utf8', timeout: 60_000, env: { ...process.env, SHMKIT_TRUNC_DIR: where } })) as {
          checks: number; failures: number; repaired: number; chained: number;
        };
        expect(out).toEqual({ checks: 22, failures: 0, repaired: 2, chained: 2 });
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});

describe('ERR_SHM_EXTERNAL_BUFFERS', () => {
  it('is what the addon reports for napi_no_external_buffers_allowed: a ShmError naming the cause and the way out', () => {
    // The addon calls this factory as (0, '', name, code) (native/errors.cc ThrowCode); the status -> code step is the native unit test above.
    const err = nativeError(0, '', 'app.cache', 'ERR_SHM_EXTERNAL_BUFFERS');
    expect(err).toBeInstanceOf(ShmError);
    expect((err as ShmError).code).toBe('ERR_SHM_EXTERNAL_BUFFERS');
    expect(err.message).toContain("segment 'app.cache'");
    expect(err.message).toContain("V8's memory sandbox");
    expect(err.message).toContain('napi_no_external_buffers_allowed');
    expect(err.message).toMatch(/not a renderer/);
    expect(err.message).toContain("fs.readFileSync('/dev/shm/app.cache')");
  });

  it('leaves system errors as they were', () => {
    expect(nativeError(2, 'shm_open', 'x')).toMatchObject({ code: 'ENOENT', errno: -2, syscall: 'shm_open', path: 'x' });
  });
});

afterEach(async () => {
  await waitFor(() => children.every((c) => c.exitCode !== null || c.signalCode !== null), 'children to exit', 10_000).catch(() => undefined);
});
