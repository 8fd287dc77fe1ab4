/**
 * The generated code of a record table: per schema, straight-line functions
 * that validate, store and load rows, so that RecordTable's hot paths do no
 * per-field dispatch and allocate only the row object.
 * @internal
 */
import { types } from 'node:util';
import { ShmError, invalidType } from '../errors';
import type { TableLayout } from './header';
import { SLICE } from './layout';
import type { Field } from './schema';

/** What a schema's generated code offers: per-field converters, plus row-level fast paths. */
export interface Codec {
  /** Validates and converts field k's JS value to its stored form (NUL for a nullable field's null); throws ShmError. */
  cv: ((v: unknown) => unknown)[];
  /**
   * Stores a converted value of field k into slot i. utf8/binary take its
   * byte length n and, when n > 12, where its bytes go in the heap (h).
   */
  st: ((i: number, x: unknown, n?: number, h?: number) => void)[];
  /** Loads field k of slot i as a JS value (null for a null). */
  ld: ((i: number) => unknown)[];
  /** utf8/binary fields: byte length of a converted value (0 for NUL); other fields: undefined. */
  len: (((x: unknown) => number) | undefined)[];
  /** append(row) → slot, in one generated function. */
  append(row: unknown): number;
  /** get(i) → row object. */
  read(i: number): Record<string, unknown>;
  /** Validates a row; writes nothing. Returns the heap bytes its long utf8/binary values need, per value, pushed onto `need`. */
  check(row: unknown, need?: number[]): void;
  /** Validates and writes a row into slot i, long utf8/binary values at heap positions from `heap`. */
  put(i: number, row: unknown, heap: HeapCursor): void;
}

/** The marker a nullable field's converter returns for null/undefined. */
export const NUL: unique symbol = Symbol('null');

/** Heap positions handed out in order, from chunks allocated before the rows were reserved (bulk.ts). */
export interface HeapCursor {
  take(n: number): number;
}

/** The append protocol and the heap as the generated code uses them (see append.ts, grow.ts). */
export interface Engine {
  /** Reserves and claims n rows; returns the first. */
  reserve(n: number): number;
  /** Publishes the row begun at s; false if it was voided meanwhile (write it again). */
  commit(s: number): boolean;
  /** Hands out n heap bytes (12 < n ≤ a slice) with memory; throws ERR_SHM_TABLE_FULL or ENOSPC. */
  heap(n: number): number;
  /** Heap bytes with memory: every view a reader follows must end below it. */
  heapReady(): number;
}

export function valueError(field: Field, v: unknown, reason: string): ShmError {
  if (v === undefined) return new ShmError('ERR_SHM_VALUE', `field ${JSON.stringify(field.name)} is missing`);
  const shown = typeof v === 'bigint' ? `${v}n` : typeof v === 'string' ? JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v) : types.isDate(v) ? `Date(${(v as Date).getTime()})` : typeof v === 'object' && v !== null ? (Array.isArray(v) ? 'an array' : 'an object') : String(v);
  return new ShmError('ERR_SHM_VALUE', `field ${JSON.stringify(field.name)} (${field.type}) ${reason}, got ${shown}`);
}

