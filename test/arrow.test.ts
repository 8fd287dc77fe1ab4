/**
 * RecordTable#toArrow(): apache-arrow Tables laid over the segment's column
 * buffers, checked against get() row by row and for zero copy.
 */
import { describe, expect, it } from 'vitest';
import { RecordTable, defineSchema } from '../lib/index';
import { testScope } from './helpers';

const { fresh } = testScope('arrow');

const All = defineSchema({
  i8: 'int8',
  u16: 'uint16',
  i32: 'int32',
  i64: 'int64',
  u64: 'uint64',
  f32: 'float32',
  f64: 'float64',
  ok: 'bool',
  sym: 'utf8[6]',
  ts: 'datetime64[ms]',
  tus: 'datetime64[us]',
  venue: { category: ['XNYS', 'XNAS', 'BATS'] },
});

const row = (i: number) => ({
  i8: i === 0 ? 0 : -i,
  u16: i * 3,
  i32: -(100_000 * i) || 0,
  i64: -(2n ** 62n) + BigInt(i),
  u64: 2n ** 64n - 1n - BigInt(i),
  f32: i / 4,
  f64: i === 1 ? NaN : i * 1.5,
  ok: i % 2 === 0,
  sym: i === 0 ? '' : `s${i}é`,
  ts: new Date(1_700_000_000_000 + i),
  tus: 1_700_000_000_000_000n + BigInt(i),
  venue: (['XNYS', 'XNAS', 'BATS'] as const)[i % 3]!,
});

describe('RecordTable#toArrow()', () => {
  it('gives every column the values get() gives, and nulls in every column for a void row', () => {
    const t = RecordTable.create(All, { name: fresh(), capacity: 16 });
    t.appendMany([0, 1, 2].map(row));
    let reads = 0;
    const fickle = { ...row(3), get i32() { return ++reads === 1 ? 3 : 2 ** 40; } }; // voids its batch on the write pass
    expect(() => t.appendMany([fickle])).toThrow();
    t.append(row(4));
    const at = t.toArrow();
    expect(at.numRows).toBe(5);
    expect(at.schema.fields.map((f) => `${f.name}:${f.type}`)).toEqual([
      'i8:Int8', 'u16:Uint16', 'i32:Int32', 'i64:Int64', 'u64:Uint64', 'f32:Float32', 'f64:Float64', 'ok:Bool',
      'sym:FixedSizeBinary[6]', 'ts:Timestamp<MILLISECOND>', 'tus:Timestamp<MICROSECOND>', 'venue:Dictionary<Uint8, Utf8>',
    ]);
    const dec = new TextDecoder();
    for (const [i, src] of [[0, 0], [1, 1], [2, 2], [4, 4]] as const) {
      const want = row(src);
      const got = (name: string) => at.getChild(name)!.get(i);
      expect(got('i8')).toBe(want.i8);
      expect(got('u16')).toBe(want.u16);
      expect(got('i32')).toBe(want.i32);
      expect(got('i64')).toBe(want.i64);
      expect(got('u64')).toBe(want.u64);
      expect(got('f32')).toBe(want.f32);
      expect(Object.is(got('f64'), want.f64)).toBe(true);
      expect(got('ok')).toBe(want.ok);
      expect(dec.decode((got('sym') as Uint8Array).filter((b) => b !== 0))).toBe(want.sym);
      expect(got('ts')).toBe(want.ts.getTime());
      expect(got('tus')).toBeCloseTo(Number(want.tus) / 1000, 2); // apache-arrow reads timestamps as epoch ms
      expect((at.getChild('tus')!.data[0]!.values as BigInt64Array)[i]).toBe(want.tus); // the µs themselves
      expect(got('venue')).toBe(want.venue);
    }
    for (const f of at.schema.fields) {
      expect(at.getChild(f.name)!.get(3), f.name).toBeNull();
      expect(at.getChild(f.name)!.nullCount, f.name).toBe(1);
    }
    t.close();
    t.unlink();
  });

  it('lays its vectors over the segment itself: no copy, and set() shows through', () => {
    const t = RecordTable.create(defineSchema({ id: 'int64', price: 'float64', venue: { category: ['a', 'b'] } }), { name: fresh(), capacity: 100_001 });
    t.appendMany({ id: BigInt64Array.from({ length: 100_000 }, (_, i) => BigInt(i)), price: Float64Array.from({ length: 100_000 }, (_, i) => i / 2), venue: new Uint8Array(100_000) });
    const at = t.toArrow();
    for (const name of ['id', 'price', 'venue']) {
      const values = at.getChild(name)!.data[0]!.values as ArrayBufferView;
      expect(values.buffer, name).toBe(t.segment.buffer);
      expect(values.byteOffset % 64, name).toBe(0); // Arrow's alignment
    }
    expect(at.getChild('price')!.data[0]!.nullBitmap?.length ?? 0).toBe(0); // no void row, no bitmap
    t.set(7, { price: 99.25, venue: 'b' });
    expect(at.getChild('price')!.get(7)).toBe(99.25);
    expect(at.getChild('venue')!.get(7)).toBe('b');
    // Rows appended after the call are not in it; a new call has them.
    t.append({ id: -1n, price: 1, venue: 'a' });
    expect(() => at.getChild('id')!.get(100_000)).not.toThrow();
    expect(at.numRows).toBe(100_000);
    t.close();
    t.unlink();
  });

  it('lays utf8/binary views, the heap, bool bits and validity bitmaps over the segment too', () => {
    const S = defineSchema({ s: 'utf8', b: 'binary', ok: 'bool', n: { type: 'int32', nullable: true } });
    const t = RecordTable.create(S, { name: fresh() });
    for (let i = 0; i < 1000; i++) t.append({ s: i % 2 ? `long string number ${i}` : `s${i}`, b: new Uint8Array(i % 30).fill(i & 255), ok: i % 3 === 0, n: i % 4 ? i : null });
    const at = t.toArrow();
    const s = at.getChild('s')!.data[0]!;
    const b = at.getChild('b')!.data[0]!;
    for (const [what, buf] of [
      ['utf8 views', s.values],
      ['binary views', b.values],
      ['utf8 heap', s.variadicBuffers[0]],
      ['binary heap', b.variadicBuffers[0]],
      ['bool bits', at.getChild('ok')!.data[0]!.values],
      ['int32 validity', at.getChild('n')!.data[0]!.nullBitmap],
    ] as const) {
      expect((buf as ArrayBufferView).buffer, what).toBe(t.segment.buffer);
      expect((buf as ArrayBufferView).byteOffset % 64, what).toBe(0);
    }
    expect(at.getChild('n')!.nullCount).toBe(250);
    expect(at.getChild('s')!.get(999)).toBe('long string number 999');
    expect(Array.from(at.getChild('b')!.get(29) as Uint8Array)).toEqual(new Array(29).fill(29));
    expect(at.getChild('ok')!.get(999)).toBe(true);
    t.close();
    t.unlink();
  });

  it('throws ERR_SHM_LAYOUT for a rows table and ERR_SHM_CLOSED after close()', () => {
    const r = RecordTable.create(defineSchema({ a: 'float64' }), { name: fresh(), capacity: 4, layout: 'rows' });
    expect(() => r.toArrow()).toThrow(expect.objectContaining({ code: 'ERR_SHM_LAYOUT' }));
    r.close();
    expect(() => r.toArrow()).toThrow(expect.objectContaining({ code: 'ERR_SHM_CLOSED' }));
    r.unlink();
  });
});
