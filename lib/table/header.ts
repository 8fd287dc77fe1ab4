/**
 * The self-describing header of a record table segment: where every byte of
 * the table lives, written once at create, parsed and validated at attach.
 * @internal
 */
import { ShmError } from '../errors';
import { TABLE_MAGIC } from '../magic';
import { schemaFromJSON, type Schema } from './schema';

/** Format version this code writes and the only one it reads. */
export const FORMAT_VERSION = 2;
/** Bytes of per-row state (see append.ts). */
export const STATE_BYTES = 8;
/** Most rows a table may hold: the slot counters are Int32 words (Atomics on them are cheap, no BigInt). */
export const MAX_CAPACITY = 0x7fff_ffff;
/** Largest header (schema JSON with a big category dictionary included). */
export const MAX_HEADER = 64 << 20;

/** Byte offsets of the fixed header words. */
export const OFF = {
  magic: 0,
  version: 8,
  layout: 12,
  headerLength: 16,
  schemaLength: 20,
  capacity: 24,
  rowSize: 28,
  stateOffset: 32,
  dataOffset: 40,
  end: 48,
  /** Int32, own cache line: the next free slot; advanced with compareExchange. */
  reserved: 64,
  /** Int32, own cache line: rows [0, committed) are all fully written. */
  committed: 128,
  /** Int32: how many slots are void (any reader can skip building a validity mask while it is 0). */
  voids: 160,
  schema: 192,
} as const;

const ALIGN = 64;
const LAYOUT_CODE = { columns: 1, rows: 2 } as const;

/** Where a table's bytes live, as parsed from (or written into) its header. */
export interface TableLayout {
  version: number;
  layout: 'columns' | 'rows';
  /** Bytes of header; the first data area starts at or after it. */
  headerLength: number;
  capacity: number;
  /** Sum of the field sizes; the record size (numpy itemsize) in 'rows' layout. */
  rowSize: number;
  /** Start of the Int32 per-row commit states. */
  stateOffset: number;
  /** 'rows': start of record 0. 'columns': start of the first column. */
  dataOffset: number;
  /** Bytes the table uses, at most the segment's size. */
  end: number;
  schema: Schema;
  /** Per field, in schema order: 'columns' → absolute byte offset of the column; 'rows' → offset in the record. */
  offsets: number[];
}

const roundUp = (n: number, a: number) => Math.ceil(n / a) * a;

/**
 * Lays out a new table: header, then the commit states, then the data.
 * 'columns' puts each column on a 64-byte boundary; 'rows' packs the fields
 * with no padding, at numpy's packed structured-dtype offsets.
 * @internal
 */
export function planLayout(schema: Schema, layout: 'columns' | 'rows', capacity: number): { plan: TableLayout; json: Uint8Array } {
  const rowSize = schema.fields.reduce((s, f) => s + f.size, 0);
  let offsets: number[] = [];
  if (layout === 'rows') {
    let o = 0;
    offsets = schema.fields.map((f) => ((o += f.size), o - f.size));
  }
  // The JSON holds the offsets, whose digits change its length: place columns
  // after a header sized with worst-case (16-digit) offsets.
  const worst = encodeSchema(schema, schema.fields.map(() => 2 ** 53 - 1));
  const headerLength = roundUp(OFF.schema + worst.length, ALIGN);
  const stateOffset = headerLength;
  const dataOffset = roundUp(stateOffset + STATE_BYTES * capacity, ALIGN);
  let end: number;
  if (layout === 'rows') {
    end = dataOffset + capacity * rowSize;
  } else {
    let o = dataOffset;
    offsets = schema.fields.map((f) => {
      const at = o;
      o = roundUp(o + capacity * f.size, ALIGN);
      return at;
    });
    end = o;
  }
  const json = encodeSchema(schema, offsets);
  const plan: TableLayout = { version: FORMAT_VERSION, layout, headerLength, capacity, rowSize, stateOffset, dataOffset, end, schema, offsets };
  return { plan, json };
}

function encodeSchema(schema: Schema, offsets: number[]): Uint8Array {
  const fields = schema.toJSON().map((f, i) => ({ ...f, offset: offsets[i] }));
  return new TextEncoder().encode(JSON.stringify(fields));
}

