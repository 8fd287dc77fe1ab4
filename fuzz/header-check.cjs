'use strict';
/**
 * One fuzz input of the table header parser, checked: shared by the fuzz
 * target (fuzz/header.fuzz.cjs, over dist/) and the corpus replay test
 * (test/fuzz-corpus.test.ts, over lib/), so both hold parseHeader to the same
 * contract.
 *
 * Input: 8 bytes u64 LE `extra`, then the segment's first bytes. The segment
 * is that many bytes plus `extra` (capped at 2^53 − 1) beyond them, so a seed
 * need only hold the header of a table of any size.
 *
 * Contract (lib/table/header.ts): parseHeader returns a layout whose every
 * area lies inside the header-free part of the segment without overlapping
 * another, or throws ShmError ERR_SHM_BAD_HEADER; anything else throws here.
 */

/** @returns 'ok' or 'bad' (the parser's verdict); throws on a broken contract. */
function checkHeaderInput(data, api) {
  const { parseHeader, ShmError, rowRegions, regionBytes } = api;
  if (data.length < 8) return 'bad';
  const extra = Number(Buffer.from(data.buffer, data.byteOffset, 8).readBigUInt64LE(0) & 0x1f_ffff_ffff_ffffn);
  // A fresh ArrayBuffer: the segment's bytes start page-aligned, as a mapping's do.
  const bytes = new Uint8Array(data.length - 8);
  bytes.set(data.subarray(8));
  const size = Math.min(bytes.length + extra, Number.MAX_SAFE_INTEGER);
  let p;
  try {
    p = parseHeader(bytes, size);
  } catch (err) {
    if (err instanceof ShmError && err.code === 'ERR_SHM_BAD_HEADER') return 'bad';
    throw new Error(`parseHeader threw something other than ERR_SHM_BAD_HEADER: ${err && err.stack}`, { cause: err });
  }
  const fail = (what) => {
    throw new Error(`parseHeader accepted a layout that breaks its contract: ${what}`);
  };
  if (!(p.headerLength <= bytes.length && p.end <= size)) fail(`header ${p.headerLength}, end ${p.end}, segment ${size}`);
  const areas = rowRegions(p).map((r) => [r.at, r.at + regionBytes(r, p.capacity), r.what]);
  if (p.heapSize > 0) areas.push([p.heapOffset, p.heapOffset + p.heapSize, 'heap']);
  if (p.layout === 'rows') {
    p.schema.fields.forEach((f, i) => {
      if (p.offsets[i] + f.size > p.rowSize) fail(`field ${f.name} ends past the ${p.rowSize}-byte record`);
    });
  }
  areas.sort((a, b) => a[0] - b[0]);
  areas.forEach(([a, b, what], i) => {
    if (!Number.isSafeInteger(a) || !Number.isSafeInteger(b)) fail(`${what} spans [${a}, ${b})`);
    if (a < p.headerLength || b > p.end) fail(`${what} [${a}, ${b}) is outside [${p.headerLength}, ${p.end})`);
    if (i > 0 && a < areas[i - 1][1]) fail(`${what} overlaps ${areas[i - 1][2]}`);
  });
  return 'ok';
}

module.exports = { checkHeaderInput };
