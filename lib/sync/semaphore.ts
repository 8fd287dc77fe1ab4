/**
 * Semaphore: a number of permits in shared memory, taken and given back by
 * threads of any process, that a dead holder cannot keep.
 */
import { binding } from '../binding';
import { ShmError, checkInteger } from '../errors';
import { SharedMemory } from '../segment';
import { isForeign, provablyDead, unpack } from '../identity';
import type { LockResult } from './mutex';
import { PlacedState, checkPlacement, checkWaitOptions } from './placement';
import * as S from './semaphore-state';

/** A waiter checks for dead holders at least this often. */
const LIVENESS_SLICE_MS = 100;
const ACQUIRED: LockResult = Object.freeze({ recovered: false });
const RECOVERED: LockResult = Object.freeze({ recovered: true });
const ACQUIRED_NOW: Promise<LockResult> = Promise.resolve(ACQUIRED);
const token = Symbol('Semaphore');

/** Options of {@link Semaphore.acquire}. */
export interface AcquireOptions {
  /** Give up after this many milliseconds with `ERR_SHM_LOCK_TIMEOUT`. Default: wait forever. */
  timeout?: number;
}

function describe(id: bigint): string {
  const u = unpack(id);
  return isForeign(u.ns) ? `${u.tid} (pid:[${u.ns}])` : String(u.tid);
}

/**
 * A counting semaphore whose state lives in `Semaphore.BYTES` bytes of a
 * segment: `permits` permits, each held by one thread of some process at a
 * time. `acquire()` waits (without blocking the event loop) until a permit is
 * free; `release()` gives permits back and wakes waiters.
 *
 * Permits are owned, like a Mutex: the semaphore records which thread holds
 * how many (up to 32 distinct holding threads at once; a 33rd waits for a
 * slot), only a holder may release them, and the permits of a holder that
 * died — its process ended or was killed, or its worker thread ended — go
 * back to the semaphore: a waiter that found no permit for about 100 ms
 * looks for dead holders and returns their permits, and the `acquire()` that
 * did so reports `recovered: true` (what the dead holder guarded may be
 * half-updated). A live holder is never robbed. This is not a signalling
 * counter (POSIX `sem_post` without a `sem_wait`): for that, use
 * `waitAsync`/`notify` or a channel.
 *
 * @example
 * const s = Semaphore.create(seg, 0, 3);          // one process; Semaphore.attach(seg, 0) in the others
 * await s.acquire();
 * try { await work(); } finally { s.release(); }
 */
export class Semaphore extends PlacedState {
  /** Bytes of shared memory a semaphore uses (at an 8-byte aligned offset). */
  static readonly BYTES = S.SEM_BYTES;
  /** The largest permit total. */
  static readonly MAX_PERMITS = 0x7fff_ffff;


  /** @internal use {@link Semaphore.create} or {@link Semaphore.attach}. */
  constructor(key: typeof token, seg: SharedMemory, byteOffset: number) {
    super(seg, byteOffset, S.SEM_BYTES, S.L_LOCK);
    if (key !== token) throw new TypeError('use Semaphore.create() or Semaphore.attach()');
  }

  /**
   * Writes a fresh semaphore of `permits` free permits over `Semaphore.BYTES`
   * bytes of `seg` at `byteOffset`, and returns it. Call it once, before any
   * other process attaches: it overwrites whatever was there, holders and
   * waiters included.
   *
   * @throws TypeError if `seg` is not a writable SharedMemory; RangeError if
   *   the offset is not a multiple of 8, the bytes do not fit, or `permits` is
   *   not an integer from 1 to `Semaphore.MAX_PERMITS`; `ERR_SHM_CLOSED` if
   *   `seg` is closed
   * @example
   * const seg = SharedMemory.create({ size: 4096 });
   * const s = Semaphore.create(seg, 0, 3);
   */
  static create(seg: SharedMemory, byteOffset: number, permits: number): Semaphore {
    const offset = checkPlacement('Semaphore', seg, byteOffset, S.SEM_BYTES);
    checkInteger('permits', permits, 1, Semaphore.MAX_PERMITS);
    const s = new Semaphore(token, seg, offset);
    S.init(s.i32, s.i64, permits);
    return s;
  }