const INT_CHECK: Record<string, string> = {
  int8: '(v << 24 >> 24) !== v',
  uint8: '(v & 0xff) !== v',
  int16: '(v << 16 >> 16) !== v',
  uint16: '(v & 0xffff) !== v',
  int32: '(v | 0) !== v',
  uint32: '(v >>> 0) !== v',
};
const INT_RANGE: Record<string, string> = {
  int8: 'an integer from -128 to 127',
  uint8: 'an integer from 0 to 255',
  int16: 'an integer from -32768 to 32767',
  uint16: 'an integer from 0 to 65535',
  int32: 'an integer from -2147483648 to 2147483647',
  uint32: 'an integer from 0 to 4294967295',
};
const DV_SUFFIX: Record<string, string> = {
  int8: 'Int8', uint8: 'Uint8', int16: 'Int16', uint16: 'Uint16', int32: 'Int32', uint32: 'Uint32',
  int64: 'BigInt64', uint64: 'BigUint64', float32: 'Float32', float64: 'Float64', bool: 'Uint8', datetime64: 'BigInt64',
};
const ARRAY_OF: Record<string, new (b: ArrayBufferLike, o: number, n: number) => ArrayBufferView & ArrayLike<unknown>> = {
  int8: Int8Array, uint8: Uint8Array, int16: Int16Array, uint16: Uint16Array, int32: Int32Array, uint32: Uint32Array,
  int64: BigInt64Array, uint64: BigUint64Array, float32: Float32Array, float64: Float64Array, bool: Uint8Array,
  datetime64: BigInt64Array,
};
/** Typed array class holding a field's stored values (category: its codes). */
export function storageArray(f: Field): new (b: ArrayBufferLike, o: number, n: number) => ArrayBufferView & ArrayLike<unknown> {
  if (f.kind === 'category') return f.size === 1 ? Uint8Array : f.size === 2 ? Uint16Array : Uint32Array;
  return ARRAY_OF[f.kind]!;
}

/*
 * Strings go in and out by TextEncoder/TextDecoder (and a loop for short
 * ASCII), not Buffer's utf8Write/utf8Slice: Node's fast path for those
 * aborts the process on a buffer over 4 GiB (Node ≥ 22 maps such segments).
 */
const TD = new TextDecoder();
const TE = new TextEncoder();

/** UTF-8 bytes U8[p, e) as a string (malformed bytes become U+FFFD). */
export function decodeUtf8(U8: Uint8Array, p: number, e: number): string {
  if (e - p <= 24) {
    let s = '';
    for (let j = p; j < e; j++) {
      const c = U8[j]!;
      if (c > 127) return TD.decode(U8.subarray(p, e));
      s += String.fromCharCode(c);
    }
    return s;
  }
  return TD.decode(U8.subarray(p, e));
}

/** Writes string x, whose UTF-8 is n bytes, at U8[at]. */
export function encodeUtf8(x: string, U8: Uint8Array, at: number, n: number): void {
  if (x.length === n && n <= 32) {
    for (let j = 0; j < n; j++) U8[at + j] = x.charCodeAt(j);
  } else {
    TE.encodeInto(x, U8.subarray(at, at + n));
  }
}

/**
 * Generates the codec of one table once: straight-line code per schema, so
 * the hot paths do no per-field dispatch and allocate only the row object.
 */
