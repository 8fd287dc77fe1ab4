/**
 * Barrier: a meeting point in shared memory for a fixed number of parties
 * (threads of any processes), reusable round after round, that a dead party
 * breaks instead of hanging the others.
 */
import { binding } from '../binding';
import { ShmError, checkInteger } from '../errors';
import { SharedMemory } from '../segment';
import { provablyDead, self, unpack } from '../identity';
import { PlacedState, checkPlacement, checkWaitOptions } from './placement';
import * as B from './barrier-state';

/** A waiter checks for dead members at least this often. */
const LIVENESS_SLICE_MS = 100;
const token = Symbol('Barrier');

/** Options of {@link Barrier.wait}. */
export interface BarrierWaitOptions {
  /**
   * Give up after this many milliseconds: this call rejects with
   * `ERR_SHM_LOCK_TIMEOUT` and the barrier breaks for the others. Default: wait forever.
   */
  timeout?: number;
}

/** What {@link Barrier.wait} resolves to. */
export interface BarrierResult {
  /** True for exactly one party of each round: the last to arrive (like `PTHREAD_BARRIER_SERIAL_THREAD`). */
  readonly serial: boolean;
}

const SERIAL: BarrierResult = Object.freeze({ serial: true });
const PASSED: BarrierResult = Object.freeze({ serial: false });

/**
 * A cyclic barrier whose state lives in `Barrier.BYTES` bytes of a segment:
 * each `wait()` waits (without blocking the event loop) until `parties`
 * waits have arrived in the current round, then all of them go on together
 * and the next round starts. A round is counted in the state, so nobody
 * passes early however many rounds the barrier serves.
 *
 * A thread becomes a member of the barrier at its first `wait()`. If a
 * member dies — its process ends or is killed, or its worker thread ends —
 * without arriving, the parties waiting notice within about 100 ms and the
 * barrier is **broken**: every wait, pending and later, rejects with
 * `ERR_SHM_BARRIER_BROKEN`, whose message names the dead thread. A `wait()`
 * that times out breaks it the same way (as in Python's `threading.Barrier`).
 * A broken barrier stays broken; `Barrier.create` writes a fresh one (when no
 * one waits on it). A party that dies before its first `wait()` was never
 * known to the barrier: the others wait until their timeouts.
 *
 * @example
 * const b = Barrier.create(seg, 0, 4);     // one process; Barrier.attach(seg, 0) in the 3 others
 * for (let round = 0; round < 1000; round++) { step(round); await b.wait(); }
 */
export class Barrier extends PlacedState {
  /** Bytes of shared memory a barrier uses (at an 8-byte aligned offset). */
  static readonly BYTES = B.BAR_BYTES;
  /** The largest number of parties (and of member threads). */
  static readonly MAX_PARTIES = B.MAX_PARTIES;


  /** @internal use {@link Barrier.create} or {@link Barrier.attach}. */
  constructor(key: typeof token, seg: SharedMemory, byteOffset: number) {
    super(seg, byteOffset, B.BAR_BYTES, B.L_LOCK);
    if (key !== token) throw new TypeError('use Barrier.create() or Barrier.attach()');
  }

  /**
   * Writes a fresh barrier for `parties` parties over `Barrier.BYTES` bytes
   * of `seg` at `byteOffset`, and returns it. Call it once, before any other
   * process attaches: it overwrites whatever was there, waiters included.
   *
   * @throws TypeError if `seg` is not a writable SharedMemory; RangeError if
   *   the offset is not a multiple of 8, the bytes do not fit, or `parties` is
   *   not an integer from 1 to `Barrier.MAX_PARTIES` (64); `ERR_SHM_CLOSED` if
   *   `seg` is closed
   * @example
   * const seg = SharedMemory.create({ size: 4096 });
   * const b = Barrier.create(seg, 0, 4);
   */
  static create(seg: SharedMemory, byteOffset: number, parties: number): Barrier {
    const offset = checkPlacement('Barrier', seg, byteOffset, B.BAR_BYTES);
    checkInteger('parties', parties, 1, B.MAX_PARTIES);
    const b = new Barrier(token, seg, offset);
    B.init(b.i32, b.i64, parties);
    return b;
  }

  /**
   * The barrier that {@link Barrier.create} wrote at `byteOffset` of `seg`
   * (in this or another process).
   *
   * @throws `ERR_SHM_BAD_HEADER` if the bytes there are not a barrier (no
   *   tag, another version, a party count out of range); otherwise as {@link Barrier.create}
   * @example
   * const b = Barrier.attach(SharedMemory.attach(handle), 0);
   */
  static attach(seg: SharedMemory, byteOffset: number): Barrier {
    const offset = checkPlacement('Barrier', seg, byteOffset, B.BAR_BYTES);
    const b = new Barrier(token, seg, offset);
    const problem = B.headerProblem(b.i32);
    if (problem !== undefined) {
      throw new ShmError('ERR_SHM_BAD_HEADER', `Barrier.attach() at byte ${offset} of '${seg.name}': ${problem}`);
    }
    return b;
  }

