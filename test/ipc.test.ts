/**
 * lib/table/ipc.ts: Arrow IPC bytes out of apache-arrow Tables and back,
 * checked against real pyarrow both ways (file, stream, Feather v2 with
 * pyarrow's default LZ4, ZSTD, none), the missing-codec error, and malformed
 * input, including corruptions that make apache-arrow alone spin.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type * as Arrow from 'apache-arrow';
import * as ArrowESM from 'apache-arrow';
import { Footer } from 'apache-arrow/fb/footer';
import { Message } from 'apache-arrow/fb/message';
import { RecordBatch } from 'apache-arrow/fb/record-batch';
import { ByteBuffer } from 'flatbuffers';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { arrowFromIPC, arrowToIPC, setCodecLoading } from '../lib/table/ipc';
import { RecordTable, defineSchema } from '../lib/index';
import { testPrefix } from './helpers';
import { VENV, python, pythonHas } from './python-run';

// The copy of apache-arrow that lib/ loads (CommonJS); `import` here gives the ES module, another copy.
const A: typeof Arrow = require('apache-arrow');

const hasArrow = pythonHas('pyarrow');
let dir: string;
beforeAll(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shmkit-ipc-')); });
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const hex = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');

/** Each column's values as test/python/ipc.py prints them: null, string, bool, String(int), {f: float64 hex}, {b: bytes hex}; timestamps as String(int64). */
function values(t: Arrow.Table): Record<string, unknown[]> {
  const out: Record<string, unknown[]> = {};
  for (const f of t.schema.fields) {
    const col: unknown[] = (out[f.name] = []);
    for (const d of t.getChild(f.name)!.data) {
      const v = new A.Vector([d]);
      for (let i = 0; i < d.length; i++) {
        const x = v.get(i);
        col.push(x === null ? null
          : A.DataType.isTimestamp(f.type) ? String((d.values as BigInt64Array)[i])
          : typeof x === 'number' && A.DataType.isFloat(f.type) ? { f: hex(new Uint8Array(new Float64Array([x]).buffer)) }
          : typeof x === 'number' || typeof x === 'bigint' ? String(x)
          : x instanceof Uint8Array ? { b: hex(x) }
          : x);
      }
    }
  }
  return out;
}

/** 16-byte views (inline up to 12 bytes, else prefix, buffer index, offset) over variadic buffers of at most 40 bytes. */
function viewData(type: Arrow.Utf8View | Arrow.BinaryView, items: (Uint8Array | null)[]): Arrow.Data {
  const views = new Uint8Array(items.length * 16);
  const dv = new DataView(views.buffer);
  const buffers: Uint8Array[] = [];
  let cur: number[] = [];
  const nullBitmap = new Uint8Array(Math.ceil(items.length / 8));
  items.forEach((v, i) => {
    if (v === null) return;
    nullBitmap[i >> 3]! |= 1 << (i & 7);
    dv.setInt32(i * 16, v.length, true);
    if (v.length <= 12) return views.set(v, i * 16 + 4);
    if (cur.length + v.length > 40) (buffers.push(Uint8Array.from(cur)), (cur = []));
    views.set(v.subarray(0, 4), i * 16 + 4);
    dv.setInt32(i * 16 + 8, buffers.length, true);
    dv.setInt32(i * 16 + 12, cur.length, true);
    cur.push(...v);
  });
  if (cur.length) buffers.push(Uint8Array.from(cur));
  const nullCount = items.filter((v) => v === null).length;
  return A.makeData({ type: type as Arrow.Utf8View, length: items.length, nullCount, nullBitmap, views, variadicBuffers: buffers });
}

