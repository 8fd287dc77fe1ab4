// forkMap's transports (issue 14 item 4): tasks and results through
// shared-memory channels (the default) against child.send (the IPC
// transport, SHMKIT_FORKMAP_TRANSPORT=ipc), in the same process, runs
// alternating. Each run forks its workers, so a run's time includes start-up
// (fork + require, the same for both); the per-chunk cost is the difference
// between two chunk counts over the same rows.
//
//   node bench/run.js forkmap
//   SHMKIT_BENCH_FORKMAP_SCALE=0.2   fewer chunks (a quick look)
'use strict';
const path = require('node:path');
const { SharedMemory, forkMap, isForkWorker, defineWorker } = require('..');
const { median, table } = require('./util');

if (isForkWorker()) {
  // Sums its rows of the input (a Float64 segment), `work` passes over them; returns the sum.
  defineWorker(({ input, start, end, workerData }) => {
    const x = new Float64Array(input.buffer);
    let s = 0;
    for (let pass = 0; pass < workerData.work; pass++) for (let i = start; i < end; i++) s += x[i];
    return s;
  });
  return;
}

const SCALE = Number(process.env.SHMKIT_BENCH_FORKMAP_SCALE ?? 1);
const ROWS = 1 << 20;
const REPS = 5;
const WORKERS = 2;

async function main() {
  const input = SharedMemory.create({ size: ROWS * 8, prefix: 'shmkit-bench' });
  new Float64Array(input.buffer).fill(1);
  const expect = (work) => ROWS * work;

  /** One run: wall ms, and whether the results add up. */
  async function run(transport, chunks, work, stream) {
    process.env.SHMKIT_FORKMAP_TRANSPORT = transport;
    const opts = { input, length: ROWS, chunk: Math.ceil(ROWS / chunks), workers: WORKERS, workerData: { work } };
    const t0 = performance.now();
    let total = 0;
    let first = NaN;
    if (stream) {
      for await (const r of forkMap.stream(__filename, opts)) {
        if (Number.isNaN(first)) first = performance.now() - t0;
        total += r.result;
      }
    } else {
      total = (await forkMap(__filename, opts)).reduce((a, b) => a + b, 0);
    }
    const ms = performance.now() - t0;
    if (total !== expect(work)) throw new Error(`${transport}: sum ${total}, expected ${expect(work)}`);
    return { ms, first };
  }

  const cases = [
    { label: '10 chunks, 1 pass (start-up only)', chunks: 10, work: 1 },
    { label: `${Math.round(2000 * SCALE)} chunks, 1 pass`, chunks: Math.round(2000 * SCALE), work: 1 },
    { label: `${Math.round(50000 * SCALE)} chunks, 1 pass`, chunks: Math.round(50000 * SCALE), work: 1 },
    { label: `${Math.round(50000 * SCALE)} chunks, stream`, chunks: Math.round(50000 * SCALE), work: 1, stream: true },
    { label: '64 chunks, 200 passes (compute-bound)', chunks: 64, work: 200 },
  ];
  const rows = [];
  const measured = [];
  for (const c of cases) {
    const t = { channel: [], ipc: [] };
    for (let r = 0; r < REPS; r++) {
      for (const tr of r % 2 ? ['ipc', 'channel'] : ['channel', 'ipc']) t[tr].push(await run(tr, c.chunks, c.work, c.stream));
    }
    const ch = median(t.channel.map((x) => x.ms));
    const ipc = median(t.ipc.map((x) => x.ms));
    measured.push({ ...c, ch, ipc });
    const firstCell = c.stream ? ` (first result ${median(t.channel.map((x) => x.first)).toFixed(1)} / ${median(t.ipc.map((x) => x.first)).toFixed(1)} ms)` : '';
    rows.push([c.label + firstCell, `${ch.toFixed(1)} ms`, `${ipc.toFixed(1)} ms`, `${(ipc / ch).toFixed(2)}×`]);
  }
  delete process.env.SHMKIT_FORKMAP_TRANSPORT;
  input.close();
  input.unlink();

  const base = measured[0];
  const many = measured[2];
  const perChunk = (m) => ((m - base.ch) * 1000) / (many.chunks - base.chunks);
  const perChunkIpc = ((many.ipc - base.ipc) * 1000) / (many.chunks - base.chunks);
  console.log('### forkMap: tasks and results over channels vs child.send (issue 14)\n');
  console.log(
    `\`node bench/run.js forkmap\`. ${ROWS.toLocaleString('en')} rows of a Float64 segment summed by ${WORKERS} forked workers; each cell the median of ${REPS} runs, the two transports alternating in this process. A run includes forking and starting its workers (the first row shows that fixed cost). Channel = the default; child.send = \`SHMKIT_FORKMAP_TRANSPORT=ipc\` (the transport of every earlier release).\n`,
  );
  console.log(table(['workload', 'channels', 'child.send', 'speed-up'], rows));
  console.log(
    `\nCost per chunk above start-up (from the 10- and ${many.chunks}-chunk rows): channels ${perChunk(many.ch).toFixed(1)} µs, child.send ${perChunkIpc.toFixed(1)} µs (${(perChunkIpc / perChunk(many.ch)).toFixed(1)}×).`,
  );
  console.log(
    '\nThe compute-bound row is the one to watch: it was 0.81× until chunk numbers read from the ring came out as small integers (Smi) instead of heap doubles; a loop `for (let i = start; i < end; i++) x[i]` on a double `start` runs about 1.45× slower in V8.',
  );
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
