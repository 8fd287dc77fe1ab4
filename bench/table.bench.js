// Record tables: summing a zero-copy column, bulk appendMany from column
// arrays, and append(row) / get(i) rates, each against a baseline measured in
// the same run.
'use strict';
const { RecordTable, defineSchema } = require('..');
const { median, table } = require('./util');

const out = [];
const p = (s = '') => out.push(s);
const ms = (x) => `${x.toFixed(1)} ms`;
const rate = (rows, t) => `${(rows / t / 1000).toFixed(2)} M rows/s`;
const verdict = (r, target) => (r >= target ? `✓ ≥ ${target}` : `✗ < ${target}`);

const Quote = defineSchema({ price: 'float64', qty: 'uint32', bid: 'float64', seq: 'int32' });

function timed(fn) {
  const a = performance.now();
  const r = fn();
  return [performance.now() - a, r];
}

/** Same loop for both: only the array differs. */
function sum(a) {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i];
  return s;
}

// 1. Sum column('price') vs a plain Float64Array with the same data.
const N = 10_000_000;
const price = new Float64Array(N);
const qty = new Uint32Array(N);
const bid = new Float64Array(N);
const seq = new Int32Array(N);
for (let i = 0; i < N; i++) {
  price[i] = (i % 1000) * 0.25;
  qty[i] = i % 500;
  bid[i] = price[i] - 0.125;
  seq[i] = i;
}
const cols = { price, qty, bid, seq };
const t = RecordTable.create(Quote, { capacity: N, prefix: 'shmkit-bench' });
t.appendMany(cols);
const view = t.column('price');
const plain = price;
const expected = sum(price);
const sumShm = [];
const sumPlain = [];
for (let r = 0; r < 11; r++) {
  // Alternate which goes first so neither always gets the warmer cache.
  const order = r % 2 ? [[sumPlain, plain], [sumShm, view]] : [[sumShm, view], [sumPlain, plain]];
  for (const [acc, arr] of order) {
    const [dt, s] = timed(() => sum(arr));
    if (s !== expected) throw new Error('sums differ');
    acc.push(dt);
  }
}
// toArrow() of the same 10M-row table vs making its 4 column views: both lay views over the segment.
const arrowMs = [];
const viewsMs = [];
const abBefore = process.memoryUsage().arrayBuffers;
for (let r = 0; r < 11; r++) {
  arrowMs.push(timed(() => t.toArrow())[0]);
  viewsMs.push(timed(() => ['price', 'qty', 'bid', 'seq'].map((c) => t.column(c)))[0]);
}
const arrowAlloc = process.memoryUsage().arrayBuffers - abBefore;
if (t.toArrow().getChild('price').get(N - 1) !== price[N - 1]) throw new Error('toArrow reads other values');
t.close();
t.unlink();
const sumRatio = median(sumPlain) / median(sumShm);

// 2. appendMany of 10M rows from column arrays vs copying the same bytes into fresh ArrayBuffers.
const bulkShm = [];
const bulkPlain = [];
for (let r = 0; r < 5; r++) {
  const fresh = RecordTable.create(Quote, { capacity: N, prefix: 'shmkit-bench' });
  bulkShm.push(timed(() => fresh.appendMany(cols))[0]);
  if (fresh.length !== N || fresh.get(N - 1).seq !== N - 1) throw new Error('appendMany lost rows');
  fresh.close();
  fresh.unlink();
  bulkPlain.push(
    timed(() => {
      const c = [new Float64Array(N), new Uint32Array(N), new Float64Array(N), new Int32Array(N)];
      c[0].set(price);
      c[1].set(qty);
      c[2].set(bid);
      c[3].set(seq);
      return c;
    })[0],
  );
}
const bulkRatio = median(bulkPlain) / median(bulkShm);