/** The kinds of column RecordTable hands out: views, nullable numbers and bools, µs timestamps, a dictionary, fixed-size binary. */
function jsTable(): Arrow.Table {
  const enc = new TextEncoder();
  const strs = ['short', null, '', 'a string longer than twelve bytes', 'é€ unicode, longer', 'twelve bytes', 'thirteen byte', null, 'x'.repeat(39)];
  const bins = [Uint8Array.of(0, 1, 2), null, new Uint8Array(0), new Uint8Array(20).map((_, i) => i * 7), null, new Uint8Array(13).fill(255), Uint8Array.of(9), new Uint8Array(30).fill(1), null];
  const n = strs.length;
  const bits = (ok: boolean[]) => { const b = new Uint8Array(2); ok.forEach((o, i) => { if (o) b[i >> 3]! |= 1 << (i & 7); }); return b; };
  const nullable = <T>(xs: (T | null)[]) => ({ length: n, nullCount: xs.filter((x) => x === null).length, nullBitmap: bits(xs.map((x) => x !== null)) });
  const ints = [1, null, -3, 2 ** 31 - 1, -(2 ** 31), 0, null, 7, 8];
  const flts = [1.5, NaN, null, -0, Infinity, 1e-300, null, 3, -Infinity];
  const oks = [true, false, null, true, null, false, true, true, false];
  const dictionary = A.vectorFromArray(['XNYS', 'XNAS', 'BATS'], new A.Utf8());
  return new A.Table({
    s: A.makeVector(viewData(new A.Utf8View(), strs.map((s) => (s === null ? null : enc.encode(s))))),
    b: A.makeVector(viewData(new A.BinaryView(), bins)),
    i32: A.makeVector(A.makeData({ type: new A.Int32(), ...nullable(ints), data: Int32Array.from(ints, (x) => x ?? 0) })),
    f64: A.makeVector(A.makeData({ type: new A.Float64(), ...nullable(flts), data: Float64Array.from(flts, (x) => x ?? 0) })),
    ok: A.makeVector(A.makeData({ type: new A.Bool(), ...nullable(oks), data: bits(oks.map((x) => !!x)) })),
    ts: A.makeVector(A.makeData({ type: new A.TimestampMicrosecond(), length: n, nullCount: 0, data: BigInt64Array.of(0n, 1n, -1n, 1_700_000_000_123_456n, 253_402_300_799_999_999n, -62_135_596_800_000_000n, 5n, 6n, 7n) })),
    venue: A.makeVector(A.makeData({ type: new A.Dictionary(new A.Utf8(), new A.Uint8(), 0), ...nullable([0, 1, 2, null, 2, 1, 0, 0, 1]), data: Uint8Array.of(0, 1, 2, 0, 2, 1, 0, 0, 1), dictionary })),
    fsb: A.makeVector(A.makeData({ type: new A.FixedSizeBinary(4), length: n, nullCount: 0, data: Uint8Array.from({ length: n * 4 }, (_, i) => i) })),
  });
}

const TYPES = { s: 'string_view', b: 'binary_view', i32: 'int32', f64: 'double', ok: 'bool', ts: 'timestamp[us]', venue: 'dictionary<values=string, indices=uint8, ordered=0>', fsb: 'fixed_size_binary[4]' };

function write(name: string, bytes: Uint8Array): string {
  const p = path.join(dir, name);
  fs.writeFileSync(p, bytes);
  return p;
}

