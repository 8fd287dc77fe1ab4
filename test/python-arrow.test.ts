import { afterEach, describe, expect, it } from 'vitest';
import { RecordTable, SharedMemory, defineSchema } from '../lib/index';
import * as path from 'node:path';
import { ROOT, exited, forkFixture, removeAll, testPrefix, waitFor } from './helpers';
import { Event, PYTHON, Trade, VENV, encodeRow, python, pythonHas, pythonRaw } from './python-run';

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

const MiB = 1 << 20;
const BIG = 'é'.repeat(MiB / 2); // 1 MiB of UTF-8
const BIG_BLOB = Uint8Array.from({ length: MiB }, (_, j) => (j * 31) & 255);
const bytes = (len: number, seed: number) => Uint8Array.from({ length: len }, (_, j) => (seed + j) & 255);
const VENUES = ['XNYS', 'XNAS', 'BATS'] as const;

/** Row i of the Event table: strings of 0, 12, 13 bytes, multi-byte ones and two of 1 MiB; nulls in patterns that cross bitmap bytes. */
function eventRow(i: number) {
  const users = ['', 'x'.repeat(12), 'y'.repeat(13), `é€😀 user ${i}`, 'z'.repeat(40 + (i % 7))];
  return {
    id: BigInt(i) - 3n,
    u64: i % 5 === 0 ? null : 2n ** 64n - 1n - BigInt(i),
    i8: (i % 256) - 128,
    u8: i % 7 === 3 ? null : i % 256,
    i16: -32768 + i * 111,
    u16: 65535 - i,
    i32: i % 6 === 2 ? null : -(2 ** 31) + i * 1_000_003,
    u32: 2 ** 32 - 1 - i,
    f32: i % 8 === 0 ? null : i === 1 ? NaN : i === 2 ? -0 : i === 3 ? Infinity : Math.fround(i * 0.1),
    score: i % 4 === 1 ? null : i === 2 ? -0 : (i % 50) * 0.25 - 3, // sums of these are exact in any order
    ok: i % 4 === 0 ? null : i % 3 === 0,
    flag: i % 2 === 1,
    user: i === 5 || i === 250 ? BIG : users[i % users.length]!,
    note: i % 3 === 0 ? null : users[(i + 2) % users.length]!,
    blob: i === 6 ? BIG_BLOB : bytes([0, 12, 13, 100][i % 4]!, i),
    nblob: i % 4 === 1 ? null : bytes([13, 0, 12, 30][i % 4]!, i * 7),
    sym: ['', 'AAPL', 'é€abc', '12345678'][i % 4]!,
    nsym: i % 5 === 2 ? null : ['a', 'bc', '€'][i % 3]!,
    ts: BigInt(i) * 1_000_001n - 5n,
    tms: i % 9 === 0 ? null : new Date(1_700_000_000_000 + i),
    tsec: new Date((1_600_000_000 + i) * 1000),
    tns: BigInt(i) * 10n ** 12n + 7n,
    venue: VENUES[i % 3]!,
    side: i % 5 === 4 ? null : (['buy', 'sell'] as const)[i % 2]!,
  };
}

/**
 * A growable Event table of 300 rows; with `voids`, a batch of 3 (a 1 MiB
 * string among them) fails mid-write after row 100 and is void.
 */
function eventTable(voids: boolean): RecordTable<typeof Event.spec> {
  const t = RecordTable.create(Event, { name: fresh() });
  t.appendMany(Array.from({ length: 100 }, (_, i) => eventRow(i)));
  if (voids) {
    let reads = 0;
    const fickle = { ...eventRow(1), get i8() { return ++reads === 1 ? 1 : 1000; } }; // valid when checked, out of range when written
    expect(() => t.appendMany([{ ...eventRow(0), user: BIG }, eventRow(2), fickle])).toThrow(/i8/);
  }
  t.appendMany(Array.from({ length: 200 }, (_, i) => eventRow(100 + i)));
  return t;
}

