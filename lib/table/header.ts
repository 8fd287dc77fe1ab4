/**
 * The self-describing header of a record table segment: where every byte of
 * the table lives, written once at create, parsed and validated at attach.
 * @internal
 */
import { ShmError } from '../errors';
import { TABLE_MAGIC } from '../magic';
import { schemaFromJSON, type Schema } from './schema';
import { ALIGN, FLAG_GROWABLE, FORMAT_VERSION, MAX_CAPACITY, MAX_HEADER, MAX_VIEW_ROWS, OFF, SLICE, regionBytes, roundUp, rowRegions, type TableLayout } from './layout';

export { FORMAT_VERSION, MAX_CAPACITY, MAX_HEADER, OFF, STATE_BYTES, planLayout } from './layout';
export type { TableLayout } from './layout';

const LAYOUT_CODE = { columns: 1, rows: 2 } as const;

/** Header bytes for `schema`: the JSON holds offsets whose digits vary, so it is sized for 16-digit ones. */
export function headerBytes(schema: Schema): number {
  const worst = encodeSchema(schema, schema.fields.map(() => 2 ** 53 - 1), schema.fields.map(() => 2 ** 53 - 1));
  return roundUp(OFF.schema + worst.length, ALIGN);
}

/** The schema JSON of a header: each field with its offset (and validity offset). */
export function encodeSchema(schema: Schema, offsets: readonly number[], validity: readonly number[]): Uint8Array {
  const fields = schema.toJSON().map((f, i) => ({ ...f, offset: offsets[i], ...(validity[i]! >= 0 ? { validity: validity[i] } : {}) }));
  return new TextEncoder().encode(JSON.stringify(fields));
}

/*
 * Header byte layout, format version 3 (2 had no nullable, variable-length
 * or growable tables; 1 had 4-byte row states). All integers little-endian.
 *
 *   offset  size  content
 *        0     8  magic "SHMKTBL\0" (written last, so a half-made table is not one)
 *        8     4  u32 format version (3)
 *       12     4  u32 layout: 1 = 'columns', 2 = 'rows'
 *       16     4  u32 header length H: multiple of 64; no data area starts before it
 *       20     4  u32 schema JSON length J
 *       24     4  u32 flags: bit 0 = growable (created without a capacity)
 *       28     4  u32 row size: sum of field sizes (numpy itemsize in 'rows' layout)
 *       32     8  u64 max rows M: the capacity, or the rows a growable table has room for
 *       40     8  u64 state offset: M × 8-byte row states (see append.ts)
 *       48     8  u64 data offset: 'rows' → record 0; 'columns' → first column region
 *       56     8  u64 heap offset (64-aligned; 0 without utf8/binary fields)
 *       64     8  u64 heap size in bytes
 *       72     8  u64 end: bytes the table spans (≤ segment size)
 *       80     8  u64 heap slice: bytes of one Arrow data buffer of the heap (2^30)
 *      128     4  i32 reserved: next free slot (own cache line, compareExchange)
 *      192     4  i32 committed: rows [0, committed) are fully written; futex word
 *      196     4  i32 waiters: readers asleep in waitForLength
 *      256     4  i32 voids: ≥ the slots made VOID so far, 0 only if none (append.ts)
 *      320     4  i32 rows ready: rows whose row regions have memory (grow.ts)
 *      384     8  i64 heap top: heap bytes handed out (grow.ts)
 *      448     8  i64 heap ready: heap bytes that have memory (grow.ts)
 *      512     J  schema, UTF-8 JSON: [{ "name", "type", "nullable"?, "categories"?, "offset", "validity"? }, …]
 *                 type: int8 … float64, bool, utf8, binary, utf8[N], datetime64[unit], category
 *                 offset: 'columns' → absolute offset of the field's values region;
 *                         'rows' → byte offset of the field inside a record
 *                 validity: absolute offset of the field's validity bitmap (nullable only)
 *   H … end       row states, the regions, the heap (layout.ts, planLayout)
 *
 * Regions ('columns'), each 64-byte aligned and sized for M rows, are Arrow
 * buffers: values of fixed width (bool: LSB-first bits), validity bitmaps
 * (1 = present), and for utf8/binary 16-byte views: i32 length, then the
 * value itself if length ≤ 12, else its first 4 bytes, i32 buffer index and
 * i32 offset into heap slice [index]. A growable table's regions are sparse:
 * memory is allocated ahead of the appends (grow.ts), never touched before.
 *
 * Python's python/shmkit/numpy_reader.py and arrow_reader.py parse the same bytes; change all together.
 */