describe('arrowToIPC()', () => {
  it.each(['file', 'stream'] as const)('writes bytes that read back equal, views staying views (%s)', (format) => {
    const t = jsTable();
    const back = arrowFromIPC(arrowToIPC(t, format));
    expect(back.schema.fields.map((f) => String(f.type))).toEqual(t.schema.fields.map((f) => String(f.type)));
    expect(values(back)).toEqual(values(t));
  });

  it('writes a sliced view column correctly (apache-arrow 21 alone writes it short)', () => {
    const sliced = jsTable().slice(2, 8);
    // The bug worked around (lib/table/ipc.ts, rebaseViews); once this fails, apache-arrow has fixed it.
    expect(() => A.tableFromIPC(A.tableToIPC(sliced)).getChild('s')!.toArray()).toThrow(/too short/);
    expect(values(arrowFromIPC(arrowToIPC(sliced, 'file')))).toEqual(values(sliced));
  });

  it('rejects what is not a Table, and formats other than file and stream', () => {
    expect(() => arrowToIPC({} as Arrow.Table, 'file')).toThrow(expect.objectContaining({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' }));
    expect(() => arrowToIPC(jsTable(), 'feather' as 'file')).toThrow(expect.objectContaining({ name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE' }));
  });

  it('rejects a Table of another apache-arrow copy (the ES module here), whose types its writer would write as garbage', () => {
    expect(ArrowESM.Table).not.toBe(A.Table);
    const foreign = ArrowESM.tableFromArrays({ a: Int32Array.of(1, 2, 3) });
    expect(() => arrowToIPC(foreign, 'file')).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE', message: expect.stringMatching(/another copy of apache-arrow/) }));
  });
});

describe.runIf(hasArrow)('arrowToIPC() read by pyarrow', () => {
  const cases = [
    ['file', 'file'], ['file', 'feather'], ['stream', 'stream'],
  ] as const;
  it.each(cases)('%s format: pyarrow (%s reader) validates it and reads the same values, nulls included', async (format, reader) => {
    const t = jsTable();
    const got = await python('ipc', ['read', write(`js.${format}`, arrowToIPC(t, format)), reader]);
    expect(got.types).toEqual(TYPES);
    expect(got.values).toEqual(values(t));
  });

  it('a sliced table and one of several batches, too', async () => {
    const t = jsTable();
    for (const table of [t.slice(3, 9), new A.Table([...t.batches, ...t.slice(1, 5).batches, ...t.batches])]) {
      const got = await python('ipc', ['read', write('js-more.arrow', arrowToIPC(table, 'file')), 'file']);
      expect(got.values).toEqual(values(table));
    }
  });
});

describe.runIf(hasArrow)('arrowFromIPC() of files pyarrow wrote', () => {
  const ROWS = 30_000; // several LZ4 blocks of 64 KiB per column
  let expected: Record<string, any>;
  beforeAll(async () => { expected = await python('ipc', ['write', dir, String(ROWS)]); });

  it.each(['plain.feather', 'lz4.feather', 'zstd.feather', 'lz4.stream'])('%s: equal to pyarrow\'s values row by row, nulls included', (file) => {
    const t = arrowFromIPC(path.join(dir, file));
    expect(t.numRows).toBe(ROWS);
    const got = values(t);
    expect(Object.keys(got)).toEqual(Object.keys(expected.values));
    for (const [name, want] of Object.entries(expected.values as Record<string, unknown[]>)) {
      const i = want.findIndex((w, row) => JSON.stringify(got[name]![row]) !== JSON.stringify(w));
      expect(i === -1 ? null : { column: name, row: i, got: got[name]![i], want: want[i] }).toBeNull();
      expect(want.filter((v) => v === null).length).toBeGreaterThan(0);
    }
  });

  it('reads bytes as well as a path, at any byte offset', () => {
    const bytes = fs.readFileSync(path.join(dir, 'lz4.feather'));
    const odd = Buffer.alloc(bytes.length + 3).subarray(3); // a Buffer: its slice() would not copy
    odd.set(bytes);
    const plainBytes = fs.readFileSync(path.join(dir, 'plain.feather'));
    const plain = new Uint8Array(plainBytes.length + 5).subarray(5);
    plain.set(plainBytes);
    expect(values(arrowFromIPC(odd))).toEqual(expected.values);
    expect(values(arrowFromIPC(plain))).toEqual(expected.values);
  });

  it('reads a column of each other type (decimal, intervals, dates, times, 64-bit, large, nested, null, unions) without a false alarm', async () => {
    const { types } = await python('ipc', ['types', dir, '40']);
    const json = (t: Arrow.Table) => JSON.stringify(t.toArray(), (_k, v) => (typeof v === 'bigint' ? String(v) : v));
    const lz4 = arrowFromIPC(path.join(dir, 'types-lz4.feather'));
    const plain = arrowFromIPC(path.join(dir, 'types-plain.feather')); // rows 3.. : sliced buffers, nonzero offsets
    expect(lz4.schema.fields.map((f) => f.name)).toEqual(Object.keys(types));
    expect([lz4.numRows, plain.numRows, lz4.getChild('nul')!.nullCount]).toEqual([40, 37, 40]);
    expect(json(plain)).toBe(json(lz4.slice(3)));
  });

  it('without the codec package, throws ERR_SHM_IPC_CODEC naming the compression and the fix', () => {
    setCodecLoading(false);
    try {
      const lz4 = (() => { try { arrowFromIPC(path.join(dir, 'lz4.feather')); } catch (e) { return e as any; } })();
      expect(lz4).toMatchObject({ name: 'ShmError', code: 'ERR_SHM_IPC_CODEC' });
      expect(lz4.message).toContain('LZ4_FRAME');
      expect(lz4.message).toContain('npm install lz4js');
      expect(lz4.message).toContain("pyarrow.feather.write_feather(t, path, compression='uncompressed')");
      expect(() => arrowFromIPC(path.join(dir, 'zstd.feather'))).toThrow(expect.objectContaining({ code: 'ERR_SHM_IPC_CODEC', message: expect.stringMatching(/ZSTD.*npm install fzstd/) }));
      expect(arrowFromIPC(path.join(dir, 'plain.feather')).numRows).toBe(ROWS);
    } finally {
      setCodecLoading(true);
    }
    expect(arrowFromIPC(path.join(dir, 'lz4.feather')).numRows).toBe(ROWS);
  });
});

/** Where each message of a stream (or of a file, from byte 8) starts, with its header type. */
function messages(b: Uint8Array, from = 0): { at: number; type: number; meta: Uint8Array }[] {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const out = [];
  for (let p = from, n: number; p + 8 <= b.length && (n = dv.getInt32(p + 4, true)) > 0;) {
    const meta = b.subarray(p + 8, p + 8 + n);
    const m = Message.getRootAsMessage(new ByteBuffer(meta));
    out.push({ at: p, type: m.headerType(), meta });
    p += 8 + n + Number(m.bodyLength());
  }
  return out;
}

describe('arrowFromIPC() of malformed input', () => {
  const ipcError = (bytes: Uint8Array) => {
    try { arrowFromIPC(bytes); } catch (e) { return e as any; }
    return undefined;
  };
  const file = () => arrowToIPC(jsTable(), 'file');
  const stream = () => arrowToIPC(jsTable(), 'stream');
  const flip = (b: Uint8Array, at: number, mask: number) => { b[at]! ^= mask; return b; };

  it.each([
    ['no bytes', () => new Uint8Array(0)],
    ['text', () => new TextEncoder().encode('not arrow, just text that is long enough')],
    ['a truncated file', () => file().subarray(0, 1000)],
    ['a truncated stream', () => stream().subarray(0, 1000)],
    ['a file magic and nothing else', () => file().subarray(0, 8)],
    ['a stream that starts with a record batch', () => { const s = stream(); return s.subarray(messages(s).at(-1)!.at); }],
  ])('%s: ERR_SHM_IPC with a cause', (_, bytes) => {
    const e = ipcError(bytes());
    expect(e).toMatchObject({ name: 'ShmError', code: 'ERR_SHM_IPC' });
    expect(e.message).toMatch(/^arrowFromIPC: /);
    expect(e.cause).toBeInstanceOf(Error);
  });

  it('fails at once where apache-arrow would loop for minutes or return a Table of garbage', () => {
    // Each checked against apache-arrow 21.2 alone. The file: its record batch block made to point at the dictionary batch (spins).
    const f = file();
    const footerStart = f.length - 10 - new DataView(f.buffer, f.byteOffset).getInt32(f.length - 10, true);
    const footer = Footer.getRootAsFooter(new ByteBuffer(f.subarray(footerStart, f.length - 10)));
    const wrongBlock = f.slice();
    new DataView(wrongBlock.buffer).setBigInt64(footerStart + footer.recordBatches(0)!.bb_pos, footer.dictionaries(0)!.offset(), true);
    const brokenMarker = flip(f.slice(), Number(footer.recordBatches(0)!.offset()) + 2, 1); // 0xFFFFFFFF → 0xFFFEFFFF: spins
    // The stream's record batch: its buffer count made 16 million (spins), its row count 2^28 + 9 (a Table of garbage).
    const s = stream();
    const msg = messages(s).find((m) => m.type === A.MessageHeader.RecordBatch)!;
    const rb = Message.getRootAsMessage(new ByteBuffer(msg.meta)).header(new RecordBatch()) as RecordBatch;
    const base = msg.at + 8;
    const buffersCount = base + rb.bb!.__vector(rb.bb_pos + rb.bb!.__offset(rb.bb_pos, 8)) - 4; // RecordBatch.buffers (slot 2)
    const rowCount = base + rb.bb_pos + rb.bb!.__offset(rb.bb_pos, 4); // RecordBatch.length (slot 0)
    const start = Date.now();
    const cases = { wrongBlock, brokenMarker, buffersCount: flip(s.slice(), buffersCount + 3, 1), rowCount: flip(s.slice(), rowCount + 3, 16) };
    for (const [name, bytes] of Object.entries(cases)) expect([name, ipcError(bytes)?.code]).toEqual([name, 'ERR_SHM_IPC']);
    expect(Date.now() - start).toBeLessThan(5_000);
  });

  it('any one byte of a file or a stream corrupted: a Table or ERR_SHM_IPC, never another error or a hang', () => {
    for (const good of [file(), stream()]) {
      const seen = new Set<string>();
      for (let i = 0; i < good.length; i++) {
        const e = ipcError(flip(good.slice(), i, 0xff));
        seen.add(e === undefined ? 'a Table' : e.code);
      }
      expect([...seen].sort()).toEqual(['ERR_SHM_IPC', 'a Table']);
    }
  });

  it('rejects what is neither bytes nor a path; a missing file is ENOENT', () => {
    expect(() => arrowFromIPC(42 as unknown as string)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    expect(() => arrowFromIPC(path.join(os.tmpdir(), 'shmkit-ipc-no-such-file.arrow'))).toThrow(expect.objectContaining({ code: 'ENOENT' }));
  });
});

describe.runIf(VENV)('the SHMKIT_PYTHON venv', () => {
  it('has pyarrow, so that the pyarrow tests above run rather than skip', () => expect(hasArrow).toBe(true));
});

describe.skipIf(!hasArrow)('RecordTable.toIPC() and RecordTable.fromIPC() with pyarrow', () => {
  it('writes a table pyarrow reads as equal, in file and stream format', async () => {
    const S = defineSchema({ id: 'int64', s: 'utf8', b: 'binary', n: { type: 'int32', nullable: true }, ok: { type: 'bool', nullable: true }, ts: 'datetime64[us]', v: { category: ['x', 'y'], nullable: true } });
    const t = RecordTable.create(S, { name: `${testPrefix('ipc')}-t` });
    for (let i = 0; i < 500; i++) t.append({ id: BigInt(i), s: i % 7 ? `row ${i} ${'é'.repeat(i % 15)}` : '', b: new Uint8Array(i % 17).fill(i), n: i % 3 ? i : null, ok: i % 5 ? i % 2 === 0 : null, ts: BigInt(i) * 1_000_003n, v: i % 4 ? (i % 2 ? 'x' : 'y') : null });
    const mine = values(t.toArrow());
    for (const format of ['file', 'stream'] as const) {
      const file = path.join(dir, `t.${format}`);
      fs.writeFileSync(file, t.toIPC({ format }));
      const theirs = await python('ipc', ['read', file, format]);
      expect(theirs.rows).toBe(500);
      expect(theirs.values).toEqual(mine);
    }
    expect(() => t.toIPC({ format: 'json' as 'file' })).toThrow(/must be 'file' or 'stream'/);
    t.close();
    t.unlink();
  }, 60_000);

  it.each(['lz4.feather', 'plain.feather', 'zstd.feather', 'lz4.stream'])('makes a table equal to a pyarrow-written %s', async (file) => {
    const sub = fs.mkdtempSync(path.join(dir, 'from-'));
    const theirs = await python('ipc', ['write', sub, '300']);
    const t = RecordTable.fromIPC(path.join(sub, file), { name: `${testPrefix('ipc')}-${file.replace('.', '-')}` });
    expect(t.length).toBe(300);
    expect(values(t.toArrow())).toEqual(theirs.values);
    t.close();
    t.unlink();
  }, 60_000);
});
