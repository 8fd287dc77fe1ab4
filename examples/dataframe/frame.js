// The DataFrame job's data: N rows of (ts, val, name), made in Node as Arrow
// columns — the same shape as the published pandas example (dates, floats
// with NaN and missing values, strings of any length):
//   ts    datetime64[us]          one row a second from 2024-01-01
//   val   float64, nullable       ~5% NaN, ~5% null (missing)
//   name  utf8 (any length)       0..40 bytes, some empty
// Deterministic (a xorshift generator), so every run makes the same frame.
'use strict';
const { defineSchema } = require('../..');

const Frame = defineSchema({
  ts: 'datetime64[us]',
  val: { type: 'float64', nullable: true },
  name: 'utf8',
});

const WORDS = ['alpha', 'beta', 'gamma', 'delta', 'epsilon', 'zeta', 'eta', 'theta', 'iota', 'kappa', 'lambda', 'mu'];

/** Makes n rows as apache-arrow column vectors (built from raw buffers: no per-value JS objects). */
function makeFrame(n, A, seed = 42) {
  let x = seed >>> 0 || 1;
  const rnd = () => ((x ^= x << 13), (x ^= x >>> 17), (x ^= x << 5), (x >>> 0) / 2 ** 32);
  const ts = new BigInt64Array(n);
  const val = new Float64Array(n);
  const valid = new Uint8Array(((n + 63) >> 6) << 3);
  const offsets = new Int32Array(n + 1);
  const enc = new TextEncoder();
  const words = WORDS.map((w) => enc.encode(w));
  let data = new Uint8Array(n * 24);
  let at = 0;
  const t0 = BigInt(Date.UTC(2024, 0, 1)) * 1000n;
  for (let i = 0; i < n; i++) {
    ts[i] = t0 + BigInt(i) * 1_000_000n;
    const r = rnd();
    if (r >= 0.05) valid[i >> 3] |= 1 << (i & 7); // else missing
    val[i] = r < 0.1 && r >= 0.05 ? NaN : Math.round(rnd() * 1e6) / 100;
    // A name: 0..5 words joined by "-", so 0..~40 bytes.
    const k = Math.floor(rnd() * 6);
    if (at + 64 > data.length) {
      const bigger = new Uint8Array(data.length * 2);
      bigger.set(data);
      data = bigger;
    }
    for (let w = 0; w < k; w++) {
      if (w > 0) data[at++] = 45;
      const word = words[Math.floor(rnd() * words.length)];
      data.set(word, at);
      at += word.length;
    }
    offsets[i + 1] = at;
  }
  const nulls = n - countBits(valid, n);
  return {
    ts: A.makeVector(A.makeData({ type: new A.TimestampMicrosecond(), length: n, data: ts })),
    val: A.makeVector(A.makeData({ type: new A.Float64(), length: n, data: val, nullBitmap: valid, nullCount: nulls })),
    name: A.makeVector(A.makeData({ type: new A.Utf8(), length: n, valueOffsets: offsets, data: data.subarray(0, at) })),
  };
}

function countBits(bits, n) {
  let c = 0;
  for (let i = 0; i < n; i++) c += (bits[i >> 3] >> (i & 7)) & 1;
  return c;
}

/**
 * The job on rows [start, end) of a table's Arrow view: the sum of val
 * skipping NaN and nulls, and how many names are longer than 20 bytes.
 * Reads the buffers directly (the validity bits, the views' lengths).
 */
function work(arrow, start, end) {
  const val = arrow.getChild('val').data[0];
  const name = arrow.getChild('name').data[0];
  const v = val.values;
  const bits = val.nullBitmap;
  const views = new Int32Array(name.values.buffer, name.values.byteOffset, name.values.length >> 2);
  let sum = 0;
  let long = 0;
  for (let i = start; i < end; i++) {
    const x = v[i];
    if ((bits === undefined || bits.length === 0 || (bits[i >> 3] >> (i & 7)) & 1) && x === x) sum += x;
    if (views[4 * i] > 20) long++;
  }
  return { sum, long };
}

/** A plain copy of the columns' Arrow buffers into fresh memory, timed: the floor for any fill. */
function memcpyBaseline(cols) {
  const bufs = [];
  for (const v of Object.values(cols)) for (const d of v.data) for (const b of [d.values, d.valueOffsets, d.nullBitmap]) if (b && b.byteLength) bufs.push(b);
  const t0 = performance.now();
  const out = bufs.map((b) => {
    const c = new Uint8Array(b.byteLength);
    c.set(new Uint8Array(b.buffer, b.byteOffset, b.byteLength));
    return c;
  });
  return { ms: performance.now() - t0, bytes: out.reduce((s, b) => s + b.length, 0) };
}

module.exports = { Frame, makeFrame, work, memcpyBaseline };
