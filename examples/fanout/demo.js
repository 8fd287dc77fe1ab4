#!/usr/bin/env node
// Fan-out demo: a parent holds a large Float64Array and 4 children each sum a
// quarter of it. Three ways to give them the data:
//   shmkit    the array lives in a shared segment; children attach by name
//   advanced  child.send() of the whole array to each child ('advanced' serialization)
//   json      child.send() with 'json' serialization, on a smaller slice (it is far slower)
// For each: time until every child holds the data, total time, and the peak
// PSS of the whole process tree (shared pages counted once), sampled by a
// separate process every 50 ms.
//
//   node examples/fanout/demo.js [--mb 256] [--json-mb 16] [--json]
'use strict';
const { fork } = require('node:child_process');
const path = require('node:path');
const { SharedMemory } = require('../..');
const { startSampler, treePss, fmtMiB, fmtMs, table, MiB } = require('../../bench/util');

const WORKERS = 4;

function arg(name, dflt) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
}

function fill(a) {
  for (let i = 0; i < a.length; i++) a[i] = (i % 1000) * 0.5;
  return a;
}

function expectedSum(n) {
  let s = 0;
  for (let i = 0; i < n; i++) s += (i % 1000) * 0.5;
  return s;
}

const once = (child) => new Promise((resolve) => child.once('message', resolve));

async function startChildren(serialization) {
  const children = Array.from({ length: WORKERS }, () =>
    fork(path.join(__dirname, 'child.js'), [], { serialization, stdio: 'inherit' }),
  );
  await Promise.all(children.map(once));
  return children;
}

async function stopChildren(children) {
  await Promise.all(
    children.map((c) => {
      const gone = new Promise((r) => c.once('exit', r));
      c.send({ op: 'exit' });
      return gone;
    }),
  );
}

/**
 * Runs one strategy. `prepare()` makes the data and returns
 * { data, message(from, to), cleanup() }; message() is what each child is sent.
 * With `sample`, a separate process samples the tree's PSS meanwhile (it costs
 * CPU, so times are taken from a run without it).
 */
async function once_(serialization, prepare, sample) {
  const children = await startChildren(serialization);
  // Warm the workers with one small round of the same kind (1 MiB), as a
  // worker pool that has served before would be.
  await round(children, prepare(MiB / 8));
  const baseline = treePss();
  const sampler = sample ? await startSampler(process.pid) : undefined;
  const r = await round(children, prepare());
  const peak = sampler ? (await sampler.stop()).peak : 0;
  await stopChildren(children);
  return { ...r, peak, baseline };
}

/** Sends each child its message; resolves when all sums are back (and checked). */
async function round(children, { data, message, cleanup }) {
  const n = data.length;
  const t0 = performance.now();
  const done = children.map((c, k) => {
    c.send(message((k * n) / WORKERS, ((k + 1) * n) / WORKERS));
    return new Promise((resolve) => {
      let have = 0;
      c.on('message', (m) => {
        if (m.have) have = performance.now() - t0;
        else resolve({ sum: m.sum, have, end: performance.now() - t0 });
      });
    });
  });
  const results = await Promise.all(done);
  for (const c of children) c.removeAllListeners('message');
  cleanup();
  const sum = results.reduce((s, r) => s + r.sum, 0);
  if (sum !== expectedSum(n)) throw new Error(`wrong sum ${sum}, expected ${expectedSum(n)}`);
  // handoff: until the last child holds the data; total: until the last sum is back.
  return {
    bytes: n * 8,
    handoff: Math.max(...results.map((r) => r.have)),
    total: Math.max(...results.map((r) => r.end)),
  };
}

async function measure(label, serialization, prepare) {
  const timed = await once_(serialization, prepare, false);
  const sampled = await once_(serialization, prepare, true);
  return { label, ...timed, peak: sampled.peak, baseline: sampled.baseline };
}

/** Runs the three strategies; returns one result row each. */
async function run({ mb = 256, jsonMb = 16 } = {}) {
  const n = (mb * MiB) / 8;
  const shm = await measure('shmkit: attach by name', 'json', (count = n) => {
    const seg = SharedMemory.create({ size: count * 8, prefix: 'shmkit-demo' });
    return {
      data: fill(new Float64Array(seg.buffer)),
      message: (from, to) => ({ op: 'attach', handle: seg.handle, from, to }),
      cleanup: () => (seg.close(), seg.unlink()),
    };
  });
  const advanced = await measure("child.send, 'advanced'", 'advanced', (count = n) => {
    const data = fill(new Float64Array(count));
    return { data, message: (from, to) => ({ op: 'data', data, from, to }), cleanup() {} };
  });
  const json = await measure(`child.send, 'json' (${jsonMb} MiB slice)`, 'json', (count = (jsonMb * MiB) / 8) => {
    const data = Array.from(fill(new Float64Array(count)));
    return { data, message: (from, to) => ({ op: 'data', data, from, to }), cleanup() {} };
  });
  return { mb, jsonMb, rows: [shm, advanced, json] };
}

function render({ rows }) {
  const shm = rows[0];
  return table(
    ['strategy', 'data', 'handoff to 4 children', 'total (incl. sums)', 'peak tree PSS', 'PSS above idle tree', 'handoff vs shmkit'],
    rows.map((r) => [
      r.label,
      fmtMiB(r.bytes),
      fmtMs(r.handoff),
      fmtMs(r.total),
      fmtMiB(r.peak),
      fmtMiB(r.peak - r.baseline),
      r === shm ? '1×' : `${Math.round(r.handoff / shm.handoff).toLocaleString('en')}× slower${r.bytes !== shm.bytes ? ` on ${Math.round((r.bytes / shm.bytes) * 100)}% of the data` : ''}`,
    ]),
  );
}

if (require.main === module) {
  const opts = { mb: arg('mb', 256), jsonMb: arg('json-mb', 16) };
  console.log(`Fan-out: ${opts.mb} MiB Float64Array, ${WORKERS} children each summing a quarter.\n`);
  run(opts).then(
    (res) => {
      if (process.argv.includes('--json')) console.log(JSON.stringify(res));
      else console.log(render(res));
    },
    (err) => {
      console.error(err);
      process.exitCode = 1;
    },
  );
}

module.exports = { run, render };
