/**
 * File-backed segments and tables (SharedMemory.open, RecordTable.create
 * with `path`, RecordTable.open): real files under a temporary directory,
 * real child processes, a private small tmpfs for the out-of-space cases,
 * and a 10M-row table whose writer is SIGKILLed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { MAX_SIZE, RecordTable, SharedMemory, defineSchema, forkMap } from '../lib/index';
import { FIXTURES, ROOT, TS_EXEC_ARGV, exited, forkFixture, cannotUnshare, isRoot, runFixture } from './helpers';
import { FileRows, fileBatch, idOf, kOf, sOf } from './fixtures/file-table-rows';
import { PYTHON, python, pythonHas } from './python-run';
import { rng } from './rng';

let dir: string;
let serial = 0;
/** A fresh path in this file's temporary directory (nothing is created). */
const fresh = (ext = 'bin') => path.join(dir, `f${serial++}.${ext}`);

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shmkit-file-'));
  fs.chmodSync(dir, 0o755); // so that another user reaches the files (the EACCES case)
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Runs test/fixtures/file-peer.ts and parses its JSON line. */
async function peer(...args: string[]): Promise<Record<string, any>> {
  const r = await runFixture('file-peer', args);
  expect(r.signal, r.stderr).toBeNull();
  expect(r.stderr).toBe('');
  return JSON.parse(r.stdout);
}

const systemError = (code: string, errno: number, syscall: string, file: string, text: string) => ({
  code,
  errno,
  syscall,
  path: file,
  message: expect.stringMatching(new RegExp(`^${code}: ${text}, ${syscall} '${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}'($|: needed \\d+ bytes)`)),
});