// 3. append(row) and get(i) rates, both layouts; plus a wider mixed schema for information.
const M = 1_000_000;
function rates(schema, layout, make) {
  const app = [];
  const get = [];
  for (let r = 0; r < 5; r++) {
    const x = RecordTable.create(schema, { capacity: M, layout, prefix: 'shmkit-bench' });
    const rows = Array.from({ length: 1024 }, (_, i) => make(i));
    app.push(
      timed(() => {
        for (let i = 0; i < M; i++) x.append(rows[i & 1023]);
      })[0],
    );
    let check = 0;
    get.push(
      timed(() => {
        // Use two fields of every row, so the reads cannot be optimised away.
        for (let i = 0; i < M; i++) {
          const row = x.get(i);
          check += row.qty === (i & 1023) ? 1 : 0;
        }
      })[0],
    );
    if (check !== M) throw new Error(`get returned wrong rows (${check} of ${M} right)`);
    x.close();
    x.unlink();
  }
  return { append: M / median(app) / 1000, get: M / median(get) / 1000, appMs: median(app), getMs: median(get) };
}
const quote = (i) => ({ price: i * 0.5, qty: i, bid: i * 0.5 - 0.25, seq: i });
const qc = rates(Quote, 'columns', quote);
const qr = rates(Quote, 'rows', quote);
const Trade = defineSchema({
  id: 'int64', price: 'float64', qty: 'uint32', buy: 'bool', sym: 'utf8[8]', ts: 'datetime64[ms]',
  venue: { category: ['XNYS', 'XNAS', 'BATS'] },
});
const now = Date.now();
const tc = rates(Trade, 'columns', (i) => ({
  id: BigInt(i), price: i * 0.5, qty: i, buy: (i & 1) === 1, sym: `S${i % 1000}`, ts: new Date(now + i), venue: 'XNAS',
}));

p('### Record tables: column sums, bulk append, append/get rates');
p();
p('`node bench/run.js table`. One process, medians; each ratio is baseline time / shmkit time measured in this run (≥ 1 means shmkit is as fast). Schema "Quote" = `{ price: float64, qty: uint32, bid: float64, seq: int32 }`.');
p();
p(table(
  ['workload', 'shmkit', 'baseline', 'ratio', 'target'],
  [
    [`sum of \`column('price')\`, ${N / 1e6}M float64 (11 runs)`, ms(median(sumShm)), `${ms(median(sumPlain))} (plain Float64Array, same loop)`, sumRatio.toFixed(2), verdict(sumRatio, 0.9)],
    [`\`toArrow()\` of the ${N / 1e6}M-row Quote table (11 runs; ArrayBuffer bytes allocated over all: ${arrowAlloc})`, ms(median(arrowMs)), `${ms(median(viewsMs))} (its 4 \`column()\` views)`, (median(viewsMs) / median(arrowMs)).toFixed(2), median(arrowMs) < 5 ? '✓ < 5 ms' : '✗ ≥ 5 ms'],
    [`\`appendMany\` of ${N / 1e6}M Quote rows from typed column arrays (5 runs, fresh table each)`, ms(median(bulkShm)), `${ms(median(bulkPlain))} (4 fresh ArrayBuffers + TypedArray.set)`, bulkRatio.toFixed(2), verdict(bulkRatio, 0.5)],
  ],
));
p();
p(table(
  ['rows/s (1M rows, median of 5)', 'append(row)', 'target', 'get(i)', 'target'],
  [
    ['Quote, columns layout', rate(M, qc.appMs), verdict(qc.append, 2), rate(M, qc.getMs), verdict(qc.get, 5)],
    ['Quote, rows layout', rate(M, qr.appMs), verdict(qr.append, 2), rate(M, qr.getMs), verdict(qr.get, 5)],
    ['Trade (int64, utf8[8], Date, category…), columns — for information', rate(M, tc.appMs), '—', rate(M, tc.getMs), '—'],
  ],
));
p();
p('append(row) validates every field, reserves a slot with compareExchange, claims it with the writer thread’s 64-bit identity, writes and commits it (about six Atomics operations per row, three of them on 64-bit BigInt words, which cost about twice an Int32 one); get(i) builds one row object. appendMany copies each typed column with one `TypedArray.set` (memcpy), marks the batch with one RUN word and, once its head commits, stores the outcome into each row’s state. Both sides of the appendMany ratio touch fresh pages (a new segment, new ArrayBuffers); create()/`posix_fallocate` is not timed.');
console.log(out.join('\n'));
