/**
 * Schemas of record tables: the field types, their byte sizes and numpy
 * dtypes, and the row type TypeScript infers from a schema literal.
 */
import { invalidType, invalidValue } from '../errors';

/** Integer and float scalar types, as numpy names them. */
export type NumericType =
  | 'int8'
  | 'uint8'
  | 'int16'
  | 'uint16'
  | 'int32'
  | 'uint32'
  | 'int64'
  | 'uint64'
  | 'float32'
  | 'float64';

/** Units of `datetime64[unit]`. */
export type DatetimeUnit = 's' | 'ms' | 'us' | 'ns';

/** A dictionary-encoded string field: the value is one of `category` (or null when `nullable`). */
export interface CategorySpec {
  readonly category: readonly string[];
  readonly nullable?: boolean;
}

/**
 * A type name: numbers, `bool`, `utf8` (any length), `binary` (any length),
 * `utf8[N]` (fixed N bytes), `datetime64[unit]`.
 */
export type TypeName =
  | NumericType
  | 'bool'
  | 'utf8'
  | 'binary'
  | `utf8[${number}]`
  | `datetime64[${DatetimeUnit}]`;

/** A field that may hold null: `{ type: 'int32', nullable: true }`. */
export interface TypedSpec {
  readonly type: TypeName;
  readonly nullable?: boolean;
}

/** What a schema literal may say about one field. */
export type FieldSpec = TypeName | TypedSpec | CategorySpec;

/** A schema literal: field name → field type, in column order. */
export type SchemaSpec = { readonly [name: string]: FieldSpec };

/** The JavaScript value of a type name. */
export type ValueOfType<F> =
  F extends 'int64' | 'uint64' ? bigint
  : F extends NumericType ? number
  : F extends 'bool' ? boolean
  : F extends 'utf8' | `utf8[${number}]` ? string
  : F extends 'binary' ? Uint8Array
  : F extends 'datetime64[s]' | 'datetime64[ms]' ? Date
  : F extends `datetime64[${DatetimeUnit}]` ? bigint
  : never;

/** The JavaScript value of one field of spec `F` (`| null` when nullable). */
export type ValueOf<F> =
  F extends { readonly category: readonly (infer V)[]; readonly nullable: true } ? V | null
  : F extends { readonly category: readonly (infer V)[] } ? V
  : F extends { readonly type: infer T; readonly nullable: true } ? ValueOfType<T> | null
  : F extends { readonly type: infer T } ? ValueOfType<T>
  : ValueOfType<F>;

/** The type name inside a field spec. */
type TypeOf<F> = F extends { readonly type: infer T } ? T : F;

/**
 * The typed array `column()` returns for a field of type `F`: its storage type
 * (bool and utf8[N] → Uint8Array, datetime64 → BigInt64Array, category → its codes).
 */
export type ColumnArray<G> = ColumnArrayOf<TypeOf<G>>;
type ColumnArrayOf<F> =
  F extends 'int8' ? Int8Array
  : F extends 'uint8' | 'bool' | `utf8[${number}]` ? Uint8Array
  : F extends 'int16' ? Int16Array
  : F extends 'uint16' ? Uint16Array
  : F extends 'int32' ? Int32Array
  : F extends 'uint32' ? Uint32Array
  : F extends 'int64' | `datetime64[${DatetimeUnit}]` ? BigInt64Array
  : F extends 'uint64' ? BigUint64Array
  : F extends 'float32' ? Float32Array
  : F extends 'float64' ? Float64Array
  : F extends CategorySpec ? Uint8Array | Uint16Array | Uint32Array
  : never;

/** The row object of schema spec `S`, e.g. `{ id: bigint; price: number }`. */
export type RowOf<S extends SchemaSpec> = { -readonly [K in keyof S]: ValueOf<S[K]> };

/**
 * Storage kinds: `'utf8'` is the fixed-width `utf8[N]`; `'string'` and
 * `'binary'` are the variable-length `utf8` and `binary` (Arrow views).
 */