describe('SharedMemory.open()', () => {
  it('creates a file exclusively with its size reserved and mode 0600, maps it, and shares it with another process', async () => {
    const file = fresh();
    const umask = process.umask(0o077);
    let seg: SharedMemory;
    try {
      seg = SharedMemory.open(file, { size: 1 << 20, create: true, mode: 0o640 });
    } finally {
      process.umask(umask);
    }
    const st = fs.statSync(file);
    expect(st.size).toBe(1 << 20);
    expect(st.blocks * 512).toBeGreaterThanOrEqual(1 << 20); // reserved, not sparse
    expect(st.mode & 0o777).toBe(0o640); // fchmod: the umask did not narrow it
    expect([seg.name, seg.path, seg.size, seg.readonly, seg.owned, seg.closed]).toEqual([file, file, 1 << 20, false, false, false]);
    expect(seg.handle).toEqual({ name: file, size: 1 << 20, path: file });
    new Uint8Array(seg.buffer).set([1, 2, 3], 0);

    // Another process, by handle and by path: the same bytes, no flush needed.
    expect(await peer('read', JSON.stringify(seg.handle))).toMatchObject({ size: 1 << 20, bytes: [1, 2, 3, ...Array(13).fill(0)] });
    expect(await peer('write', file, '9')).toMatchObject({ size: 1 << 20 });
    expect(new Uint8Array(seg.buffer)[5]).toBe(9); // its writes show here, though it exited without flush or close
    seg.close();
    expect(fs.readFileSync(file).every((b) => b === 9)).toBe(true);
    fs.rmSync(file);
  });

  it('defaults to mode 0600, takes a relative path or a file: URL, and names the segment by its absolute path', () => {
    const file = fresh();
    const rel = path.relative(process.cwd(), file);
    const seg = SharedMemory.open(rel, { size: 100, create: true });
    expect(seg.name).toBe(file);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    const again = SharedMemory.open(pathToFileURL(file), { size: 100 });
    expect(again.path).toBe(file);
    again.close();
    seg.close();
    fs.rmSync(file);
  });

  it('throws EEXIST on create of an existing file and leaves it untouched', () => {
    const file = fresh();
    fs.writeFileSync(file, 'precious', { mode: 0o644 });
    const err = (() => {
      try {
        SharedMemory.open(file, { size: 4096, create: true });
      } catch (e) {
        return e;
      }
    })();
    expect(err).toMatchObject(systemError('EEXIST', -17, 'open', file, 'file already exists'));
    expect(fs.readFileSync(file, 'utf8')).toBe('precious');
    expect(fs.statSync(file).mode & 0o777).toBe(0o644);
    fs.rmSync(file);
  });

  it('throws ENOENT for a missing file, EISDIR for a directory (read-only or not), with errno, syscall and path', () => {
    const file = fresh();
    expect(() => SharedMemory.open(file)).toThrow(expect.objectContaining(systemError('ENOENT', -2, 'open', file, 'no such file or directory')));
    expect(() => SharedMemory.open(file, { readonly: true })).toThrow(expect.objectContaining({ code: 'ENOENT', errno: -2, syscall: 'open', path: file }));
    expect(fs.existsSync(file)).toBe(false); // open without create never creates
    for (const readonly of [false, true]) {
      expect(() => SharedMemory.open(dir, { readonly })).toThrow(expect.objectContaining(systemError('EISDIR', -21, 'open', dir, 'illegal operation on a directory')));
    }
  });

  it.skipIf(!isRoot)('gives another user EACCES on a 0600 file (setpriv to nobody)', async () => {
    const file = fresh();
    SharedMemory.open(file, { size: 64, create: true }).close();
    const as = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'];
    const r = await runFixture('file-peer', ['read', file], as, { env: { ...process.env, HOME: '/tmp' } });
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout).error).toEqual(systemError('EACCES', -13, 'open', file, 'permission denied'));
    fs.rmSync(file);
  });

  it('takes the size from the file without create; a given size must match (ERR_SHM_SIZE_MISMATCH); an empty file maps as empty', () => {
    const file = fresh();
    fs.writeFileSync(file, Buffer.alloc(5000, 7));
    const seg = SharedMemory.open(file);
    expect(seg.size).toBe(5000);
    expect(new Uint8Array(seg.buffer)[4999]).toBe(7);
    seg.close();
    expect(SharedMemory.open(file, { size: 5000, readonly: true }).size).toBe(5000);
    expect(() => SharedMemory.open(file, { size: 4096 })).toThrow(expect.objectContaining({ code: 'ERR_SHM_SIZE_MISMATCH', message: `file '${file}' is 5000 bytes, not the 4096 expected` }));
    // A stale handle: the file changed size since.
    expect(() => SharedMemory.attach({ name: file, path: file, size: 4096 })).toThrow(expect.objectContaining({ code: 'ERR_SHM_SIZE_MISMATCH' }));
    fs.truncateSync(file, 0);
    const empty = SharedMemory.open(file);
    expect([empty.size, empty.buffer.byteLength]).toEqual([0, 0]);
    empty.close();
    fs.rmSync(file);
  });

  it('gives the holes of an existing sparse file blocks when it is opened writable, not when read-only', () => {
    const file = fresh();
    fs.closeSync(fs.openSync(file, 'w'));
    fs.truncateSync(file, 8 << 20);
    expect(fs.statSync(file).blocks).toBe(0);
    SharedMemory.open(file, { readonly: true }).close();
    expect(fs.statSync(file).blocks).toBe(0);
    SharedMemory.open(file).close();
    expect(fs.statSync(file).blocks * 512).toBeGreaterThanOrEqual(8 << 20);
    fs.rmSync(file);
  });

  it('checks its options before any system call', () => {
    const file = fresh();
    const bad: [unknown, object, string, RegExp][] = [
      [file, { create: true }, 'ERR_INVALID_ARG_TYPE', /options\.size must be a number, got undefined/],
      [file, { create: true, size: 0 }, 'ERR_OUT_OF_RANGE', /options\.size must be a positive safe integer/],
      [file, { create: true, size: 10, readonly: true }, 'ERR_INVALID_ARG_VALUE', /options\.readonly cannot be combined with options\.create/],
      [file, { mode: 0o600 }, 'ERR_INVALID_ARG_VALUE', /options\.mode is for options\.create/],
      [file, { create: 'yes', size: 10 }, 'ERR_INVALID_ARG_TYPE', /options\.create must be a boolean/],
      [file, { size: -1 }, 'ERR_OUT_OF_RANGE', /options\.size must be an integer from 0/],
      [42, {}, 'ERR_INVALID_ARG_TYPE', /path must be a string or a file: URL, got 42/],
      ['', {}, 'ERR_INVALID_ARG_VALUE', /path must not be empty/],
      ['a\0b', {}, 'ERR_INVALID_ARG_VALUE', /path must not contain NUL/],
    ];
    for (const [p, options, code, message] of bad) {
      expect(() => SharedMemory.open(p as string, options)).toThrow(expect.objectContaining({ code, message: expect.stringMatching(message) }));
    }
    expect(fs.existsSync(file)).toBe(false);
  });

  it('never removes the file: owned is false, unlink() throws ERR_SHM_FILE_BACKED, unregister() does nothing, attach(handle, { own: true }) refuses', () => {
    const file = fresh();
    const seg = SharedMemory.open(file, { size: 64, create: true });
    expect(seg.owned).toBe(false);
    expect(() => seg.unlink()).toThrow(expect.objectContaining({ name: 'ShmError', code: 'ERR_SHM_FILE_BACKED', message: `'${file}' is a file: shmkit never removes files (fs.rmSync(seg.path) does)` }));
    seg.unregister();
    expect(() => SharedMemory.attach(seg.handle, { own: true })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    seg.close();
    expect(fs.existsSync(file)).toBe(true);
    fs.rmSync(file);
  });

  it('maps read-only: a write through the view changes nothing for anyone and does not crash', async () => {
    const file = fresh();
    const seg = SharedMemory.open(file, { size: 4096, create: true });
    new Uint8Array(seg.buffer).set([1, 2, 3, 4, 5, 6, 7, 8]);
    const out = await peer('readonly-write', file);
    expect(out.error).toBeUndefined();
    expect(out.before).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(Array.from(new Uint8Array(seg.buffer, 0, 16))).toEqual([1, 2, 3, 4, 5, 6, 7, 8, ...Array(8).fill(0)]);
    seg.close();
    expect(Array.from(fs.readFileSync(file).subarray(0, 8))).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    fs.rmSync(file);
  });
});