/** Node's view of every row: get() encoded as Python encodes, a row of nulls where the row is void. */
function nodeRows(t: RecordTable<any>): Record<string, unknown>[] {
  const blank = Object.fromEntries(t.schema.fields.map((f) => [f.name, null]));
  return Array.from({ length: t.length }, (_, i) => (t.isVoid(i) ? blank : encodeRow(t.schema, t.get(i))!));
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
    expect(got.metadata).toEqual({ 'shmkit.name': t.name, 'shmkit.layout': layout, 'shmkit.capacity': '10', 'shmkit.growable': 'false' });
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
      // Zero copy: every data buffer, bool's bits included, lies inside the mapping...
      expect(Object.values(got.in_mapping).every((x) => x === true)).toBe(true);
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

  it('reads every type, nulls and 0/12/13-byte/1 MiB values as Node get() does, row for row, with read_table too, void rows or none', async () => {
    const tables = [eventTable(false), eventTable(true)];
    const all = await python('rows', tables.map((t) => t.name));
    for (const [t, voids] of [[tables[0]!, false], [tables[1]!, true]] as const) {
      const want = nodeRows(t);
      expect(want.length).toBe(voids ? 303 : 300);
      expect(want.filter((r) => r.id === null).length).toBe(voids ? 3 : 0);
      const got = all[t.name];
      expect(got.rows).toBe(want.length);
      expect(got.types).toEqual({
        id: 'int64', u64: 'uint64', i8: 'int8', u8: 'uint8', i16: 'int16', u16: 'uint16', i32: 'int32', u32: 'uint32',
        f32: 'float', score: 'double', ok: 'bool', flag: 'bool', user: 'string_view', note: 'string_view',
        blob: 'binary_view', nblob: 'binary_view', sym: 'fixed_size_binary[8]', nsym: 'fixed_size_binary[4]',
        ts: 'timestamp[us]', tms: 'timestamp[ms]', tsec: 'timestamp[s]', tns: 'timestamp[ns]',
        venue: 'dictionary<values=string, indices=uint8, ordered=0>', side: 'dictionary<values=string, indices=uint8, ordered=0>',
      });
      // A field is nullable when it is; every field is, while some row is void.
      expect(got.nullable).toEqual(Object.fromEntries(Event.fields.map((f) => [f.name, f.nullable || voids])));
      expect(got.nulls).toEqual(Object.fromEntries(Event.fields.map((f) => [f.name, want.filter((r) => r[f.name] === null).length])));
      // Row for row: read_arrow, read_table (masked where null or void) and Node agree, 1 MiB values included.
      for (let i = 0; i < want.length; i++) {
        expect(got.arrow[i], `read_arrow row ${i} (void rows: ${voids})`).toEqual(want[i]);
        expect(got.table[i], `read_table row ${i} (void rows: ${voids})`).toEqual(want[i]);
      }
      // Where each Arrow buffer lies: the data in the mapping, always; the validity too, while no row is void.
      for (const f of Event.fields) {
        const validity = voids ? 'new' : f.nullable ? 'mapping' : null;
        const data = f.variable ? ['mapping', 'mapping'] : ['mapping']; // views + heap slice 0
        const dictionary = f.kind === 'category' ? ['dictionary:null', 'dictionary:new', 'dictionary:new'] : [];
        expect(got.buffers[f.name], f.name).toEqual([validity, ...data, ...dictionary]);
      }
      expect(Object.values(got.chunks).every((c) => c === 1)).toBe(true);
      // read_table: numbers, datetimes, utf8[N] and category codes are views; bools (bits) and utf8/binary (objects) copies.
      expect(got.table_in_mapping).toEqual(Object.fromEntries(Event.fields.map((f) => [f.name, !(f.kind === 'bool' || f.variable)])));
      expect(got.dtypes).toMatchObject({ id: 'int64', ok: 'bool', user: 'object', blob: 'object', sym: '|S8', ts: 'datetime64[us]', venue: 'uint8' });
      t.close();
      t.unlink();
    }
  });

  it('shows the rows of a SIGKILLed writer as null in read_arrow and masked in read_table, though their bytes were written', async () => {
    const Log = defineSchema({ writer: 'uint8', seq: 'uint32', check: 'float64', tag: 'utf8', extra: { type: 'float64', nullable: true } });
    const t = RecordTable.create(Log, { name: fresh() });
    const flagSeg = SharedMemory.create({ name: fresh(), size: 8 });
    t.appendMany(Array.from({ length: 10 }, (_, seq) => ({ writer: 9, seq, check: 9e6 + seq, tag: `w9-${seq}`, extra: seq })));
    // test/fixtures/table-appender.ts 'trap': one appendMany of 2000 rows, blocked for ever after writing 1000 of them.
    const victim = forkFixture('table-appender', [t.name, '3', '2000', 'trap', flagSeg.name]);
    await waitFor(() => Atomics.load(new Int32Array(flagSeg.buffer), 0) !== 0, 'the victim to be stuck mid-append', 20_000);
    victim.kill('SIGKILL');
    expect((await exited(victim)).signal).toBe('SIGKILL');
    t.appendMany(Array.from({ length: 5 }, (_, j) => ({ writer: 9, seq: 10 + j, check: 9e6 + 10 + j, tag: `w9-${10 + j}`, extra: null })));
    // Reading length is what recovers the hole once the dead writer is gone.
    await waitFor(() => t.length === 2015, 'length to pass the dead writer\'s rows', 10_000);
    const valid = Array.from(t.validity());
    expect(valid.filter((x) => x === 0).length).toBe(2000);
    const code = `${IMPORT}import json, numpy as np
t = shmkit.read_arrow(sys.argv[1]); c = shmkit.read_table(sys.argv[1])
print(json.dumps({"nulls": {k: t.column(k).null_count for k in t.column_names},
  "arrow_valid": [int(x) for x in t.column("writer").is_valid().to_pylist()],
  "masked": {k: np.ma.getmaskarray(v).tolist() for k, v in c.items()},
  "sum_check": float(c["check"].sum()), "count": int(c["check"].count()),
  "under_mask": [int(c["writer"].data[10]), float(c["check"].data[10])],
  "void_mask": shmkit.void_mask(sys.argv[1]).tolist()}))`;
    const got = JSON.parse(await pythonRaw(['-c', code, t.name]));
    expect(got.arrow_valid).toEqual(valid);
    expect(got.nulls).toEqual({ writer: 2000, seq: 2000, check: 2000, tag: 2000, extra: 2000 + 5 });
    for (const k of ['writer', 'seq', 'check', 'tag']) expect(got.masked[k], k).toEqual(valid.map((x) => x === 0));
    expect(got.masked.extra).toEqual(valid.map((x, i) => x === 0 || i >= 2010));
    expect(got.void_mask).toEqual(valid.map((x) => x === 0));
    expect(got.count).toBe(15);
    expect(got.sum_check).toBe(Array.from({ length: 15 }, (_, s) => 9e6 + s).reduce((a, b) => a + b));
    // The victim wrote its first rows before it died: the mask, not zeros, hides them.
    expect(got.under_mask).toEqual([3, 3e6]);
    flagSeg.close();
    flagSeg.unlink();
    t.close();
    t.unlink();
  });

  it('reads a table while a Node writer appends to it: never a bad header, never a torn row, the length never back', async () => {
    const Log = defineSchema({ writer: 'uint8', seq: 'uint32', check: 'float64', tag: 'utf8' });
    const t = RecordTable.create(Log, { name: fresh() });
    const writer = forkFixture('table-appender', [t.name, '4', '200000', 'single']);
    try {
      const got = await python('live', [t.name, '200000', '30']);
      expect(got.torn).toEqual([]);
      expect(got.length).toBe(200_000);
      expect(got.partial).toBeGreaterThan(5); // it did read mid-append
    } finally {
      writer.kill('SIGKILL');
      await exited(writer);
    }
    t.close();
    t.unlink();
  });

  it('reads an empty table (0 rows, the full schema), growable or not, and rejects a non-table with BadHeader', async () => {
    for (const t of [RecordTable.create(Trade, { name: fresh(), capacity: 4 }), RecordTable.create(Event, { name: fresh() })]) {
      expect((await pythonRaw(['-c', `${IMPORT}t = shmkit.read_arrow(sys.argv[1]); print(t.num_rows, t.num_columns)`, t.name])).trim()).toBe(`0 ${t.schema.fields.length}`);
      new Uint8Array(t.segment.buffer)[0] = 0;
      await expect(pythonRaw(['-c', `${IMPORT}shmkit.read_arrow(sys.argv[1])`, t.name])).rejects.toThrow(/BadHeader: wrong magic/);
      t.close();
      t.unlink();
    }
  });

  it('keeps the mapping while any column of the Table lives, and unmaps it with the last one', async () => {
    const t = RecordTable.create(defineSchema({ s: 'utf8', x: 'float64' }), { name: fresh() });
    t.appendMany([{ s: 'short', x: 1 }, { s: 'a value longer than twelve bytes', x: 2 }]);
    const code = `${IMPORT}import gc; sys.path.insert(0, ${JSON.stringify(path.join(ROOT, 'test', 'python'))}); from common import mappings_of
tbl = shmkit.read_arrow(sys.argv[1]); n = [len(mappings_of(sys.argv[1]))]
col = tbl.column("s"); del tbl; gc.collect(); n.append(len(mappings_of(sys.argv[1])))
print(n, col.to_pylist()); del col; gc.collect(); print(len(mappings_of(sys.argv[1])))`;
    expect((await pythonRaw(['-c', code, t.name])).trim().split('\n')).toEqual(["[1, 1] ['short', 'a value longer than twelve bytes']", '0']);
    t.close();
    t.unlink();
  });

  it('validate=True runs Arrow\'s full validation, and catches a view that points outside the heap', async () => {
    const t = RecordTable.create(defineSchema({ s: 'utf8' }), { name: fresh() });
    t.appendMany([{ s: 'short' }, { s: 'a value longer than twelve bytes' }]);
    const run = () => pythonRaw(['-c', `${IMPORT}t = shmkit.read_arrow(sys.argv[1], validate=True); print(t.column("s").to_pylist())`, t.name]);
    expect((await run()).trim()).toBe("['short', 'a value longer than twelve bytes']");
    // Row 1's view: its offset into heap slice 0, moved past the end of the heap's memory.
    const dv = new DataView(t.segment.buffer);
    const schemaJson = JSON.parse(new TextDecoder().decode(new Uint8Array(t.segment.buffer, 512, dv.getUint32(20, true))));
    dv.setInt32(schemaJson[0].offset + 16 + 12, 1 << 29, true);
    await expect(run()).rejects.toThrow(/ArrowInvalid/);
    await expect(pythonRaw(['-c', `${IMPORT}shmkit.read_table(sys.argv[1])`, t.name])).rejects.toThrow(/row 1 field "s" holds a view outside the table's heap/);
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

  it('GROUP BY venue over every type gives Node\'s results in pandas (ArrowDtype and copied), polars and DuckDB, void rows or none', async () => {
    const tables = [eventTable(false), eventTable(true)];
    const all = await python('consumers', tables.map((t) => t.name));
    for (const t of tables) {
      const groups: Record<string, { sum_score: number; n: number; n_score: number; user_bytes: number; ok_true: number }> = {};
      for (let i = 0; i < t.length; i++) {
        if (t.isVoid(i)) continue;
        const r = t.get(i);
        const g = (groups[r.venue] ??= { sum_score: 0, n: 0, n_score: 0, user_bytes: 0, ok_true: 0 });
        g.n++;
        if (r.score !== null) {
          g.sum_score += r.score;
          g.n_score++;
        }
        g.user_bytes += Buffer.byteLength(r.user);
        if (r.ok === true) g.ok_true++;
      }
      const got = all[t.name];
      for (const who of ['pandas_arrow', 'pandas', 'polars', 'duckdb']) expect(got[who], who).toEqual(groups);
      // types_mapper=pd.ArrowDtype keeps Arrow's buffers: no column copied.
      expect(got.pandas_arrow_in_mapping).toBe(true);
      t.close();
      t.unlink();
    }
  });
});

describe('shmkit.read_arrow without pyarrow', () => {
  it('raises ImportError naming pip install \'./python[arrow]\' (pyarrow hidden from the import system)', async () => {
    const t = RecordTable.create(defineSchema({ a: 'float64' }), { name: fresh(), capacity: 4 });
    const code = `import sys\nsys.modules["pyarrow"] = None\n${IMPORT}try:\n  shmkit.read_arrow(sys.argv[1])\nexcept ImportError as e:\n  print(e)\nprint(float(shmkit.read_table(sys.argv[1])["a"].sum()))`;
    t.append({ a: 2.5 });
    expect((await pythonRaw(['-c', code, t.name])).trim().split('\n')).toEqual(["shmkit.read_arrow needs pyarrow: pip install './python[arrow]' (shmkit[arrow]), or pip install pyarrow", '2.5']);
    t.close();
    t.unlink();
  });
});
