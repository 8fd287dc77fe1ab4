#!/usr/bin/env node
// Runs benchmarks, each bench/<name>.bench.js in a fresh process, and writes
// what each prints (a markdown section) into bench/RESULTS.md between
// <!-- bench:name --> markers, keeping the sections it did not re-run.
//
//   node bench/run.js            every benchmark
//   node bench/run.js segment    only bench/segment.bench.js (others kept)
'use strict';
const { execFileSync, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const dir = __dirname;
const resultsFile = path.join(dir, 'RESULTS.md');
const all = fs.readdirSync(dir).filter((f) => f.endsWith('.bench.js')).map((f) => f.replace(/\.bench\.js$/, '')).sort();
const wanted = process.argv.slice(2);
for (const w of wanted) if (!all.includes(w)) throw new Error(`no benchmark bench/${w}.bench.js (have: ${all.join(', ')})`);
const names = wanted.length ? wanted : all;

function git(args) {
  try {
    return execFileSync('git', args, { cwd: dir, encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}
const commit = git(['rev-parse', '--short', 'HEAD']) + (git(['status', '--porcelain', '--', '../lib', '../native']) ? ' (+ uncommitted changes)' : '');
const cpu = os.cpus()[0]?.model ?? 'unknown cpu';
const stamp = `${new Date().toISOString().slice(0, 10)} · Node ${process.version} · ${os.cpus().length} × ${cpu} · ${Math.round(os.totalmem() / 2 ** 30)} GiB · commit ${commit}`;

/** The sections now in RESULTS.md, by name. */
function readSections() {
  const old = fs.existsSync(resultsFile) ? fs.readFileSync(resultsFile, 'utf8') : '';
  const sections = new Map();
  for (const m of old.matchAll(/<!-- bench:(\S+) -->\n([\s\S]*?)<!-- \/bench:\1 -->/g)) sections.set(m[1], m[2]);
  return sections;
}
const fresh = new Map();

let failed = 0;
for (const name of names) {
  process.stderr.write(`bench ${name} …\n`);
  const r = spawnSync(process.execPath, ['--expose-gc', path.join(dir, `${name}.bench.js`)], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 64 << 20,
  });
  if (r.status !== 0) {
    failed++;
    process.stderr.write(`bench ${name} failed (exit ${r.status}, signal ${r.signal})\n`);
    continue;
  }
  fresh.set(name, `_${stamp}_\n\n${r.stdout.trim()}\n`);
  process.stdout.write(r.stdout);
}

// Read the file again only now: another run may have written it meanwhile.
const sections = readSections();
for (const [k, v] of fresh) sections.set(k, v);
const body = [...sections.keys()]
  .sort()
  .map((k) => `<!-- bench:${k} -->\n${sections.get(k)}<!-- /bench:${k} -->`)
  .join('\n\n');
fs.writeFileSync(
  resultsFile,
  `# Benchmark results\n\nWritten by \`npm run bench\` (\`node bench/run.js [name…]\`); each section carries the date, Node version,\nmachine and commit it was measured on. Medians and ratios against a baseline measured in the same run;\nthese machines are shared and noisy.\n\n${body}\n`,
);
process.exitCode = failed ? 1 : 0;
