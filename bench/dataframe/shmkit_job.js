#!/usr/bin/env node
// The DataFrame job, shmkit's way, on a frame read from an Arrow IPC file
// (bench/dataframe/gen.py makes it, so every implementation gets the same
// rows): fill a growable RecordTable from the Arrow columns (timed, next to a
// plain memcpy of the same buffers), then 2 forked workers each sum half of
// `val` skipping NaN and nulls and count names over 20 bytes, reading the
// table's Arrow view in place. Prints one JSON line like the Python scripts.
//
//   node bench/dataframe/shmkit_job.js FRAME.arrow [--workers 2] [--duckdb PYTHON]
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const A = require('apache-arrow');
const { RecordTable, forkMap, defineSchema } = require('../..');
const { work, memcpyBaseline } = require('../../examples/dataframe/frame');
const { startSampler } = require('../util');

const Frame = defineSchema({ ts: 'datetime64[us]', val: { type: 'float64', nullable: true }, name: 'utf8' });

async function main() {
  const file = process.argv[2];
  const i = process.argv.indexOf('--workers');
  const workers = i < 0 ? 2 : Number(process.argv[i + 1]);
  const sampler = await startSampler(process.pid, 50);
  const frame = A.tableFromIPC(fs.readFileSync(file));
  const cols = { ts: frame.getChild('ts'), val: frame.getChild('val'), name: frame.getChild('name') };
  const rows = frame.numRows;
  const copy = memcpyBaseline(cols);
  const t0 = performance.now();
  const t = RecordTable.create(Frame, { prefix: 'shmkit-bench-df' });
  t.appendMany(cols);
  const fillMs = performance.now() - t0;
  const t1 = performance.now();
  const parts = await forkMap(path.join(__dirname, '../../examples/dataframe/worker.js'), { input: t, workers, chunk: Math.ceil(rows / workers) });
  const workMs = performance.now() - t1;
  const peak = await sampler.stop();
  const sum = parts.reduce((s, p) => s + p.sum, 0);
  const long = parts.reduce((s, p) => s + p.long, 0);
  // DuckDB in Python, given only the table's name (after the PSS sampling: not part of the job).
  let duckdb;
  const j = process.argv.indexOf('--duckdb');
  if (j > 0) {
    const r = spawnSync(process.argv[j + 1], [path.join(__dirname, 'duckdb_by_name.py'), t.name], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`duckdb_by_name.py failed:\n${r.stderr}`);
    duckdb = JSON.parse(r.stdout.trim().split('\n').pop());
  }
  console.log(JSON.stringify({
    impl: 'shmkit', rows, fill_ms: fillMs, memcpy_ms: copy.ms, memcpy_bytes: copy.bytes, work_ms: workMs, total_ms: fillMs + workMs,
    result_sum: sum, result_count: long, peak_tree_pss_mib: peak.peak / 2 ** 20, table: t.name, duckdb,
  }));
  t.close();
  t.unlink();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