/*
 * Header byte layout, format version 2 (version 1 had 4-byte row states). All integers little-endian.
 *
 *   offset  size  content
 *        0     8  magic "SHMKTBL\0" (written last, so a half-made table is not one)
 *        8     4  u32 format version (2)
 *       12     4  u32 layout: 1 = 'columns', 2 = 'rows'
 *       16     4  u32 header length H: multiple of 64; no data area starts before it
 *       20     4  u32 schema JSON length J
 *       24     4  u32 capacity, in rows (≤ 2^31 - 1)
 *       28     4  u32 row size: sum of field sizes (numpy itemsize in 'rows' layout)
 *       32     8  u64 state offset: capacity × 8-byte row states (see append.ts), 8-aligned
 *       40     8  u64 data offset: 'rows' → record 0; 'columns' → first column
 *       48     8  u64 end: bytes the table uses (≤ segment size)
 *       56     8  zero
 *       64     4  i32 reserved: next free slot (own cache line, compareExchange)
 *      128     4  i32 committed: rows [0, committed) are fully written (own cache line)
 *      160     4  i32 voids: ≥ the slots made VOID so far, 0 only if none (append.ts)
 *      192     J  schema, UTF-8 JSON: [{ "name", "type", "categories"?, "offset" }, …]
 *                 type: int8 … float64, bool, utf8[N], datetime64[unit], category
 *                 offset: 'columns' → absolute byte offset of the column (64-aligned);
 *                         'rows' → byte offset of the field inside a record
 *   H … end       commit states, then the data
 *
 * Python's python/shmkit/numpy_reader.py parses the same bytes; change both together.
 */

/**
 * Writes the header of `plan` into `bytes` (the start of a fresh, zeroed segment).
 * @internal
 */
export function writeHeader(bytes: Uint8Array, plan: TableLayout, json: Uint8Array): void {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, plan.headerLength);
  dv.setUint32(OFF.version, plan.version, true);
  dv.setUint32(OFF.layout, LAYOUT_CODE[plan.layout], true);
  dv.setUint32(OFF.headerLength, plan.headerLength, true);
  dv.setUint32(OFF.schemaLength, json.length, true);
  dv.setUint32(OFF.capacity, plan.capacity, true);
  dv.setUint32(OFF.rowSize, plan.rowSize, true);
  dv.setBigUint64(OFF.stateOffset, BigInt(plan.stateOffset), true);
  dv.setBigUint64(OFF.dataOffset, BigInt(plan.dataOffset), true);
  dv.setBigUint64(OFF.end, BigInt(plan.end), true);
  bytes.set(json, OFF.schema);
  bytes.set(TABLE_MAGIC, OFF.magic);
}

function bad(reason: string, cause?: unknown): ShmError {
  return new ShmError('ERR_SHM_BAD_HEADER', `bad table header: ${reason}`, cause === undefined ? undefined : { cause });
}

/**
 * Parses and validates a table header against the segment's real size.
 * Every offset it returns, and every view built from them, lies inside
 * `[0, segmentSize)`; areas never overlap.
 *
 * @param bytes the segment's bytes (at least its header)
 * @param segmentSize the segment's size from fstat
 * @throws `ERR_SHM_BAD_HEADER` with the reason; never another error
 * @internal
 */
