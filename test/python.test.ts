import { afterEach, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { RecordTable, defineSchema } from '../lib/index';
import { ROOT, removeAll, shmEntries, testPrefix } from './helpers';

const prefix = testPrefix('python');
let n = 0;
const fresh = () => `${prefix}-${n++}`;
afterEach(() => removeAll(prefix));

/** Runs test/python/<script>.py with real python3 and parses the JSON it prints. */
function python(script: string, args: string[]): Promise<Record<string, any>> {
  return new Promise((resolve, reject) => {
    const child = spawn('python3', [path.join(ROOT, 'test', 'python', `${script}.py`), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`python3 exited ${code}: ${err}`));
      try {
        resolve(JSON.parse(out));
      } catch (e) {
        reject(e);
      }
    });
  });
}

const Trade = defineSchema({
  id: 'int64',
  u: 'uint64',
  price: 'float64',
  f32: 'float32',
  qty: 'uint32',
  small: 'int8',
  buy: 'bool',
  sym: 'utf8[8]',
  ts: 'datetime64[ms]',
  tns: 'datetime64[ns]',
  venue: { category: ['XNYS', 'XNAS', 'BATS'] },
});
const rows = [
  { id: -(2n ** 63n), u: 2n ** 64n - 1n, price: -0, f32: 0.5, qty: 2 ** 32 - 1, small: -128, buy: true, sym: 'é€abc', ts: new Date(-62_135_596_800_000), tns: -1n, venue: 'XNAS' as const },
  { id: 2n ** 63n - 1n, u: 0n, price: NaN, f32: -Infinity, qty: 0, small: 127, buy: false, sym: '', ts: new Date(0), tns: 2n ** 63n - 1n, venue: 'BATS' as const },
  { id: 7n, u: 7n, price: Number.MIN_VALUE, f32: 3.4028234663852886e38, qty: 7, small: 0, buy: true, sym: 'AAPL', ts: new Date(1_700_000_000_123), tns: 1_700_000_000_123_456_789n, venue: 'XNYS' as const },
];

describe.each(['columns', 'rows'] as const)('python/shmkit_numpy.py, %s layout', (layout) => {
  it('numpy reads the same values Node wrote, with no copy, and a value Python writes is seen by Node', async () => {
    const t = RecordTable.create(Trade, { name: fresh(), capacity: 10, layout });
    t.appendMany(rows);
    const got = await python('roundtrip', [t.name, 'price', '42.25']);
    expect(got.layout).toBe(layout);
    expect(got.length).toBe(3);
    expect(got.capacity).toBe(10);
    expect(got.owns_data).toBe(false); // a view over the mapping, not a copy
    expect(got.readonly_view).toBe(true);
    expect(got.dtypes).toEqual({
      id: '<i8', u: '<u8', price: '<f8', f32: '<f4', qty: '<u4', small: '|i1', buy: '|b1', sym: '|S8', ts: '<M8[ms]', tns: '<M8[ns]', venue: '|u1',
    });
    expect(got.categories).toEqual({ venue: ['XNYS', 'XNAS', 'BATS'] });
    expect(got.void).toEqual([false, false, false]);
    expect(got.masked_arrays).toBe(true);
    expect(got.shares_mapping).toBe(true);
    const f = got.fields;
    expect(f.id).toEqual(rows.map((r) => String(r.id)));
    expect(f.u).toEqual(rows.map((r) => String(r.u)));
    expect(f.price).toEqual([{ f: '-0.0', neg: true }, { f: 'NaN' }, { f: '5e-324', neg: false }]);
    expect(f.f32).toEqual([{ f: '0.5', neg: false }, { f: '-Infinity' }, { f: '3.4028234663852886e+38', neg: false }]);
    expect(f.qty).toEqual(['4294967295', '0', '7']);
    expect(f.small).toEqual(['-128', '127', '0']);
    expect(f.buy).toEqual([true, false, true]);
    expect(f.sym).toEqual([{ utf8: 'é€abc' }, { utf8: '' }, { utf8: 'AAPL' }]);
    expect(f.ts).toEqual(rows.map((r) => ({ dt: String(r.ts.getTime()) })));
    expect(f.tns).toEqual(rows.map((r) => ({ dt: String(r.tns) })));
    expect(f.venue.map((c: string) => got.categories.venue[Number(c)])).toEqual(rows.map((r) => r.venue));
    // Python wrote row 0's price through its own writable mapping.
    expect(t.get(0).price).toBe(42.25);
    expect(t.get(1).price).toBeNaN();
    t.close();
    t.unlink();
  });
});

describe('python/shmkit_numpy.py', () => {
  it('never unlinks the segment it reads (no resource tracker) and sees only committed rows', async () => {
    const t = RecordTable.create(defineSchema({ a: 'float64' }), { name: fresh(), capacity: 4 });
    t.append({ a: 1 });
    const got = await python('roundtrip', [t.name]);
    expect(got.fields.a).toEqual([{ f: '1.0', neg: false }]);
    expect(shmEntries(t.name)).toEqual([t.name]);
    t.close();
    t.unlink();
  });

  it('maps every mutated header to a valid in-bounds table or BadHeader, never another exception', async () => {
    for (const layout of ['columns', 'rows'] as const) {
      const t = RecordTable.create(Trade, { name: fresh(), capacity: 20, layout });
      const before = Buffer.from(new Uint8Array(t.segment.buffer)).toString('base64');
      const got = await python('fuzz_header', [t.name, '3000', String(n)]);
      expect(got.ok + got.bad).toBe(3000);
      expect(got.ok).toBeGreaterThan(0);
      expect(got.bad).toBeGreaterThan(0);
      expect(Buffer.from(new Uint8Array(t.segment.buffer)).toString('base64')).toBe(before); // mutations were on a copy
      t.close();
      t.unlink();
    }
  });

  it.each(['columns', 'rows'] as const)('masks void rows (%s layout): sums skip them and the mask matches Node\'s validity()', async (layout) => {
    const t = RecordTable.create(defineSchema({ a: 'float64', b: 'int32' }), { name: fresh(), capacity: 8, layout });
    t.append({ a: 1.5, b: 1 });
    let reads = 0;
    const fickle = { a: 100, get b() { return ++reads === 1 ? 2 : 2 ** 40; } }; // valid when checked, out of range when written
    expect(() => t.appendMany([{ a: 100, b: 2 }, fickle])).toThrow(/b/);
    t.append({ a: 2.25, b: 3 });
    expect(Array.from(t.validity())).toEqual([1, 0, 0, 1]);
    const got = await python('roundtrip', [t.name]);
    expect(got.void).toEqual([false, true, true, false]);
    expect(got.masked.a).toEqual([false, true, true, false]);
    expect(got.masked.b).toEqual([false, true, true, false]);
    expect(got.sums.a).toEqual({ f: '3.75', neg: false }); // the void rows' bytes (100 was written into them) are not counted
    t.close();
    t.unlink();
  });

  it('rejects a segment that is not a table with BadHeader', async () => {
    const t = RecordTable.create(defineSchema({ a: 'float64' }), { name: fresh(), capacity: 4 });
    new Uint8Array(t.segment.buffer)[0] = 0;
    await expect(python('roundtrip', [t.name])).rejects.toThrow(/BadHeader: wrong magic/);
    t.close();
    t.unlink();
  });
});
