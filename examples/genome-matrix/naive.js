#!/usr/bin/env node
// The naive Node way, for comparison: read the whole file, split it into
// lines, send chunks of lines to 3 forked workers over child.send (the data
// itself crosses IPC, as Python's Pool.map pickles it), collect the
// transformed lines, write them out.
//
//   node examples/genome-matrix/naive.js IN.tsv OUT.tsv [--workers 3] [--chunk 100000]
'use strict';
const { fork } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { OUTPUT_HEADER } = require('./transform');

async function run(input, output, { workers = 3, chunk = 100_000 } = {}) {
  const t0 = performance.now();
  const lines = fs.readFileSync(input, 'utf8').split('\n');
  lines.shift(); // header
  if (lines.at(-1) === '') lines.pop();
  const tasks = [];
  for (let i = 0; i < lines.length; i += chunk) tasks.push(lines.slice(i, i + chunk));
  const rows = lines.length;
  lines.length = 0; // the chunks hold the lines now: keep one copy, not two
  const tRead = performance.now();

  const results = new Array(tasks.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(workers, tasks.length) }, () => {
      const child = fork(path.join(__dirname, 'naive-worker.js'), [], { stdio: 'inherit' });
      return new Promise((resolve, reject) => {
        const give = () => {
          if (next >= tasks.length) return child.disconnect();
          const index = next++;
          child.send({ index, lines: tasks[index] });
          tasks[index] = null; // sent: let it go, as a careful naive version would
        };
        child.on('message', (m) => {
          results[m.index] = m.lines;
          give();
        });
        child.once('exit', (code, signal) => (code === 0 ? resolve() : reject(new Error(`worker exited ${code ?? signal}`))));
        give();
      });
    }),
  );
  const tMap = performance.now();

  const fd = fs.openSync(output, 'w');
  fs.writeSync(fd, OUTPUT_HEADER.join('\t') + '\n');
  for (const r of results) fs.writeSync(fd, r.join('\n') + '\n');
  fs.closeSync(fd);
  const tWrite = performance.now();
  return { rows, read: tRead - t0, map: tMap - tRead, write: tWrite - tMap };
}

module.exports = { run };

if (require.main === module) {
  const [input, output] = process.argv.slice(2);
  const opt = (name, dflt) => {
    const i = process.argv.indexOf(`--${name}`);
    return i >= 0 ? Number(process.argv[i + 1]) : dflt;
  };
  run(input, output, { workers: opt('workers', 3), chunk: opt('chunk', 100_000) }).then(
    (r) => console.log(JSON.stringify(r)),
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
}
