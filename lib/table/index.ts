/** Record tables: typed rows in a shared segment, appendable from many processes. */
export { RecordTable, describeTable } from './table';
export type { TableHandle, TableCreateOptions, TableAttachOptions, ColumnsOf, TableDescription } from './table';
export { defineSchema, Schema } from './schema';
export type { SchemaSpec, FieldSpec, Field, FieldKind, RowOf, ValueOf, ColumnArray, NumericType, DatetimeUnit, CategorySpec } from './schema';
