import { afterEach, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { RecordTable, defineSchema } from '../lib/index';
import { ROOT, removeAll, shmEntries, testPrefix } from './helpers';
import { baseImages, mutations, nodeParse } from './python/header-cases';
import { PYTHON, Trade, VENV, python, pythonRaw } from './python-run';

const prefix = testPrefix('python');
let n = 0;
const fresh = () => `${prefix}-${n++}`;
afterEach(() => removeAll(prefix));

/** Python source that imports shmkit: installed, else the repo's python/ by path. */
const IMPORT = `import sys\ntry:\n  import shmkit\nexcept ImportError:\n  sys.path.insert(0, ${JSON.stringify(path.join(ROOT, 'python'))}); import shmkit\n`;

const rows = [
  { id: -(2n ** 63n), u: 2n ** 64n - 1n, price: -0, f32: 0.5, qty: 2 ** 32 - 1, small: -128, buy: true, sym: 'é€abc', ts: new Date(-62_135_596_800_000), tns: -1n, venue: 'XNAS' as const },
  { id: 2n ** 63n - 1n, u: 0n, price: NaN, f32: -Infinity, qty: 0, small: 127, buy: false, sym: '', ts: new Date(0), tns: 2n ** 63n - 1n, venue: 'BATS' as const },
  { id: 7n, u: 7n, price: Number.MIN_VALUE, f32: 3.4028234663852886e38, qty: 7, small: 0, buy: true, sym: 'AAPL', ts: new Date(1_700_000_000_123), tns: 1_700_000_000_123_456_789n, venue: 'XNYS' as const },
];

describe.each(['columns', 'rows'] as const)('shmkit (Python) read_table, %s layout', (layout) => {
  it('numpy reads the same values Node wrote, with no copy, and a value Python writes is seen by Node', async () => {
    const t = RecordTable.create(Trade, { name: fresh(), capacity: 10, layout });
    t.appendMany(rows);
    const got = await python('roundtrip', [t.name, 'price', '42.25']);
    expect(got.layout).toBe(layout);
    // Under SHMKIT_PYTHON the scripts use the pip-installed package, not the repo's python/.
    expect(got.module).toContain(VENV ? 'site-packages' : path.join(ROOT, 'python'));
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

describe('shmkit (Python) read_table', () => {
  it('never unlinks the segment it reads (no resource tracker) and sees only committed rows', async () => {
    const t = RecordTable.create(defineSchema({ a: 'float64' }), { name: fresh(), capacity: 4 });
    t.append({ a: 1 });
    const got = await python('roundtrip', [t.name]);
    expect(got.fields.a).toEqual([{ f: '1.0', neg: false }]);
    expect(shmEntries(t.name)).toEqual([t.name]);
    t.close();
    t.unlink();
  });

  it('accepts and rejects what Node\'s parseHeader does, in the same words, over thousands of mutated headers', async () => {
    const bases = baseImages(prefix);
    // SHMKIT_HEADER_CASES and SHMKIT_HEADER_SEED widen the search (default: 4000 cases, a fixed seed).
    const cases = mutations(bases, Number(process.env.SHMKIT_HEADER_CASES ?? 4000), Number(process.env.SHMKIT_HEADER_SEED ?? 0x5eed));
    const file = path.join(os.tmpdir(), `${prefix}-cases.json`);
    fs.writeFileSync(file, JSON.stringify(cases.map((c) => ({ image: Buffer.from(c.image).toString('base64'), size: c.size }))));
    let got: ({ ok: unknown } | { bad: string })[];
    try {
      got = JSON.parse(await pythonRaw([path.join(ROOT, 'test', 'python', 'header_diff.py'), file]));
    } finally {
      fs.rmSync(file, { force: true });
    }
    let ok = 0;
    const seen = new Set<string>();
    const differ: unknown[] = [];
    cases.forEach((c, i) => {
      const want = nodeParse(c.image, c.size);
      const py = got[i]!;
      if ('ok' in want) {
        ok++;
        if (JSON.stringify(py) !== JSON.stringify(want)) differ.push({ case: i, what: c.what, node: want, python: py });
        return;
      }
      seen.add(want.bad.replace(/[0-9]+/g, '#').slice(0, 60));
      const msg = 'bad' in py ? `bad table header: ${py.bad}` : py;
      // JSON.parse and Python's json word a syntax error their own ways; all else reads the same.
      const json = 'bad table header: the schema is not UTF-8 JSON';
      const same = want.bad.startsWith(json) ? typeof msg === 'string' && msg.startsWith(json) : msg === want.bad;
      if (!same) differ.push({ case: i, what: c.what, node: want.bad, python: msg });
    });
    expect(differ.slice(0, 8), `${differ.length} of ${cases.length} headers parsed differently`).toEqual([]);
    // The mutations reach both outcomes and many different checks.
    expect(ok).toBeGreaterThan(200);
    expect(cases.length - ok).toBeGreaterThan(2000);
    expect(seen.size).toBeGreaterThan(40);
    for (const t of bases.tables) {
      t.close();
      t.unlink();
    }
  });

  it('rejects a version 2 (or a future) header with BadHeader naming both versions, as Node does', async () => {
    const t = RecordTable.create(defineSchema({ a: 'float64' }), { name: fresh(), capacity: 4 });
    const dv = new DataView(t.segment.buffer);
    const code = `${IMPORT}\ntry:\n  shmkit.read_table(sys.argv[1])\nexcept shmkit.BadHeader as e:\n  print(e.code, e)`;
    for (const [version, why] of [[2, 'an older shmkit made it: recreate the table'], [4, 'a newer shmkit made it: upgrade']] as const) {
      dv.setUint32(8, version, true);
      const reason = `format version ${version}, but this shmkit reads version 3 only (${why})`;
      expect((await pythonRaw(['-c', code, t.name])).trim()).toBe(`ERR_SHM_BAD_HEADER ${reason}`);
      expect(() => RecordTable.attach(t.handle)).toThrow(`bad table header: ${reason}`);
    }
    t.close();
    t.unlink();
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

  it('python/shmkit_numpy.py, imported by path, is still the reader (compatibility shim)', async () => {
    const t = RecordTable.create(defineSchema({ a: 'float64' }), { name: fresh(), capacity: 4 });
    t.appendMany([{ a: 1.5 }, { a: 2 }]);
    const code = `import sys; sys.path.insert(0, ${JSON.stringify(path.join(ROOT, 'python'))}); import shmkit_numpy as s; ` +
      `print(float(s.read_table(sys.argv[1])['a'].sum()), s.__name__, callable(s._parse), s.BadHeader.__name__)`;
    expect((await pythonRaw(['-c', code, t.name])).trim()).toBe('3.5 shmkit.numpy_reader True BadHeader');
    t.close();
    t.unlink();
  });
});

describe.runIf(VENV)('pip install ./python (the SHMKIT_PYTHON venv)', () => {
  it(`gives an importable shmkit with the whole API, from site-packages (${PYTHON})`, async () => {
    const out = await pythonRaw(['-c', 'import shmkit, shmkit_numpy; print(shmkit.__file__); print(sorted(shmkit.__all__))']);
    const [file, api] = out.trim().split('\n');
    expect(file).toContain('site-packages');
    expect(api).toBe("['BadHeader', 'TableInfo', 'read_arrow', 'read_schema', 'read_table', 'void_mask']");
  });
});
