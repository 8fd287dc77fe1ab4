#!/usr/bin/env node
// The shmkit way: stream the TSV into a shared RecordTable (bounded memory,
// never the whole file as a string), let 3 forked workers transform rows in
// place into an output table (only handles and row ranges cross IPC), then
// stream the result out as TSV.
//
//   node examples/genome-matrix/shmkit.js IN.tsv OUT.tsv [--workers 3] [--chunk 100000] [--prefix genome]
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { RecordTable, forkMap } = require('../..');
const T = require('./transform');
const { Input, Output, sampleNames } = require('./schema');

const READ = 8 << 20; // bytes read at a time
const BATCH = 1 << 16; // rows per appendMany
const NL = 10;
const TAB = 9;

/**
 * Streams `file` into a new RecordTable of schema Input: the file is read
 * 8 MiB at a time and parsed byte by byte into column batches of 64 Ki rows,
 * each appended with appendMany (category codes copied in bulk).
 */
function load(file, prefix) {
  const table = RecordTable.create(Input, { prefix }); // growable: nobody knows the row count before reading the file
  const letter = new Int16Array(256).fill(-1);
  T.LETTERS.forEach((l, k) => (letter[l.charCodeAt(0)] = k));
  const chrom = new Map(T.CHROMS.map((c, k) => [c, k]));
  const batch = {
    CHROM: new Uint8Array(BATCH),
    POS: new Uint32Array(BATCH),
    REF: new Uint8Array(BATCH),
    ...Object.fromEntries(sampleNames.map((n) => [n, new Uint8Array(BATCH)])),
  };
  const samples = sampleNames.map((n) => batch[n]);
  let inBatch = 0;
  const flush = () => {
    if (inBatch === 0) return;
    const cols = {};
    for (const k in batch) cols[k] = batch[k].subarray(0, inBatch);
    table.appendMany(cols);
    inBatch = 0;
  };

  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(READ + 4096);
    let have = 0; // bytes of buf holding unparsed data
    let line = 0;
    let header = true;
    let lastChrom = Buffer.alloc(0);
    let lastCode;
    const bad = (what) => {
      throw new Error(`${file}:${line + 1}: ${what}`);
    };
    for (;;) {
      const n = fs.readSync(fd, buf, have, buf.length - have, null);
      let end = have + n;
      if (n === 0 && end > 0 && buf[end - 1] !== NL) buf[end++] = NL; // a last line without its newline
      let at = 0;
      for (;;) {
        const eol = buf.indexOf(NL, at);
        if (eol === -1 || eol >= end) break;
        if (header) {
          if (buf.latin1Slice(at, eol) !== T.INPUT_HEADER.join('\t')) bad('header is not CHROM POS REF S1..S31');
          header = false;
        } else if (eol > at) {
          let p = buf.indexOf(TAB, at);
          // Rows come sorted by CHROM: only make a string when the name changes.
          if (p - at !== lastChrom.length || buf.compare(lastChrom, 0, lastChrom.length, at, p) !== 0) {
            lastChrom = Buffer.from(buf.subarray(at, p));
            lastCode = chrom.get(lastChrom.toString('latin1'));
          }
          const c = lastCode;
          if (c === undefined || p >= eol) bad('unknown CHROM');
          let pos = 0;
          for (p++; buf[p] !== TAB; p++) {
            const d = buf[p] - 48;
            if (d < 0 || d > 9 || p >= eol) bad('POS is not a number');
            pos = pos * 10 + d;
          }
          const ref = letter[buf[++p]];
          if (ref < 0 || ref > 3 || buf[p + 1] !== TAB) bad('REF is not one of A C G T');
          p += 2;
          for (let s = 0; s < samples.length; s++, p += 2) {
            const code = letter[buf[p]];
            if (code < 0 || buf[p + 1] !== (s === samples.length - 1 ? buf[eol] : TAB)) bad(`sample ${s + 1} is not one of A C G T N -`);
            samples[s][inBatch] = code;
          }
          if (p - 1 !== eol) bad('extra fields');
          batch.CHROM[inBatch] = c;
          batch.POS[inBatch] = pos;
          batch.REF[inBatch] = ref;
          if (++inBatch === BATCH) flush();
        }
        line++;
        at = eol + 1;
      }
      if (n === 0) break;
      buf.copy(buf, 0, at, end); // keep the partial line
      have = end - at;
      if (have === buf.length) bad('line too long');
    }
    flush();
  } catch (err) {
    table.close();
    table.unlink(); // a half-loaded table is of no use to anyone
    throw err;
  } finally {
    fs.closeSync(fd);
  }
  return table;
}

