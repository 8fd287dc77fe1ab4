#!/usr/bin/env node
// Writes a genome-matrix-like TSV: CHROM POS REF S1..S31, one letter per
// sample from A C G T N -. Deterministic (seeded PRNG), streamed to disk in
// 4 MiB blocks. 4,000,000 rows is the full size (about 300 MB).
//
//   node examples/genome-matrix/generate.js OUT.tsv [--rows N] [--seed S]
'use strict';
const fs = require('node:fs');
const { INPUT_HEADER, CHROMS, BASES, SAMPLES } = require('./transform');

/** mulberry32: a small, fast, seedable PRNG (not for cryptography). */
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Writes `rows` rows to `file`; returns the file's size in bytes. */
function generate(file, rows, seed = 1) {
  const rand = prng(seed);
  const fd = fs.openSync(file, 'w');
  const buf = Buffer.allocUnsafe(4 << 20);
  let at = 0;
  const flush = () => {
    fs.writeSync(fd, buf, 0, at);
    at = 0;
  };
  const put = (s) => {
    at += buf.write(s, at, 'latin1');
  };
  put(INPUT_HEADER.join('\t') + '\n');
  const perChrom = Math.ceil(rows / CHROMS.length);
  let pos = 0;
  for (let r = 0; r < rows; r++) {
    if (r % perChrom === 0) pos = 10_000 + Math.floor(rand() * 90_000);
    pos += 1 + Math.floor(rand() * 60);
    const ref = BASES[Math.floor(rand() * 4)];
    // A real matrix: most calls match REF; some carry one alt base; a few are N or '-'.
    const alt = BASES[(BASES.indexOf(ref) + 1 + Math.floor(rand() * 3)) % 4];
    const other = BASES[Math.floor(rand() * 4)];
    let line = `${CHROMS[Math.floor(r / perChrom)]}\t${pos}\t${ref}`;
    for (let s = 0; s < SAMPLES; s++) {
      const x = rand();
      line += '\t' + (x < 0.7 ? ref : x < 0.86 ? alt : x < 0.9 ? other : x < 0.97 ? 'N' : '-');
    }
    put(line + '\n');
    if (at > buf.length - 512) flush();
  }
  flush();
  fs.closeSync(fd);
  return fs.statSync(file).size;
}

module.exports = { generate };

if (require.main === module) {
  const args = process.argv.slice(2);
  const opt = (name, dflt) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? Number(args[i + 1]) : dflt;
  };
  const out = args.find((a, i) => !a.startsWith('--') && !(i > 0 && args[i - 1].startsWith('--')));
  if (!out) {
    console.error('usage: generate.js OUT.tsv [--rows N] [--seed S]');
    process.exit(2);
  }
  const rows = opt('rows', 400_000);
  const bytes = generate(out, rows, opt('seed', 1));
  console.log(`${out}: ${rows} rows, ${(bytes / 2 ** 20).toFixed(1)} MiB`);
}
