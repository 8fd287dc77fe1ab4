import { describe, expect, it } from 'vitest';
import { Schema, defineSchema } from '../lib/index';
import { headerBytes, planLayout } from '../lib/table/header';

describe('defineSchema()', () => {
  it('describes every field with its size and numpy dtype', () => {
    const s = defineSchema({
      a: 'int8', b: 'uint16', c: 'int64', d: 'float32', e: 'bool', f: 'utf8[10]', g: 'datetime64[us]',
      h: { category: ['x', 'y'] },
    });
    expect(s).toBeInstanceOf(Schema);
    expect(s.fields.map((f) => [f.name, f.type, f.size, f.dtype])).toEqual([
      ['a', 'int8', 1, 'i1'], ['b', 'uint16', 2, '<u2'], ['c', 'int64', 8, '<i8'], ['d', 'float32', 4, '<f4'],
      ['e', 'bool', 1, '?'], ['f', 'utf8[10]', 10, 'S10'], ['g', 'datetime64[us]', 8, '<M8[us]'], ['h', 'category', 1, 'u1'],
    ]);
    expect(s.field('f')?.width).toBe(10);
    expect(s.field('g')?.unit).toBe('us');
    expect(s.field('h')?.categories).toEqual(['x', 'y']);
    expect(Object.isFrozen(s.fields)).toBe(true);
  });

  it('stores category codes in the smallest unsigned type that fits', () => {
    const values = (n: number) => Array.from({ length: n }, (_, i) => `v${i}`);
    expect(defineSchema({ c: { category: values(256) } }).field('c')?.size).toBe(1);
    expect(defineSchema({ c: { category: values(257) } }).field('c')?.size).toBe(2);
    expect(defineSchema({ c: { category: values(65_536) } }).field('c')?.dtype).toBe('<u2');
    expect(defineSchema({ c: { category: values(65_537) } }).field('c')?.dtype).toBe('<u4');
  });

  it.each([
    [{}, /at least one field/],
    [{ a: 'int128' }, /unknown type "int128"/],
    [{ a: 'utf8[0]' }, /unknown type/],
    [{ a: 'utf8[100000]' }, /utf8 width must be 1 to 65536/],
    [{ a: 'datetime64[D]' }, /unknown type/],
    [{ a: { category: [] } }, /1 to \d+ values/],
    [{ a: { category: ['x', 'x'] } }, /repeats "x"/],
    [{ a: { category: ['x', 1] } }, /must be strings/],
    [{ a: 42 }, /a type name, \{ type, nullable \} or \{ category/],
    [{ ['__proto__']: 'int8' }, /__proto__/],
    [{ ['']: 'int8' }, /1 to 255 characters/],
  ])('rejects %j with a TypeError', (spec, message) => {
    const s = JSON.parse(JSON.stringify(spec)) as never; // JSON keeps a literal '__proto__' key
    expect(() => defineSchema(s)).toThrow(TypeError);
    expect(() => defineSchema(s)).toThrow(message);
  });

  it('compares schemas by fields, types, categories and order', () => {
    const a = defineSchema({ x: 'float64', v: { category: ['p', 'q'] } });
    expect(a.equals(defineSchema({ x: 'float64', v: { category: ['p', 'q'] } }))).toBe(true);
    expect(a.equals(defineSchema({ v: { category: ['p', 'q'] }, x: 'float64' }))).toBe(false);
    expect(a.equals(defineSchema({ x: 'float64', v: { category: ['p', 'r'] } }))).toBe(false);
    expect(defineSchema(a.toSpec()).equals(a)).toBe(true);
    expect(a.toJSON()).toEqual([{ name: 'x', type: 'float64' }, { name: 'v', type: 'category', categories: ['p', 'q'] }]);
  });
});

describe('table layout', () => {
  it("packs 'rows' records at numpy's packed structured-dtype offsets", () => {
    const s = defineSchema({ a: 'int8', b: 'float64', c: 'utf8[3]', d: 'uint16' });
    const plan = planLayout(s, 'rows', 10, 0, false, headerBytes(s));
    expect(plan.offsets).toEqual([0, 1, 9, 12]);
    expect(plan.rowSize).toBe(14);
    expect(plan.dataOffset % 64).toBe(0);
    expect(plan.end).toBe(plan.dataOffset + 192); // 140 bytes of records, rounded up to 64
  });

  it("puts every 'columns' column on a 64-byte boundary, after the commit states", () => {
    const s = defineSchema({ a: 'int8', b: 'float64', c: 'utf8[3]' });
    const plan = planLayout(s, 'columns', 10, 0, false, headerBytes(s));
    for (const o of plan.offsets) expect(o % 64).toBe(0);
    expect(plan.offsets[0]).toBeGreaterThanOrEqual(plan.stateOffset + 80);
    expect(plan.offsets[1]! - plan.offsets[0]!).toBe(64);
    expect(plan.offsets[2]! - plan.offsets[1]!).toBe(128);
  });
});