export type FieldKind = NumericType | 'bool' | 'utf8' | 'string' | 'binary' | 'datetime64' | 'category';

/** One field of a {@link Schema}, with everything a reader needs to decode it. */
export interface Field {
  /** Field name, as in the schema literal. */
  readonly name: string;
  /** Canonical type: `'int64'`, `'utf8[8]'`, `'datetime64[ms]'` or `'category'`. */
  readonly type: string;
  readonly kind: FieldKind;
  /** Bytes per value (utf8[N]: N; category: 1, 2 or 4 for the codes; utf8/binary: 16, the view). */
  readonly size: number;
  /** Whether the field may hold null (a validity bitmap in 'columns' layout). */
  readonly nullable: boolean;
  /** utf8 and binary: values of any length, stored as Arrow views into a shared heap. */
  readonly variable: boolean;
  /** utf8[N]: N. */
  readonly width?: number;
  /** datetime64: its unit. */
  readonly unit?: DatetimeUnit;
  /** category: its values; a value's code is its index here. */
  readonly categories?: readonly string[];
  /** numpy dtype string of the stored bytes, e.g. `'<f8'`, `'S8'`, `'<M8[ms]'`, `'u1'` (`'V16'`: a view). */
  readonly dtype: string;
}

const NUMERIC: Record<NumericType, { size: number; dtype: string }> = {
  int8: { size: 1, dtype: 'i1' },
  uint8: { size: 1, dtype: 'u1' },
  int16: { size: 2, dtype: '<i2' },
  uint16: { size: 2, dtype: '<u2' },
  int32: { size: 4, dtype: '<i4' },
  uint32: { size: 4, dtype: '<u4' },
  int64: { size: 8, dtype: '<i8' },
  uint64: { size: 8, dtype: '<u8' },
  float32: { size: 4, dtype: '<f4' },
  float64: { size: 8, dtype: '<f8' },
};

/** Widest `utf8[N]`. Wider strings belong in a raw segment. */
export const MAX_UTF8_WIDTH = 65_536;
/** Most values one category field may have (codes then take 4 bytes). */
export const MAX_CATEGORIES = 1 << 20;
/** Longest field name, in UTF-16 code units. */
export const MAX_FIELD_NAME = 255;
/** Bytes of an Arrow view (utf8/binary): length, then 12 inline bytes or prefix, buffer index, offset. */
export const VIEW_BYTES = 16;
/** Most fields one schema may have. */
export const MAX_FIELDS = 1024;

/** `String#isWellFormed` (ES2024; Node 20 has it, the ES2022 lib typings do not). */
const isWellFormed = (s: string): boolean => (s as unknown as { isWellFormed(): boolean }).isWellFormed();

/**
 * A validated table schema. Build one with {@link defineSchema}; the type
 * parameter carries the literal so that rows are typed.
 */
export class Schema<S extends SchemaSpec = SchemaSpec> {
  /** Phantom: the schema literal's type (no runtime value). */
  declare readonly spec: S;
  /** Fields in column order. */
  readonly fields: readonly Field[];
  readonly #byName: Map<string, Field>;
  readonly #canonical: string;

  /** @internal use {@link defineSchema}. */
  constructor(fields: Field[]) {
    this.fields = Object.freeze(fields.map((f) => Object.freeze(f)));
    this.#byName = new Map(fields.map((f) => [f.name, f]));
    this.#canonical = JSON.stringify(fields.map(fieldJson));
    Object.freeze(this);
  }

  /** The field called `name`, or undefined. */
  field(name: string): Field | undefined {
    return this.#byName.get(name);
  }

  /** Whether `other` has the same fields, types and categories in the same order. */
  equals(other: Schema<SchemaSpec>): boolean {
    return other instanceof Schema && other.#canonical === this.#canonical;
  }

  /** JSON of the fields, as stored in a table header: `[{ name, type, nullable?, categories? }]`. */
  toJSON(): FieldJSON[] {
    return this.fields.map(fieldJson);
  }

