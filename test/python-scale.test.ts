import { afterEach, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { RecordTable, defineSchema } from '../lib/index';
import { removeAll, testPrefix } from './helpers';
import { PYTHON, VENV, python, pythonHas } from './python-run';

const prefix = testPrefix('pyscale');
afterEach(() => removeAll(prefix));

const hasConsumers = pythonHas('pyarrow', 'polars', 'duckdb', 'pandas');
const GiB = 2 ** 30;
/** The table takes about 1.1 GiB of /dev/shm; leave room for everyone else. */
const room = (() => {
  try {
    const s = fs.statfsSync('/dev/shm');
    return s.bavail * s.bsize;
  } catch {
    return 0;
  }
})();
const runs = hasConsumers && room >= 3 * GiB;
if (!runs && VENV) console.warn(`python-scale: skipped (${PYTHON} has pyarrow/polars/duckdb/pandas: ${hasConsumers}; /dev/shm free: ${(room / GiB).toFixed(1)} GiB, needs 3)`);

const VENUES = ['XNYS', 'XNAS', 'BATS', 'ARCA'] as const;
const Trade = defineSchema({
  id: 'int64',
  score: { type: 'float64', nullable: true },
  qty: 'uint32',
  venue: { category: [...VENUES] },
  user: 'utf8',
  ts: 'datetime64[us]',
});
const ROWS = 650_000;
const BATCH = 50_000;
/** 997 strings of 0 to ~3.8 KB (1.9 KB on average: ~1.1 GiB of heap over ROWS rows, so two heap slices), some multi-byte. */
const USERS = Array.from({ length: 997 }, (_, i) => (i % 10 === 0 ? `u${i}` : `u${i}-${'é'.repeat(i % 50)}${'x'.repeat((i * 7919) % 3800)}`));
const userOf = (i: number) => USERS[(i * 31) % USERS.length]!;
const scoreOf = (i: number) => (i % 7 === 3 ? null : (i % 1000) * 0.25); // sums exact in any order

describe.runIf(runs)('shmkit.read_arrow over a 1 GiB table', () => {
  it('costs < 16 MiB of private memory, polars.from_arrow < 64 MiB, and polars and DuckDB GROUP BY equal Node\'s', async () => {
    const t0 = Date.now();
    const t = RecordTable.create(Trade, { name: `${prefix}-t` }); // growable
    const want: Record<string, { sum_score: number; n: number; n_score: number; sum_qty: number; user_bytes: number }> = {};
    for (const v of VENUES) want[v] = { sum_score: 0, n: 0, n_score: 0, sum_qty: 0, user_bytes: 0 };
    const bytes = USERS.map((u) => Buffer.byteLength(u));
    for (let s = 0; s < ROWS; s += BATCH) {
      const n = Math.min(BATCH, ROWS - s);
      const id = new BigInt64Array(n), qty = new Uint32Array(n), venue = new Uint8Array(n), ts = new BigInt64Array(n);
      const score: (number | null)[] = new Array(n), user: string[] = new Array(n);
      for (let j = 0; j < n; j++) {
        const i = s + j;
        id[j] = BigInt(i);
        score[j] = scoreOf(i);
        qty[j] = (i * 2654435761) % 100_000;
        venue[j] = i % 4;
        user[j] = userOf(i);
        ts[j] = BigInt(i) * 1000n;
        const g = want[VENUES[i % 4]!]!;
        g.n++;
        if (score[j] !== null) {
          g.sum_score += score[j]!;
          g.n_score++;
        }
        g.sum_qty += qty[j]!;
        g.user_bytes += bytes[(i * 31) % USERS.length]!;
      }
      t.appendMany({ id, score, qty, venue, user, ts });
    }
    const filled = Date.now() - t0;
    expect(t.length).toBe(ROWS);
    const heap = Object.values(want).reduce((a, g) => a + g.user_bytes, 0);
    expect(heap).toBeGreaterThan(GiB); // two heap slices: views into slice 1 are read too
    // Rows spread over the table (its last rows' values lie in heap slice 1).
    const sample = Array.from({ length: 64 }, (_, k) => Math.min(ROWS - 1, Math.floor((k * ROWS) / 63)));
    const py0 = Date.now();
    const got = await python('scale', [t.name, sample.join(',')]);
    const pyMs = Date.now() - py0;
    console.log(`python-scale: ${ROWS} rows, ${(heap / GiB).toFixed(2)} GiB of strings; Node fill ${filled} ms, Python ${pyMs} ms; ` +
      `private KiB ${JSON.stringify(got.kib)}; seconds ${JSON.stringify(got.seconds)}`);
    expect(got.rows).toBe(ROWS);
    expect(got.nbytes).toBeGreaterThan(GiB);
    expect(got.user_buffers).toBe(4); // validity (none), views, heap slices 0 and 1
    expect(got.arrow_in_mapping).toEqual({ id: true, score: true, qty: true, venue: true, user: true, ts: true });
    expect(got.polars_in_mapping).toEqual({ id: true, score: true, user: true, ts: true });
    expect(got.kib['read_arrow']).toBeLessThan(16 * 1024);
    expect(got.kib['polars.from_arrow']).toBeLessThan(64 * 1024);
    expect(got.polars).toEqual(want);
    // DuckDB's query leaves the strings out (strlen would read every byte of them: seconds, not the point here).
    expect(got.duckdb).toEqual(Object.fromEntries(VENUES.map((v) => [v, { ...want[v]!, user_bytes: undefined }])));
    expect(got.pandas_sum_qty).toBe(Object.values(want).reduce((a, g) => a + g.sum_qty, 0));
    expect(got.sample).toEqual(sample.map((i) => {
      const u = Buffer.from(userOf(i));
      return [u.length, createHash('sha1').update(u).digest('hex')];
    }));
    t.close();
    t.unlink();
  }, 180_000);
});