/** `npx -y node@24` if it can be fetched: a Node that hands out SharedArrayBuffers. */
function node24(): string[] | undefined {
  const r = spawnSync('npx', ['-y', 'node@24', '--version'], { encoding: 'utf8', timeout: 120_000 });
  return r.status === 0 && r.stdout.startsWith('v24.') ? ['npx', '-y', 'node@24'] : undefined;
}

describe('SharedMemory#close() and #flush() of a file-backed segment', () => {
  it('flush() returns once msync is done, and throws ERR_SHM_CLOSED after close()', () => {
    const file = fresh();
    const seg = SharedMemory.open(file, { size: 3 << 20, create: true });
    new Uint8Array(seg.buffer).fill(5);
    seg.flush();
    const ro = SharedMemory.open(file, { readonly: true });
    ro.flush(); // allowed, and harmless, on a read-only view
    ro.close();
    seg.close();
    expect(() => seg.flush()).toThrow(expect.objectContaining({ code: 'ERR_SHM_CLOSED' }));
    expect(fs.readFileSync(file).every((b) => b === 5)).toBe(true);
    fs.rmSync(file);
    // On a /dev/shm segment it is a no-op that works.
    const shm = SharedMemory.create({ size: 4096, name: `shmkit-test-${process.env.SHMKIT_TEST_RUN ?? 'x'}-flush-${process.pid}` });
    shm.flush();
    shm.close();
    shm.unlink();
  });

  it('leaves old views harmless after close(), with both buffer kinds (ArrayBuffer here, SharedArrayBuffer under Node 24)', async (ctx) => {
    const file = fresh();
    SharedMemory.open(file, { size: 4096, create: true }).close();
    const here = await peer('close-touch', file);
    expect(here).toMatchObject({ kind: SharedMemory.bufferKind, closed: true, flushAfterClose: 'ERR_SHM_CLOSED' });
    if (here.kind === 'external') expect([here.viewLength, here.first, here.touches]).toEqual([0, null, ['ok', 'TypeError', 'ok', 'TypeError', 'TypeError']]);
    expect(fs.readFileSync(file)[0]).toBe(7); // the write before close, and none after
    expect(fs.readFileSync(file).subarray(1).every((b) => b === 0)).toBe(true);

    const cmd = node24();
    if (!cmd) {
      console.warn('skipped the SharedArrayBuffer half: node@24 could not be fetched');
      fs.rmSync(file);
      ctx.skip();
      return;
    }
    fs.writeFileSync(file, Buffer.alloc(4096));
    const r = spawnSync(cmd[0]!, [...cmd.slice(1), ...TS_EXEC_ARGV, path.join(FIXTURES, 'file-peer.ts'), 'close-touch', file], { cwd: ROOT, encoding: 'utf8' });
    expect(r.signal, r.stderr).toBeNull();
    const there = JSON.parse(r.stdout);
    expect(there).toMatchObject({ kind: 'shared', closed: true, viewLength: 4096, zeros: true, first: 0, flushAfterClose: 'ERR_SHM_CLOSED' });
    expect(there.touches).toEqual(['ok', 'ok', 'ok', 'ok', 'ok']); // the writes land in private zero pages
    expect(fs.readFileSync(file)[0]).toBe(7);
    expect(fs.readFileSync(file).subarray(1).every((b) => b === 0)).toBe(true);
    fs.rmSync(file);
  }, 180_000);
});

