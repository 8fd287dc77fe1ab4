/**
 * Arrow IPC (Feather v2) bytes in and out of apache-arrow Tables, apart from
 * RecordTable: the 'file' format (a Feather v2 / `.arrow` file) and the
 * 'stream' format, written and read by apache-arrow.
 *
 * Writing: apache-arrow 21 writes Utf8View/BinaryView columns that pyarrow
 * reads, as views (no conversion to Utf8/Binary), but only for Data at offset
 * 0: Data.slice() cuts a view column's views buffer at the offset and keeps
 * the offset, and the writer cuts it again, so a sliced view column comes out
 * short (pyarrow: "Buffer #1 too small"). Such Data is rebased to offset 0
 * first (no copy of the views; the validity bitmap is copied).
 *
 * Reading: pyarrow compresses Feather v2 with LZ4 frames by default, and
 * apache-arrow decodes compressed bodies only through codecs registered in
 * its `compressionRegistry`; lz4js (LZ4_FRAME) and fzstd (ZSTD, decode only)
 * are optional peer dependencies, loaded and registered on first need. A
 * codec the application registered itself is used as it is.
 *
 * apache-arrow's reader trusts the metadata, so the bytes are checked first
 * and the Table after (ipc-check.ts).
 * @internal
 */
import * as fs from 'node:fs';
import type * as ArrowNS from 'apache-arrow';
import { invalidType, invalidValue } from '../errors';
import { ShmError } from '../errors-base';
import { checkTable, scanIPC } from './ipc-check';
import { loadArrow } from './arrow';

type Arrow = typeof ArrowNS;
type Codec = { encode?(data: Uint8Array): Uint8Array; decode?(data: Uint8Array): Uint8Array };
const load = (): Arrow => loadArrow('Arrow IPC');

/** The npm package behind each compression (CompressionType: 0 LZ4_FRAME, 1 ZSTD) and how it becomes a codec. */
const CODECS: Record<number, { name: string; pkg: string; make(mod: any): Codec }> = {
  0: { name: 'LZ4_FRAME', pkg: 'lz4js', make: (lz4) => ({ encode: (d) => lz4.compress(d), decode: (d) => lz4Decode(lz4, d) }) },
  1: { name: 'ZSTD', pkg: 'fzstd', make: (zstd) => ({ decode: (d) => aligned(zstd.decompress(d)) }) },
};
const ours = new Map<number, Codec>();
let codecLoading = true;

/**
 * lz4js trusts the frame: a corrupt block size makes it loop to 2^31, a
 * corrupt header makes it allocate gigabytes. So the frame's blocks are
 * walked first, giving the output's bound too (an LZ4 byte decodes to at
 * most 255):
 *   magic 0x184D2204 | FLG | BD | [u64 content size] | HC
 *   | blocks: u32 n (bit 31: stored raw), n bytes, [u32 checksum] | u32 0 | [u32 checksum]
 */
function lz4Decode(lz4: any, data: Uint8Array): Uint8Array {
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  if (data.length < 7 || dv.getUint32(0, true) !== 0x184d2204) throw new Error('not an LZ4 frame');
  const flg = data[4]!;
  const blockMax = 1 << (2 * ((data[5]! >> 4) & 7) + 8); // BD 4: 64 KiB … 7: 4 MiB
  let size = 0;
  for (let p = 7 + (flg & 0x08 ? 8 : 0), n: number; (n = dv.getUint32(p, true)) !== 0;) { // RangeError past the end
    p += 4 + (n & 0x7fffffff) + (flg & 0x10 ? 4 : 0);
    size += n & 0x80000000 ? n & 0x7fffffff : blockMax;
    if (p > data.length) throw new Error('an LZ4 block runs past the end of its frame');
  }
  return aligned(lz4.decompress(data, Math.min(size, 255 * data.length + 64)));
}

/** apache-arrow lays typed arrays over decoded buffers: they must start 8-byte aligned (fzstd's need not). */
function aligned(out: Uint8Array): Uint8Array {
  return out instanceof Uint8Array && out.byteOffset % 8 === 0 ? out : Uint8Array.from(out);
}

/** Makes sure `compression` can be decoded, loading and registering its package once. */
function ensureCodec(a: Arrow, compression: number): void {
  const spec = CODECS[compression];
  if (spec === undefined) throw new ShmError('ERR_SHM_IPC', `arrowFromIPC: unknown compression ${compression}`);
  const uncompressed = `or write it uncompressed, e.g. pyarrow.feather.write_feather(t, path, compression='uncompressed')`;
  if (a.compressionRegistry === undefined) { // apache-arrow before 21
    throw new ShmError('ERR_SHM_IPC_CODEC', `arrowFromIPC: the data is compressed with ${spec.name}, which this apache-arrow cannot decode: npm install apache-arrow@21, ${uncompressed}`);
  }
  if (a.compressionRegistry.get(compression)?.decode) return;
  let codec: Codec | undefined;
  let cause: unknown;
  if (codecLoading) {
    try { codec = spec.make(require(spec.pkg)); } catch (e) { cause = e; }
  }
  if (codec === undefined) {
    throw new ShmError('ERR_SHM_IPC_CODEC',
      `arrowFromIPC: the data is compressed with ${spec.name} and no ${spec.name} codec is installed: npm install ${spec.pkg}, ${uncompressed}`,
      { cause });
  }
  a.compressionRegistry.set(compression, codec);
  ours.set(compression, codec);
}

