#!/usr/bin/env node
// The genome-matrix demo: the same job done two ways on the same input.
//   shmkit  stream the TSV into a shared RecordTable; 3 forked workers attach
//           it and write an output table in place (forkMap)
//   naive   read the whole file; send chunks of lines to 3 workers over
//           child.send; collect the transformed lines
// Each runs in a fresh process, stopped at birth until a separate sampler
// process is watching it, which samples the PSS of its whole process tree
// every 50 ms. Prints wall time, peak tree PSS and the output's sha256.
//
//   node examples/genome-matrix/demo.js [--rows 2000000] [--workers 3] [--chunk 100000] [--keep]
'use strict';
const { spawn } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { startSampler, fmtMiB, table } = require('../../bench/util');
const { generate } = require('./generate');

const STRATEGIES = [
  { key: 'shmkit', label: 'shmkit: RecordTable + forkMap', script: 'shmkit.js' },
  { key: 'naive', label: 'naive: readFileSync + child.send', script: 'naive.js' },
];

function sha256(file) {
  return new Promise((resolve, reject) => {
    const h = crypto.createHash('sha256');
    fs.createReadStream(file)
      .on('data', (d) => h.update(d))
      .on('error', reject)
      .on('end', () => resolve(h.digest('hex')));
  });
}

/** Input file for `rows` (generated once, then reused: generation is deterministic). */
function inputFile(rows, dir) {
  const file = path.join(dir, `genome-${rows}.tsv`);
  if (!fs.existsSync(file)) {
    const tmp = `${file}.${process.pid}.tmp`;
    generate(tmp, rows);
    fs.renameSync(tmp, file);
  }
  return file;
}

/** Runs one strategy in a fresh process; resolves with { wall, peak, samples, phases }. */
async function measure(strategy, input, output, { workers, chunk }) {
  const args = [path.join(__dirname, strategy.script), input, output, '--workers', String(workers), '--chunk', String(chunk)];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  // Hold it still until the sampler watches it, so the samples start at zero.
  process.kill(child.pid, 'SIGSTOP');
  const sampler = await startSampler(child.pid, 50);
  let stdout = '';
  child.stdout.on('data', (d) => (stdout += d));
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const t0 = performance.now();
  process.kill(child.pid, 'SIGCONT');
  const { code, signal } = await exited;
  const wall = performance.now() - t0;
  const { peak, samples } = await sampler.stop();
  if (code !== 0) throw new Error(`${strategy.key} failed (exit ${code ?? signal})`);
  return { ...strategy, wall, peak, samples, phases: JSON.parse(stdout.trim().split('\n').at(-1)) };
}

/** Runs both strategies; returns their measurements and checksums. */
async function runDemo({ rows = 2_000_000, workers = 3, chunk = 100_000, keep = false, dir } = {}) {
  dir ??= path.join(os.tmpdir(), 'shmkit-genome');
  fs.mkdirSync(dir, { recursive: true });
  const input = inputFile(rows, dir);
  const results = [];
  for (const s of STRATEGIES) {
    const output = path.join(dir, `out-${s.key}-${rows}.tsv`);
    const r = await measure(s, input, output, { workers, chunk });
    r.sha256 = await sha256(output);
    if (!keep) fs.rmSync(output);
    results.push(r);
  }
  return { rows, workers, chunk, inputBytes: fs.statSync(input).size, input, results };
}

/** The demo's report: one markdown table and the two ratios. */
function report({ rows, workers, inputBytes, results }) {
  const [shm, naive] = results;
  const lines = [
    `${rows.toLocaleString('en-US')} rows (${fmtMiB(inputBytes)} of TSV), ${workers} workers, peak PSS of the whole process tree sampled every 50 ms`,
    '',
    table(
      ['strategy', 'wall time', 'load / map / write', 'peak tree PSS', 'output sha256'],
      results.map((r) => [
        r.label,
        `${(r.wall / 1000).toFixed(1)} s`,
        [r.phases.read, r.phases.map, r.phases.write].map((ms) => (ms / 1000).toFixed(1)).join(' / ') + ' s',
        fmtMiB(r.peak),
        `\`${r.sha256.slice(0, 16)}…\``,
      ]),
    ),
    '',
    `- outputs identical: **${shm.sha256 === naive.sha256 ? 'yes' : 'NO'}**`,
    `- peak tree PSS: shmkit / naive = **${(shm.peak / naive.peak).toFixed(3)}** (naive is ${(naive.peak / shm.peak).toFixed(1)}×; target: shmkit ≤ 1/5 = 0.2)`,
    `- wall time: shmkit / naive = **${(shm.wall / naive.wall).toFixed(2)}** (target ≤ 1.00)`,
  ];
  return lines.join('\n');
}

module.exports = { runDemo, report };

if (require.main === module) {
  const opt = (name, dflt) => {
    const i = process.argv.indexOf(`--${name}`);
    return i >= 0 ? Number(process.argv[i + 1]) : dflt;
  };
  runDemo({
    rows: opt('rows', 2_000_000),
    workers: opt('workers', 3),
    chunk: opt('chunk', 100_000),
    keep: process.argv.includes('--keep'),
  }).then(
    (r) => {
      console.log(report(r));
      if (r.results[0].sha256 !== r.results[1].sha256) process.exitCode = 1;
    },
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
}