/**
 * Writes the header of \`plan\` into \`bytes\` (the start of a fresh, zeroed segment).
 * @internal
 */
export function writeHeader(bytes: Uint8Array, plan: TableLayout, rowsReady: number): void {
  const json = encodeSchema(plan.schema, plan.offsets, plan.validity);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, plan.headerLength);
  dv.setUint32(OFF.version, plan.version, true);
  dv.setUint32(OFF.layout, LAYOUT_CODE[plan.layout], true);
  dv.setUint32(OFF.headerLength, plan.headerLength, true);
  dv.setUint32(OFF.schemaLength, json.length, true);
  dv.setUint32(OFF.flags, plan.growable ? FLAG_GROWABLE : 0, true);
  dv.setUint32(OFF.rowSize, plan.rowSize, true);
  const u64 = (off: number, v: number) => dv.setBigUint64(off, BigInt(v), true);
  u64(OFF.maxRows, plan.capacity);
  u64(OFF.stateOffset, plan.stateOffset);
  u64(OFF.dataOffset, plan.dataOffset);
  u64(OFF.heapOffset, plan.heapOffset);
  u64(OFF.heapSize, plan.heapSize);
  u64(OFF.end, plan.end);
  u64(OFF.slice, SLICE);
  dv.setInt32(OFF.rowsReady, rowsReady, true);
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
  if (version !== FORMAT_VERSION) {
    throw bad(`format version ${version}, but this shmkit reads version ${FORMAT_VERSION} only (${version < FORMAT_VERSION ? 'an older shmkit made it: recreate the table' : 'a newer shmkit made it: upgrade'})`);
  }
  const code = dv.getUint32(OFF.layout, true);
  const layout = code === 1 ? 'columns' : code === 2 ? 'rows' : undefined;
  if (layout === undefined) throw bad(`unknown layout code ${code}`);
  const headerLength = dv.getUint32(OFF.headerLength, true);
  const schemaLength = dv.getUint32(OFF.schemaLength, true);
  const flags = dv.getUint32(OFF.flags, true);
  const rowSize = dv.getUint32(OFF.rowSize, true);
  const u64 = (off: number, what: string) => {
    const v = dv.getBigUint64(off, true);
    if (v > BigInt(segmentSize)) throw bad(`${what} ${v} is beyond the segment's ${segmentSize} bytes`);
    return Number(v);
  };
  const capacity = u64(OFF.maxRows, 'max rows');
  const stateOffset = u64(OFF.stateOffset, 'state offset');
  const dataOffset = u64(OFF.dataOffset, 'data offset');
  const heapOffset = u64(OFF.heapOffset, 'heap offset');
  const heapSize = u64(OFF.heapSize, 'heap size');
  const end = u64(OFF.end, 'end');
  const slice = dv.getBigUint64(OFF.slice, true);

  if ((flags & ~FLAG_GROWABLE) !== 0) throw bad(`unknown flags ${flags}`);
  if (headerLength % ALIGN !== 0 || headerLength < OFF.schema || headerLength > MAX_HEADER) {
    throw bad(`header length ${headerLength} is not a multiple of ${ALIGN} from ${OFF.schema} to ${MAX_HEADER}`);
  }
  if (headerLength > segmentSize || headerLength > bytes.length) {
    throw bad(`header length ${headerLength} is beyond the segment's ${segmentSize} bytes`);
  }
  if (schemaLength === 0 || OFF.schema + schemaLength > headerLength) {
    throw bad(`schema length ${schemaLength} does not fit in the ${headerLength}-byte header`);
  }
  if (capacity < 1 || capacity > MAX_CAPACITY) throw bad(`max rows ${capacity} is not from 1 to ${MAX_CAPACITY}`);
  if (slice !== BigInt(SLICE)) throw bad(`heap slice ${slice} is not ${SLICE}`);

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
  const num = (o: unknown) => typeof o === 'number' && Number.isSafeInteger(o) && o >= 0;
  const offsets = (fieldsJson as { offset?: unknown }[]).map((f, i) => {
    if (!num(f.offset)) throw bad(`field ${JSON.stringify(schema.fields[i]!.name)} has no valid offset`);
    return f.offset as number;
  });
  const validity = (fieldsJson as { validity?: unknown }[]).map((f, i) => {
    const field = schema.fields[i]!;
    if (f.validity === undefined && !field.nullable) return -1;
    if (!num(f.validity) || !field.nullable || layout === 'rows') {
      throw bad(`field ${JSON.stringify(field.name)} has a bad validity offset (${String(f.validity)}) for a ${field.nullable ? 'nullable' : 'non-nullable'} field`);
    }
    return f.validity as number;
  });
  const sum = schema.fields.reduce((s, f) => s + f.size, 0);
  if (rowSize !== sum) throw bad(`row size ${rowSize} is not the sum of the field sizes (${sum})`);
  const variable = schema.fields.some((f) => f.variable);
  if (variable && capacity > MAX_VIEW_ROWS) throw bad(`max rows ${capacity} is over ${MAX_VIEW_ROWS}, the most a table with utf8/binary fields may have`);
  if (layout === 'rows' && schema.fields.some((f) => f.variable || f.nullable)) throw bad(`a 'rows' table cannot hold nullable or utf8/binary fields`);

  if (end > segmentSize) throw bad(`end ${end} is beyond the segment's ${segmentSize} bytes`);
  const plan: TableLayout = { version, layout, headerLength, growable: (flags & FLAG_GROWABLE) !== 0, capacity, rowSize, stateOffset, dataOffset, heapOffset, heapSize, end, schema, offsets, validity };
  // Areas the table claims: [start, stop, what]. Each must sit inside
  // [headerLength, end) and none may overlap another.
  const areas: [number, number, string][] = [];
  if (stateOffset % 8 !== 0) throw bad(`state offset ${stateOffset} is not 8-byte aligned`);
  if (layout === 'rows') {
    const inRecord: [number, number, string][] = schema.fields.map((f, i) => [offsets[i]!, offsets[i]! + f.size, `field ${JSON.stringify(f.name)}`]);
    for (const [, stop, what] of inRecord) {
      if (stop > rowSize) throw bad(`${what} ends at byte ${stop} of a ${rowSize}-byte record`);
    }
    checkDisjoint(inRecord, 'in the record');
  } else {
    schema.fields.forEach((f, i) => {
      for (const [o, what] of [[offsets[i]!, 'column'], [validity[i]!, 'validity of']] as const) {
        if (o >= 0 && o % ALIGN !== 0) throw bad(`${what} ${JSON.stringify(f.name)} offset ${o} is not ${ALIGN}-byte aligned`);
      }
    });
  }
  for (const r of rowRegions(plan)) areas.push([r.at, r.at + regionBytes(r, capacity), r.what]);
  if (variable !== heapSize > 0) throw bad(variable ? 'utf8/binary fields but no heap' : `a ${heapSize}-byte heap but no utf8/binary field`);
  if (heapSize > 0) {
    if (heapOffset % ALIGN !== 0) throw bad(`heap offset ${heapOffset} is not ${ALIGN}-byte aligned`);
    areas.push([heapOffset, heapOffset + heapSize, 'heap']);
  }
  for (const [start, stop, what] of areas) {
    if (start < headerLength) throw bad(`${what} starts at ${start}, inside the ${headerLength}-byte header`);
    if (stop > end) throw bad(`${what} ends at ${stop}, beyond the table's end ${end} (segment ${segmentSize} bytes)`);
  }
  checkDisjoint(areas, 'in the segment');

  // Live counters of a table others append to: committed ≤ reserved ≤ ready
  // holds at every instant and each only grows, so loading them in that order
  // (atomically) sees them in order even while appends run.
  const h = new Int32Array(bytes.buffer, bytes.byteOffset, OFF.schema >> 2);
  const committed = Atomics.load(h, OFF.committed >> 2);
  const reserved = Atomics.load(h, OFF.reserved >> 2);
  const ready = Atomics.load(h, OFF.rowsReady >> 2);
  if (ready < 0 || ready > capacity) throw bad(`rows ready ${ready} is not from 0 to max rows ${capacity}`);
  if (reserved < 0 || reserved > ready) throw bad(`reserved count ${reserved} is not from 0 to rows ready ${ready}`);
  if (committed < 0 || committed > reserved) throw bad(`committed length ${committed} is not from 0 to reserved ${reserved}`);
  return plan;
}

function checkDisjoint(areas: [number, number, string][], where: string): void {
  const sorted = [...areas].sort((a, b) => a[0] - b[0]);
  for (let i = 1; i < sorted.length; i++) {
    const prev = sorted[i - 1]!;
    const cur = sorted[i]!;
    if (cur[0] < prev[1]) throw bad(`${cur[2]} overlaps ${prev[2]} ${where}`);
  }
}
