import { afterEach, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import { RecordTable, Registry, Schema, SharedMemory, ShmError, defineSchema, describeTable, notify } from '../lib/index';
import { main } from '../lib/cli';
import { OFF } from '../lib/table/header';
import { exited, forkFixture, removeAll, runFixture, testPrefix, waitFor } from './helpers';

const prefix = testPrefix('table');
let n = 0;
const fresh = () => `${prefix}-${n++}`;
afterEach(() => removeAll(prefix));

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return (e as { code?: string }).code;
  }
  return undefined;
}

const Every = defineSchema({
  i8: 'int8',
  u8: 'uint8',
  i16: 'int16',
  u16: 'uint16',
  i32: 'int32',
  u32: 'uint32',
  i64: 'int64',
  u64: 'uint64',
  f32: 'float32',
  f64: 'float64',
  b: 'bool',
  s: 'utf8[8]',
  ds: 'datetime64[s]',
  dms: 'datetime64[ms]',
  dus: 'datetime64[us]',
  dns: 'datetime64[ns]',
  cat: { category: ['XNYS', 'XNAS', 'BATS'] },
});
type EveryRow = Parameters<RecordTable<typeof Every.spec>['append']>[0];

const MIN: EveryRow = {
  i8: -128, u8: 0, i16: -32768, u16: 0, i32: -(2 ** 31), u32: 0,
  i64: -(2n ** 63n), u64: 0n, f32: -3.4028234663852886e38, f64: -Number.MAX_VALUE, b: false,
  s: '', ds: new Date(-86_400_000 * 365 * 300), dms: new Date(-1), dus: -(2n ** 63n), dns: -1n, cat: 'XNYS',
};
const MAX: EveryRow = {
  i8: 127, u8: 255, i16: 32767, u16: 65535, i32: 2 ** 31 - 1, u32: 2 ** 32 - 1,
  i64: 2n ** 63n - 1n, u64: 2n ** 64n - 1n, f32: 3.4028234663852886e38, f64: Number.MAX_VALUE, b: true,
  // 8 bytes exactly, multi-byte: é (2) + € (3) + 😀 would be 4 → 'é€' is 5 bytes, add 'abc' = 8
  s: 'é€abc', ds: new Date(8.64e15), dms: new Date(8.64e15), dus: 2n ** 63n - 1n, dns: 2n ** 63n - 1n, cat: 'BATS',
};
const ODD: EveryRow = {
  i8: -0, u8: 1, i16: -1, u16: 1, i32: -1, u32: 1, i64: -1n, u64: 1n, f32: NaN, f64: -0, b: true,
  s: '😀😀', ds: new Date(-1000), dms: new Date(-62_135_596_800_000), dus: 0n, dns: 0n, cat: 'XNAS',
};

