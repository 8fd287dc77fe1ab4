// The per-row haplotype transform, shared by both strategies so that they do
// the same work and must produce the same bytes.
//
// Input row:  CHROM POS REF S1 … S31, each sample one letter of A C G T N -.
// Output row: CHROM POS REF ALT S1|S2 … S29|S30 S31, where
//   ALT   = the sample letters minus N and REF, in A C G T - order, joined
//           with ',' ('.' when none). '-' counts as an alt allele, as the
//           rule says ("minus N and REF").
//   a|b   = each sample pair, with N and '-' replaced by REF.
//   S31   = the odd last sample stays a single (haploid) allele, with the
//           same replacement.
'use strict';

/** Sample letters, in the order ALT lists them; a letter's code is its index. */
const LETTERS = ['A', 'C', 'G', 'T', 'N', '-'];
const BASES = ['A', 'C', 'G', 'T'];
const SAMPLES = 31;
const CHROMS = [...Array.from({ length: 22 }, (_, i) => String(i + 1)), 'X', 'Y'];
const RANK = new Map(LETTERS.map((l, i) => [l, i]));

const sampleNames = Array.from({ length: SAMPLES }, (_, i) => `S${i + 1}`);
const INPUT_HEADER = ['CHROM', 'POS', 'REF', ...sampleNames];
const GENOTYPE_NAMES = [];
for (let i = 0; i + 1 < SAMPLES; i += 2) GENOTYPE_NAMES.push(`${sampleNames[i]}|${sampleNames[i + 1]}`);
if (SAMPLES % 2) GENOTYPE_NAMES.push(sampleNames[SAMPLES - 1]);
const OUTPUT_HEADER = ['CHROM', 'POS', 'REF', 'ALT', ...GENOTYPE_NAMES];

/**
 * The transform of one row, on letters: returns [ALT, genotype…] as strings.
 * Both strategies call exactly this function.
 */
function haplotype(ref, samples) {
  const alts = new Set(samples);
  alts.delete('N');
  alts.delete(ref);
  const alt = alts.size === 0 ? '.' : [...alts].sort((a, b) => RANK.get(a) - RANK.get(b)).join(',');
  const call = (s) => (s === 'N' || s === '-' ? ref : s);
  const out = [alt];
  let i = 0;
  for (; i + 1 < samples.length; i += 2) out.push(`${call(samples[i])}|${call(samples[i + 1])}`);
  if (i < samples.length) out.push(call(samples[i]));
  return out;
}

/** Every value ALT can take: '.', then each non-empty subset of A C G T - in order. */
const ALT_VALUES = ['.'];
const ALT_LETTERS = ['A', 'C', 'G', 'T', '-'];
for (let mask = 1; mask < 1 << ALT_LETTERS.length; mask++) {
  ALT_VALUES.push(ALT_LETTERS.filter((_, k) => mask & (1 << k)).join(','));
}
/** Every value a genotype pair can take (after replacement only bases remain). */
const PAIR_VALUES = BASES.flatMap((a) => BASES.map((b) => `${a}|${b}`));

module.exports = {
  LETTERS,
  BASES,
  SAMPLES,
  CHROMS,
  INPUT_HEADER,
  OUTPUT_HEADER,
  GENOTYPE_NAMES,
  ALT_VALUES,
  PAIR_VALUES,
  haplotype,
};