/** Creates the output table with every row present (zeros), so workers can write rows in place. */
function createOutput(rows, prefix) {
  const out = RecordTable.create(Output, { capacity: Math.max(rows, 1), prefix });
  const zeros = new Uint8Array(Math.min(BATCH, rows));
  for (let done = 0; done < rows; ) {
    const n = Math.min(BATCH, rows - done);
    const z = zeros.subarray(0, n);
    out.appendMany(Object.fromEntries(Output.fields.map((f) => [f.name, z])));
    done += n;
  }
  return out;
}

/** Streams input + output tables out as TSV, 8 MiB at a time, byte by byte (no per-row strings). */
function write(file, input, output) {
  const bytes = (values) => values.map((v) => Uint8Array.from(Buffer.from(v, 'latin1')));
  const chrom = bytes(T.CHROMS);
  const base = bytes(T.BASES);
  const outFields = Output.fields.map((f) => ({ col: output.column(f.name), text: bytes(f.categories) }));
  const chromCol = input.column('CHROM');
  const posCol = input.column('POS');
  const refCol = input.column('REF');
  const fd = fs.openSync(file, 'w');
  fs.writeSync(fd, T.OUTPUT_HEADER.join('\t') + '\n');
  const buf = Buffer.allocUnsafe(READ);
  const digits = new Uint8Array(10);
  let at = 0;
  const put = (b) => {
    for (let k = 0; k < b.length; k++) buf[at++] = b[k];
  };
  for (let i = 0, n = input.length; i < n; i++) {
    if (at > READ - 1024) {
      fs.writeSync(fd, buf, 0, at);
      at = 0;
    }
    put(chrom[chromCol[i]]);
    buf[at++] = TAB;
    let pos = posCol[i];
    let d = 0;
    do {
      digits[d++] = 48 + (pos % 10);
      pos = Math.floor(pos / 10);
    } while (pos > 0);
    while (d > 0) buf[at++] = digits[--d];
    buf[at++] = TAB;
    put(base[refCol[i]]);
    for (let k = 0; k < outFields.length; k++) {
      buf[at++] = TAB;
      put(outFields[k].text[outFields[k].col[i]]);
    }
    buf[at++] = NL;
  }
  fs.writeSync(fd, buf, 0, at);
  fs.closeSync(fd);
}

async function run(inFile, outFile, { workers = 3, chunk = 100_000, prefix = 'genome' } = {}) {
  const t0 = performance.now();
  const input = load(inFile, prefix);
  let output;
  try {
    output = createOutput(input.length, prefix);
  } catch (err) {
    input.close();
    input.unlink();
    throw err;
  }
  const tLoad = performance.now();
  try {
    await forkMap(path.join(__dirname, 'shmkit-worker.js'), { input, output, workers, chunk });
    const tMap = performance.now();
    write(outFile, input, output);
    const tWrite = performance.now();
    return { rows: input.length, read: tLoad - t0, map: tMap - tLoad, write: tWrite - tMap };
  } finally {
    for (const t of [input, output]) {
      t.close();
      t.unlink();
    }
  }
}

module.exports = { run, load };

if (require.main === module) {
  const [input, output] = process.argv.slice(2);
  const opt = (name, dflt) => {
    const i = process.argv.indexOf(`--${name}`);
    return i >= 0 ? Number(process.argv[i + 1]) : dflt;
  };
  const p = process.argv.indexOf('--prefix');
  run(input, output, { workers: opt('workers', 3), chunk: opt('chunk', 100_000), prefix: p >= 0 ? process.argv[p + 1] : 'genome' }).then(
    (r) => console.log(JSON.stringify(r)),
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
}