  /**
   * The semaphore that {@link Semaphore.create} wrote at `byteOffset` of
   * `seg` (in this or another process).
   *
   * @throws `ERR_SHM_BAD_HEADER` if the bytes there are not a semaphore (no
   *   tag, another version, counts out of range); otherwise as {@link Semaphore.create}
   * @example
   * const s = Semaphore.attach(SharedMemory.attach(handle), 0);
   */
  static attach(seg: SharedMemory, byteOffset: number): Semaphore {
    const offset = checkPlacement('Semaphore', seg, byteOffset, S.SEM_BYTES);
    const s = new Semaphore(token, seg, offset);
    const problem = S.headerProblem(s.i32);
    if (problem !== undefined) {
      throw new ShmError('ERR_SHM_BAD_HEADER', `Semaphore.attach() at byte ${offset} of '${seg.name}': ${problem}`);
    }
    return s;
  }

  /** The permit total given to `create`. @throws `ERR_SHM_CLOSED` */
  get permits(): number {
    this.checkOpen();
    return Atomics.load(this.i32, S.I_PERMITS);
  }

  /** Permits free at this moment (a dead holder's count as taken until a waiter returns them). @throws `ERR_SHM_CLOSED` */
  get available(): number {
    this.checkOpen();
    return Atomics.load(this.i32, S.I_COUNT);
  }

  /** Permits this thread holds. @throws `ERR_SHM_CLOSED` */
  get held(): number {
    this.checkOpen();
    return S.heldBy(this.i32, this.i64, this.me);
  }

