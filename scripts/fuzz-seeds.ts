/**
 * Seeds for the fuzzers (scripts/fuzz.sh), made by the real code.
 *
 *   npx tsx scripts/fuzz-seeds.ts header <out dir>
 * Real tables made by the public API — each layout, every field type,
 * nullable, variable-length, growable — read back from /dev/shm as header
 * fuzz inputs (fuzz/header-check.cjs: 8 bytes of segment size beyond the
 * prefix, then the header and a few rows).
 *
 *   SHMKIT_NATIVE_DIR=<dir with a capturing tracker> npx tsx scripts/fuzz-seeds.ts tracker
 * Owns, hands off and unlinks segments with awkward names so that the owner
 * writes its real tracker lines; scripts/fuzz.sh points the tracker at a
 * script that records its stdin.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { RecordTable, SharedMemory, defineSchema, type SchemaSpec } from '../lib/index';

const [mode, out] = process.argv.slice(2);
if (mode === 'tracker') {
  const names = ['plain', 'back\\slash', 'new\nline', '\\n-not-a-newline', 'ünï-名前', 'x'.repeat(200)];
  const prefix = `shmkit-fuzzseed-${process.pid}-`;
  const segs = names.map((n) => SharedMemory.create({ name: (prefix + n).slice(0, 255), size: 4096 }));
  segs.push(SharedMemory.create({ name: prefix + 'y'.repeat(255 - prefix.length), size: 4096 }));
  segs[1]!.unregister();  // "-name": handed off
  for (const s of segs) {
    s.unlink();
    s.close();
  }
  process.exit(0);
}
if (mode !== 'header' || !out) throw new Error('usage: fuzz-seeds.ts header <out dir> | tracker');
fs.mkdirSync(out, { recursive: true });

const fixed: SchemaSpec = {
  a: 'int8', b: 'uint8', c: 'int16', d: 'uint16', e: 'int32', f: 'uint32', g: 'int64', h: 'uint64',
  i: 'float32', j: 'float64', k: 'bool', l: 'utf8[8]', m: 'datetime64[s]', n: 'datetime64[ms]',
  o: 'datetime64[us]', p: 'datetime64[ns]', q: { category: ['XNYS', 'XNAS', 'BATS'] },
};
const arrow: SchemaSpec = {
  id: 'int64', user: 'utf8', blob: 'binary', score: { type: 'float64', nullable: true },
  ok: { type: 'bool', nullable: true }, n: { type: 'int32', nullable: true }, ts: 'datetime64[us]',
  s: { type: 'utf8', nullable: true }, venue: { category: ['XNYS', 'XNAS'] },
};
const tables: [string, SchemaSpec, Parameters<typeof RecordTable.create>[1]][] = [
  ['columns-fixed', fixed, { capacity: 4, layout: 'columns' }],
  ['rows-fixed', fixed, { capacity: 4, layout: 'rows' }],
  ['columns-one', { x: 'float64' }, { capacity: 1 }],
  ['rows-one', { x: 'uint8' }, { capacity: 3, layout: 'rows' }],
  ['columns-arrow', arrow, { capacity: 8 }],
  ['growable-arrow', arrow, {}],
  ['growable-fixed', { x: 'int32', y: 'bool' }, {}],
  ['columns-big', { x: 'float64', y: 'utf8[40]' }, { capacity: 1_000_000 }],
  ['columns-unicode-names', { 'é': 'int16', '名前': 'utf8', 'a b"c': 'bool' }, { capacity: 2 }],
];
for (const [label, spec, options] of tables) {
  const t = RecordTable.create(defineSchema(spec), options);
  try {
    // Sparse segments may span GiBs: read only the header and a little more.
    const fd = fs.openSync(path.join('/dev/shm', t.name), 'r');
    const size = fs.fstatSync(fd).size;
    const head = Buffer.alloc(Math.min(size, 1 << 20));
    fs.readSync(fd, head, 0, head.length, 0);
    fs.closeSync(fd);
    const prefix = head.subarray(0, Math.min(head.length, head.readUInt32LE(16) + 256));
    const seed = Buffer.alloc(8 + prefix.length);
    seed.writeBigUInt64LE(BigInt(size - prefix.length), 0);
    prefix.copy(seed, 8);
    fs.writeFileSync(path.join(out, `seed-${label}`), seed);
  } finally {
    t.unlink();
    t.close();
  }
}
