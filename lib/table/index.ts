/** Record tables: typed rows in a shared segment, appendable from many processes. */
export { RecordTable } from './table';
export { describeTable } from './describe';
export type { TableHandle, TableRef, TableCreateOptions, TableAttachOptions, ColumnsOf, WaitForLengthOptions } from './table';
export type { FieldView } from './view';
export type { TableDescription } from './describe';
export { defineSchema, Schema } from './schema';
export type { SchemaSpec, FieldSpec, Field, FieldKind, RowOf, ValueOf, ColumnArray, NumericType, DatetimeUnit, CategorySpec, TypeName, TypedSpec, ValueOfType } from './schema';