describe('RecordTable in a file', () => {
  const Trade = defineSchema({ id: 'int64', price: 'float64', sym: 'utf8', venue: { category: ['XNYS', 'XNAS'] } });

  it('is created with { path }, reopened by path in another process, and keeps its rows after every process closed it', async () => {
    const file = fresh('tbl');
    const t = RecordTable.create(Trade, { path: file });
    expect([t.name, t.owned, t.capacity]).toEqual([file, false, Infinity]);
    expect(t.handle).toEqual({ name: file, size: t.segment.size, kind: 'table', path: file });
    // The address space is the file's apparent size: at most 64 GiB by default, sparse on disk.
    expect(fs.statSync(file).size).toBe(Math.min(2 ** 36, MAX_SIZE));
    expect(fs.statSync(file).blocks * 512).toBeLessThan(4 << 20);
    t.append({ id: 1n, price: 9.5, sym: 'AAPL', venue: 'XNAS' });
    t.appendMany([{ id: 2n, price: 10, sym: 'a symbol longer than 12 bytes', venue: 'XNYS' }]);
    expect(() => t.unlink()).toThrow(expect.objectContaining({ code: 'ERR_SHM_FILE_BACKED' }));
    t.close();

    const out = await peer('table', file);
    expect(out.error).toBeUndefined();
    expect(out.rows).toEqual([
      { id: '1n', price: 9.5, sym: 'AAPL', venue: 'XNAS' },
      { id: '2n', price: 10, sym: 'a symbol longer than 12 bytes', venue: 'XNYS' },
    ]);
    expect(out.handle).toEqual({ name: file, size: fs.statSync(file).size, kind: 'table', path: file });

    const again = RecordTable.open(file, Trade);
    again.append({ id: 3n, price: 1, sym: '', venue: 'XNYS' });
    expect(again.length).toBe(3);
    const byHandle = RecordTable.attach(again.handle, { readonly: true });
    expect(byHandle.get(2).id).toBe(3n);
    expect(() => byHandle.append({ id: 4n, price: 1, sym: '', venue: 'XNYS' })).toThrow(expect.objectContaining({ code: 'ERR_SHM_READONLY' }));
    byHandle.close();
    again.close();
    fs.rmSync(file);
  });

  it('holds a fixed capacity, reserved at create; takes maxBytes; refuses an existing file (EEXIST) and options that name a segment', () => {
    const file = fresh('tbl');
    const t = RecordTable.create(defineSchema({ id: 'int64', x: 'float64' }), { path: file, capacity: 100_000, layout: 'rows' });
    expect(fs.statSync(file).blocks * 512).toBeGreaterThanOrEqual(1_600_000);
    t.appendMany({ id: BigInt64Array.of(1n, 2n), x: Float64Array.of(0.5, 1.5) });
    t.close();
    expect(RecordTable.open(file, { readonly: true }).get(1)).toEqual({ id: 2n, x: 1.5 });
    expect(() => RecordTable.create(Trade, { path: file })).toThrow(expect.objectContaining({ code: 'EEXIST', syscall: 'open', path: file }));
    expect(RecordTable.open(file).length).toBe(2); // untouched
    for (const k of ['name', 'prefix', 'owned'] as const) {
      expect(() => RecordTable.create(Trade, { path: fresh('tbl'), [k]: k === 'owned' ? false : 'x' })).toThrow(
        expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE', message: expect.stringContaining(`options.${k} cannot be combined with options.path`) }),
      );
    }
    const small = fresh('tbl');
    RecordTable.create(Trade, { path: small, maxBytes: 1 << 20 }).close();
    expect(fs.statSync(small).size).toBe(1 << 20);
    expect(() => RecordTable.open(fresh('tbl'))).toThrow(expect.objectContaining({ code: 'ENOENT', syscall: 'open' }));
    fs.writeFileSync(small, 'not a table, but 512 bytes at least'.padEnd(600));
    expect(() => RecordTable.open(small)).toThrow(expect.objectContaining({ code: 'ERR_SHM_BAD_HEADER' }));
    fs.rmSync(file);
    fs.rmSync(small);
  });

  it('goes through forkMap as a handle with its path: workers open the files (input read-only) and write the output in place', async () => {
    const In = defineSchema({ x: 'float64', tag: { category: ['keep', 'drop'] } });
    const rows = 300;
    const input = RecordTable.create(In, { path: fresh('tbl'), capacity: rows });
    input.appendMany({ x: Float64Array.from({ length: rows }, (_, i) => i), tag: Uint8Array.from({ length: rows }, (_, i) => (i % 3 === 0 ? 1 : 0)) });
    const output = RecordTable.create(defineSchema({ y: 'float64' }), { path: fresh('tbl') });
    output.appendMany({ y: new Float64Array(rows) });
    const results = await forkMap<{ kept: number }>(path.join(FIXTURES, 'fork-table.ts'), { input, output, workers: 2, chunk: 100, execArgv: TS_EXEC_ARGV });
    expect(results.map((r) => r.kept)).toEqual([66, 67, 67]);
    const y = output.column('y');
    for (let i = 0; i < rows; i++) expect(y[i]).toBe(i % 3 === 0 ? -1 : 2 * i);
    for (const t of [input, output]) {
      t.close();
      fs.rmSync(t.name);
    }
  });

  it.runIf(pythonHas('numpy'))('is read by Python by path (str or pathlib.Path): read_table, and read_arrow where pyarrow is', async () => {
    const file = fresh('tbl');
    const t = RecordTable.create(FileRows, { path: file });
    t.appendMany(fileBatch(0, 1000));
    let kSum = 0n;
    for (let i = 0; i < 1000; i++) kSum += BigInt(kOf(i));
    const out = await python('file_table', [file]);
    expect(out).toMatchObject({ length: 1000, id: [1, 4, 7].map(Number), k_sum: Number(kSum), s: [sOf(0), sOf(100), sOf(200), sOf(300)], same_by_pathlib: true });
    if (out.arrow !== null) expect(out.arrow).toEqual({ rows: 1000, id0: Number(idOf(0)), s: [sOf(0), sOf(100), sOf(200), sOf(300)] });
    else console.warn(`${PYTHON} has no pyarrow: read_arrow by path not run`);
    t.close();
    fs.rmSync(file);
  });
});


