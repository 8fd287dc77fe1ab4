/**
 * Mutex: a lock whose state lives in shared memory, owned by one thread of
 * one process, that a dead owner cannot wedge.
 */
import { binding } from '../binding';
import { ShmError, checkInteger, invalidType, invalidValue, outOfRange } from '../errors';
import { SharedMemory } from '../segment';
import { TID_MASK, isForeign, provablyDead, self, selfPacked, unpack } from '../identity';
import { checkTimeout } from './wait';

/*
 * Mutex state: Mutex.BYTES (16) bytes at an 8-byte aligned offset. All zero
 * is an unlocked mutex, so a fresh (zero-filled) segment needs no set-up and
 * Mutex.create never writes.
 *
 *   int64 [0]  the lock word, 0 = free, otherwise the owner's packed
 *              identity (identity.ts): low half = tid | start-time
 *              fingerprint << 22, high half = pid namespace inode.
 *              Bit 30 of the low half is CONTENDED: someone may sleep on
 *              it, so unlock must notify. Waiters sleep (futex) on the low
 *              half, the int32 at the same offset (little-endian).
 *   int32 [2..3]  reserved, 0
 *
 * The owner is a thread (a worker's own tid), and all of its identity —
 * namespace included — changes with one 64-bit compare-and-swap, so a
 * process checking for a dead owner never reads one owner's id with another
 * one's namespace.
 */
const CONTENDED = 1 << 30;
const CONTENDED_64 = BigInt(CONTENDED);
const TID_64 = BigInt(TID_MASK);
/** A contended waiter sleeps at most this long before checking that the owner still lives. */
const LIVENESS_SLICE_MS = 100;
const SPINS = 64;
const FUTEX_INDEX = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 0 : 1; // the low half's int32 index

/** What {@link Mutex.lock} resolves to. */
export interface LockResult {
  /**
   * True when the previous owner died holding the lock (its process or its
   * worker thread ended) and this call took it over: the data it guards may
   * be half-updated; check or repair it.
   */
  readonly recovered: boolean;
}

/** Options of {@link Mutex.lock} and {@link Mutex.withLock}. */
export interface LockOptions {
  /** Give up after this many milliseconds with `ERR_SHM_LOCK_TIMEOUT`. Default: wait forever. */
  timeout?: number;
}

const ACQUIRED: LockResult = Object.freeze({ recovered: false });
const RECOVERED: LockResult = Object.freeze({ recovered: true });
const ACQUIRED_NOW: Promise<LockResult> = Promise.resolve(ACQUIRED);
const token = Symbol('Mutex');

/** Who holds a lock word, for messages. */
function describeOwner(v: bigint): string {
  const id = unpack(v);
  const where = isForeign(id.ns) ? ` in another pid namespace (pid:[${id.ns}])` : '';
  return `thread ${id.tid}${where}`;
}

/**
 * A mutual-exclusion lock whose state lives in shared memory. An
 * uncontended `lock()`/`unlock()` is one compare-and-swap in JavaScript; a
 * contended one sleeps in the kernel (futex) without blocking the event
 * loop. If the owner dies holding it — its process exits or is killed, or
 * its worker thread ends — the next `lock()` takes it over and says so
 * (`recovered: true`); a live owner is never robbed, and one in another pid
 * namespace (another container) is robbed only when that namespace is
 * visible from here and the owner is provably gone from it.
 *
 * Ownership is per thread, like a pthread mutex: the main thread and each
 * worker thread are separate owners, and only the thread that locked may
 * unlock. The lock is not re-entrant: awaiting `lock()` while already holding
 * it in the same thread never returns (use a timeout).
 *
 * @example
 * const m = Mutex.create(seg, 0);                 // every process: same segment, same offset
 * await m.withLock(() => { counter[0] += 1; });
 */
export class Mutex {
  /** Bytes of shared memory a mutex uses. */
  static readonly BYTES = 16;

  readonly #seg: SharedMemory;
  readonly #offset: number;
  readonly #word: BigInt64Array;
  readonly #futex: Int32Array;
  readonly #me: bigint;
  readonly #tid: number;

