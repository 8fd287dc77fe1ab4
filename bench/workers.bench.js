// Worker threads and PSS across Node versions (issue 13): a 256 MiB segment
// made and filled in the main thread, `worker.postMessage(seg.buffer)` to 4
// worker_threads that each sum a quarter; how much the process's PSS grows,
// as a multiple of the data, against a plain SharedArrayBuffer in the same
// run. Each case runs in a fresh process (bench/workers-job.js) under each
// Node version.
//
//   node bench/run.js workers                 (npm run bench:workers)
//   SHMKIT_BENCH_NODES=24,26  other Node majors, besides this one (default 22,24,26)
//   SHMKIT_BENCH_WORKERS_MB=256, SHMKIT_BENCH_WORKERS_ROUNDS=3
'use strict';
const { execFileSync } = require('node:child_process');
const path = require('node:path');
const { median, MiB, fmtMiB, fmtMs, table } = require('./util');
const { nodes: findNodes } = require('./nodes');

const MB = Number(process.env.SHMKIT_BENCH_WORKERS_MB ?? 256);
const ROUNDS = Number(process.env.SHMKIT_BENCH_WORKERS_ROUNDS ?? 3);
const JOB = path.join(__dirname, 'workers-job.js');
const nodes = findNodes();

function job(node, mode) {
  return JSON.parse(execFileSync(node.execPath, ['--expose-gc', JOB, mode, String(MB), String(ROUNDS)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }));
}

const res = {};
for (const n of nodes) res[n.version] = { shm: job(n, 'shm'), sab: job(n, 'sab'), ab: job(n, 'ab') };

const x = (b, size) => `${(b / size).toFixed(2)}×`;
const head = ['', ...nodes.map((n) => `${n.version} (${n.kind})`)];
const row = (label, f) => [label, ...nodes.map((n) => f(res[n.version]))];
const first = (r) => r.rounds[0];
const timeCell = (r) => `${fmtMs(median(r.rounds.map((q) => q.ms)))} (sum alone ${fmtMs(median(r.rounds.map((q) => q.workerMs)))})`;

const out = [];
const p = (s = '') => out.push(s);
p('### Worker threads: PSS and sum time across Node versions (issue 13)');
p();
p(`\`node bench/run.js workers\` (\`npm run bench:workers\`). In a fresh process per case and Node version (\`bench/workers-job.js\`): 4 \`worker_threads\` are started and warmed, then the main thread makes a ${MB} MiB buffer, fills it as a Float64Array and sends it to each worker with \`worker.postMessage(buffer)\` (no transfer list); each sums its quarter as float64, replies, and keeps the buffer until told to let go. PSS of the process from \`/proc/<pid>/smaps_rollup\`: idle = workers started, before the buffer exists; held = when every worker has replied and still holds it; peak = sampled every 20 ms by a separate process over that round. Growth is (PSS − idle) / ${MB} MiB. Times: from the first \`postMessage\` until the last sum is back (any copy included), and in brackets the median worker's own summing loop; medians of ${ROUNDS} rounds on the same data. shmkit = \`seg.buffer\` of a segment; baselines: a plain \`new SharedArrayBuffer\` (shared, no copy, on every Node) and a plain \`new ArrayBuffer\` (copied into each worker by structured clone, on every Node). The machine (2 cores) was shared with other engineers' work while this ran.`);
p();
const grow = (r, b) => `${x(b - r.idle, r.bytes)} (${fmtMiB(b - r.idle)})`;
const ms = (r) => median(r.rounds.map((q) => q.ms));
p(table(head, [
  row('shmkit: what the workers get', (r) => (first(r.shm).sharedInWorker ? 'the same SharedArrayBuffer' : 'a copy each (ArrayBuffer)')),
  row('shmkit: PSS growth once filled, before posting', (r) => grow(r.shm, r.shm.made)),
  row('shmkit: **PSS growth, peak**', (r) => `**${x(first(r.shm).peak - r.shm.idle, r.shm.bytes)}** (${fmtMiB(first(r.shm).peak - r.shm.idle)})`),
  row('shmkit: PSS growth, held by all 4 workers', (r) => grow(r.shm, first(r.shm).held)),
  row('plain SharedArrayBuffer: PSS growth, peak / held', (r) => `${x(first(r.sab).peak - r.sab.idle, r.sab.bytes)} / ${x(first(r.sab).held - r.sab.idle, r.sab.bytes)}`),
  row('plain ArrayBuffer (copied): PSS growth, peak / held', (r) => `${x(first(r.ab).peak - r.ab.idle, r.ab.bytes)} / ${x(first(r.ab).held - r.ab.idle, r.ab.bytes)}`),
  row('idle PSS (main + 4 workers)', (r) => fmtMiB(r.shm.idle)),
  row('post → 4 sums back: shmkit', (r) => timeCell(r.shm)),
  row('… plain SharedArrayBuffer', (r) => timeCell(r.sab)),
  row('… plain ArrayBuffer (copied)', (r) => timeCell(r.ab)),
  row('time shmkit / plain SharedArrayBuffer', (r) => `${(ms(r.shm) / ms(r.sab)).toFixed(2)}×`),
]));
p();
const verdicts = nodes.filter((n) => n.kind === 'shared').map((n) => {
  const r = res[n.version].shm;
  const g = (first(r).peak - r.idle) / r.bytes;
  return `${n.version} ${g.toFixed(2)}× (${g <= 1.15 ? 'met' : 'not met'})`;
});
p(`Goal on Node with SharedArrayBuffer segments: peak growth ≈ 1 copy of the data, not 5: ${verdicts.join('; ')}. Node ${nodes[0].version} (external ArrayBuffer): ${x(first(res[nodes[0].version].shm).peak - res[nodes[0].version].shm.idle, res[nodes[0].version].shm.bytes)}: each worker gets its own copy by structured clone.`);
console.log(out.join('\n'));
