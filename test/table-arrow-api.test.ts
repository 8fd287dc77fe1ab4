/**
 * The Arrow-native table API in one process: nullable fields, utf8/binary,
 * bit-packed bools, views, limits, and appendMany/fromArrow of Arrow data —
 * each rule with the error code it promises.
 */
import { describe, expect, it } from 'vitest';
import * as A from 'apache-arrow';
import { RecordTable, ShmError, defineSchema, describeTable } from '../lib/index';
import { execFileSync } from 'node:child_process';
import { ROOT } from './helpers';
import { testScope } from './helpers';

const { fresh } = testScope('arrowapi');

function errorOf(fn: () => unknown): ShmError | Error | undefined {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  return undefined;
}
const codeOf = (fn: () => unknown) => (errorOf(fn) as ShmError | undefined)?.code;

const Ev = defineSchema({
  id: 'int32',
  name: 'utf8',
  blob: 'binary',
  score: { type: 'float64', nullable: true },
  ok: { type: 'bool', nullable: true },
  venue: { category: ['a', 'b'], nullable: true },
});

describe('nullable and variable-length fields', () => {
  it('take null/undefined where nullable and read back null; refuse them elsewhere with ERR_SHM_VALUE, writing nothing', () => {
    const t = RecordTable.create(Ev, { name: fresh() });
    t.append({ id: 1, name: '', blob: new Uint8Array(0), score: null, ok: undefined as unknown as null, venue: null });
    expect(t.get(0)).toEqual({ id: 1, name: '', blob: new Uint8Array(0), score: null, ok: null, venue: null });
    const e = errorOf(() => t.append({ id: 2, name: null as unknown as string, blob: new Uint8Array(1), score: 1, ok: true, venue: 'a' })) as ShmError;
    expect(e.code).toBe('ERR_SHM_VALUE');
    expect(e.message).toMatch(/field "name" is missing|must be a string/);
    expect(codeOf(() => t.append({ id: 2, name: 'x', blob: 'no' as unknown as Uint8Array, score: 1, ok: true, venue: 'a' }))).toBe('ERR_SHM_VALUE');
    expect(codeOf(() => t.append({ id: 2, name: 'x\uD800', blob: new Uint8Array(1), score: 1, ok: true, venue: 'a' }))).toBe('ERR_SHM_VALUE');
    expect(t.length).toBe(1);
    t.close();
    t.unlink();
  });

  it('stores values of every length at the 12-byte inline boundary and beyond, and binary from any ArrayBufferView', () => {
    const t = RecordTable.create(Ev, { name: fresh() });
    const names = ['', 'a', '123456789012', '1234567890123', 'é'.repeat(6), 'é'.repeat(7), 'x'.repeat(100_000)];
    names.forEach((name, i) => t.append({ id: i, name, blob: new Uint16Array([i, 65535]) as unknown as Uint8Array, score: i, ok: i % 2 === 0, venue: 'b' }));
    names.forEach((name, i) => {
      expect(t.get(i).name).toBe(name);
      expect(Array.from(t.get(i).blob)).toEqual([i, 0, 255, 255]);
    });
    t.close();
    t.unlink();
  });

  it('set() changes a value in place but never a null, nor a utf8/binary value (ERR_SHM_VALUE)', () => {
    const t = RecordTable.create(Ev, { name: fresh() });
    t.append({ id: 0, name: 'n', blob: new Uint8Array(1), score: 1.5, ok: true, venue: 'a' });
    t.append({ id: 1, name: 'n', blob: new Uint8Array(1), score: null, ok: null, venue: null });
    t.set(0, { score: 2.5, ok: false, venue: 'b' });
    expect(t.get(0)).toMatchObject({ score: 2.5, ok: false, venue: 'b' });
    const toNull = errorOf(() => t.set(0, { score: null })) as ShmError;
    expect(toNull.code).toBe('ERR_SHM_VALUE');
    expect(toNull.message).toMatch(/cannot change to null/);
    expect((errorOf(() => t.set(1, { ok: true })) as ShmError).message).toMatch(/cannot change from null/);
    expect(codeOf(() => t.set(0, { name: 'other' }))).toBe('ERR_SHM_VALUE');
    expect(codeOf(() => t.set(0, { blob: new Uint8Array(2) }))).toBe('ERR_SHM_VALUE');
    expect(t.get(0)).toMatchObject({ score: 2.5, ok: false, name: 'n' });
    t.close();
    t.unlink();
  });

  it("column() gives bool bits and refuses utf8 with ERR_SHM_LAYOUT; validity(name) masks nulls; 'rows' refuses nullable and utf8 fields", () => {
    const t = RecordTable.create(Ev, { name: fresh() });
    for (let i = 0; i < 10; i++) t.append({ id: i, name: `${i}`, blob: new Uint8Array(0), score: i % 3 ? i : null, ok: i % 2 === 0, venue: 'a' });
    expect(Array.from(t.column('ok'))).toEqual([0b01010101, 0b01]);
    expect(codeOf(() => t.column('name'))).toBe('ERR_SHM_LAYOUT');
    expect(Array.from(t.validity('score'))).toEqual([0, 1, 1, 0, 1, 1, 0, 1, 1, 0]);
    expect(Array.from(t.validity())).toEqual(new Array(10).fill(1));
    expect(codeOf(() => RecordTable.create(defineSchema({ s: 'utf8' }), { name: fresh(), layout: 'rows' }))).toBe('ERR_SHM_LAYOUT');
    expect(codeOf(() => RecordTable.create(defineSchema({ n: { type: 'int8', nullable: true } }), { name: fresh(), capacity: 4, layout: 'rows' }))).toBe('ERR_SHM_LAYOUT');
    t.close();
    t.unlink();
  });

  it('a view written by something other than shmkit (pointing outside the heap) is ERR_SHM_VALUE in get(), never a crash', () => {
    const t = RecordTable.create(Ev, { name: fresh() });
    t.append({ id: 0, name: 'a long enough string', blob: new Uint8Array(1), score: 1, ok: true, venue: 'a' });
    const views = t.toArrow().getChild('name')!.data[0]!.values as Uint8Array;
    const w = new Int32Array(views.buffer, views.byteOffset, 4);
    w[3] = 0x7fff_0000; // offset far past the heap's allocated bytes
    const e = errorOf(() => t.get(0)) as ShmError;
    expect(e.code).toBe('ERR_SHM_VALUE');
    expect(e.message).toMatch(/view outside the table's heap/);
    w[0] = -5;
    expect(codeOf(() => t.get(0))).toBe('ERR_SHM_VALUE');
    t.close();
    t.unlink();
  });
});

describe('limits', () => {
  it('a fixed capacity with utf8 holds its rows, then ERR_SHM_TABLE_FULL changes nothing; a value over the heap is ERR_SHM_VALUE', () => {
    const t = RecordTable.create(defineSchema({ s: 'utf8' }), { name: fresh(), capacity: 3, maxBytes: 1 << 20 });
    expect(t.capacity).toBe(3);
    t.appendMany([{ s: 'x'.repeat(100) }, { s: '' }, { s: 'y' }]);
    const full = errorOf(() => t.append({ s: 'z' })) as ShmError;
    expect(full.code).toBe('ERR_SHM_TABLE_FULL');
    expect(full.message).toMatch(/a capacity of 3 rows, 0 free, 1 needed/);
    expect(t.length).toBe(3);
    t.close();
    t.unlink();
    const g = RecordTable.create(defineSchema({ s: 'utf8' }), { name: fresh(), maxBytes: 1 << 20, maxRows: 100 });
    expect(g.maxRows).toBe(100);
    expect(codeOf(() => g.append({ s: 'x'.repeat(2 << 20) }))).toBe('ERR_SHM_VALUE');
    let heapFull: ShmError | undefined;
    for (let i = 0; i < 100 && !heapFull; i++) heapFull = errorOf(() => g.append({ s: 'h'.repeat(200_000) })) as ShmError | undefined;
    expect(heapFull?.code).toBe('ERR_SHM_TABLE_FULL');
    expect(heapFull?.message).toMatch(/no heap room left/);
    const n = g.length;
    for (let i = n; i < 100; i++) g.append({ s: 'short' });
    expect((errorOf(() => g.append({ s: '' })) as ShmError).message).toMatch(/room for 100 rows/);
    expect(g.get(0).s).toBe('h'.repeat(200_000));
    g.close();
    g.unlink();
  });
});

describe('view(name)', () => {
  it("is numpy's arr.field for 'rows' (strided, in place) and a plain stride for 'columns'", () => {
    const S = defineSchema({ a: 'int8', price: 'float64', sym: 'utf8[3]' });
    const t = RecordTable.create(S, { name: fresh(), capacity: 10, layout: 'rows' });
    for (let i = 0; i < 5; i++) t.append({ a: i, price: i / 2, sym: `s${i}` });
    const price = t.view('price');
    expect(price.length).toBe(5);
    expect(price.byteStride).toBe(12);
    expect(price.toArray()).toEqual([0, 0.5, 1, 1.5, 2]);
    price.set(3, 99);
    expect(t.get(3).price).toBe(99);
    expect(new DataView(t.segment.buffer).getFloat64(price.byteOffset + 3 * price.byteStride, true)).toBe(99);
    expect([...t.view('sym')]).toEqual(['s0', 's1', 's2', 's3', 's4']);
    expect(() => price.get(5)).toThrow(RangeError);
    expect(codeOf(() => price.set(0, 'x' as unknown as number))).toBe('ERR_SHM_VALUE');
    t.close();
    t.unlink();
    const c = RecordTable.create(S, { name: fresh(), capacity: 10 });
    c.append({ a: 1, price: 2, sym: 'x' });
    expect(c.view('price').byteStride).toBe(8);
    expect(c.view('price').get(0)).toBe(2);
    c.close();
    c.unlink();
  });
});

describe('waitForLength()', () => {
  it("resolves 'ok' once rows are there and 'timed-out' when none come; RangeError for a bad n", async () => {
    const t = RecordTable.create(defineSchema({ x: 'int32' }), { name: fresh() });
    expect(await t.waitForLength(0)).toBe('ok');
    const t0 = performance.now();
    expect(await t.waitForLength(1, { timeout: 150 })).toBe('timed-out');
    expect(performance.now() - t0).toBeGreaterThanOrEqual(140);
    setTimeout(() => t.append({ x: 1 }), 30);
    expect(await t.waitForLength(1, { timeout: 5000 })).toBe('ok');
    await expect(t.waitForLength(-1)).rejects.toThrow(RangeError);
    t.close();
    await expect(t.waitForLength(5)).rejects.toMatchObject({ code: 'ERR_SHM_CLOSED' });
    t.unlink();
  });
});

describe('appendMany() and fromArrow() of Arrow data', () => {
  const arrow = () =>
    new A.Table({
      id: A.makeVector(Int32Array.of(1, 2, 3)),
      name: A.vectorFromArray(['x', 'a string longer than 12', ''], new A.Utf8()),
      blob: A.vectorFromArray([new Uint8Array([1]), new Uint8Array(20), new Uint8Array(0)], new A.Binary()),
      score: A.vectorFromArray([1.5, null, 3], new A.Float64()),
      ok: A.vectorFromArray([true, null, false], new A.Bool()),
      venue: A.vectorFromArray(['b', 'a', null], new A.Dictionary(new A.Utf8(), new A.Int32())),
    });

  it('copies Arrow columns in (sliced ones too) and fromArrow makes the same table', () => {
    const t = RecordTable.create(Ev, { name: fresh() });
    t.appendMany(arrow());
    t.appendMany(arrow().slice(1, 3));
    expect(t.length).toBe(5);
    expect(t.get(1)).toEqual({ id: 2, name: 'a string longer than 12', blob: new Uint8Array(20), score: null, ok: null, venue: 'a' });
    expect(t.get(4)).toEqual({ id: 3, name: '', blob: new Uint8Array(0), score: 3, ok: false, venue: null });
    const f = RecordTable.fromArrow(arrow(), { name: fresh() });
    expect(f.schema.toJSON().map((x) => `${x.name}:${x.type}${x.nullable ? '?' : ''}`)).toEqual(['id:int32', 'name:utf8?', 'blob:binary?', 'score:float64?', 'ok:bool?', 'venue:category?']);
    for (let i = 0; i < 3; i++) expect(f.get(i)).toEqual(t.get(i));
    // Its own Arrow view goes back in (Utf8View input).
    const again = RecordTable.fromArrow(f.toArrow(), { name: fresh() });
    for (let i = 0; i < 3; i++) expect(again.get(i)).toEqual(t.get(i));
    for (const x of [t, f, again]) x.close(), x.unlink();
  });

  it('refuses, writing nothing, a column of another type, nulls in a non-nullable field, an unknown category, and types a table cannot hold', () => {
    const t = RecordTable.create(Ev, { name: fresh() });
    const good = arrow();
    const swap = (name: string, v: A.Vector) => Object.fromEntries(good.schema.fields.map((f) => [f.name, f.name === name ? v : good.getChild(f.name as never)!]));
    const wrongType = errorOf(() => t.appendMany(swap('id', A.vectorFromArray([1, 2, 3], new A.Float64())))) as ShmError;
    expect(wrongType.code).toBe('ERR_SHM_VALUE');
    expect(wrongType.message).toMatch(/column "id" \(int32\) cannot take Arrow Float64/);
    expect((errorOf(() => t.appendMany(swap('id', A.vectorFromArray([1, null, 3], new A.Int32())))) as ShmError).message).toMatch(/has 1 nulls, but the field is not nullable/);
    expect((errorOf(() => t.appendMany(swap('venue', A.vectorFromArray(['a', 'zz', 'b'], new A.Dictionary(new A.Utf8(), new A.Int8()))))) as ShmError).message).toMatch(/"zz", not one of its 2 categories/);
    expect(t.length).toBe(0);
    const list = A.tableFromArrays({ x: Int32Array.of(1) });
    const withList = new A.Table({ x: list.getChild('x')!, l: A.vectorFromArray([[1]], new A.List(new A.Field('i', new A.Int32()))) });
    expect(codeOf(() => RecordTable.fromArrow(withList, { name: fresh() }))).toBe('ERR_SHM_VALUE');
    t.close();
    t.unlink();
  });
});

describe('shmkit inspect of a growable table', () => {
  it('says it grows, marks nullable fields and shows binary as hex', () => {
    const t = RecordTable.create(defineSchema({ s: 'utf8', b: 'binary', n: { type: 'int32', nullable: true } }), { name: fresh() });
    t.append({ s: 'hi', b: new Uint8Array([1, 255]), n: null });
    const d = describeTable(t.name);
    expect(d).toMatchObject({ length: 1, capacity: Infinity, maxRows: t.maxRows });
    expect(d.schema[2]).toEqual({ name: 'n', type: 'int32', nullable: true });
    const out = execFileSync(process.execPath, [`${ROOT}/bin/shmkit.js`, 'inspect', t.name], { encoding: 'utf8' });
    expect(out).toContain(`1 rows (growable, room for ${t.maxRows})`);
    expect(out).toContain('schema:   s utf8, b binary, n int32?');
    expect(out).toMatch(/0\s+"hi"\s+0x01ff\s+null/);
    t.close();
    t.unlink();
  });
});