describe.each(['columns', 'rows'] as const)('RecordTable, %s layout', (layout) => {
  it('round-trips every type at its edges, in this process and after attach', () => {
    const t = RecordTable.create(Every, { name: fresh(), capacity: 4, layout });
    expect(t.append(MIN)).toBe(0);
    expect(t.append(MAX)).toBe(1);
    expect(t.append(ODD)).toBe(2);
    const u = RecordTable.attach(t.handle);
    for (const table of [t, u]) {
      expect(table.length).toBe(3);
      expect(table.get(0)).toEqual(MIN);
      expect(table.get(1)).toEqual(MAX);
      const odd = table.get(2);
      expect(odd).toEqual({ ...ODD, i8: 0 });
      expect(Object.is(odd.f64, -0)).toBe(true);
      expect(Number.isNaN(odd.f32)).toBe(true);
      expect(odd.s).toBe('😀😀');
    }
    expect(u.schema.equals(Every)).toBe(true);
    expect(u.layout).toBe(layout);
    u.close();
    t.close();
    t.unlink();
  });

  it('describes itself: handle is plain JSON, list() says table, attach needs only the name', () => {
    const name = fresh();
    const t = RecordTable.create(Every, { name, capacity: 10, layout });
    expect(t.handle).toEqual({ name, size: t.segment.size, kind: 'table' });
    expect(JSON.parse(JSON.stringify(t.handle))).toEqual(t.handle);
    expect(SharedMemory.list({ prefix: name })).toEqual([expect.objectContaining({ name, kind: 'table' })]);
    expect(t.capacity).toBe(10);
    expect(t.owned).toBe(true);
    const u = RecordTable.attach(name);
    expect(u.schema.toSpec()).toEqual(Every.toSpec());
    expect(u.capacity).toBe(10);
    u.close();
    t.close();
    t.unlink();
  });

  it('attaches a table another process created and reads its rows', async () => {
    const name = fresh();
    const r = await runFixture('table-create', [name, layout]);
    expect(r.code).toBe(0);
    const Schema = defineSchema({ id: 'int64', price: 'float64', venue: { category: ['XNYS', 'XNAS'] } });
    const t = RecordTable.attach(name, Schema);
    expect(t.length).toBe(3);
    expect([0, 1, 2].map((i) => t.get(i))).toEqual([
      { id: -1n, price: 0, venue: 'XNYS' },
      { id: 0n, price: 1.5, venue: 'XNAS' },
      { id: 1n, price: 3, venue: 'XNYS' },
    ]);
    t.close();
    SharedMemory.unlink(name);
  });

  it('throws ERR_SHM_VALUE for bad values and writes nothing', () => {
    const t = RecordTable.create(Every, { name: fresh(), capacity: 4, layout });
    const bad: [keyof EveryRow, unknown][] = [
      ['i8', 128], ['i8', 1.5], ['u8', -1], ['i16', 40000], ['u16', 65536], ['i32', 2 ** 31], ['u32', -1],
      ['u32', '1'], ['i64', 1], ['i64', 2n ** 63n], ['u64', -1n], ['f64', 1n], ['f32', '1'], ['b', 1],
      ['s', 5], ['s', 'a\0b'], ['s', '\ud800'], ['ds', new Date(1500)], ['dms', new Date(NaN)], ['dms', 0],
      ['dus', 1], ['dns', 2n ** 63n], ['cat', 'LSE'], ['cat', 0], ['i32', undefined],
    ];
    for (const [field, value] of bad) {
      let err: ShmError | undefined;
      try {
        t.append({ ...MAX, [field]: value } as EveryRow);
      } catch (e) {
        err = e as ShmError;
      }
      expect(err, `${field} = ${String(value)}`).toBeInstanceOf(ShmError);
      expect(err!.code).toBe('ERR_SHM_VALUE');
      expect(err!.message).toContain(`"${field}"`);
    }
    const { i32: _, ...missing } = MAX;
    expect(codeOf(() => t.append(missing as EveryRow))).toBe('ERR_SHM_VALUE');
    expect(() => t.append(null as never)).toThrow(TypeError);
    expect(t.length).toBe(0);
    t.append(MAX);
    expect(t.length).toBe(1);
    t.close();
    t.unlink();
  });

  it('throws ERR_SHM_STRING_TOO_LONG instead of cutting a string, even by one byte of a multi-byte character', () => {
    const t = RecordTable.create(Every, { name: fresh(), capacity: 4, layout });
    for (const s of ['123456789', 'é€abcd', '1234567€']) {
      let err: ShmError | undefined;
      try {
        t.append({ ...MAX, s });
      } catch (e) {
        err = e as ShmError;
      }
      expect(err?.code).toBe('ERR_SHM_STRING_TOO_LONG');
      expect(err?.message).toContain('"s" (utf8[8])');
    }
    expect(t.length).toBe(0);
    t.close();
    t.unlink();
  });

  it('throws ERR_SHM_TABLE_FULL when capacity runs out and changes nothing', () => {
    const t = RecordTable.create(Every, { name: fresh(), capacity: 3, layout });
    t.append(MIN);
    t.append(MAX);
    const before = new Uint8Array(t.segment.buffer).slice();
    let err: ShmError | undefined;
    try {
      t.appendMany([ODD, ODD]);
    } catch (e) {
      err = e as ShmError;
    }
    expect(err?.code).toBe('ERR_SHM_TABLE_FULL');
    expect(err?.message).toMatch(/a capacity of 3 rows, 1 free, 2 needed/);
    expect(new Uint8Array(t.segment.buffer)).toEqual(before);
    expect(t.append(ODD)).toBe(2);
    expect(codeOf(() => t.append(ODD))).toBe('ERR_SHM_TABLE_FULL');
    expect(t.length).toBe(3);
    t.close();
    t.unlink();
  });

  it('appendMany takes rows or columns, validates all of them first and returns the first index', () => {
    const S = defineSchema({ id: 'int64', price: 'float64', ok: 'bool', sym: 'utf8[4]', v: { category: ['a', 'b'] }, ts: 'datetime64[ms]' });
    const t = RecordTable.create(S, { name: fresh(), capacity: 10, layout });
    t.append({ id: 0n, price: 0, ok: false, sym: '', v: 'a', ts: new Date(0) });
    expect(
      t.appendMany({
        id: BigInt64Array.of(1n, 2n, 3n),
        price: Float64Array.of(1.5, 2.5, 3.5),
        ok: Uint8Array.of(1, 0, 1),
        sym: ['x', 'yy', 'zzz'],
        v: Uint8Array.of(1, 0, 1),
        ts: BigInt64Array.of(-1n, 0n, 1n),
      }),
    ).toBe(1);
    expect(t.appendMany([{ id: 4n, price: 4.5, ok: true, sym: 'w', v: 'b', ts: new Date(4) }])).toBe(4);
    expect(t.appendMany({ id: [5n], price: [5.5], ok: [false], sym: ['q'], v: ['a'], ts: [new Date(5)] })).toBe(5);
    expect(t.get(3)).toEqual({ id: 3n, price: 3.5, ok: true, sym: 'zzz', v: 'b', ts: new Date(1) });
    expect(t.get(4).v).toBe('b');
    expect(t.get(5)).toEqual({ id: 5n, price: 5.5, ok: false, sym: 'q', v: 'a', ts: new Date(5) });
    // A bad value anywhere: nothing written, nothing reserved.
    expect(codeOf(() => t.appendMany([{ id: 6n, price: 1, ok: true, sym: 'a', v: 'a', ts: new Date(0) }, { id: 7n, price: 1, ok: true, sym: 'toolong', v: 'a', ts: new Date(0) }]))).toBe('ERR_SHM_STRING_TOO_LONG');
    expect(codeOf(() => t.appendMany({ id: [6n], price: [1], ok: Uint8Array.of(2), sym: ['a'], v: ['a'], ts: [new Date(0)] }))).toBe('ERR_SHM_VALUE');
    expect(codeOf(() => t.appendMany({ id: [6n], price: [1], ok: [true], sym: ['a'], v: Uint8Array.of(2), ts: [new Date(0)] }))).toBe('ERR_SHM_VALUE');
    expect(codeOf(() => t.appendMany({ id: [6n], price: [1], ok: [true], sym: ['a'], v: ['a'] } as never))).toBe('ERR_SHM_VALUE');
    expect(() => t.appendMany({ id: [6n, 7n], price: [1], ok: [true], sym: ['a'], v: ['a'], ts: [new Date(0)] })).toThrow(/same length/);
    expect(t.length).toBe(6);
    expect(t.append({ id: 6n, price: 6, ok: true, sym: 'six', v: 'a', ts: new Date(6) })).toBe(6);
    t.close();
    t.unlink();
  });

  it('set() overwrites the given fields only, after validating them', () => {
    const t = RecordTable.create(Every, { name: fresh(), capacity: 2, layout });
    t.append(MIN);
    t.set(0, { f64: 42, s: 'new', cat: 'BATS' });
    expect(t.get(0)).toEqual({ ...MIN, f64: 42, s: 'new', cat: 'BATS' });
    expect(codeOf(() => t.set(0, { s: 'much too long', f64: 1 }))).toBe('ERR_SHM_STRING_TOO_LONG');
    expect(t.get(0).f64).toBe(42);
    expect(() => t.set(1, { f64: 1 })).toThrow(RangeError);
    expect(() => t.get(1)).toThrow(RangeError);
    expect(() => t.get(-1)).toThrow(RangeError);
    t.close();
    t.unlink();
  });

  it('throws ERR_SHM_READONLY on a read-only attach and ERR_SHM_CLOSED after close', () => {
    const t = RecordTable.create(Every, { name: fresh(), capacity: 2, layout });
    t.append(MIN);
    const ro = RecordTable.attach(t.name, { readonly: true });
    expect(ro.get(0)).toEqual(MIN);
    expect(codeOf(() => ro.append(MAX))).toBe('ERR_SHM_READONLY');
    expect(codeOf(() => ro.set(0, { f64: 1 }))).toBe('ERR_SHM_READONLY');
    t.append(MAX);
    expect(ro.length).toBe(2);
    ro.close();
    expect(ro.closed).toBe(true);
    expect(ro.length).toBe(0);
    expect(codeOf(() => ro.get(0))).toBe('ERR_SHM_CLOSED');
    expect(codeOf(() => ro.append(MAX))).toBe('ERR_SHM_CLOSED');
    t.close();
    t.unlink();
  });
});

