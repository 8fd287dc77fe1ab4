// The seed workload at full size: the genome-matrix job (examples/genome-matrix)
// done by shmkit (RecordTable + forkMap) and the naive way (readFileSync +
// child.send), on the same 4,000,000-row TSV. Records wall time, peak PSS of
// each process tree and the outputs' sha256, and draws the PSS of both over
// time into docs/memory.svg (vega-lite, rendered headless to SVG).
//
//   node bench/run.js genome            (GENOME_ROWS=N to change the size)
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const vega = require('vega');
const vegaLite = require('vega-lite');
const { runDemo, report } = require('../examples/genome-matrix/demo');
const { MiB } = require('./util');

const ROWS = Number(process.env.GENOME_ROWS ?? 4_000_000);
const SVG = path.join(__dirname, '..', 'docs', 'memory.svg');

/** One line per strategy: tree PSS (MiB) against seconds since the strategy's process started. */
async function chart({ rows, workers, results }) {
  const values = results.flatMap((r) => r.samples.map((s) => ({ strategy: r.label, t: s.t / 1000, pss: s.pss / MiB })));
  const spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: {
      text: 'Memory over time: genome-matrix haplotype job',
      subtitle: `${rows.toLocaleString('en-US')} rows, ${workers} workers; PSS summed over the process tree, sampled every 50 ms`,
    },
    width: 720,
    height: 320,
    background: 'white',
    data: { values },
    mark: { type: 'line', strokeWidth: 2, interpolate: 'step-after' },
    encoding: {
      x: { field: 't', type: 'quantitative', title: 'seconds since start' },
      y: { field: 'pss', type: 'quantitative', title: 'tree PSS (MiB)' },
      color: {
        field: 'strategy',
        type: 'nominal',
        title: null,
        scale: { domain: results.map((r) => r.label), range: ['#1f77b4', '#d62728'] },
        legend: { orient: 'top-left', labelLimit: 400 },
      },
    },
  };
  const view = new vega.View(vega.parse(vegaLite.compile(spec).spec), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  fs.mkdirSync(path.dirname(SVG), { recursive: true });
  fs.writeFileSync(SVG, svg);
}

async function main() {
  const run = await runDemo({ rows: ROWS, workers: 3, chunk: 100_000 });
  await chart(run);
  const [shm, naive] = run.results;
  const out = [
    '### Genome matrix: forkMap over a RecordTable vs child.send',
    '',
    `\`node bench/run.js genome\` (also \`npm run demo\`, smaller by default). The same job both ways on the same generated TSV: parse CHROM POS REF + 31 one-letter samples, compute the haplotype transform per row in 3 forked workers, write the TSV. Each strategy runs once, in a fresh process; its tree's PSS is sampled every 50 ms by a separate process (see docs/memory.svg).`,
    '',
    report(run),
    '',
    `Target: identical outputs; shmkit's peak tree PSS ≤ 1/5 of the naive one; wall time no worse. ` +
      (shm.sha256 === naive.sha256 && shm.peak * 5 <= naive.peak && shm.wall <= naive.wall ? '**Met.**' : '**Not met in this run.**'),
  ];
  console.log(out.join('\n'));
  if (shm.sha256 !== naive.sha256) process.exitCode = 1;
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