/**
 * Stops (false) or resumes (true) loading codec packages, and takes back the
 * codecs this module registered, as if lz4js and fzstd were not installed.
 * For tests.
 * @internal
 */
export function setCodecLoading(enabled: boolean): void {
  codecLoading = enabled;
  if (enabled || ours.size === 0) return;
  const arrow = load();
  for (const [compression, codec] of ours) {
    if (arrow.compressionRegistry.get(compression) === codec) arrow.compressionRegistry.set(compression, null as unknown as Codec);
  }
  ours.clear();
}

/** Data with every sliced view column (at any depth) rebased to offset 0; see the comment at the top. */
function rebaseViews(a: Arrow, d: ArrowNS.Data): ArrowNS.Data {
  if ((d.typeId === a.Type.Utf8View || d.typeId === a.Type.BinaryView) && d.offset !== 0) {
    const nullBitmap = d.nullCount > 0 ? a.util.truncateBitmap(d.offset, d.length, d.nullBitmap!) : undefined;
    const views = (d.values as Uint8Array).subarray(0, d.length * 16);
    return a.makeData({ type: d.type as ArrowNS.Utf8View, length: d.length, nullCount: d.nullCount, nullBitmap, views, variadicBuffers: d.variadicBuffers });
  }
  const children = d.children.map((c) => rebaseViews(a, c));
  return children.every((c, i) => c === d.children[i]) ? d : d.clone(d.type, d.offset, d.length, d.nullCount, undefined, children);
}

/**
 * Writes an apache-arrow Table as Arrow IPC bytes: `'file'` is a Feather v2 /
 * `.arrow` file (`pyarrow.feather.read_table`, `pyarrow.ipc.open_file`),
 * `'stream'` the streaming format (`pyarrow.ipc.open_stream`). Uncompressed;
 * view columns stay views. The values are copied once into the result.
 * @throws TypeError (`ERR_INVALID_ARG_TYPE`, `ERR_INVALID_ARG_VALUE`) if `table` is not a Table, or was made
 *   by another copy of apache-arrow than the one `require('apache-arrow')` gives, or `format` is neither
 * @example
 * fs.writeFileSync('events.arrow', arrowToIPC(table, 'file'));   // pyarrow.feather.read_table('events.arrow')
 */
export function arrowToIPC(table: ArrowNS.Table, format: 'file' | 'stream'): Uint8Array {
  const a = load();
  if (!(table instanceof a.Table)) throw invalidType('table', 'an apache-arrow Table', table);
  if (format !== 'file' && format !== 'stream') throw invalidValue('format', `must be 'file' or 'stream', got ${String(format)}`);
  // Its writer takes another copy's types for no type at all and writes garbage.
  if (!table.schema.fields.every((f) => f.type instanceof a.DataType)) {
    throw invalidValue('table', `was made by another copy of apache-arrow than require('apache-arrow') gives shmkit (its ES module, or another version); make it with that one`);
  }
  const batches = table.batches.map((b) => {
    const data = rebaseViews(a, b.data);
    return data === b.data ? b : new a.RecordBatch(b.schema, data as ArrowNS.Data<ArrowNS.Struct>, b.metadata);
  });
  return a.tableToIPC(new a.Table(table.schema, batches), format);
}

/**
 * Reads Arrow IPC bytes, file or stream format (told apart by the file's
 * `ARROW1` magic), or the file at a path, into an apache-arrow Table.
 * Compressed bodies (pyarrow's Feather default is LZ4) are decoded with
 * lz4js / fzstd, loaded on first need. Uncompressed columns are views of
 * `bytes`, not copies: do not change `bytes` while the Table is in use. The
 * Table is made by the apache-arrow that `require('apache-arrow')` gives.
 * @throws ShmError `ERR_SHM_IPC_CODEC` if the data is compressed and the codec's package is not installed;
 *   `ERR_SHM_IPC` if the bytes are not valid Arrow IPC (`cause` says why); fs errors (`ENOENT`…) from reading a path;
 *   TypeError if `bytesOrPath` is neither a Uint8Array nor a string
 * @example
 * const t = arrowFromIPC('/data/trades.feather');    // written by pyarrow.feather.write_feather
 * t.getChild('price')?.get(0);
 */
export function arrowFromIPC(bytesOrPath: Uint8Array | string): ArrowNS.Table {
  let bytes: Uint8Array;
  if (typeof bytesOrPath === 'string') bytes = fs.readFileSync(bytesOrPath);
  else if (bytesOrPath instanceof Uint8Array) bytes = bytesOrPath;
  else throw invalidType('bytesOrPath', 'a Uint8Array or a file path', bytesOrPath);
  const a = load();
  let compressions: Set<number>;
  try {
    compressions = scanIPC(bytes);
  } catch (e) {
    const why = e instanceof RangeError ? 'an offset or length points past the end of the bytes' : (e as Error).message;
    throw new ShmError('ERR_SHM_IPC', `arrowFromIPC: not Arrow IPC data (file or stream format): ${why}`, { cause: e });
  }
  for (const c of compressions) ensureCodec(a, c);
  if (bytes.byteOffset % 8 !== 0) bytes = new Uint8Array(bytes); // a copy: typed arrays over the buffers need 8-byte alignment (a Buffer's slice() would not copy)
  try {
    const table = a.tableFromIPC(bytes);
    checkTable(table);
    return table;
  } catch (e) {
    throw new ShmError('ERR_SHM_IPC', `arrowFromIPC: cannot decode the Arrow IPC data: ${(e as Error).message}`, { cause: e });
  }
}
