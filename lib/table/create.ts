/**
 * Creating a table's segment: options checked, the layout sized (to a
 * capacity, or to an address-space budget for a growable table), the
 * segment made and its header written.
 * @internal
 */
import { ShmError, checkInteger, invalidType, invalidValue, outOfRange } from '../errors';
import { MAX_SIZE, SharedMemory } from '../segment';
import { removeCreated } from '../segment-file';
import { headerBytes, parseHeader, writeHeader } from './header';
import { MAX_CAPACITY, MAX_VIEW_ROWS, hasHeap, planLayout, rowRegions, regionBytes, sizeToBudget, type TableLayout } from './layout';
import { Schema, type SchemaSpec } from './schema';
import type { TableAttachOptions, TableCreateOptions, TableRef } from './types';
import type { SegmentHandle } from '../segment-types';

/** Default address space of a growable table: all this Node can map, up to 1 TiB (sparse: it costs nothing until used). */
export const DEFAULT_MAX_BYTES = Math.min(MAX_SIZE, 2 ** 40);
/**
 * The same for a file-backed table: up to 64 GiB. The address space is the
 * file's apparent size, which tools that do not know sparse files (scp, a
 * plain rsync, some backups) copy in full; 64 GiB holds 2^31 rows of 32 bytes.
 */
export const DEFAULT_FILE_MAX_BYTES = Math.min(MAX_SIZE, 2 ** 36);

/**
 * Checks `options`, makes the segment and writes the header.
 * @throws TypeError/RangeError on bad options; `ERR_SHM_LAYOUT` for nullable
 *   or utf8/binary fields in 'rows' layout; `EEXIST`; `ENOSPC`
 */
export function createTable(schema: Schema, options: TableCreateOptions): { seg: SharedMemory; plan: TableLayout } {
  if (!(schema instanceof Schema)) throw invalidType('schema', 'a Schema from defineSchema()', schema);
  if (typeof options !== 'object' || options === null) throw invalidType('options', 'an object', options);
  const layout = options.layout ?? 'columns';
  if (layout !== 'columns' && layout !== 'rows') throw invalidValue('options.layout', `must be 'columns' or 'rows', got ${String(layout)}`);
  if (layout === 'rows') {
    const f = schema.fields.find((x) => x.variable || x.nullable);
    if (f) {
      throw new ShmError('ERR_SHM_LAYOUT', `field ${JSON.stringify(f.name)} (${f.type}${f.nullable ? ', nullable' : ''}) needs layout 'columns': 'rows' holds numpy's packed records of fixed-width, never-null values`);
    }
  }
  const heap = hasHeap(schema);
  const maxRowsCap = heap ? MAX_VIEW_ROWS : MAX_CAPACITY;
  const growable = options.capacity === undefined;
  const capacity = growable ? undefined : checkInteger('options.capacity', options.capacity, 1, maxRowsCap);
  const maxRows = options.maxRows === undefined ? undefined : checkInteger('options.maxRows', options.maxRows, 1, maxRowsCap);
  if (!growable && maxRows !== undefined) throw invalidValue('options.maxRows', 'is for growable tables (no capacity)');
  const file = options.path;
  if (file !== undefined) {
    for (const k of ['name', 'prefix', 'owned'] as const) {
      if (options[k] !== undefined) throw invalidValue(`options.${k}`, 'cannot be combined with options.path (a file has its path for a name, and no owner)');
    }
  }
  const budget = checkInteger('options.maxBytes', options.maxBytes ?? (file === undefined ? DEFAULT_MAX_BYTES : DEFAULT_FILE_MAX_BYTES), 4096, MAX_SIZE);
  const headerLength = headerBytes(schema);

  let plan: TableLayout;
  if (growable) {
    const sized = sizeToBudget(schema, layout, budget, headerLength, maxRows);
    if (sized.maxRows < 1 || (heap && sized.heapSize < 4096)) {
      throw outOfRange('options.maxBytes', `large enough for a row and a heap of this schema (${maxRows ?? 1} rows)`, budget);
    }
    plan = planLayout(schema, layout, sized.maxRows, sized.heapSize, true, headerLength);
  } else {
    const rowsEnd = planLayout(schema, layout, capacity!, 0, false, headerLength).end;
    plan = planLayout(schema, layout, capacity!, heap ? Math.floor((budget - rowsEnd) / 64) * 64 : 0, false, headerLength);
    if (heap && plan.heapSize < 4096) throw outOfRange('options.maxBytes', `over the ${rowsEnd} bytes of ${capacity} rows, with room for a heap of utf8/binary bytes`, budget);
  }
  if (plan.end > MAX_SIZE) throw outOfRange('options.capacity', `small enough for the table to fit in ${MAX_SIZE} bytes`, capacity);

  // A fixed table without a heap has all its memory at create (ENOSPC now,
  // never later); the others are sparse extents that get memory as they grow.
  const sparse = growable || heap;
  const seg =
    file === undefined
      ? SharedMemory.create({ size: plan.end, name: options.name, prefix: options.prefix, mode: options.mode, owned: options.owned, sparse })
      : SharedMemory.open(file, { size: plan.end, create: true, mode: options.mode, sparse });
  try {
    if (sparse) {
      seg.allocate(0, plan.headerLength); // the header is written now: its pages must exist first
      if (!growable) for (const r of rowRegions(plan)) seg.allocate(r.at, regionBytes(r, plan.capacity));
    }
    writeHeader(new Uint8Array(seg.buffer), plan, growable ? 0 : plan.capacity);
  } catch (err) {
    discardCreated(seg);
    throw err;
  }
  return { seg, plan };
}

/** Closes and removes a table that its create (or fromArrow) could not finish: it is nobody else's. */
export function discardCreated(seg: SharedMemory): void {
  seg.close();
  if (seg.path === undefined) seg.unlink();
  else removeCreated(seg.path);
}

/**
 * Maps an existing table's segment and parses its header (see RecordTable.attach).
 * @throws as RecordTable.attach
 */
export function openTable<S extends SchemaSpec>(
  nameOrHandle: TableRef,
  schemaOrOptions?: Schema<S> | TableAttachOptions<S>,
): { seg: SharedMemory; plan: TableLayout; options: TableAttachOptions<S> } {
  const options: TableAttachOptions<S> = schemaOrOptions instanceof Schema ? { schema: schemaOrOptions } : schemaOrOptions ?? {};
  if (typeof options !== 'object' || options === null) throw invalidType('options', 'a Schema or an options object', options);
  if (options.schema !== undefined && !(options.schema instanceof Schema)) {
    throw invalidType('options.schema', 'a Schema from defineSchema()', options.schema);
  }
  const seg = SharedMemory.attach(nameOrHandle as SegmentHandle, { readonly: options.readonly, own: options.own, keepFd: true });
  try {
    const plan = parseHeader(new Uint8Array(seg.buffer), seg.size);
    if (options.schema && !options.schema.equals(plan.schema)) {
      throw new ShmError(
        'ERR_SHM_SCHEMA_MISMATCH',
        `table '${seg.name}' has schema ${JSON.stringify(plan.schema.toJSON())}, not the expected ${JSON.stringify(options.schema.toJSON())}`,
      );
    }
    if (!plan.growable && plan.heapSize === 0) seg.releaseFd(); // all its memory was given at create
    return { seg, plan: options.schema ? { ...plan, schema: options.schema } : plan, options };
  } catch (err) {
    if (options.own) seg.unregister();
    seg.close();
    throw err;
  }
}