  /** The schema literal back, e.g. `{ id: 'int64', venue: { category: [...] } }`. */
  toSpec(): SchemaSpec {
    const spec: Record<string, FieldSpec> = {};
    for (const f of this.fields) {
      const nul = f.nullable ? { nullable: true } : {};
      spec[f.name] = f.kind === 'category' ? { category: [...f.categories!], ...nul } : f.nullable ? { type: f.type as TypeName, nullable: true } : (f.type as FieldSpec);
    }
    return spec;
  }
}

/** One field as a table header stores it. */
export interface FieldJSON {
  name: string;
  type: string;
  nullable?: boolean;
  categories?: string[];
}

function fieldJson(f: Field): FieldJSON {
  const nul = f.nullable ? { nullable: true } : {};
  return f.kind === 'category' ? { name: f.name, type: 'category', ...nul, categories: [...f.categories!] } : { name: f.name, type: f.type, ...nul };
}

/**
 * Checks a schema literal and returns a {@link Schema} whose row type
 * TypeScript infers: `int64`/`uint64` → bigint, other numbers → number,
 * `bool` → boolean, `utf8` and `utf8[N]` → string, `binary` → Uint8Array,
 * `datetime64[s|ms]` → Date, `datetime64[us|ns]` → bigint, `{ category: [...] }`
 * → the union of its values. `{ type, nullable: true }` (or a category with
 * `nullable: true`) adds `null`.
 *
 * @throws TypeError on an unknown type, a bad width, an empty or duplicate
 *   category, or a bad field name (empty, longer than 255, `__proto__`)
 * @example
 * const Trade = defineSchema({ id: 'int64', price: { type: 'float64', nullable: true }, sym: 'utf8', venue: { category: ['XNYS', 'XNAS'] } });
 */
export function defineSchema<const S extends SchemaSpec>(spec: S): Schema<S> {
  if (typeof spec !== 'object' || spec === null || Array.isArray(spec)) throw invalidType('schema', 'an object', spec);
  const names = Object.keys(spec);
  if (names.length === 0) throw invalidValue('schema', 'must have at least one field');
  if (names.length > MAX_FIELDS) throw invalidValue('schema', `must have at most ${MAX_FIELDS} fields`);
  return new Schema<S>(names.map((name) => parseField(name, (spec as Record<string, unknown>)[name])));
}

/**
 * Builds a schema from header JSON (`[{ name, type, categories? }]`).
 * @throws TypeError as {@link defineSchema} does
 * @internal
 */
export function schemaFromJSON(json: unknown): Schema {
  if (!Array.isArray(json)) throw invalidType('schema', 'an array of fields', json);
  if (json.length === 0 || json.length > MAX_FIELDS) throw invalidValue('schema', `must have 1 to ${MAX_FIELDS} fields`);
  const seen = new Set<string>();
  const fields = json.map((f: unknown, i) => {
    if (typeof f !== 'object' || f === null) throw invalidType(`schema[${i}]`, 'an object', f);
    const { name, type, categories, nullable } = f as { name?: unknown; type?: unknown; categories?: unknown; nullable?: unknown };
    if (typeof name !== 'string') throw invalidType(`schema[${i}].name`, 'a string', name);
    if (seen.has(name)) throw invalidValue(`schema[${i}].name`, `repeats ${JSON.stringify(name)}`);
    seen.add(name);
    const nul = nullable === undefined ? {} : { nullable };
    return parseField(name, type === 'category' ? { category: categories, ...nul } : nullable === undefined ? type : { type, ...nul });
  });
  return new Schema(fields);
}

const UTF8 = /^utf8\[([1-9][0-9]{0,5})\]$/;
const DATETIME = /^datetime64\[(s|ms|us|ns)\]$/;

