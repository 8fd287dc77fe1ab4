// Worker of shmkit.js: attached once to the input and output tables (by
// forkMap), it transforms rows [start, end) in place: codes in, codes out.
'use strict';
const { defineWorker } = require('../..');
const T = require('./transform');
const { sampleNames } = require('./schema');

let cols; // column views, made on the first task: the tables' lengths do not change during the run

defineWorker(({ input, output, start, end }) => {
  cols ??= {
    ref: input.column('REF'),
    samples: sampleNames.map((n) => input.column(n)),
    out: output.schema.fields.map((f) => ({ view: output.column(f.name), code: new Map(f.categories.map((v, k) => [v, k])) })),
  };
  const { ref, samples, out } = cols;
  const letters = new Array(samples.length);
  for (let i = start; i < end; i++) {
    for (let s = 0; s < samples.length; s++) letters[s] = T.LETTERS[samples[s][i]];
    const fields = T.haplotype(T.BASES[ref[i]], letters);
    for (let k = 0; k < out.length; k++) out[k].view[i] = out[k].code.get(fields[k]);
  }
  return end - start;
});
