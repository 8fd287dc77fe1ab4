import { describe, expectTypeOf, it } from 'vitest';
import { RecordTable, defineSchema, type RowOf } from '../lib/index';

const Trade = defineSchema({
  id: 'int64',
  u: 'uint64',
  price: 'float64',
  qty: 'uint32',
  small: 'int8',
  buy: 'bool',
  sym: 'utf8[8]',
  ts: 'datetime64[ms]',
  sec: 'datetime64[s]',
  us: 'datetime64[us]',
  ns: 'datetime64[ns]',
  venue: { category: ['XNYS', 'XNAS', 'BATS'] },
});
type Row = RowOf<typeof Trade.spec>;

describe('row type inference', () => {
  it('maps each field type to its JavaScript type', () => {
    expectTypeOf<Row>().toEqualTypeOf<{
      id: bigint;
      u: bigint;
      price: number;
      qty: number;
      small: number;
      buy: boolean;
      sym: string;
      ts: Date;
      sec: Date;
      us: bigint;
      ns: bigint;
      venue: 'XNYS' | 'XNAS' | 'BATS';
    }>();
  });

  it('types get(), append() and attach() with a schema', () => {
    const t = RecordTable.create(Trade, { capacity: 1 });
    expectTypeOf(t.get(0)).toEqualTypeOf<Row>();
    expectTypeOf(t.get(0).venue).toEqualTypeOf<'XNYS' | 'XNAS' | 'BATS'>();
    expectTypeOf(t.append).parameter(0).toEqualTypeOf<Row>();
    expectTypeOf(RecordTable.attach('x', Trade).get(0).id).toEqualTypeOf<bigint>();
    // @ts-expect-error: int64 is a bigint, not a number
    t.append({ ...t.get(0), id: 1 });
    // @ts-expect-error: not one of the categories
    t.append({ ...t.get(0), venue: 'LSE' });
    // @ts-expect-error: not a field
    t.column('nope');
  });

  it('types column() as the storage typed array of the field', () => {
    const t = RecordTable.create(Trade, { capacity: 1 });
    expectTypeOf(t.column('price')).toEqualTypeOf<Float64Array>();
    expectTypeOf(t.column('id')).toEqualTypeOf<BigInt64Array>();
    expectTypeOf(t.column('u')).toEqualTypeOf<BigUint64Array>();
    expectTypeOf(t.column('qty')).toEqualTypeOf<Uint32Array>();
    expectTypeOf(t.column('small')).toEqualTypeOf<Int8Array>();
    expectTypeOf(t.column('buy')).toEqualTypeOf<Uint8Array>();
    expectTypeOf(t.column('sym')).toEqualTypeOf<Uint8Array>();
    expectTypeOf(t.column('ts')).toEqualTypeOf<BigInt64Array>();
    expectTypeOf(t.column('venue')).toEqualTypeOf<Uint8Array | Uint16Array | Uint32Array>();
  });
});