  /** @internal use {@link Mutex.create}. */
  constructor(key: typeof token, seg: SharedMemory, byteOffset: number) {
    if (key !== token) throw new TypeError('use Mutex.create()');
    this.#seg = seg;
    this.#offset = byteOffset;
    this.#word = new BigInt64Array(seg.buffer, byteOffset, Mutex.BYTES / 8);
    this.#futex = new Int32Array(seg.buffer, byteOffset, Mutex.BYTES / 4);
    this.#me = selfPacked();
    this.#tid = self().tid;
  }

  /**
   * A mutex over `Mutex.BYTES` bytes of `seg` at `byteOffset`. It does not
   * write anything: all-zero bytes are an unlocked mutex, and every process
   * that calls `create` with the same segment and offset gets the same lock.
   *
   * @throws TypeError if `seg` is not a writable SharedMemory (a readonly
   *   attach cannot take the lock); RangeError if the offset is not a
   *   multiple of 8 or the bytes do not fit; `ERR_SHM_CLOSED` if `seg` is
   *   closed
   * @example
   * const seg = SharedMemory.create({ size: 4096 });
   * const m = Mutex.create(seg, 0);
   */
  static create(seg: SharedMemory, byteOffset: number): Mutex {
    if (!(seg instanceof SharedMemory)) throw invalidType('seg', 'a SharedMemory', seg);
    if (seg.closed) throw new ShmError('ERR_SHM_CLOSED', `segment '${seg.name}' is closed`);
    if (seg.readonly) throw invalidValue('seg', 'must be writable: a readonly attach cannot take a lock');
    if (seg.size < Mutex.BYTES) {
      throw outOfRange('seg.size', `at least Mutex.BYTES (${Mutex.BYTES})`, seg.size);
    }
    const offset = checkInteger('byteOffset', byteOffset, 0, seg.size - Mutex.BYTES);
    if (offset % 8 !== 0) throw outOfRange('byteOffset', 'a multiple of 8', offset);
    return new Mutex(token, seg, offset);
  }

  /** The segment that holds the lock state. */
  get segment(): SharedMemory {
    return this.#seg;
  }

  /** Where the lock state starts in the segment. */
  get byteOffset(): number {
    return this.#offset;
  }