export function buildCodec(plan: TableLayout, buffer: ArrayBufferLike, engine: Engine): Codec {
  const { schema, layout, capacity, dataOffset, rowSize, offsets, validity, heapOffset } = plan;
  const fields = schema.fields;
  const bits = (at: number) => new Int32Array(buffer, at, Math.ceil(capacity / 32));
  const env: Record<string, unknown> = {
    U8: new Uint8Array(buffer),
    dec: (U8: Uint8Array, p: number, e: number): string => decodeUtf8(U8, p, e),
    wstr: (x: string, U8: Uint8Array, at: number, n: number): void => encodeUtf8(x, U8, at, n),
    DV: new DataView(buffer),
    ENC: new TextEncoder(),
    NUL,
    HEAP: heapOffset,
    SLICE,
    byteLen: (x: string) => Buffer.byteLength(x, 'utf8'),
    isDate: types.isDate,
    getTime: Date.prototype.getTime,
    E: engine,
    bad: (k: number, v: unknown, reason: string) => {
      throw valueError(fields[k]!, v, reason);
    },
    tooLong: (k: number, v: string) => {
      const f = fields[k]!;
      throw new ShmError(
        'ERR_SHM_STRING_TOO_LONG',
        `field ${JSON.stringify(f.name)} (${f.type}) holds ${f.width} bytes of UTF-8; ${JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v)} needs ${Buffer.byteLength(v)}`,
      );
    },
    tooBig: (k: number, n: number) => {
      throw new ShmError('ERR_SHM_VALUE', `field ${JSON.stringify(fields[k]!.name)} (${fields[k]!.type}) holds at most ${Math.min(SLICE, plan.heapSize)} bytes a value, got ${n}`);
    },
    notRow: (v: unknown) => {
      throw invalidType('row', 'an object', v);
    },
    badCode: (k: number, i: number, c: number) => {
      throw new ShmError('ERR_SHM_VALUE', `row ${i} field ${JSON.stringify(fields[k]!.name)} holds code ${c}, outside its ${fields[k]!.categories!.length} categories`);
    },
    badView: (k: number, i: number) => {
      throw new ShmError('ERR_SHM_VALUE', `row ${i} field ${JSON.stringify(fields[k]!.name)} holds a view outside the table's heap (bytes written by something other than shmkit)`);
    },
  };
  const maxValue = Math.min(SLICE, plan.heapSize);
  const src: string[] = [];
  fields.forEach((f, k) => {
    const cols = layout === 'columns';
    // Where slot i's value of field k starts, in bytes from the segment start.
    const at = cols ? `(${offsets[k]} + i * ${f.size})` : `(${dataOffset + offsets[k]!} + i * ${rowSize})`;
    if (cols && f.kind !== 'utf8' && !f.variable && f.kind !== 'bool') env[`A${k}`] = new (storageArray(f))(buffer, offsets[k]!, capacity);
    if (validity[k]! >= 0) env[`V${k}`] = bits(validity[k]!);
    const dvSet = (x: string) => `DV.set${DV_SUFFIX[f.kind]}(${at}, ${x}, true)`;
    const dvGet = `DV.get${DV_SUFFIX[f.kind]}(${at}, true)`;
    const store = (x: string) => (cols ? `A${k}[i] = ${x}` : dvSet(x));
    const load = cols ? `A${k}[i]` : dvGet;
    let cv: string;
    let st = store('x');
    let ld = load;
    let len: string | undefined;
    switch (f.kind) {
      case 'int8': case 'uint8': case 'int16': case 'uint16': case 'int32': case 'uint32':
        cv = `if (typeof v !== 'number' || ${INT_CHECK[f.kind]}) bad(${k}, v, 'must be ${INT_RANGE[f.kind]}'); return v;`;
        if (!cols && f.size === 1) st = `DV.set${DV_SUFFIX[f.kind]}(${at}, x)`, ld = `DV.get${DV_SUFFIX[f.kind]}(${at})`;
        break;
      case 'int64':
        cv = `if (typeof v !== 'bigint' || v < -0x8000000000000000n || v > 0x7fffffffffffffffn) bad(${k}, v, 'must be a bigint from -2^63 to 2^63-1'); return v;`;
        break;
      case 'uint64':
        cv = `if (typeof v !== 'bigint' || v < 0n || v > 0xffffffffffffffffn) bad(${k}, v, 'must be a bigint from 0 to 2^64-1'); return v;`;
        break;
      case 'float32': case 'float64':
        cv = `if (typeof v !== 'number') bad(${k}, v, 'must be a number'); return v;`;
        break;
      case 'bool':
        cv = `if (typeof v !== 'boolean') bad(${k}, v, 'must be a boolean'); return v ? 1 : 0;`;
        if (cols) {
          // Arrow's bit-packed booleans: bit i of the region, LSB first. Rows
          // share bytes, so bits change by atomic or/and of their Int32 word.
          env[`B${k}`] = bits(offsets[k]!);
          st = `if (x) Atomics.or(B${k}, i >> 5, 1 << (i & 31)); else if ((B${k}[i >> 5] >>> (i & 31)) & 1) Atomics.and(B${k}, i >> 5, ~(1 << (i & 31)))`;
          ld = `((B${k}[i >> 5] >>> (i & 31)) & 1) !== 0`;
        } else {
          st = `DV.setUint8(${at}, x)`;
          ld = `DV.getUint8(${at}) !== 0`;
        }
        break;
      case 'datetime64':
        if (f.unit === 's' || f.unit === 'ms') {
          const scale = f.unit === 's' ? 1000 : 1;
          cv = `if (!isDate(v)) bad(${k}, v, 'must be a Date'); const t = getTime.call(v);
            if (t !== t) bad(${k}, v, 'must be a valid Date');
            ${scale === 1 ? '' : `if (t % 1000 !== 0) bad(${k}, v, 'must be a whole number of seconds (no silent rounding)');`}
            return BigInt(t${scale === 1 ? '' : ' / 1000'});`;
          ld = `new Date(Number(${load})${scale === 1 ? '' : ' * 1000'})`;
        } else {
          cv = `if (typeof v !== 'bigint' || v < -0x8000000000000000n || v > 0x7fffffffffffffffn) bad(${k}, v, 'must be a bigint (${f.unit} since 1970) from -2^63 to 2^63-1'); return v;`;
        }
        break;
      case 'category': {
        env[`MAP${k}`] = new Map(f.categories!.map((c, i) => [c, i]));
        env[`CAT${k}`] = f.categories;
        cv = `const c = MAP${k}.get(v); if (c === undefined) bad(${k}, v, 'must be one of its ${f.categories!.length} categories'); return c;`;
        const sfx = f.size === 1 ? 'Uint8' : f.size === 2 ? 'Uint16' : 'Uint32';
        if (!cols) {
          st = f.size === 1 ? `DV.setUint8(${at}, x)` : `DV.set${sfx}(${at}, x, true)`;
          ld = f.size === 1 ? `DV.getUint8(${at})` : `DV.get${sfx}(${at}, true)`;
        }
        ld = `const c = ${ld}; return c < ${f.categories!.length} ? CAT${k}[c] : badCode(${k}, i, c);`;
        break;
      }
      case 'utf8': {
        const n = f.width!;
        env[`S${k}`] = new Uint8Array(n);
        cv = `if (typeof v !== 'string') bad(${k}, v, 'must be a string');
          if (!v.isWellFormed()) bad(${k}, v, 'must be well-formed UTF-16 (a lone surrogate cannot be stored)');
          if (v.indexOf('\\0') !== -1) bad(${k}, v, 'must not contain NUL (strings are NUL-padded)');
          const r = ENC.encodeInto(v, S${k}); if (r.read !== v.length) tooLong(${k}, v); return r.written;`;
        st = `const p = ${at}; let j = 0; for (; j < x; j++) U8[p + j] = S${k}[j]; for (; j < ${n}; j++) U8[p + j] = 0;`;
        ld = `const p = ${at}; let e = p; while (e < p + ${n} && U8[e] !== 0) e++; return e === p ? '' : dec(U8, p, e);`;
        break;
      }
      case 'string': case 'binary': {
        // An Arrow view (layout.ts): length, then ≤ 12 bytes inline or the
        // first 4 bytes, slice index and offset of the bytes in the heap.
        // The length goes last, by an atomic store: a view read at any time
        // (a writer killed midway) is a valid one, if not yet the final one.
        env[`W${k}`] = new Int32Array(buffer, offsets[k]!, 4 * capacity);
        const str = f.kind === 'string';
        cv = str
          ? `if (typeof v !== 'string') bad(${k}, v, 'must be a string');
             if (!v.isWellFormed()) bad(${k}, v, 'must be well-formed UTF-16 (a lone surrogate cannot be stored)'); return v;`
          : `if (!ArrayBuffer.isView(v)) bad(${k}, v, 'must be a Uint8Array (or another ArrayBufferView)');
             return v instanceof Uint8Array ? v : new Uint8Array(v.buffer, v.byteOffset, v.byteLength);`;
        len = str ? `const n = byteLen(x); if (n > ${maxValue}) tooBig(${k}, n); return n;` : `const n = x.length; if (n > ${maxValue}) tooBig(${k}, n); return n;`;
        const put = (dst: string) => (str ? `wstr(x, U8, ${dst}, n)` : `U8.set(x, ${dst})`);
        st = `const p = ${offsets[k]} + i * 16;
          if (n <= 12) { if (n > 0) ${put('p + 4')}; }
          else { ${put('h')}; U8[p + 4] = U8[h]; U8[p + 5] = U8[h + 1]; U8[p + 6] = U8[h + 2]; U8[p + 7] = U8[h + 3];
                 const r = h - HEAP; W${k}[4 * i + 2] = (r / SLICE) | 0; W${k}[4 * i + 3] = r % SLICE; }
          Atomics.store(W${k}, 4 * i, n)`;
        const slice = (a: string, b: string) => (str ? `dec(U8, ${a}, ${b})` : `U8.slice(${a}, ${b})`);
        ld = `const n = W${k}[4 * i]; const p = ${offsets[k]} + i * 16;
          if (n <= 12) return n > 0 ? ${slice('p + 4', 'p + 4 + n')} : n === 0 ? ${str ? "''" : 'new Uint8Array(0)'} : badView(${k}, i);
          const b = W${k}[4 * i + 2], o = W${k}[4 * i + 3], a = HEAP + b * SLICE + o;
          if (b < 0 || o < 0 || o + n > SLICE || a + n > HEAP + E.heapReady()) badView(${k}, i);
          return ${slice('a', 'a + n')};`;
        break;
      }
    }
    if (f.nullable) {
      cv = `if (v === null || v === undefined) return NUL; ${cv}`;
      st = `if (x === NUL) return; ${st}; Atomics.or(V${k}, i >> 5, 1 << (i & 31))`;
      if (len) len = `if (x === NUL) return 0; ${len}`;
      const body = ld.startsWith('const') || ld.startsWith('if') ? ld : `return ${ld};`;
      ld = `if (((V${k}[i >> 5] >>> (i & 31)) & 1) === 0) return null; ${body}`;
    }
    if (!/^(const|if|return)/.test(ld)) ld = `return ${ld};`;
    src.push(`function cv${k}(v) { ${cv} }`, `function st${k}(i, x, n, h) { ${st}; }`, `function ld${k}(i) { ${ld} }`);
    src.push(len ? `function len${k}(x) { ${len} }` : `const len${k} = undefined;`);
  });
  const key = (f: Field) => JSON.stringify(f.name);
  const all = (fn: (f: Field, k: number) => string, sep = '\n') => fields.map(fn).join(sep);
  const vars = fields.map((f, k) => (f.variable ? k : -1)).filter((k) => k >= 0);
  const each = (fn: (k: number) => string) => vars.map(fn).join('\n');
  src.push(
    `function append(row) {
      if (typeof row !== 'object' || row === null) notRow(row);
      ${all((f, k) => `const v${k} = row[${key(f)}];`)}
      ${all((_f, k) => `const x${k} = cv${k}(v${k});`)}
      ${each((k) => `const n${k} = len${k}(x${k});`)}
      for (;;) {
        ${each((k) => `const h${k} = n${k} > 12 ? E.heap(n${k}) : 0;`)}
        const i = E.reserve(1);
        ${all((f, k) => (f.variable ? `st${k}(i, x${k}, n${k}, h${k});` : `st${k}(i, x${k});`))}
        if (E.commit(i)) return i;
      }
    }`,
    `function check(row, need) {
      if (typeof row !== 'object' || row === null) notRow(row);
      ${all((f, k) => (f.variable ? `{ const n = len${k}(cv${k}(row[${key(f)}])); if (need !== undefined && n > 12) need.push(n); }` : `cv${k}(row[${key(f)}]);`))}
    }`,
    `function put(i, row, heap) {
      ${all((f, k) => `const x${k} = cv${k}(row[${key(f)}]);`)}
      ${each((k) => `const n${k} = len${k}(x${k});`)}
      ${all((f, k) => (f.variable ? `st${k}(i, x${k}, n${k}, n${k} > 12 ? heap.take(n${k}) : 0);` : `st${k}(i, x${k});`))}
    }`,
    `function read(i) { return { ${all((f, k) => `${key(f)}: ld${k}(i)`, ', ')} }; }`,
    `return { append, check, put, read,
      cv: [${all((_f, k) => `cv${k}`, ', ')}], st: [${all((_f, k) => `st${k}`, ', ')}], ld: [${all((_f, k) => `ld${k}`, ', ')}],
      len: [${all((_f, k) => `len${k}`, ', ')}] };`,
  );
  const names = Object.keys(env);
  // eslint-disable-next-line @typescript-eslint/no-implied-eval
  return new Function(...names, `'use strict';\n${src.join('\n')}`)(...names.map((n) => env[n])) as Codec;
}
