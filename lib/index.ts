export { SharedMemory, MAX_SIZE } from './segment';
export type { SegmentHandle, CreateOptions, AttachOptions, SegmentInfo } from './segment';
export { ShmError, systemError } from './errors';
export type { ShmErrorCode, SystemError } from './errors';