  /**
   * Takes one permit, waiting (without blocking the event loop) until one is
   * free. While it waits it returns the permits of holders that died, about
   * every 100 ms; then the result has `recovered: true`.
   *
   * @returns a promise of `{ recovered }`; it rejects with
   *   `ERR_SHM_LOCK_TIMEOUT` when `options.timeout` ms pass first (`timeout: 0`
   *   tries once, and still returns dead holders' permits), `ERR_SHM_CLOSED`
   *   if the segment is closed (also while waiting, within 100 ms),
   *   TypeError/RangeError on bad options
   * @example
   * const { recovered } = await s.acquire({ timeout: 5000 });
   * try { if (recovered) check(); await work(); } finally { s.release(); }
   */
  acquire(options?: AcquireOptions): Promise<LockResult> {
    try {
      this.checkOpen();
      const ms = checkWaitOptions(options);
      if (this.stateLock.tryEnter()) {
        const r = S.take(this.i32, this.i64, this.me);
        this.stateLock.leave();
        if (r === 'ok') return ACQUIRED_NOW;
      }
      return this.#acquireSlow(ms);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  async #acquireSlow(ms: number): Promise<LockResult> {
    const i32 = this.i32;
    const deadline = performance.now() + ms;
    let lastCheck = performance.now();
    let recovered = false;
    let sleeping = false;
    try {
      for (;;) {
        this.checkOpen();
        const seq = Atomics.load(i32, S.I_SEQ);
        const r = this.#inLock(await this.stateLock.enterAsync(), () => S.take(i32, this.i64, this.me));
        if (r === 'ok') return recovered ? RECOVERED : ACQUIRED;
        const now = performance.now();
        if (now - lastCheck >= LIVENESS_SLICE_MS || now >= deadline) {
          lastCheck = now;
          if (this.#reclaimDead() > 0) {
            recovered = true;
            continue;
          }
        }
        if (now >= deadline) throw this.#timeout(ms, r);
        if (!sleeping) {
          // Count ourselves in, then look again: a release that did not see
          // us has already bumped seq, so the wait below cannot miss it.
          Atomics.add(i32, S.I_SLEEPERS, 1);
          sleeping = true;
          continue;
        }
        await binding.futexWaitAsync(i32, S.I_SEQ, seq, Math.min(deadline - now, LIVENESS_SLICE_MS));
      }
    } finally {
      if (sleeping && i32.length !== 0 && !this.seg.closed) Atomics.sub(i32, S.I_SLEEPERS, 1);
    }
  }

  /**
   * Takes one permit if one is free, without waiting. It never returns dead
   * holders' permits; `acquire({ timeout: 0 })` does.
   * @returns true if this thread now holds one more permit
   * @throws `ERR_SHM_CLOSED` if the segment is closed
   * @example
   * if (s.tryAcquire()) { try { work(); } finally { s.release(); } }
   */
  tryAcquire(): boolean {
    this.checkOpen();
    return this.#inLock(this.stateLock.enterSync(), () => S.take(this.i32, this.i64, this.me)) === 'ok';
  }

  /**
   * Gives back `n` permits that this thread holds and wakes waiters.
   * @throws `ERR_SHM_NOT_OWNER` if this thread holds fewer than `n` (nothing
   *   changes); RangeError if `n` is not a positive integer;
   *   `ERR_SHM_CLOSED` if the segment is closed
   * @example
   * s.release();      // one
   * s.release(2);     // two taken by two acquire() calls
   */
  release(n = 1): void {
    this.checkOpen();
    checkInteger('n', n, 1, Semaphore.MAX_PERMITS);
    const held = this.#inLock(this.stateLock.enterSync(), () =>
      S.give(this.i32, this.i64, this.me, n) ? -1 : S.heldBy(this.i32, this.i64, this.me),
    );
    const ok = held < 0;
    if (!ok) {
      throw new ShmError(
        'ERR_SHM_NOT_OWNER',
        `release(${n}) by thread ${unpack(this.me).tid} of process ${process.pid}, which holds ${held} permit${held === 1 ? '' : 's'}`,
      );
    }
    this.#wake(n);
  }

  /**
   * Runs `fn` in the state lock, just taken; `recovered`: it was taken over
   * from a thread that died in it, so `count` is first rebuilt from the
   * slots, and every sleeper woken after (the dead thread may have freed
   * permits without waking anyone).
   */
  #inLock<T>(recovered: boolean, fn: () => T): T {
    try {
      if (recovered) S.repair(this.i32);
      return fn();
    } finally {
      this.stateLock.leave();
      if (recovered) this.#wake(-1);
    }
  }

  /** Wakes up to `n` sleepers (-1: all), if any sleep. */
  #wake(n: number): void {
    if (Atomics.load(this.i32, S.I_SLEEPERS) > 0) binding.futexWake(this.i32, S.I_SEQ, n);
  }

  /** Returns the permits of provably dead holders. @returns how many */
  #reclaimDead(): number {
    const dead = S.holders(this.i32, this.i64).filter((h) => h.id !== this.me && provablyDead(unpack(h.id)));
    if (dead.length === 0) return 0;
    const n = this.#inLock(this.stateLock.enterSync(), () => dead.reduce((sum, d) => sum + S.reclaim(this.i32, this.i64, d.slot, d.id), 0));
    if (n > 0) this.#wake(n);
    return n;
  }

  #timeout(ms: number, r: 'empty' | 'full'): ShmError {
    const who = S.holders(this.i32, this.i64).map((h) => describe(h.id));
    const why = r === 'empty' ? 'no permit free' : `all ${S.HOLDERS} holder slots taken by other threads`;
    return new ShmError('ERR_SHM_LOCK_TIMEOUT', `acquire() timed out after ${ms} ms: ${why}; held by thread${who.length === 1 ? '' : 's'} ${who.join(', ')}`);
  }

}
