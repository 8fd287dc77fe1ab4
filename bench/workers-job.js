// One process of bench/workers.bench.js, run by whichever Node is under test:
// 4 worker_threads each sum a quarter of a 256 MiB Float64Array that the main
// thread made and posted to them with `worker.postMessage(buffer)` (no
// transfer list), and keep it until told to let go. Requires only the package.
//
//   node --expose-gc bench/workers-job.js shm|sab|ab [mb] [rounds]
//
// shm: the buffer is a shmkit segment's (`seg.buffer`): a SharedArrayBuffer
//      where SharedMemory.bufferKind is 'shared', else an external ArrayBuffer,
//      which postMessage copies into each worker (structured clone).
// sab: a plain `new SharedArrayBuffer` (no shared memory segment): the baseline.
// ab:  a plain `new ArrayBuffer`, which postMessage copies: what Node 20's
//      copies of a segment cost next to an ordinary ArrayBuffer's.
//
// PSS of this process (smaps_rollup): `idle` with the 4 workers started and
// warm, before the buffer exists; `held` once every worker has replied and
// still holds its buffer; `peak` sampled every 20 ms by a separate process
// (bench/pss-sampler.js) over the first round. Times: from the first
// postMessage until the last sum is back (includes any copy), and each
// worker's own summing time; medians over `rounds` rounds, the same data.
// Prints one JSON line.
'use strict';
const path = require('node:path');
const { Worker } = require('node:worker_threads');
const { SharedMemory } = require(path.resolve(__dirname, '..'));
const { pss, median, startSampler, MiB } = require('./util');

const [mode = 'shm', mbArg = '256', roundsArg = '5'] = process.argv.slice(2);
const bytes = Number(mbArg) * MiB;
const rounds = Number(roundsArg);
const WORKERS = 4;

const workerCode = `
const { parentPort } = require('node:worker_threads');
let held;
parentPort.on('message', (m) => {
  if (m.op === 'release') { held = undefined; parentPort.postMessage({ released: true }); return; }
  if (m.op === 'warm') { global.gc?.(); parentPort.postMessage({ warm: true }); return; }
  held = m.buffer; // kept until 'release', so PSS is read while every worker holds it
  const a = process.hrtime.bigint();
  const f = new Float64Array(held, m.from * 8, m.to - m.from);
  let sum = 0;
  for (let i = 0; i < f.length; i++) sum += f[i];
  const ms = Number(process.hrtime.bigint() - a) / 1e6;
  parentPort.postMessage({ sum, ms, shared: held instanceof SharedArrayBuffer });
});`;

const once = (w) => new Promise((resolve) => w.once('message', resolve));

function fill(f) {
  for (let i = 0; i < f.length; i++) f[i] = (i % 1000) * 0.5;
}
function expectedSum(n) {
  let s = 0;
  for (let i = 0; i < n; i++) s += (i % 1000) * 0.5;
  return s;
}

async function main() {
  const workers = Array.from({ length: WORKERS }, () => new Worker(workerCode, { eval: true }));
  await Promise.all(workers.map((w) => (w.postMessage({ op: 'warm' }), once(w))));
  await new Promise((r) => setTimeout(r, 200)); // let startup's GC tasks settle
  global.gc?.();
  const idle = pss(process.pid);

  let seg;
  let buffer;
  if (mode === 'shm') {
    seg = SharedMemory.create({ size: bytes, prefix: 'shmkit-bench-workers' });
    buffer = seg.buffer;
  } else if (mode === 'ab') {
    buffer = new ArrayBuffer(bytes);
  } else {
    buffer = new SharedArrayBuffer(bytes);
  }
  const n = bytes / 8;
  fill(new Float64Array(buffer));
  const want = expectedSum(n);
  const made = pss(process.pid);

  const res = { version: process.version, kind: SharedMemory.bufferKind, mode, bytes, idle, made, rounds: [] };
  for (let r = 0; r < rounds; r++) {
    const sampler = r === 0 ? await startSampler(process.pid, 20) : undefined;
    const t0 = process.hrtime.bigint();
    const replies = await Promise.all(
      workers.map((w, k) => {
        const reply = once(w);
        w.postMessage({ op: 'sum', buffer, from: (k * n) / WORKERS, to: ((k + 1) * n) / WORKERS });
        return reply;
      }),
    );
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    const held = pss(process.pid);
    const sum = replies.reduce((s, x) => s + x.sum, 0);
    if (sum !== want) throw new Error(`wrong sum ${sum}, expected ${want}`);
    const round = { ms, workerMs: median(replies.map((x) => x.ms)), held, sharedInWorker: replies.every((x) => x.shared) };
    if (sampler) round.peak = (await sampler.stop()).peak;
    res.rounds.push(round);
    await Promise.all(workers.map((w) => (w.postMessage({ op: 'release' }), once(w))));
  }
  await Promise.all(workers.map((w) => w.terminate()));
  seg?.close();
  seg?.unlink();
  console.log(JSON.stringify(res));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