describe('RecordTable#column()', () => {
  it('is a zero-copy typed array over shared memory of length t.length', () => {
    const S = defineSchema({ price: 'float64', id: 'int64', ok: 'bool', sym: 'utf8[3]', v: { category: ['a', 'b'] }, ts: 'datetime64[s]' });
    const t = RecordTable.create(S, { name: fresh(), capacity: 100 });
    for (let i = 0; i < 5; i++) t.append({ price: i + 0.5, id: BigInt(-i), ok: i % 2 === 0, sym: `s${i}`, v: i % 2 ? 'b' : 'a', ts: new Date(i * 1000) });
    const price = t.column('price');
    expect(price).toBeInstanceOf(Float64Array);
    expect(Array.from(price as Float64Array)).toEqual([0.5, 1.5, 2.5, 3.5, 4.5]);
    expect(price.buffer).toBe(t.segment.buffer);
    (price as Float64Array)[2] = 99;
    expect(t.get(2).price).toBe(99);
    expect(price.byteOffset % 64).toBe(0);
    expect(t.column('id')).toBeInstanceOf(BigInt64Array);
    expect(Array.from(t.column('ok') as Uint8Array)).toEqual([0b10101]); // Arrow's bits, LSB first
    expect(Array.from(t.column('v') as Uint8Array)).toEqual([0, 1, 0, 1, 0]);
    expect(Array.from(t.column('ts') as BigInt64Array)).toEqual([0n, 1n, 2n, 3n, 4n]);
    const sym = t.column('sym') as Uint8Array;
    expect(sym.length).toBe(15);
    expect(Buffer.from(sym.subarray(3, 6)).toString('latin1')).toBe('s1\0');
    t.append({ price: 5, id: 0n, ok: true, sym: '', v: 'a', ts: new Date(0) });
    expect(price.length).toBe(5);
    expect(t.column('price').length).toBe(6);
    expect(() => t.column('nope' as never)).toThrow(TypeError);
    t.close();
    t.unlink();
  });

  it("throws ERR_SHM_LAYOUT on a 'rows' table, whose fields are interleaved", () => {
    const t = RecordTable.create(defineSchema({ a: 'float64', b: 'int8' }), { name: fresh(), capacity: 4, layout: 'rows' });
    expect(codeOf(() => t.column('a'))).toBe('ERR_SHM_LAYOUT');
    t.close();
    t.unlink();
  });
});

