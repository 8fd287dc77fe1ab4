/**
 * Mutated table headers for the differential test in test/python.test.ts:
 * Node's parseHeader and Python's shmkit.header._parse must accept and
 * reject the same ones, in the same words. A seeded generator, so that a
 * failing case can be replayed.
 */
import { RecordTable, defineSchema } from '../../lib/index';
import { parseHeader } from '../../lib/table/header';
import { Event, Trade } from '../python-run';
import { rng } from '../rng';

/** One header to parse: its first bytes and the size of the segment they claim to head. */
export interface HeaderCase {
  image: Uint8Array;
  size: number;
  what: string;
}

/** What a parser made of a header: the parts of the plan both readers use, or the error message. */
export type Parsed = { ok: Record<string, unknown> } | { bad: string };

/** Node's verdict on a header image, in the shape test/python/header_diff.py prints. */
export function nodeParse(image: Uint8Array, size: number): Parsed {
  try {
    const p = parseHeader(image, size);
    return {
      ok: {
        layout: p.layout, capacity: p.capacity, headerLength: p.headerLength, growable: p.growable, rowSize: p.rowSize,
        stateOffset: p.stateOffset, dataOffset: p.dataOffset, heapOffset: p.heapOffset, heapSize: p.heapSize, end: p.end,
        fields: p.schema.fields.map((f, i) => [f.name, f.type, f.nullable, p.offsets[i], p.validity[i]]),
      },
    };
  } catch (err) {
    const e = err as { code?: string; message: string };
    if (e.code !== 'ERR_SHM_BAD_HEADER') throw err; // parseHeader promises nothing else
    return { bad: e.message };
  }
}


/** Headers of real tables to mutate: both layouts, growable and fixed, nullable, utf8/binary, wide categories. */
export function baseImages(prefix: string): { tables: RecordTable<any>[]; images: { image: Uint8Array; size: number; name: string }[] } {
  const Wide = defineSchema({
    code: { category: Array.from({ length: 300 }, (_, i) => `c${i}`), nullable: true },
    flag: { type: 'bool', nullable: true },
    s: 'utf8',
    é: 'utf8[3]',
  });
  const tables: RecordTable<any>[] = [
    RecordTable.create(Trade, { name: `${prefix}-hc0`, capacity: 20 }),
    RecordTable.create(Trade, { name: `${prefix}-hc1`, capacity: 20, layout: 'rows' }),
    RecordTable.create(Event, { name: `${prefix}-hc2` }),
    RecordTable.create(Event, { name: `${prefix}-hc3`, capacity: 50, maxBytes: 1 << 20 }),
    RecordTable.create(Wide, { name: `${prefix}-hc4`, maxBytes: 8 << 20 }),
  ];
  tables[4]!.appendMany([{ code: 'c299', flag: null, s: 'x', é: 'é' }, { code: null, flag: true, s: 'y'.repeat(20), é: '' }]);
  const images = tables.map((t) => {
    const all = new Uint8Array(t.segment.buffer);
    const h = new DataView(t.segment.buffer).getUint32(16, true);
    return { image: all.slice(0, h), size: t.segment.size, name: t.name };
  });
  return { tables, images };
}

const WORDS = [8, 12, 16, 20, 24, 28, 32, 40, 48, 56, 64, 72, 80, 128, 192, 256, 320, 384, 448];
const TYPES: unknown[] = [
  'int8', 'uint64', 'float32', 'bool', 'utf8', 'binary', 'utf8[8]', 'utf8[0]', 'utf8[65537]', 'utf8[65536]', 'utf8[007]',
  'utf8[8]\n', 'datetime64[ms]', 'datetime64[m]', 'category', 'int128', '', 5, 5.5, null, true, ['int8'],
  { category: ['a'] }, { type: 'int32', nullable: true }, { type: 7 }, 'x'.repeat(50),
];

