// The record table schemas of the shmkit version: every text field becomes a
// category (one byte per value), positions a uint32.
'use strict';
const { defineSchema } = require('../..');
const T = require('./transform');

const sampleNames = T.INPUT_HEADER.slice(3);

/** CHROM POS REF S1..S31: 37 bytes a row instead of ~75 of text. */
const Input = defineSchema({
  CHROM: { category: T.CHROMS },
  POS: 'uint32',
  REF: { category: T.BASES },
  ...Object.fromEntries(sampleNames.map((n) => [n, { category: T.LETTERS }])),
});

/** ALT and the 16 genotype columns; CHROM POS REF are read from the input when writing. */
const Output = defineSchema({
  ALT: { category: T.ALT_VALUES },
  ...Object.fromEntries(T.GENOTYPE_NAMES.map((n) => [n, { category: n.includes('|') ? T.PAIR_VALUES : T.BASES }])),
});

module.exports = { Input, Output, sampleNames };
