export { SharedMemory, MAX_SIZE } from './segment';
export type { SegmentHandle, CreateOptions, AttachOptions, SegmentInfo } from './segment';
export { sweep } from './sweep';
export type { SweepOptions } from './sweep';
export { Registry } from './registry';
export type { RegistryOptions, RegistryEntry } from './registry';
export { ShmError, systemError } from './errors';
export type { ShmErrorCode, SystemError } from './errors';