/** n mutations of the base images: bytes, header words, the schema JSON (as values and as text), sizes. */
export function mutations(bases: ReturnType<typeof baseImages>, n: number, seed: number): HeaderCase[] {
  const r = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const out: HeaderCase[] = [];
  for (let c = 0; c < n; c++) {
    const base = pick(bases.images);
    const image = base.image.slice();
    const dv = new DataView(image.buffer);
    const size = base.size;
    const jlen = dv.getUint32(20, true);
    const kind = r();
    if (kind < 0.2) {
      const k = 1 + Math.floor(r() * 3);
      for (let j = 0; j < k; j++) image[Math.floor(r() * Math.min(image.length, 512 + jlen + 8))] = Math.floor(r() * 256);
      out.push({ image, size, what: `${base.name} bytes` });
    } else if (kind < 0.45) {
      const at = pick(WORDS);
      const h = image.length;
      const v = pick([0, 1, 2, 3, 63, 64, 511, 512, h, h + 64, size, size - 1, size + 1, 2 ** 31 - 1, 2 ** 32 - 1, 2 ** 30, 2 ** 30 - 1, 2 ** 30 + 1, Math.floor(r() * 2 ** 32)]);
      if (r() < 0.5 || at >= 128 && at < 384) dv.setUint32(at, v >>> 0, true);
      else dv.setBigUint64(at, BigInt(v) + (r() < 0.1 ? 1n << 53n : 0n), true);
      out.push({ image, size, what: `${base.name} word ${at} = ${v}` });
    } else if (kind < 0.9) {
      const { text, what } = mutateJson(new TextDecoder().decode(image.subarray(512, 512 + jlen)), r, pick);
      const bytes = typeof text === 'string' ? new TextEncoder().encode(text) : text;
      const room = image.length - 512;
      image.fill(0, 512);
      image.set(bytes.subarray(0, room), 512);
      dv.setUint32(20, bytes.length, true);
      out.push({ image, size, what: `${base.name} json ${what}` });
    } else {
      const cut = pick([0, 8, 100, 511, 512, 513, image.length - 1, image.length]);
      const newSize = pick([cut, size - 1, size + 64, 511, image.length, Math.floor(size / 2)]);
      out.push({ image: image.slice(0, cut), size: Math.max(cut, newSize), what: `${base.name} cut ${cut} size ${newSize}` });
    }
  }
  return out;
}

function mutateJson(json: string, r: () => number, pick: <T>(xs: readonly T[]) => T): { text: string | Uint8Array; what: string } {
  const fields = JSON.parse(json) as Record<string, unknown>[];
  const i = Math.floor(r() * fields.length);
  const f = fields[i]!;
  const other = fields[(i + 1) % fields.length]!;
  const op = Math.floor(r() * 12);
  let what = `field ${i} op ${op}`;
  switch (op) {
    case 0:
      f.offset = pick([0, 1, (f.offset as number) + 64, (f.offset as number) - 64, (f.offset as number) + 1, 2 ** 53, -1, 1.5, '64', null, undefined, other.offset, 1e400]);
      break;
    case 1:
      f.validity = pick([undefined, (f.offset as number) + 64, other.offset, other.validity, (f.validity as number) + 1, 'x', [64], 0, -0]);
      break;
    case 2:
      f.type = pick(TYPES);
      break;
    case 3:
      f.nullable = pick([true, false, 1, null, 'yes', undefined]);
      break;
    case 4:
      f.categories = pick([[], ['a', 'a'], ['a', 1], ['\ud800'], Array.from({ length: 300 }, (_, k) => `v${k}`), undefined, 'abc', ['XNYS', 'XNAS', 'BATS']]);
      break;
    case 5:
      f.name = pick(['', '__proto__', 'x'.repeat(256), 'x'.repeat(255), 'é'.repeat(255), '😀'.repeat(128), other.name, 5, '\udc00', undefined, 'id\u2028']);
      break;
    case 6:
      fields.splice(i, 1);
      break;
    case 7:
      fields.push({ ...f });
      break;
    case 8:
      fields[i] = other;
      fields[(i + 1) % fields.length] = f;
      break;
    case 9:
      return { text: JSON.stringify(pick([{}, [], null, 5, 'x', [[]], [null], [1]])), what: 'not fields' };
    case 10: {
      // Text-level: what only a JSON parser sees.
      const s = JSON.stringify(fields);
      const t = pick([`\ufeff${s}`, `${s} `, ` \t\r\n${s}`, s.replace(/[0-9]+/, 'NaN'), s.replace(/[0-9]+/, 'Infinity'), s.replace(/\]$/, ',]'),
        s.replace(/"offset":([0-9]+)/, '"offset":$1.0'), s.replace(/"offset":([0-9]+)/, '"offset":$1e0'), `${s}\u00a0`, s.replace(/,/, ',\u000b')]);
      what = `text ${JSON.stringify(t.slice(0, 12))}`;
      return { text: t, what };
    }
    default: {
      const bytes = new TextEncoder().encode(JSON.stringify(fields));
      bytes[Math.floor(r() * bytes.length)] = pick([0xff, 0xc0, 0xed, 0x80, 0x00, 0x22, 0x5c]);
      return { text: bytes, what: 'raw byte' };
    }
  }
  return { text: JSON.stringify(fields), what };
}