describe('file-backed segments and tables on a full 4 MiB filesystem', () => {
  const skipReason = cannotUnshare(os.tmpdir());
  it.skipIf(skipReason !== undefined)('throw ENOSPC at create (no file left) and at the append that needs room (earlier rows intact), never SIGBUS', async () => {
    const fsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'shmkit-enospc-'));
    try {
      const r = await runFixture('file-enospc', [fsDir], [
        'unshare', '-m', '--propagation', 'private', '--',
        'sh', '-c', 'mount -t tmpfs -o size=4m tmpfs "$1" && shift && exec "$@"', 'sh', fsDir,
      ]);
      expect(r.signal, r.stderr).toBeNull(); // no SIGBUS
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const out = JSON.parse(r.stdout);
      expect(out.fsSize).toBe(4 << 20);
      expect(out.problems).toEqual([]);
      const at = (name: string) => path.join(fsDir, name);
      const enospc = (syscall: string, file: string) => systemError('ENOSPC', -28, syscall, file, 'no space left on device');
      expect(out.tooBig).toEqual(enospc('posix_fallocate', at('too-big.bin')));
      expect(out.afterTooBig).toEqual([]);
      expect(out.sparseWritable).toEqual(enospc('fallocate', at('sparse.bin')));
      expect(out.sparseReadonly).toEqual({ size: 16 << 20, zeros: true });
      expect(out.fixed).toEqual(enospc('posix_fallocate', at('fixed.tbl')));
      expect(out.afterFixed).toEqual([]);
      expect(out.growApparent).toBeGreaterThan(4 << 20); // sparse: far larger than the filesystem
      expect(out.growFailure).toMatchObject(enospc('posix_fallocate', at('grow.tbl')));
      expect(out.growRows).toBeGreaterThan(50_000);
      for (const x of out.growLater) if (x !== 'ok') expect(x).toEqual({ code: 'ENOSPC', syscall: 'posix_fallocate' });
      expect(out.growReopened).toBeGreaterThanOrEqual(out.growRows);
      expect(out.leftAtEnd).toEqual([]);
    } finally {
      fs.rmSync(fsDir, { recursive: true, force: true });
    }
  }, 60_000);

  it.runIf(skipReason !== undefined)('is skipped without root and unshare: it needs a private tmpfs', () => {
    console.warn(`file ENOSPC test skipped: ${skipReason}`);
    expect(skipReason).toBeDefined();
  });
});

