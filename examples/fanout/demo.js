#!/usr/bin/env node
// Fan-out demo: a parent holds a large Float64Array and 4 children each sum a
// quarter of it. Three ways to give them the data:
//   shmkit    the array lives in a shared segment; children attach by name
//   advanced  child.send() of the whole array to each child ('advanced' serialization)
//   json      child.send() with 'json' serialization, on a smaller slice (it is far slower)
// For each: the handoff (time until every child holds the data), then the
// total (until every child has summed its quarter), each the median of a few
// rounds in the same children, and the peak PSS of the whole process tree
// (shared pages counted once), sampled by a separate process every 50 ms.
//
//   node examples/fanout/demo.js [--mb 256] [--json-mb 16] [--rounds 3] [--shm-rounds 15] [--prefix shmkit-demo] [--json]
//
// shmkit's handoff takes a few ms, most of it the IPC message and the
// scheduling of 4 children (on a 2-core machine, at that), so its median is
// taken over more rounds (--shm-rounds, default the larger of 15 and --rounds)
// than the IPC strategies', whose handoffs take seconds and vary little.
'use strict';
const { fork } = require('node:child_process');
const path = require('node:path');
const { SharedMemory } = require('../..');
const { startSampler, treePss, median, fmtMiB, fmtMs, table, MiB } = require('../../bench/util');

const WORKERS = 4;

function arg(name, dflt) {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return dflt;
  return typeof dflt === 'number' ? Number(process.argv[i + 1]) : process.argv[i + 1];
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
 * Times are the median of `rounds` rounds in the same children, each on fresh
 * data. With `sample`, a separate process samples the tree's PSS over one
 * round instead (sampling costs CPU, so times come from unsampled rounds).
 */
async function once_(serialization, prepare, { sample = false, rounds = 1 } = {}) {
  const children = await startChildren(serialization);
  let sampler;
  const runs = [];
  let baseline = 0;
  let peak = 0;
  try {
    // Warm the workers with one small round of the same kind (1 MiB), as a
    // worker pool that has served before would be.
    await round(children, prepare(MiB / 8));
    if (sample) {
      baseline = treePss();
      sampler = await startSampler(process.pid);
    }
    for (let i = 0; i < rounds; i++) runs.push(await round(children, prepare()));
    if (sampler) peak = (await sampler.stop()).peak;
    sampler = undefined;
    await stopChildren(children);
  } catch (err) {
    // Leave nothing running that would keep this process alive.
    for (const c of children) c.kill('SIGKILL');
    await sampler?.stop().catch(() => {});
    throw err;
  }
  const handoffs = runs.map((r) => r.handoff);
  return {
    bytes: runs[0].bytes,
    handoff: median(handoffs),
    handoffRange: [Math.min(...handoffs), Math.max(...handoffs)],
    total: median(runs.map((r) => r.total)),
    rounds,
    peak,
    baseline,
  };
}

/**
 * Hands each child its message and waits until every child holds its data
 * (the handoff); then asks all of them to sum and waits for the sums (checked).
 * The two phases are apart so that, on a machine with fewer cores than
 * children, the handoff does not include other children's summing.
 */
async function round(children, { data, message, cleanup }) {
  const n = data.length;
  // Let the parent's event loop run its pending tasks first: making 256 MiB of
  // data (a segment or an array alike) starts a V8 GC cycle that finishes in
  // tasks, and those would otherwise run inside the timed handoff below.
  await new Promise((resolve) => setTimeout(resolve, 200));
  const t0 = performance.now();
  await Promise.all(
    children.map((c, k) => {
      const have = once(c);
      c.send(message((k * n) / WORKERS, ((k + 1) * n) / WORKERS));
      return have;
    }),
  );
  const handoff = performance.now() - t0;
  const sums = await Promise.all(
    children.map((c) => {
      const reply = once(c);
      c.send({ op: 'sum' });
      return reply;
    }),
  );
  const total = performance.now() - t0;
  cleanup();
  const sum = sums.reduce((s, r) => s + r.sum, 0);
  if (sum !== expectedSum(n)) throw new Error(`wrong sum ${sum}, expected ${expectedSum(n)}`);
  // handoff: until the last child holds the data; total: until the last sum is back.
  return { bytes: n * 8, handoff, total };
}

async function measure(label, serialization, prepare, rounds) {
  const timed = await once_(serialization, prepare, { rounds });
  const sampled = await once_(serialization, prepare, { sample: true });
  return { label, ...timed, peak: sampled.peak, baseline: sampled.baseline };
}

/** Runs the three strategies; returns one result row each. */
async function run({ mb = 256, jsonMb = 16, rounds = 3, shmRounds = Math.max(rounds, 15), prefix = 'shmkit-demo' } = {}) {
  const n = (mb * MiB) / 8;
  const shm = await measure('shmkit: attach by name', 'json', (count = n) => {
    const seg = SharedMemory.create({ size: count * 8, prefix });
    return {
      data: fill(new Float64Array(seg.buffer)),
      message: (from, to) => ({ op: 'attach', handle: seg.handle, from, to }),
      cleanup: () => (seg.close(), seg.unlink()),
    };
  }, shmRounds);
  const advanced = await measure("child.send, 'advanced'", 'advanced', (count = n) => {
    const data = fill(new Float64Array(count));
    return { data, message: (from, to) => ({ op: 'data', data, from, to }), cleanup() {} };
  }, rounds);
  const json = await measure(`child.send, 'json' (${jsonMb} MiB slice)`, 'json', (count = (jsonMb * MiB) / 8) => {
    const data = Array.from(fill(new Float64Array(count)));
    return { data, message: (from, to) => ({ op: 'data', data, from, to }), cleanup() {} };
  }, rounds);
  return { mb, jsonMb, rounds, shmRounds, rows: [shm, advanced, json] };
}

/** The median handoff, with the spread over rounds when there were several. */
function fmtHandoff(r) {
  return r.rounds > 1 ? `${fmtMs(r.handoff)} (${fmtMs(r.handoffRange[0])}–${fmtMs(r.handoffRange[1])})` : fmtMs(r.handoff);
}

function render({ rows }) {
  const shm = rows[0];
  return table(
    ['strategy', 'data', 'handoff to 4 children', 'total (incl. sums)', 'peak tree PSS', 'PSS above idle tree', 'handoff vs shmkit'],
    rows.map((r) => [
      r.label,
      fmtMiB(r.bytes),
      fmtHandoff(r),
      fmtMs(r.total),
      fmtMiB(r.peak),
      fmtMiB(r.peak - r.baseline),
      r === shm ? '1×' : `${Math.round(r.handoff / shm.handoff).toLocaleString('en')}× slower${r.bytes !== shm.bytes ? ` on ${Math.round((r.bytes / shm.bytes) * 100)}% of the data` : ''}`,
    ]),
  );
}

if (require.main === module) {
  const rounds = arg('rounds', 3);
  const opts = { mb: arg('mb', 256), jsonMb: arg('json-mb', 16), rounds, shmRounds: arg('shm-rounds', Math.max(rounds, 15)), prefix: arg('prefix', 'shmkit-demo') };
  console.log(`Fan-out: ${opts.mb} MiB Float64Array, ${WORKERS} children each summing a quarter; median of ${opts.shmRounds} rounds (shmkit), ${opts.rounds} (IPC).\n`);
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

module.exports = { run, render, fmtHandoff };
