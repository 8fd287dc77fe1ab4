/** Cross-process synchronisation: futex wait/notify and a robust Mutex. */
export { waitAsync, waitSync, notify } from './wait';
export type { WaitResult } from './wait';
export { Mutex } from './mutex';
export type { LockOptions, LockResult } from './mutex';
export { Semaphore } from './semaphore';
export type { AcquireOptions } from './semaphore';
export { Barrier } from './barrier';
export type { BarrierWaitOptions, BarrierResult } from './barrier';
