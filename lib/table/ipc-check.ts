/**
 * Checks that bytes are well-formed Arrow IPC before apache-arrow reads
 * them, and that the Table it made has the buffers its lengths need.
 *
 * apache-arrow's reader trusts the metadata: its flatbuffer reads past the
 * end give 0 instead of failing, so a corrupt count, length or block can make
 * it loop for minutes (a vector count of 16 million, a record-batch block
 * that points at a dictionary batch), and a corrupt row count gives a Table
 * of 268 million rows over buffers for 8. Both checks are bounded by the
 * size of the metadata, not of the data.
 * @internal
 */
import type * as ArrowNS from 'apache-arrow';

const MAGIC = 'ARROW1';
const INT32_MAX = 0x7fffffff;

/**
 * Checks the framing and every count in the metadata before apache-arrow
 * reads it; returns the compressions that record batches use.
 *
 *   file:    "ARROW1\0\0" | messages | Footer | int32 footer length | "ARROW1"
 *   stream:  messages | 0xFFFFFFFF 0x00000000 (or the end of the bytes)
 *   message: 0xFFFFFFFF | int32 n | Message flatbuffer (n bytes) | body
 *
 * Metadata is flatbuffers (format/Message.fbs, File.fbs, Schema.fbs): a table
 * starts with an int32 back to its vtable, whose uint16 entries give each
 * field's offset (0: absent); a vector is a uint32 count then its elements.
 */
export function scanIPC(b: Uint8Array): Set<number> {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const fail = (what: string): never => { throw new Error(what); };
  const i32 = (p: number) => dv.getInt32(p, true); // a RangeError past the end
  const i64 = (p: number) => Number(dv.getBigInt64(p, true));
  const field = (t: number, slot: number) => {
    const vt = t - i32(t);
    const o = 4 + 2 * slot < dv.getUint16(vt, true) ? dv.getUint16(vt + 4 + 2 * slot, true) : 0;
    return o && t + o;
  };
  const ref = (t: number, slot: number) => { const p = field(t, slot); return p && p + dv.getUint32(p, true); };
  const vec = (t: number, slot: number, width: number, end: number): [number, number] => {
    const v = ref(t, slot);
    const n = v && dv.getUint32(v, true);
    if (v + 4 + n * width > end) fail('a vector runs past its metadata');
    return [v + 4, n];
  };
  const compressions = new Set<number>();
  let budget = 0;
  const fields = (t: number, slot: number, end: number) => {
    const [at, n] = vec(t, slot, 4, end);
    for (let i = 0; i < n; i++) {
      if (--budget < 0) fail('the schema has more fields than its bytes can hold');
      const f = at + 4 * i + dv.getUint32(at + 4 * i, true);
      vec(f, 6, 4, end); // Field.custom_metadata
      fields(f, 5, end); // Field.children
    }
  };
  const schema = (t: number, end: number) => { budget = (end - t) >> 2; vec(t, 2, 4, end); vec(t, 3, 8, end); fields(t, 1, end); };
  const batch = (r: number, end: number, bodyLength: number) => {
    const length = field(r, 0) && i64(field(r, 0));
    if (!(length >= 0 && length <= INT32_MAX)) fail(`a record batch has ${length} rows`);
    const [nodes, nn] = vec(r, 1, 16, end);
    for (let i = 0; i < nn; i++) {
      const [len, nulls] = [i64(nodes + 16 * i), i64(nodes + 16 * i + 8)];
      if (!(len >= 0 && len <= INT32_MAX && nulls >= 0 && nulls <= len)) fail(`a column has length ${len}, ${nulls} nulls`);
    }
    const [bufs, nb] = vec(r, 2, 16, end);
    for (let i = 0; i < nb; i++) {
      const [off, len] = [i64(bufs + 16 * i), i64(bufs + 16 * i + 8)];
      if (!(off >= 0 && len >= 0 && off + len <= bodyLength)) fail(`a buffer [${off}, +${len}) lies outside the ${bodyLength}-byte body`);
    }
    const [counts, nv] = vec(r, 4, 8, end); // variadicBufferCounts: buffers taken by each view column
    for (let i = 0, sum = 0; i < nv; i++) if (!((sum += i64(counts + 8 * i)) >= 0 && sum <= nb)) fail('view columns claim more buffers than the batch has');
    const c = ref(r, 3); // BodyCompression: codec (byte, default LZ4_FRAME = 0)
    if (c) compressions.add(field(c, 0) && dv.getInt8(field(c, 0)));
  };
  /** Checks the message at `p` (of type `want`, if given); returns where the next starts, or -1 at the end marker. */
  const message = (p: number, end: number, want?: number): number => {
    let n = i32(p);
    let start = p + 4;
    if (n === -1) { n = i32(p + 4); start += 4; } // before Arrow 0.15 there was no 0xFFFFFFFF
    if (n === 0) return want ? fail(`no message at ${p}`) : -1;
    if (n < 0 || start + n > end) fail(`a message's metadata (${n} bytes at ${p}) runs past the end`);
    const m = start + dv.getUint32(start, true);
    const type = field(m, 1) && dv.getUint8(field(m, 1));
    const body = field(m, 3) && i64(field(m, 3));
    if (!(body >= 0 && start + n + body <= end)) fail(`a message's body (${body} bytes at ${start + n}) runs past the end`);
    vec(m, 4, 4, start + n); // Message.custom_metadata
    const header = ref(m, 2);
    if (!header || (want && type !== want)) fail(`expected a message of type ${want ?? '1-3'} at ${p}, found ${type}`);
    if (type === 1) schema(header, start + n);
    else if (type === 3) batch(header, start + n, body);
    else if (type === 2 && ref(header, 1)) batch(ref(header, 1), start + n, body); // DictionaryBatch.data
    else fail(`unsupported message type ${type}`);
    return start + n + body;
  };
  const text = (p: number) => String.fromCharCode(...b.subarray(p, p + 6));
  if (b.length >= 8 && text(0) === MAGIC) {
    const footerEnd = b.length - 10;
    if (b.length < 18 || text(b.length - 6) !== MAGIC) fail('a file whose end is not "ARROW1" (truncated?)');
    const len = i32(footerEnd);
    if (len <= 0 || len > footerEnd - 8) fail(`the footer length ${len} does not fit the file`);
    const footerStart = footerEnd - len;
    const footer = footerStart + dv.getUint32(footerStart, true);
    if (!ref(footer, 1)) fail('the footer has no schema');
    schema(ref(footer, 1), footerEnd);
    vec(footer, 4, 4, footerEnd); // Footer.custom_metadata
    for (const slot of [2, 3]) { // Footer.dictionaries, .recordBatches (slot = message type): Block { offset, metaDataLength, bodyLength }
      const [blocks, n] = vec(footer, slot, 24, footerEnd);
      for (let i = 0; i < n; i++) {
        const off = i64(blocks + 24 * i);
        if (!(off >= 8 && off < footerStart)) fail(`block ${i} at ${off} is outside the file`);
        message(off, footerStart, slot);
      }
    }
  } else {
    if (b.length === 0) fail('no bytes');
    for (let p = 0, want: number | undefined = 1; p >= 0 && p < b.length; want = undefined) p = message(p, b.length, want);
  }
  return compressions;
}