  /** The number of parties given to `create`. @throws `ERR_SHM_CLOSED` */
  get parties(): number {
    this.checkOpen();
    return Atomics.load(this.i32, B.I_PARTIES);
  }

  /** Whether the barrier is broken (a member died, or a wait timed out). @throws `ERR_SHM_CLOSED` */
  get broken(): boolean {
    this.checkOpen();
    return (Atomics.load(this.i32, B.I_GEN) & 1) !== 0;
  }

  /**
   * Arrives at the barrier and waits, without blocking the event loop, until
   * all `parties` have arrived in this round.
   *
   * @returns a promise of `{ serial }` (true for the last to arrive); it
   *   rejects with `ERR_SHM_BARRIER_BROKEN` if the barrier is or becomes
   *   broken before the round ends, `ERR_SHM_LOCK_TIMEOUT` when
   *   `options.timeout` ms pass first (the barrier is then broken for the
   *   others), `ERR_SHM_BARRIER_FULL` if `Barrier.MAX_PARTIES` other live
   *   threads are members already, `ERR_SHM_CLOSED` if the segment is
   *   closed (also while waiting, within 100 ms), TypeError/RangeError on bad options
   * @example
   * const { serial } = await b.wait({ timeout: 10_000 });
   * if (serial) console.log('round done');
   */
  wait(options?: BarrierWaitOptions): Promise<BarrierResult> {
    try {
      this.checkOpen();
      const ms = checkWaitOptions(options);
      return this.#wait(ms);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  async #wait(ms: number): Promise<BarrierResult> {
    const i32 = this.i32;
    const deadline = performance.now() + ms;
    const dead = (id: bigint) => id !== this.me && provablyDead(unpack(id));
    const { gen, outcome } = this.#inLock(await this.stateLock.enterAsync(), () => B.arrive(i32, this.i64, this.me, dead));
    if (outcome === 'broken') throw this.#brokenError();
    if (outcome === 'full') {
      throw new ShmError('ERR_SHM_BARRIER_FULL', `Barrier.wait(): all ${B.MAX_PARTIES} member slots belong to other live threads`);
    }
    if (outcome === 'last') {
      binding.futexWake(i32, B.I_GEN, -1);
      return SERIAL;
    }
    let lastCheck = performance.now();
    for (;;) {
      this.checkOpen();
      const v = Atomics.load(i32, B.I_GEN);
      if (v === (gen | 1)) throw this.#brokenError();
      if (v !== gen) return PASSED;
      const now = performance.now();
      if (now >= deadline) {
        if (this.#break(gen, B.CAUSE_TIMEOUT, self().tid)) {
          throw new ShmError('ERR_SHM_LOCK_TIMEOUT', `Barrier.wait() timed out after ${ms} ms; the barrier is now broken for the other parties`);
        }
        continue; // the round ended or broke meanwhile
      }
      if (now - lastCheck >= LIVENESS_SLICE_MS) {
        lastCheck = now;
        // The last arrival's thread may have died in the lock before ending the round.
        if (this.stateLock.recoverIfDead()) {
          this.#inLock(true, () => undefined);
          continue;
        }
        const gone = B.missing(i32, this.i64, gen).find(dead);
        if (gone !== undefined) {
          const id = gone;
          this.#inLock(this.stateLock.enterSync(), () => {
            if (B.stillMissing(i32, this.i64, gen, id)) B.breakRound(i32, gen, B.CAUSE_DEAD, unpack(id).tid);
          });
          binding.futexWake(i32, B.I_GEN, -1);
          continue;
        }
      }
      await binding.futexWaitAsync(i32, B.I_GEN, gen, Math.min(deadline - now, LIVENESS_SLICE_MS));
    }
  }

  /** Breaks round `gen` if it is still current, and wakes everyone. */
  #break(gen: number, cause: number, culprit: number): boolean {
    const done = this.#inLock(this.stateLock.enterSync(), () => B.breakRound(this.i32, gen, cause, culprit));
    if (done) binding.futexWake(this.i32, B.I_GEN, -1);
    return done;
  }

  /** Runs `fn` in the state lock, just taken; `recovered`: repair first (a thread died in it). */
  #inLock<T>(recovered: boolean, fn: () => T): T {
    let woke = false;
    try {
      if (recovered) woke = B.repair(this.i32);
      return fn();
    } finally {
      this.stateLock.leave();
      if (woke) binding.futexWake(this.i32, B.I_GEN, -1);
    }
  }

  #brokenError(): ShmError {
    const cause = Atomics.load(this.i32, B.I_CAUSE);
    const who = Atomics.load(this.i32, B.I_CULPRIT);
    const why =
      cause === B.CAUSE_DEAD ? `party thread ${who} died without arriving`
      : cause === B.CAUSE_TIMEOUT ? `a wait of thread ${who} timed out`
      : 'it was broken';
    return new ShmError('ERR_SHM_BARRIER_BROKEN', `the barrier is broken: ${why}; create a new one to go on`);
  }

}