describe('RecordTable.attach()', () => {
  it('throws ERR_SHM_SCHEMA_MISMATCH when the given schema differs, and closes what it mapped', () => {
    const t = RecordTable.create(defineSchema({ a: 'float64', v: { category: ['x', 'y'] } }), { name: fresh(), capacity: 4 });
    for (const other of <Schema[]>[
      defineSchema({ a: 'float32', v: { category: ['x', 'y'] } }),
      defineSchema({ a: 'float64', v: { category: ['y', 'x'] } }),
      defineSchema({ v: { category: ['x', 'y'] }, a: 'float64' }),
    ]) {
      expect(codeOf(() => RecordTable.attach(t.name, other))).toBe('ERR_SHM_SCHEMA_MISMATCH');
    }
    expect(RecordTable.attach(t.handle, defineSchema({ a: 'float64', v: { category: ['x', 'y'] } })).length).toBe(0);
    t.close();
    t.unlink();
  });

  it('throws ERR_SHM_BAD_HEADER on a raw segment, and ENOENT on a missing name', () => {
    const name = fresh();
    const small = SharedMemory.create({ name, size: 64 });
    expect(codeOf(() => RecordTable.attach(name))).toBe('ERR_SHM_BAD_HEADER');
    const big = SharedMemory.create({ name: fresh(), size: 4096 });
    let err: ShmError | undefined;
    try {
      RecordTable.attach(big.name);
    } catch (e) {
      err = e as ShmError;
    }
    expect(err?.code).toBe('ERR_SHM_BAD_HEADER');
    expect(err?.message).toMatch(/wrong magic/);
    const e2 = (() => {
      try {
        RecordTable.attach(fresh());
      } catch (e) {
        return e as NodeJS.ErrnoException;
      }
    })();
    expect(e2?.code).toBe('ENOENT');
    expect(e2?.syscall).toBe('shm_open');
    expect(e2?.errno).toBe(-2);
    for (const s of [small, big]) {
      s.close();
      s.unlink();
    }
  });

  it.each([
    ['wrong magic', (dv: DataView) => dv.setUint8(0, 0x41), /wrong magic/],
    ['an older format version', (dv: DataView) => dv.setUint32(OFF.version, 2, true), /format version 2, but this shmkit reads version 3 only \(an older shmkit made it/],
    ['a newer format version', (dv: DataView) => dv.setUint32(OFF.version, 4, true), /format version 4, but this shmkit reads version 3 only \(a newer shmkit made it: upgrade/],
    ['capacity beyond the segment', (dv: DataView) => dv.setBigUint64(OFF.maxRows, 1_000n, true), /beyond the table's end/],
    ['end beyond the segment', (dv: DataView) => dv.setBigUint64(OFF.end, 1n << 40n, true), /beyond the segment/],
    ['overlapping columns', (dv: DataView, json: string) => patchJson(dv, json, json.replace(/"offset":(\d+)}\]$/, (_m, o) => `"offset":${Number(o) - 64}}]`)), /overlaps/],
    ['an unknown type', (dv: DataView, json: string) => patchJson(dv, json, json.replace('"float64"', '"float65"')), /unknown type/],
    ['a committed length past reserved', (dv: DataView) => dv.setInt32(OFF.committed, 5, true), /committed length 5/],
  ])('throws ERR_SHM_BAD_HEADER with a reason for %s, and leaves the segment as it was', (_what, mutate, reason) => {
    const t = RecordTable.create(defineSchema({ a: 'float64', b: 'int32' }), { name: fresh(), capacity: 100 });
    const dv = new DataView(t.segment.buffer);
    const json = Buffer.from(t.segment.buffer, OFF.schema, dv.getUint32(OFF.schemaLength, true)).toString();
    mutate(dv, json);
    const before = fs.readFileSync(`/dev/shm/${t.name}`);
    let err: ShmError | undefined;
    try {
      RecordTable.attach(t.name);
    } catch (e) {
      err = e as ShmError;
    }
    expect(err).toBeInstanceOf(ShmError);
    expect(err!.code).toBe('ERR_SHM_BAD_HEADER');
    expect(err!.message).toMatch(reason);
    expect(fs.readFileSync(`/dev/shm/${t.name}`).equals(before)).toBe(true);
    t.close();
    t.unlink();
  });
});

/** Rewrites the schema JSON of a header in place (same or shorter length). */
function patchJson(dv: DataView, _old: string, json: string): void {
  const bytes = Buffer.from(json);
  new Uint8Array(dv.buffer, OFF.schema, bytes.length).set(bytes);
  dv.setUint32(OFF.schemaLength, bytes.length, true);
}

describe('describeTable()', () => {
  it('reports schema, layout, length, capacity and the first rows, read-only', () => {
    const t = RecordTable.create(defineSchema({ a: 'float64', v: { category: ['x', 'y'] } }), { name: fresh(), capacity: 9, layout: 'rows' });
    for (let i = 0; i < 4; i++) t.append({ a: i, v: i % 2 ? 'y' : 'x' });
    expect(describeTable(t.name, { rows: 2 })).toEqual({
      name: t.name,
      layout: 'rows',
      schema: [{ name: 'a', type: 'float64' }, { name: 'v', type: 'category', categories: ['x', 'y'] }],
      length: 4,
      capacity: 9,
      maxRows: 9,
      rows: [{ a: 0, v: 'x' }, { a: 1, v: 'y' }],
    });
    t.close();
    t.unlink();
  });
});

describe('Registry#createTable() and #attachTable()', () => {
  it('creates <prefix>.<key> as a table any process can attach by key, and dispose() unlinks it', () => {
    const reg = new Registry({ prefix: fresh() });
    const S = defineSchema({ a: 'float64' });
    const t = reg.createTable('trades', S, { capacity: 4, layout: 'rows' });
    expect(t.name).toBe(`${reg.prefix}.trades`);
    t.append({ a: 1.5 });
    const u = reg.attachTable('trades', S);
    expect(u.get(0)).toEqual({ a: 1.5 });
    expect(codeOf(() => reg.attachTable('trades', defineSchema({ a: 'float32' })))).toBe('ERR_SHM_SCHEMA_MISMATCH');
    expect(reg.list()).toEqual([expect.objectContaining({ key: 'trades', kind: 'table' })]);
    expect(reg.dispose()).toEqual([t.name]);
    expect(SharedMemory.exists(t.name)).toBe(false);
    u.close();
    t.close();
  });
});

describe('shmkit inspect on a table', () => {
  function run(...args: string[]): { code: number; out: string; err: string } {
    let out = '';
    let err = '';
    const code = main(args, { out: (s) => (out += s), err: (s) => (err += s) });
    return { code, out, err };
  }

  it('shows a void row as (void), and as null in --json', () => {
    const t = RecordTable.create(defineSchema({ a: 'float64', b: 'int32' }), { name: fresh(), capacity: 10 });
    t.append({ a: 1, b: 1 });
    let reads = 0;
    const fickle = { a: 2, get b() { return ++reads === 1 ? 2 : 2 ** 40; } };
    expect(codeOf(() => t.appendMany([fickle]))).toBe('ERR_SHM_VALUE');
    t.append({ a: 3, b: 3 });
    const lines = run('inspect', t.name).out.split('\n');
    const head = lines.findIndex((l) => /^#\s+a\s+b$/.test(l));
    expect(lines.slice(head + 1, head + 4).map((l) => l.trim().split(/\s+/))).toEqual([['0', '1', '1'], ['1', '(void)', '(void)'], ['2', '3', '3']]);
    expect(JSON.parse(run('inspect', t.name, '--json').out).table.rows).toEqual([{ a: 1, b: 1 }, null, { a: 3, b: 3 }]);
    t.close();
    t.unlink();
  });

  it('shows the schema, length/capacity and the first rows as an aligned table', () => {
    const t = RecordTable.create(defineSchema({ id: 'int64', price: 'float64', sym: 'utf8[4]', v: { category: ['x', 'y'] } }), { name: fresh(), capacity: 50 });
    for (let i = 0; i < 12; i++) t.append({ id: BigInt(i * 100), price: i / 4, sym: `s${i}`, v: i % 2 ? 'y' : 'x' });
    const r = run('inspect', t.name);
    expect(r.code).toBe(0);
    expect(r.out).toContain('table:    columns layout, 12 of 50 rows');
    expect(r.out).toContain('schema:   id int64, price float64, sym utf8[4], v category(2)');
    const lines = r.out.split('\n');
    const head = lines.findIndex((l) => /^#\s+id\s+price\s+sym\s+v$/.test(l));
    expect(head).toBeGreaterThan(0);
    expect(lines.slice(head + 1, head + 11).map((l) => l.split(/\s+/))).toEqual(
      Array.from({ length: 10 }, (_, i) => [String(i), String(i * 100), String(i / 4), `"s${i}"`, i % 2 ? '"y"' : '"x"']),
    );
    // Columns line up: every row's price ends where the header's 'price' ends.
    const end = lines[head]!.indexOf('price') + 5;
    for (const l of lines.slice(head + 1, head + 11)) expect(l[end - 1]).toMatch(/\d/);
    const j = JSON.parse(run('inspect', t.name, '--json').out);
    expect(j.table).toMatchObject({ layout: 'columns', length: 12, capacity: 50 });
    expect(j.table.rows[3]).toEqual({ id: '300', price: 0.75, sym: 's3', v: 'y' });
    new Uint8Array(t.segment.buffer)[8] = 9; // format version 9
    const bad = run('inspect', t.name);
    expect(bad.code).toBe(0);
    expect(bad.out).toContain('table:    unreadable: bad table header: format version 9, but this shmkit reads version 3');
    t.close();
    t.unlink();
  });
});

const Log = defineSchema({ writer: 'uint8', seq: 'uint32', check: 'float64', tag: 'utf8[12]' });

/** Asserts every row is whole (its fields agree) and returns the (writer, seq) pairs of live rows. */
function auditRows(t: RecordTable<typeof Log.spec>): { seen: Map<number, Set<number>>; voids: number; switches: number } {
  const seen = new Map<number, Set<number>>();
  let voids = 0;
  let switches = 0;
  let last = -1;
  const len = t.length;
  for (let i = 0; i < len; i++) {
    if (t.isVoid(i)) {
      voids++;
      expect(codeOf(() => t.get(i))).toBe('ERR_SHM_VOID_ROW');
      continue;
    }
    const r = t.get(i);
    if (r.check !== r.writer * 1e6 + r.seq || r.tag !== `w${r.writer}-${r.seq}`) throw new Error(`torn row ${i}: ${JSON.stringify(r)}`);
    if (last !== -1 && r.writer !== last) switches++;
    last = r.writer;
    const set = seen.get(r.writer) ?? new Set<number>();
    if (set.has(r.seq)) throw new Error(`row (${r.writer}, ${r.seq}) appears twice`);
    set.add(r.seq);
    seen.set(r.writer, set);
  }
  return { seen, voids, switches };
}

describe('RecordTable concurrent append', () => {
  it.each([
    ['single', 'columns'],
    ['many', 'columns'],
    ['single', 'rows'],
  ] as const)('4 processes × 50,000 appends (%s, %s layout) give exactly 200,000 rows, each (writer, seq) once', async (mode, layout) => {
    const t = RecordTable.create(Log, { name: fresh(), capacity: 200_000, layout });
    const gateSeg = SharedMemory.create({ name: fresh(), size: 8 });
    const gate = new Int32Array(gateSeg.buffer);
    const kids = [0, 1, 2, 3].map((w) => forkFixture('table-appender', [t.name, String(w), '50000', mode, gateSeg.name]));
    await waitFor(() => Atomics.load(gate, 1) === 4, 'all 4 writers to be ready', 20_000);
    Atomics.store(gate, 0, 1);
    notify(gate, 0);
    const results = await Promise.all(kids.map((k) => exited(k)));
    expect(results.every((r) => r.code === 0)).toBe(true);
    expect(t.length).toBe(200_000);
    const { seen, voids, switches } = auditRows(t);
    expect(voids).toBe(0);
    // The writers really ran at once: their rows interleave.
    expect(switches).toBeGreaterThan(10);
    gateSeg.close();
    gateSeg.unlink();
    for (const w of [0, 1, 2, 3]) expect(seen.get(w)?.size).toBe(50_000);
    expect(codeOf(() => t.append({ writer: 9, seq: 0, check: 9e6, tag: 'w9-0' }))).toBe('ERR_SHM_TABLE_FULL');
    t.close();
    t.unlink();
  });

  it('a writer SIGKILLed in the middle of an append leaves the table attachable and consistent, and others finish', async () => {
    const t = RecordTable.create(Log, { name: fresh(), capacity: 200_000 });
    const flagSeg = SharedMemory.create({ name: fresh(), size: 8 });
    const flag = new Int32Array(flagSeg.buffer);
    const gateSeg = SharedMemory.create({ name: fresh(), size: 8 });
    const gate = new Int32Array(gateSeg.buffer);
    const others = [0, 1, 2].map((w) => forkFixture('table-appender', [t.name, String(w), '50000', 'single', gateSeg.name]));
    const victim = forkFixture('table-appender', [t.name, '3', '2000', 'trap', flagSeg.name]);
    await waitFor(() => Atomics.load(flag, 0) !== 0, 'the victim to be stuck mid-append', 20_000);
    await waitFor(() => Atomics.load(gate, 1) === 3, 'the other writers to be ready', 20_000);
    // The others start appending behind the victim's hole; it dies while they run.
    Atomics.store(gate, 0, 1);
    notify(gate, 0);
    // It holds a claimed batch: 1,000 rows written, 1,000 not; the claim names its thread (tid = pid).
    const states = new BigInt64Array(t.segment.buffer, Number(new DataView(t.segment.buffer).getBigUint64(OFF.stateOffset, true)), t.capacity);
    expect(states.some((w) => (w & 0x8000_0000n) !== 0n && Number(w & 0x3f_ffffn) === victim.pid)).toBe(true);
    victim.kill('SIGKILL');
    expect((await exited(victim)).signal).toBe('SIGKILL');
    const done = await Promise.all(others.map((k) => exited(k)));
    expect(done.every((r) => r.code === 0)).toBe(true);
    // Reading length is what recovers the hole once the dead writer's pid is gone.
    await waitFor(() => t.length === 152_000, 'length to pass the dead writer\'s rows', 10_000);
    const again = RecordTable.attach(t.handle, Log);
    expect(again.length).toBe(152_000);
    const { seen, voids } = auditRows(again);
    expect(voids).toBe(2000);
    for (const w of [0, 1, 2]) expect(seen.get(w)?.size).toBe(50_000);
    expect(seen.has(3)).toBe(false);
    expect(again.append({ writer: 4, seq: 0, check: 4e6, tag: 'w4-0' })).toBe(152_000);
    expect(t.length).toBe(152_001);
    again.close();
    gateSeg.close();
    gateSeg.unlink();
    flagSeg.close();
    flagSeg.unlink();
    t.close();
    t.unlink();
  });

  it('voids the whole batch when a row turns bad between the two passes: none of it is visible', () => {
    const t = RecordTable.create(Log, { name: fresh(), capacity: 10 });
    let reads = 0;
    const fickle = { writer: 1, seq: 2, check: 1e6 + 2, get tag() { return ++reads === 1 ? 'w1-2' : 'far too long for twelve bytes'; } };
    const rows = [0, 1].map((seq) => ({ writer: 1, seq, check: 1e6 + seq, tag: `w1-${seq}` }));
    expect(codeOf(() => t.appendMany([...rows, fickle, { ...rows[0]!, seq: 3, check: 1e6 + 3, tag: 'w1-3' }]))).toBe('ERR_SHM_STRING_TOO_LONG');
    expect(t.length).toBe(4);
    expect([0, 1, 2, 3].map((i) => t.isVoid(i))).toEqual([true, true, true, true]);
    expect(Array.from(t.validity())).toEqual([0, 0, 0, 0]);
    expect(codeOf(() => t.get(1))).toBe('ERR_SHM_VOID_ROW');
    expect(t.append(rows[0]!)).toBe(4);
    expect(Array.from(t.validity())).toEqual([0, 0, 0, 0, 1]);
    expect(t.get(4)).toEqual(rows[0]);
    t.close();
    t.unlink();
  });

  it('voids a slot reserved but never claimed (writer killed between the two steps) after a stall', async () => {
    const t = RecordTable.create(Log, { name: fresh(), capacity: 10 });
    t.append({ writer: 1, seq: 0, check: 1e6, tag: 'w1-0' });
    // The exact memory a writer leaves when killed right after its reserve compareExchange.
    Atomics.add(new Int32Array(t.segment.buffer, 0, 64), OFF.reserved >> 2, 1);
    t.append({ writer: 1, seq: 1, check: 1e6 + 1, tag: 'w1-1' });
    expect(t.length).toBe(1);
    const ms = await waitFor(() => t.length === 3, 'the unclaimed slot to be voided', 10_000);
    expect(ms).toBeGreaterThanOrEqual(1900);
    expect(t.isVoid(1)).toBe(true);
    expect(t.get(2)).toEqual({ writer: 1, seq: 1, check: 1e6 + 1, tag: 'w1-1' });
    t.close();
    t.unlink();
  });
});