/** apache-arrow Type ids (enum Type) by the buffers their Data holds. */
const FIXED = new Set([2, 3, 7, 8, 9, 10, 11, 15, 18, -1]); // Int Float Decimal Date Time Timestamp Interval FixedSizeBinary Duration Dictionary(indices)
const OFFSETS = new Set([4, 5, 12, 17, 19, 20, 21]); // Binary Utf8 List Map LargeBinary LargeUtf8 LargeList
const VIEWS = new Set([23, 24]); // BinaryView Utf8View: 16-byte views

/**
 * Throws if a column of `table` is not as long as its batch, or it (or a
 * child, or a dictionary) has fewer bytes in a buffer than its length
 * needs; says which column.
 */
export function checkTable(table: ArrowNS.Table): void {
  const check = (d: ArrowNS.Data, name: string): void => {
    const rows = d.offset + d.length;
    const size = (buf: { length: number } | undefined | null) => buf?.length ?? 0;
    const need =
      FIXED.has(d.typeId) ? [size(d.values), rows * d.stride]
      : d.typeId === 6 ? [size(d.values) * 8, rows] // Bool: bits
      : OFFSETS.has(d.typeId) ? [size(d.valueOffsets), rows + 1]
      : VIEWS.has(d.typeId) ? [size(d.values), rows * 16]
      : [0, 0];
    const bitmap = d.typeId !== 1 && d.typeId !== 14; // Null and Union have none
    if (bitmap && d.nullCount > 0 && size(d.nullBitmap) * 8 < rows) throw new Error(`column ${name} has ${d.length} rows and ${d.nullCount} nulls but a ${size(d.nullBitmap)}-byte validity bitmap`);
    if (need[0]! < need[1]!) throw new Error(`column ${name} has ${d.length} rows but buffers for fewer`);
    d.children.forEach((c, i) => check(c, `${name}.${i}`));
    d.dictionary?.data.forEach((c) => check(c, `${name} (dictionary)`));
  };
  for (const b of table.batches) {
    b.data.children.forEach((d, i) => {
      const name = `'${table.schema.fields[i]?.name}'`;
      if (d.length !== b.numRows) throw new Error(`column ${name} has ${d.length} rows in a batch of ${b.numRows}`);
      check(d, name);
    });
  }
}
