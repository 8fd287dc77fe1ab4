import { afterEach, describe, expect, it } from 'vitest';
import { RecordTable, defineSchema } from '../lib/index';
import * as path from 'node:path';
import { ROOT, removeAll, testPrefix } from './helpers';
import { PYTHON, Trade, VENV, python, pythonHas, pythonRaw } from './python-run';

const prefix = testPrefix('pyarrow');
let n = 0;
const fresh = () => `${prefix}-${n++}`;
afterEach(() => removeAll(prefix));

/** Python source that imports shmkit: installed, else the repo's python/ by path. */
const IMPORT = `import sys\ntry:\n  import shmkit\nexcept ImportError:\n  sys.path.insert(0, ${JSON.stringify(path.join(ROOT, 'python'))}); import shmkit\n`;
const hasArrow = pythonHas('pyarrow');
const hasConsumers = hasArrow && pythonHas('pandas', 'polars', 'duckdb');
// CI sets SHMKIT_PYTHON to its venv, where these must run; elsewhere they skip, saying why.
if (!hasArrow && !VENV) console.warn(`python-arrow: ${PYTHON} has no pyarrow; Arrow tests skipped (run .ci/python-venv and set SHMKIT_PYTHON)`);

type TradeRow = { id: bigint; u: bigint; price: number; f32: number; qty: number; small: number; buy: boolean; sym: string; ts: Date; tns: bigint; venue: 'XNYS' | 'XNAS' | 'BATS' };
const rows: TradeRow[] = [
  { id: -(2n ** 63n), u: 2n ** 64n - 1n, price: -0, f32: 0.5, qty: 2 ** 32 - 1, small: -128, buy: true, sym: 'é€abc', ts: new Date(-62_135_596_800_000), tns: -1n, venue: 'XNAS' },
  { id: 2n ** 63n - 1n, u: 0n, price: 1.25, f32: -Infinity, qty: 0, small: 127, buy: false, sym: '', ts: new Date(0), tns: 2n ** 63n - 1n, venue: 'BATS' },
  { id: 7n, u: 7n, price: Number.MIN_VALUE, f32: 3.4028234663852886e38, qty: 7, small: 0, buy: true, sym: 'AAPL', ts: new Date(1_700_000_000_123), tns: 1_700_000_000_123_456_789n, venue: 'XNYS' },
];

/** Appends rows[0], then a batch whose second row fails mid-write (both rows void), then rows[1..]. */
function withVoidRows(t: RecordTable<any>): void {
  t.append(rows[0]);
  let reads = 0;
  const fickle = { ...rows[2], get qty() { return ++reads === 1 ? 1 : 2 ** 40; } }; // valid when checked, out of range when written
  expect(() => t.appendMany([rows[1], fickle])).toThrow(/qty/);
  t.appendMany(rows.slice(1));
  expect(Array.from(t.validity())).toEqual([1, 0, 0, 1, 1]);
}

const num = (x: number) => (Number.isNaN(x) ? { f: 'NaN' } : !Number.isFinite(x) ? { f: x > 0 ? 'Infinity' : '-Infinity' } : { f: pyRepr(x), neg: Object.is(x, -0) || x < 0 });
/** Python's repr of a float, for the values used here. */
function pyRepr(x: number): string {
  if (Object.is(x, -0)) return '-0.0';
  if (x === Number.MIN_VALUE) return '5e-324';
  if (x === 3.4028234663852886e38) return '3.4028234663852886e+38';
  return Number.isInteger(x) ? `${x}.0` : String(x);
}

describe.runIf(VENV)('the SHMKIT_PYTHON venv', () => {
  it('has pyarrow, pandas, polars and duckdb, so that the Arrow tests below run rather than skip', () => {
    expect({ pyarrow: hasArrow, consumers: hasConsumers }).toEqual({ pyarrow: true, consumers: true });
  });
});