function parseField(name: string, spec: unknown): Field {
  let nullable = false;
  if (typeof spec === 'object' && spec !== null && !Array.isArray(spec) && 'nullable' in spec) {
    const n = (spec as { nullable: unknown }).nullable;
    if (typeof n !== 'boolean') throw invalidType(`field ${JSON.stringify(name)}.nullable`, 'a boolean', n);
    nullable = n;
  }
  if (typeof spec === 'object' && spec !== null && !Array.isArray(spec) && 'type' in spec) {
    const t = (spec as { type: unknown }).type;
    if (typeof t !== 'string') throw invalidType(`field ${JSON.stringify(name)}.type`, 'a type name', t);
    spec = t;
  }
  return { ...parseBase(name, spec), nullable } as Field;
}

function parseBase(name: string, spec: unknown): Omit<Field, 'nullable'> {
  if (name.length === 0 || name.length > MAX_FIELD_NAME) {
    throw invalidValue('field name', `must be 1 to ${MAX_FIELD_NAME} characters, got ${JSON.stringify(name.slice(0, 40))}`);
  }
  // Rows are plain objects built from the names: '__proto__' would set the prototype instead.
  if (name === '__proto__') throw invalidValue('field name', 'must not be "__proto__"');
  if (!isWellFormed(name)) throw invalidValue(`field name ${JSON.stringify(name)}`, 'must be well-formed UTF-16');
  const what = `field ${JSON.stringify(name)}`;
  if (typeof spec === 'string') {
    if (spec in NUMERIC && Object.hasOwn(NUMERIC, spec)) {
      const { size, dtype } = NUMERIC[spec as NumericType];
      return { name, type: spec, kind: spec as NumericType, size, dtype, variable: false };
    }
    if (spec === 'bool') return { name, type: 'bool', kind: 'bool', size: 1, dtype: '?', variable: false };
    if (spec === 'utf8') return { name, type: 'utf8', kind: 'string', size: VIEW_BYTES, dtype: 'V16', variable: true };
    if (spec === 'binary') return { name, type: 'binary', kind: 'binary', size: VIEW_BYTES, dtype: 'V16', variable: true };
    let m = UTF8.exec(spec);
    if (m) {
      const width = Number(m[1]);
      if (width > MAX_UTF8_WIDTH) throw invalidValue(what, `utf8 width must be 1 to ${MAX_UTF8_WIDTH}, got ${width}`);
      return { name, type: `utf8[${width}]`, kind: 'utf8', size: width, width, dtype: `S${width}`, variable: false };
    }
    m = DATETIME.exec(spec);
    if (m) {
      const unit = m[1] as DatetimeUnit;
      return { name, type: spec, kind: 'datetime64', size: 8, unit, dtype: `<M8[${unit}]`, variable: false };
    }
    throw invalidValue(what, `has unknown type ${JSON.stringify(spec.slice(0, 40))}`);
  }
  if (typeof spec === 'object' && spec !== null && 'category' in spec) {
    const values = (spec as { category: unknown }).category;
    if (!Array.isArray(values)) throw invalidType(`${what}.category`, 'an array of strings', values);
    if (values.length === 0 || values.length > MAX_CATEGORIES) {
      throw invalidValue(`${what}.category`, `must have 1 to ${MAX_CATEGORIES} values`);
    }
    const seen = new Set<string>();
    for (const v of values) {
      if (typeof v !== 'string') throw invalidType(`${what}.category values`, 'strings', v);
      if (!isWellFormed(v)) throw invalidValue(`${what}.category`, 'values must be well-formed UTF-16');
      if (seen.has(v)) throw invalidValue(`${what}.category`, `repeats ${JSON.stringify(v)}`);
      seen.add(v);
    }
    const size = values.length <= 0x100 ? 1 : values.length <= 0x10000 ? 2 : 4;
    return {
      name,
      type: 'category',
      kind: 'category',
      size,
      categories: Object.freeze([...values]) as readonly string[],
      dtype: size === 1 ? 'u1' : `<u${size}`,
      variable: false,
    };
  }
  throw invalidType(what, "a type name, { type, nullable } or { category: [...] }", spec);
}
