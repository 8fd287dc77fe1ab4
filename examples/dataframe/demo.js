#!/usr/bin/env node
// The DataFrame job, the shmkit way: a 10M-row frame (timestamps, floats
// with NaN and missing values, strings of any length) is filled into a
// growable shared table from Arrow columns, then 2 forked workers each sum
// half of it (skipping NaN and nulls) and count long names, reading the
// table in place. Only a handle and row ranges cross IPC.
//
//   node examples/dataframe/demo.js [--rows 10000000] [--workers 2] [--json]
'use strict';
const path = require('node:path');
const A = require('apache-arrow');
const { RecordTable, forkMap } = require('../..');
const { Frame, makeFrame, work, memcpyBaseline } = require('./frame');
const { startSampler, fmtMiB } = require('../../bench/util');

function arg(name, dflt) {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? dflt : Number(process.argv[i + 1]);
}

async function main() {
  const rows = arg('rows', 10_000_000);
  const workers = arg('workers', 2);
  const cols = makeFrame(rows, A);
  const copy = memcpyBaseline(cols);
  const sampler = await startSampler();
  const t0 = performance.now();
  const t = RecordTable.create(Frame, { prefix: 'shmkit-dataframe' }); // owned: unlinked when this process ends
  t.appendMany(cols);
  const fillMs = performance.now() - t0;
  const t1 = performance.now();
  const chunk = Math.ceil(rows / workers);
  const parts = await forkMap(path.join(__dirname, 'worker.js'), { input: t, workers, chunk });
  const workMs = performance.now() - t1;
  const peak = await sampler.stop();
  const sum = parts.reduce((s, p) => s + p.sum, 0);
  const long = parts.reduce((s, p) => s + p.long, 0);
  const check = work(t.toArrow(), 0, rows); // the same job in one process, to check the workers
  if (Math.abs(check.sum - sum) > 1e-6 * Math.abs(check.sum) || check.long !== long) throw new Error(`workers disagree: ${sum}/${long} vs ${check.sum}/${check.long}`);
  const result = { impl: 'shmkit', rows, fill_ms: fillMs, memcpy_ms: copy.ms, work_ms: workMs, total_ms: fillMs + workMs, result_sum: sum, result_count: long, peak_tree_pss_mib: peak.peak / 2 ** 20 };
  if (process.argv.includes('--json')) return console.log(JSON.stringify(result));
  console.log(`DataFrame job, ${rows.toLocaleString()} rows, ${workers} forked workers (table '${t.name}')`);
  console.log(`  fill from Arrow columns  ${fillMs.toFixed(0)} ms   (a plain memcpy of the same ${(copy.bytes / 2 ** 20).toFixed(0)} MiB: ${copy.ms.toFixed(0)} ms)`);
  console.log(`  ${workers} workers               ${workMs.toFixed(0)} ms   sum ${sum.toFixed(2)}, ${long.toLocaleString()} names over 20 bytes`);
  console.log(`  peak PSS of the tree     ${fmtMiB(peak.peak)}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
