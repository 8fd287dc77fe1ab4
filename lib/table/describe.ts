/**
 * describeTable: a table's schema, size and first rows, for `shmkit inspect`.
 */
import { checkInteger } from '../errors';
import { RecordTable } from './table';

/** What {@link describeTable} returns. */
export interface TableDescription {
  name: string;
  layout: 'columns' | 'rows';
  /** `[{ name, type, nullable?, categories? }]` */
  schema: { name: string; type: string; nullable?: boolean; categories?: string[] }[];
  length: number;
  /** The capacity; Infinity for a growable table. */
  capacity: number;
  /** The most rows the table has room for (its capacity, or a growable table's address space). */
  maxRows: number;
  /** The first rows, at most `options.rows`; null for a void row (see {@link RecordTable.isVoid}). */
  rows: (Record<string, unknown> | null)[];
}

/**
 * Reads a table's schema, size and first rows, read-only (for `shmkit inspect`).
 * @throws as {@link RecordTable.attach}
 * @example
 * const { schema, length, rows } = describeTable('app.trades', { rows: 10 });
 */
export function describeTable(name: string, options: { rows?: number } = {}): TableDescription {
  const want = checkInteger('options.rows', options.rows ?? 10, 0, Number.MAX_SAFE_INTEGER);
  const t = RecordTable.attach(name, { readonly: true });
  try {
    const length = t.length;
    const rows: (Record<string, unknown> | null)[] = [];
    for (let i = 0; i < Math.min(want, length); i++) rows.push(t.isVoid(i) ? null : (t.get(i) as Record<string, unknown>));
    return { name: t.name, layout: t.layout, schema: t.schema.toJSON(), length, capacity: t.capacity, maxRows: t.maxRows, rows };
  } finally {
    t.close();
  }
}