describe.runIf(hasArrow)('shmkit.read_arrow', () => {
  it.each(['columns', 'rows'] as const)('equals the values Node wrote, a void row is null in every column (%s layout)', async (layout) => {
    const t = RecordTable.create(Trade, { name: fresh(), capacity: 10, layout });
    withVoidRows(t);
    const got = await python('arrow', [t.name, 'values', 'price']);
    expect(got.rows).toBe(5);
    expect(got.types).toEqual({
      id: 'int64', u: 'uint64', price: 'double', f32: 'float', qty: 'uint32', small: 'int8', buy: 'bool', sym: 'fixed_size_binary[8]',
      ts: 'timestamp[ms]', tns: 'timestamp[ns]', venue: 'dictionary<values=string, indices=uint8, ordered=0>',
    });
    expect(got.metadata).toEqual({ 'shmkit.name': t.name, 'shmkit.layout': layout, 'shmkit.capacity': '10' });
    const order = [rows[0], null, null, rows[1], rows[2]];
    const col = (fn: (r: TradeRow) => unknown) => order.map((r) => (r === null ? null : fn(r)));
    const v = got.values;
    expect(v.id).toEqual(col((r) => String(r.id)));
    expect(v.u).toEqual(col((r) => String(r.u)));
    expect(v.price).toEqual(col((r) => num(r.price)));
    expect(v.f32).toEqual(col((r) => num(r.f32)));
    expect(v.qty).toEqual(col((r) => String(r.qty)));
    expect(v.small).toEqual(col((r) => String(r.small)));
    expect(v.buy).toEqual(col((r) => r.buy));
    expect(v.sym).toEqual(col((r) => ({ utf8: r.sym })));
    expect(v.ts).toEqual(col((r) => String(r.ts.getTime())));
    expect(v.tns).toEqual(col((r) => String(r.tns)));
    expect(v.venue).toEqual(col((r) => r.venue));
    expect(Object.values(got.nulls)).toEqual(Array(11).fill(2));
    if (layout === 'columns') {
      // Zero copy: every data buffer but bool's (bytes → bits) lies inside the mapping...
      expect(got.in_mapping).toEqual({ id: true, u: true, price: true, f32: true, qty: true, small: true, buy: false, sym: true, ts: true, tns: true, venue: true });
      // ...so a write through another mapping of the segment shows through the Table already built.
      expect(got.live).toEqual({ before: num(-0), after: num(4242.5) });
    } else {
      // 'rows' interleaves fields: every column is a copy.
      expect(Object.values(got.in_mapping).every((x) => x === false)).toBe(true);
      expect(got.live).toEqual({ before: num(-0), after: num(-0) });
    }
    expect(t.get(0).price).toBe(4242.5); // the writable mapping wrote the segment either way
    t.close();
    t.unlink();
  });

  it('reads an empty table (0 rows, the full schema) and rejects a non-table with BadHeader', async () => {
    const t = RecordTable.create(Trade, { name: fresh(), capacity: 4 });
    expect((await pythonRaw(['-c', `${IMPORT}t = shmkit.read_arrow(sys.argv[1]); print(t.num_rows, t.num_columns)`, t.name])).trim()).toBe('0 11');
    new Uint8Array(t.segment.buffer)[0] = 0;
    await expect(pythonRaw(['-c', `${IMPORT}shmkit.read_arrow(sys.argv[1])`, t.name])).rejects.toThrow(/BadHeader: wrong magic/);
    t.close();
    t.unlink();
  });
});

describe.runIf(hasConsumers)('shmkit.read_arrow with pandas, polars and DuckDB', () => {
  it('to_pandas(), polars.from_arrow() and a DuckDB query give Node\'s sums, skipping void rows', async () => {
    const venues = ['XNYS', 'XNAS', 'BATS'] as const;
    const t = RecordTable.create(defineSchema({ a: 'float64', b: 'int32', venue: { category: [...venues] } }), { name: fresh(), capacity: 3000 });
    const batch = Array.from({ length: 1000 }, (_, i) => ({ a: i * 0.25, b: i - 300, venue: venues[i % 3] }));
    t.appendMany(batch);
    let reads = 0;
    const fickle = { a: 1e9, venue: 'XNYS' as const, get b() { return ++reads === 1 ? 1 : 2 ** 40; } };
    expect(() => t.appendMany([{ a: 1e9, b: 1e9, venue: 'BATS' }, fickle])).toThrow(/b/);
    t.appendMany(batch.slice(0, 500));
    const live = [...batch, ...batch.slice(0, 500)];
    const want = {
      a: live.reduce((s, r) => s + r.a, 0),
      b: live.reduce((s, r) => s + r.b, 0),
      count_a: live.length,
      by_venue: Object.fromEntries(venues.map((v) => [v, live.filter((r) => r.venue === v).reduce((s, r) => s + r.b, 0)])),
    };
    const got = await python('arrow', [t.name, 'consumers']);
    expect(got.rows).toBe(1502);
    expect(got.pandas).toEqual(want);
    expect(got.polars).toEqual(want);
    expect(got.duckdb).toEqual(want);
    t.close();
    t.unlink();
  });
});

describe.runIf(!hasArrow)('shmkit.read_arrow without pyarrow', () => {
  it('raises ImportError naming pip install \'shmkit[arrow]\'', async () => {
    const t = RecordTable.create(defineSchema({ a: 'float64' }), { name: fresh(), capacity: 4 });
    const code = `${IMPORT}try:\n  shmkit.read_arrow(sys.argv[1])\nexcept ImportError as e:\n  print(e)`;
    expect((await pythonRaw(['-c', code, t.name])).trim()).toBe("shmkit.read_arrow needs pyarrow: pip install 'shmkit[arrow]' (or pip install pyarrow)");
    t.close();
    t.unlink();
  });
});
