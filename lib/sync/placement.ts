/**
 * Where a Semaphore or Barrier keeps its state: the checks that
 * `create` and `attach` share with Mutex.create's (a writable, open segment,
 * an 8-byte aligned offset, room for the state).
 * @internal
 */
import { ShmError, checkInteger, invalidType, invalidValue, outOfRange } from '../errors';
import { SharedMemory } from '../segment';
import { selfPacked } from '../identity';
import { StateLock } from './state-lock';

/** Checks `seg` and `byteOffset` for `bytes` bytes of state of `what` ('Semaphore', 'Barrier'). */
export function checkPlacement(what: string, seg: unknown, byteOffset: unknown, bytes: number): number {
  if (!(seg instanceof SharedMemory)) throw invalidType('seg', 'a SharedMemory', seg);
  if (seg.closed) throw closedError(seg);
  if (seg.readonly) throw invalidValue('seg', `must be writable: a readonly attach cannot use a ${what}`);
  if (seg.size < bytes) throw outOfRange('seg.size', `at least ${what}.BYTES (${bytes})`, seg.size);
  const offset = checkInteger('byteOffset', byteOffset, 0, seg.size - bytes);
  if (offset % 8 !== 0) throw outOfRange('byteOffset', 'a multiple of 8', offset);
  return offset;
}

export function closedError(seg: SharedMemory): ShmError {
  return new ShmError('ERR_SHM_CLOSED', `segment '${seg.name}' is closed`);
}

/** Milliseconds from `options.timeout`: Infinity when absent. */
export function checkWaitOptions(options: unknown): number {
  if (options === undefined) return Infinity;
  if (typeof options !== 'object' || options === null) throw invalidType('options', 'an object', options);
  const t = (options as { timeout?: unknown }).timeout;
  if (t === undefined || t === Infinity) return Infinity;
  if (typeof t !== 'number') throw invalidType('options.timeout', 'a number of milliseconds', t);
  if (!(t >= 0)) throw outOfRange('options.timeout', 'a non-negative number of milliseconds or Infinity', t);
  return t;
}

/**
 * What a Semaphore and a Barrier hold: their segment, where their state
 * starts, views of it, the short lock over it and this thread's identity.
 * @internal
 */
export abstract class PlacedState {
  protected readonly seg: SharedMemory;
  protected readonly offset: number;
  protected readonly i32: Int32Array;
  protected readonly i64: BigInt64Array;
  protected readonly stateLock: StateLock;
  protected readonly me: bigint;

  /** `bytes` bytes of state at `byteOffset` (checked by {@link checkPlacement}); the lock word at int64 index `lockIndex`. */
  protected constructor(seg: SharedMemory, byteOffset: number, bytes: number, lockIndex: number) {
    this.seg = seg;
    this.offset = byteOffset;
    this.i32 = new Int32Array(seg.buffer, byteOffset, bytes / 4);
    this.i64 = new BigInt64Array(seg.buffer, byteOffset, bytes / 8);
    this.me = selfPacked();
    this.stateLock = new StateLock(this.i64, lockIndex, this.i32, this.me);
  }

  /** The segment that holds the state. */
  get segment(): SharedMemory {
    return this.seg;
  }

  /** Where the state starts in the segment. */
  get byteOffset(): number {
    return this.offset;
  }

  /** @throws `ERR_SHM_CLOSED` once the segment is closed */
  protected checkOpen(): void {
    if (this.i32.length === 0 || this.seg.closed) throw closedError(this.seg);
  }
}