describe('a 10M-row file-backed table whose writer is SIGKILLed', () => {
  it('keeps every committed row intact for the next process that opens the file', async () => {
    const file = fresh('tbl');
    const ROWS = 10_000_000;
    const child = forkFixture('file-table-writer', [file, String(ROWS)]);
    const gone = exited(child);
    let reported = 0;
    let wrote = -1;
    const delay = Math.floor(rng(Date.now() % 1e9)() * 400);
    const started = Date.now();
    await new Promise<void>((resolve, reject) => {
      child.on('message', (m: { committed: number; wrote?: number }) => {
        reported = Math.max(reported, m.committed);
        if (m.wrote !== undefined) {
          wrote = m.wrote;
          // A random moment while it goes on appending batches of random sizes.
          setTimeout(() => (child.kill('SIGKILL'), resolve()), delay);
        }
      });
      void gone.then(({ code, signal }) => (wrote < 0 ? reject(new Error(`writer exited early: code ${code}, signal ${signal}`)) : undefined));
    });
    expect((await gone).signal).toBe('SIGKILL');
    const killedAt = Date.now();

    const r = await runFixture('file-table-check', [file, 'append']);
    expect(r.signal, r.stderr).toBeNull();
    expect(r.stderr).toBe('');
    const out = JSON.parse(r.stdout);
    expect(out.problems).toEqual([]);
    expect(out.length).toBeGreaterThanOrEqual(reported);
    expect(reported).toBeGreaterThanOrEqual(ROWS);
    expect(out.strings).toBe(Math.ceil(out.length / 100));
    console.log(
      `file table: ${ROWS} rows written in ${wrote} ms; killed ${delay} ms later at ${out.length} committed rows (${reported} reported); ` +
        `reopened in ${out.openMs} ms, every row checked in ${out.checkMs} ms; ${out.voided} rows of the unfinished batch void; ` +
        `file ${(fs.statSync(file).blocks * 512 / 2 ** 20).toFixed(0)} MiB on disk; whole test ${killedAt - started + (Date.now() - killedAt)} ms`,
    );
    fs.rmSync(file);
  }, 120_000);
});