export function parseHeader(bytes: Uint8Array, segmentSize: number): TableLayout {
  if (segmentSize < OFF.schema || bytes.length < OFF.schema) {
    throw bad(`the segment is ${segmentSize} bytes, smaller than a table header (${OFF.schema})`);
  }
  for (let i = 0; i < TABLE_MAGIC.length; i++) {
    if (bytes[i] !== TABLE_MAGIC[i]) throw bad('wrong magic (not a shmkit table)');
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const version = dv.getUint32(OFF.version, true);
  if (version !== FORMAT_VERSION) throw bad(`unknown format version ${version} (this shmkit reads ${FORMAT_VERSION})`);
  const code = dv.getUint32(OFF.layout, true);
  const layout = code === 1 ? 'columns' : code === 2 ? 'rows' : undefined;
  if (layout === undefined) throw bad(`unknown layout code ${code}`);
  const headerLength = dv.getUint32(OFF.headerLength, true);
  const schemaLength = dv.getUint32(OFF.schemaLength, true);
  const capacity = dv.getUint32(OFF.capacity, true);
  const rowSize = dv.getUint32(OFF.rowSize, true);
  const u64 = (off: number, what: string) => {
    const v = dv.getBigUint64(off, true);
    if (v > BigInt(segmentSize)) throw bad(`${what} ${v} is beyond the segment's ${segmentSize} bytes`);
    return Number(v);
  };
  const stateOffset = u64(OFF.stateOffset, 'state offset');
  const dataOffset = u64(OFF.dataOffset, 'data offset');
  const end = u64(OFF.end, 'end');

  if (headerLength % ALIGN !== 0 || headerLength < OFF.schema || headerLength > MAX_HEADER) {
    throw bad(`header length ${headerLength} is not a multiple of ${ALIGN} from ${OFF.schema} to ${MAX_HEADER}`);
  }
  if (headerLength > segmentSize || headerLength > bytes.length) {
    throw bad(`header length ${headerLength} is beyond the segment's ${segmentSize} bytes`);
  }
  if (schemaLength === 0 || OFF.schema + schemaLength > headerLength) {
    throw bad(`schema length ${schemaLength} does not fit in the ${headerLength}-byte header`);
  }
  if (capacity < 1 || capacity > MAX_CAPACITY) throw bad(`capacity ${capacity} is not from 1 to ${MAX_CAPACITY}`);

  let fieldsJson: unknown;
  try {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(OFF.schema, OFF.schema + schemaLength));
    fieldsJson = JSON.parse(text);
  } catch (err) {
    throw bad(`the schema is not UTF-8 JSON (${(err as Error).message})`, err);
  }
  let schema: Schema;
  try {
    schema = schemaFromJSON(fieldsJson);
  } catch (err) {
    throw bad(`invalid schema: ${(err as Error).message}`, err);
  }
  const offsets = (fieldsJson as { offset?: unknown }[]).map((f, i) => {
    const o = f.offset;
    if (typeof o !== 'number' || !Number.isSafeInteger(o) || o < 0) {
      throw bad(`field ${JSON.stringify(schema.fields[i]!.name)} has no valid offset`);
    }
    return o;
  });
  const sum = schema.fields.reduce((s, f) => s + f.size, 0);
  if (rowSize !== sum) throw bad(`row size ${rowSize} is not the sum of the field sizes (${sum})`);

  if (end > segmentSize) throw bad(`end ${end} is beyond the segment's ${segmentSize} bytes`);
  // Areas the table claims: [start, stop, what]. Each must sit inside
  // [headerLength, end) and none may overlap another.
  const areas: [number, number, string][] = [];
  if (stateOffset % 8 !== 0) throw bad(`state offset ${stateOffset} is not 8-byte aligned`);
  areas.push([stateOffset, stateOffset + STATE_BYTES * capacity, 'row states']);
  if (layout === 'rows') {
    areas.push([dataOffset, dataOffset + capacity * rowSize, 'records']);
    const inRecord: [number, number, string][] = schema.fields.map((f, i) => [offsets[i]!, offsets[i]! + f.size, `field ${JSON.stringify(f.name)}`]);
    for (const [, stop, what] of inRecord) {
      if (stop > rowSize) throw bad(`${what} ends at byte ${stop} of a ${rowSize}-byte record`);
    }
    checkDisjoint(inRecord, 'in the record');
  } else {
    schema.fields.forEach((f, i) => {
      const o = offsets[i]!;
      if (o % ALIGN !== 0) throw bad(`column ${JSON.stringify(f.name)} offset ${o} is not ${ALIGN}-byte aligned`);
      areas.push([o, o + capacity * f.size, `column ${JSON.stringify(f.name)}`]);
    });
  }
  for (const [start, stop, what] of areas) {
    if (start < headerLength) throw bad(`${what} starts at ${start}, inside the ${headerLength}-byte header`);
    if (stop > end) throw bad(`${what} ends at ${stop}, beyond the table's end ${end} (segment ${segmentSize} bytes)`);
  }
  checkDisjoint(areas, 'in the segment');

  const reserved = dv.getInt32(OFF.reserved, true);
  const committed = dv.getInt32(OFF.committed, true);
  if (reserved < 0 || reserved > capacity) throw bad(`reserved count ${reserved} is not from 0 to capacity ${capacity}`);
  if (committed < 0 || committed > reserved) throw bad(`committed length ${committed} is not from 0 to reserved ${reserved}`);

  return { version, layout, headerLength, capacity, rowSize, stateOffset, dataOffset, end, schema, offsets };
}

function checkDisjoint(areas: [number, number, string][], where: string): void {
  const sorted = [...areas].sort((a, b) => a[0] - b[0]);
  for (let i = 1; i < sorted.length; i++) {
    const prev = sorted[i - 1]!;
    const cur = sorted[i]!;
    if (cur[0] < prev[1]) throw bad(`${cur[2]} overlaps ${prev[2]} ${where}`);
  }
}