  /** Thread id of the holder (a pid for a main thread; possibly dead, possibly in another pid namespace), or undefined when free. */
  get owner(): number | undefined {
    this.#checkOpen();
    const v = Atomics.load(this.#word, 0);
    return v === 0n ? undefined : Number(v & TID_64);
  }

  /**
   * Takes the lock, waiting (without blocking the event loop) while another
   * thread holds it. A holder that died is detected within about 100 ms and
   * its lock taken over: the result then has `recovered: true`.
   *
   * @returns a promise of `{ recovered }`; it rejects with `ERR_SHM_LOCK_TIMEOUT`
   *   when `options.timeout` ms pass first (`timeout: 0` tries once, and still
   *   recovers a dead owner's lock), `ERR_SHM_CLOSED` if the segment is closed,
   *   TypeError/RangeError on bad options
   * @example
   * const { recovered } = await m.lock({ timeout: 1000 });
   * try { if (recovered) repair(); work(); } finally { m.unlock(); }
   */
  lock(options?: LockOptions): Promise<LockResult> {
    const w = this.#word;
    if (options === undefined && !this.#seg.closed && Atomics.compareExchange(w, 0, 0n, this.#me) === 0n) {
      return ACQUIRED_NOW;
    }
    try {
      this.#checkOpen();
      if (typeof options !== 'object' && options !== undefined) throw invalidType('options', 'an object', options);
      const ms = checkTimeout('options.timeout', options?.timeout);
      if (Atomics.compareExchange(w, 0, 0n, this.#me) === 0n) return ACQUIRED_NOW;
      return this.#lockSlow(ms < 0 ? Infinity : performance.now() + ms, ms);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  async #lockSlow(deadline: number, ms: number): Promise<LockResult> {
    const w = this.#word;
    const me = this.#me;
    let slept = false;
    let checkOwner = false;
    let spins = SPINS;
    for (;;) {
      this.#checkOpen();
      let v = Atomics.load(w, 0);
      if (v === 0n) {
        // After sleeping, others may sleep behind us: keep CONTENDED so our
        // unlock wakes the next one.
        if (Atomics.compareExchange(w, 0, 0n, slept ? me | CONTENDED_64 : me) === 0n) return ACQUIRED;
        continue;
      }
      // A short spin pays off only when another thread holds it (this
      // thread's JavaScript cannot release it while we loop).
      if (spins > 0 && Number(v & TID_64) !== this.#tid) {
        spins--;
        continue;
      }
      if ((v & CONTENDED_64) === 0n) {
        if (Atomics.compareExchange(w, 0, v, v | CONTENDED_64) !== v) continue;
        v |= CONTENDED_64;
      }
      const left = deadline - performance.now();
      if (checkOwner || left <= 0) {
        checkOwner = false;
        if (provablyDead(unpack(v))) {
          // The CAS fails if anything changed since we looked: the owner
          // unlocked, or another waiter recovered first. Then just go round.
          if (Atomics.compareExchange(w, 0, v, me | CONTENDED_64) === v) return RECOVERED;
          continue;
        }
        if (left <= 0) {
          throw new ShmError('ERR_SHM_LOCK_TIMEOUT', `lock() timed out after ${ms} ms; the mutex is held by ${describeOwner(v)}`);
        }
      }
      const low = Number(BigInt.asIntN(32, v));
      const r = await binding.futexWaitAsync(this.#futex, FUTEX_INDEX, low, Math.min(left, LIVENESS_SLICE_MS));
      slept = true;
      // The owner held it for a whole slice without letting go: is it alive?
      checkOwner = r === 'timed-out';
    }
  }

  /**
   * Takes the lock if it is free, without waiting.
   * It never takes over a dead owner's lock; `lock({ timeout: 0 })` does.
   * @returns true if this thread now holds the lock
   * @throws `ERR_SHM_CLOSED` if the segment is closed
   * @example
   * if (m.tryLock()) { try { work(); } finally { m.unlock(); } }
   */
  tryLock(): boolean {
    this.#checkOpen();
    return Atomics.compareExchange(this.#word, 0, 0n, this.#me) === 0n;
  }

  /**
   * Releases the lock and wakes one waiter, if any.
   * @throws `ERR_SHM_NOT_OWNER` if this thread does not hold it (it is free
   *   or another thread or process holds it; nothing changes); `ERR_SHM_CLOSED` if the segment is closed
   * @example
   * m.unlock();
   */
  unlock(): void {
    const w = this.#word;
    const me = this.#me;
    if (w.length !== 0 && Atomics.compareExchange(w, 0, me, 0n) === me) return;
    this.#checkOpen();
    const v = Atomics.load(w, 0);
    if ((v & ~CONTENDED_64) !== me) {
      throw new ShmError(
        'ERR_SHM_NOT_OWNER',
        v === 0n
          ? `unlock() of a mutex that is not locked (thread ${this.#tid} of process ${process.pid})`
          : `unlock() by thread ${this.#tid} of process ${process.pid} of a mutex held by ${describeOwner(v)}`,
      );
    }
    // Only we change a held word, apart from waiters setting CONTENDED, which
    // is set already: a plain store is enough.
    Atomics.store(w, 0, 0n);
    binding.futexWake(this.#futex, FUTEX_INDEX, 1);
  }

  /**
   * Runs `fn` holding the lock and releases it however `fn` ends.
   * `fn` gets the {@link LockResult}, so it can repair data after a recovery.
   * @returns what `fn` returns (awaited)
   * @throws what `fn` throws; as {@link Mutex.lock} otherwise
   * @example
   * await m.withLock(({ recovered }) => { if (recovered) rebuild(); counter[0]++; });
   */
  async withLock<T>(fn: (result: LockResult) => T | PromiseLike<T>, options?: LockOptions): Promise<T> {
    if (typeof fn !== 'function') throw invalidType('fn', 'a function', fn);
    const result = await this.lock(options);
    try {
      return await fn(result);
    } finally {
      this.unlock();
    }
  }

  #checkOpen(): void {
    if (this.#word.length === 0 || this.#seg.closed) {
      throw new ShmError('ERR_SHM_CLOSED', `segment '${this.#seg.name}' is closed`);
    }
  }
}
