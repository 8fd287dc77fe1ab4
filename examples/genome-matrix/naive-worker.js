// Worker of naive.js: receives lines over IPC, sends transformed lines back.
'use strict';
const { haplotype } = require('./transform');

process.on('message', ({ index, lines }) => {
  const out = lines.map((line) => {
    const f = line.split('\t');
    return `${f[0]}\t${f[1]}\t${f[2]}\t${haplotype(f[2], f.slice(3)).join('\t')}`;
  });
  process.send({ index, lines: out });
});
