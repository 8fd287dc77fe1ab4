import { afterEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { RecordTable, SharedMemory, ShmError, defineSchema, type SchemaSpec } from '../lib/index';
import { removeAll, shmEntries, testPrefix } from './helpers';

const prefix = testPrefix('fuzz');
let n = 0;
afterEach(() => removeAll(prefix));
import { OFF, headerBytes, parseHeader, planLayout, writeHeader, type TableLayout } from '../lib/table/header';
import { regionBytes, rowRegions } from '../lib/table/layout';

/** A valid table image (header + zeroed data) for a schema. */
function image(spec: SchemaSpec, layout: 'columns' | 'rows', capacity: number): Uint8Array {
  const schema = defineSchema(spec);
  const heap = schema.fields.some((f) => f.variable) ? 4096 : 0;
  const plan = planLayout(schema, layout, capacity, heap, false, headerBytes(schema));
  const bytes = new Uint8Array(plan.end);
  writeHeader(bytes, plan, capacity);
  return bytes;
}

/** Every area a parsed layout lets a table touch lies inside the segment and none overlap. */
function assertInBounds(p: TableLayout, size: number): void {
  const areas: [number, number][] = rowRegions(p).map((r) => [r.at, r.at + regionBytes(r, p.capacity)]);
  if (p.heapSize > 0) areas.push([p.heapOffset, p.heapOffset + p.heapSize]);
  if (p.layout === 'rows') {
    p.schema.fields.forEach((f, i) => expect(p.offsets[i]! + f.size).toBeLessThanOrEqual(p.rowSize));
  } else {
    p.schema.fields.forEach((_f, i) => expect(p.offsets[i]! % 64).toBe(0));
  }
  areas.sort((a, b) => a[0] - b[0]);
  areas.forEach(([a, b], i) => {
    expect(a).toBeGreaterThanOrEqual(p.headerLength);
    expect(b).toBeLessThanOrEqual(size);
    if (i > 0) expect(a).toBeGreaterThanOrEqual(areas[i - 1]![1]);
  });
}

/** parseHeader either succeeds with an in-bounds layout or throws ERR_SHM_BAD_HEADER — nothing else. */
function parseOrBad(bytes: Uint8Array, size: number): 'ok' | 'bad' {
  let parsed: TableLayout;
  try {
    parsed = parseHeader(bytes, size);
  } catch (err) {
    if (!(err instanceof ShmError) || err.code !== 'ERR_SHM_BAD_HEADER') throw new Error(`parseHeader threw a non-BAD_HEADER error: ${String(err)}`, { cause: err });
    return 'bad';
  }
  assertInBounds(parsed, size);
  return 'ok';
}

const spec = fc.dictionary(
  fc.string({ minLength: 1, maxLength: 12 }).filter((s) => s !== '__proto__' && (s as unknown as { isWellFormed(): boolean }).isWellFormed()),
  fc.oneof(
    fc.constantFrom('int8', 'uint8', 'int16', 'uint16', 'int32', 'uint32', 'int64', 'uint64', 'float32', 'float64', 'bool', 'datetime64[s]', 'datetime64[ns]'),
    fc.integer({ min: 1, max: 40 }).map((n) => `utf8[${n}]`),
    fc.constantFrom('utf8', 'binary'),
    fc.constantFrom('int32', 'bool', 'utf8', 'float64', 'datetime64[us]').map((type) => ({ type, nullable: true })),
    fc.uniqueArray(fc.string({ maxLength: 6 }).filter((s) => (s as unknown as { isWellFormed(): boolean }).isWellFormed()), { minLength: 1, maxLength: 300 }).map((category) => ({ category })),
  ),
  { minKeys: 1, maxKeys: 6 },
) as fc.Arbitrary<SchemaSpec>;
const arrowOnly = (s: SchemaSpec) => Object.values(s).some((f) => f === 'utf8' || f === 'binary' || (typeof f === 'object' && 'type' in f));
const table = fc
  .tuple(spec, fc.constantFrom('columns' as const, 'rows' as const), fc.integer({ min: 1, max: 50 }))
  .filter(([s, layout]) => layout === 'columns' || !arrowOnly(s));

describe('parseHeader() fuzzing', () => {
  it('accepts every header the writer makes, with every area in bounds', () => {
    fc.assert(
      fc.property(table, ([s, layout, cap]) => {
        const bytes = image(s, layout, cap);
        const p = parseHeader(bytes, bytes.length);
        expect(p.schema.equals(defineSchema(s))).toBe(true);
        expect(p.capacity).toBe(cap);
        assertInBounds(p, bytes.length);
      }),
      { numRuns: 300 },
    );
  });

  it('turns random bytes into ERR_SHM_BAD_HEADER, never another error', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 600 }), fc.boolean(), (bytes, magic) => {
        if (magic && bytes.length >= 8) bytes.set(Buffer.from('SHMKTBL\0', 'latin1'));
        expect(parseOrBad(bytes, bytes.length)).toBe('bad');
      }),
      { numRuns: 2000 },
    );
  });

  it('maps every mutation of a valid header to a valid in-bounds table or ERR_SHM_BAD_HEADER', () => {
    const mutation = fc.oneof(
      // flip random bytes anywhere in the header (fixed words and JSON)
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }).map((edits) => ({ kind: 'bytes' as const, edits })),
      // set one fixed header word to an interesting value
      fc.tuple(
        fc.constantFrom(OFF.version, OFF.layout, OFF.headerLength, OFF.schemaLength, OFF.flags, OFF.maxRows, OFF.rowSize, OFF.stateOffset, OFF.dataOffset, OFF.heapOffset, OFF.heapSize, OFF.end, OFF.reserved, OFF.committed, OFF.rowsReady),
        fc.oneof(fc.constantFrom(0, 1, 2, 63, 64, 192, 0x7fffffff, 0x80000000, 0xffffffff), fc.nat()),
      ).map(([at, value]) => ({ kind: 'word' as const, at, value })),
      // rewrite one number inside the schema JSON
      fc.tuple(fc.nat(), fc.oneof(fc.integer({ min: -100, max: 100_000 }), fc.constantFrom(2 ** 53, -0.5, 1e300))).map(([which, value]) => ({ kind: 'json' as const, which, value })),
      // truncate the segment
      fc.nat().map((cut) => ({ kind: 'truncate' as const, cut })),
    );
    let ok = 0;
    let bad = 0;
    fc.assert(
      fc.property(table, mutation, ([s, layout, cap], m) => {
        let bytes = image(s, layout, cap);
        const dv = new DataView(bytes.buffer);
        const hlen = dv.getUint32(OFF.headerLength, true);
        if (m.kind === 'bytes') for (const [at, v] of m.edits) bytes[at % hlen] = v;
        else if (m.kind === 'word') {
          if ([OFF.maxRows, OFF.stateOffset, OFF.dataOffset, OFF.heapOffset, OFF.heapSize, OFF.end].includes(m.at as never)) dv.setBigUint64(m.at, BigInt(m.value), true);
          else dv.setUint32(m.at, m.value >>> 0, true);
        } else if (m.kind === 'json') {
          const len = dv.getUint32(OFF.schemaLength, true);
          const text = Buffer.from(bytes.subarray(OFF.schema, OFF.schema + len)).toString();
          let i = 0;
          const out = Buffer.from(text.replace(/-?\d+/g, (d) => (i++ === m.which % Math.max(1, (text.match(/-?\d+/g) ?? []).length) ? String(m.value) : d)));
          if (OFF.schema + out.length <= hlen) {
            bytes.fill(0, OFF.schema, hlen);
            bytes.set(out, OFF.schema);
            dv.setUint32(OFF.schemaLength, out.length, true);
          }
        } else bytes = bytes.subarray(0, m.cut % (bytes.length + 1));
        if (parseOrBad(bytes, bytes.length) === 'ok') ok++;
        else bad++;
      }),
      { numRuns: 3000 },
    );
    // Both outcomes must actually occur, or the fuzzer is not exploring.
    expect(ok).toBeGreaterThan(0);
    expect(bad).toBeGreaterThan(0);
  });

  it('attaches mutated headers in real segments without crashing: a table whose rows all read, or ERR_SHM_BAD_HEADER', () => {
    let attached = 0;
    fc.assert(
      fc.property(table, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 0, maxLength: 4 }), ([s, layout, cap], edits) => {
        const bytes = image(s, layout, cap);
        const hlen = new DataView(bytes.buffer).getUint32(OFF.headerLength, true);
        for (const [at, v] of edits) bytes[at % hlen] = v;
        const seg = SharedMemory.create({ name: `${prefix}-${n++}`, size: bytes.length });
        new Uint8Array(seg.buffer).set(bytes);
        try {
          const t = RecordTable.attach(seg.name);
          attached++;
          for (let i = 0; i < t.length; i++) {
            try {
              t.get(i);
            } catch (err) {
              // A mutated category code may point outside the dictionary.
              expect((err as ShmError).code).toBe('ERR_SHM_VALUE');
            }
          }
          if (t.layout === 'columns') {
            for (const f of t.schema.fields) if (!f.variable) expect(t.column(f.name).byteOffset + t.column(f.name).byteLength).toBeLessThanOrEqual(seg.size);
            expect(t.toArrow().numRows).toBe(t.length);
          }
          t.close();
        } catch (err) {
          if (!(err instanceof ShmError) || err.code !== 'ERR_SHM_BAD_HEADER') throw err;
        } finally {
          seg.close();
          seg.unlink();
        }
      }),
      { numRuns: 200 },
    );
    expect(attached).toBeGreaterThan(0);
    expect(shmEntries(prefix)).toEqual([]);
  });
});
