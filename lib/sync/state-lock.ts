/**
 * StateLock: the short internal lock that guards the shared state of a
 * Semaphore or a Barrier. It is held only for a few loads and stores, never
 * across an await, so a waiter spins briefly and then sleeps in short
 * slices. Its word is a packed thread identity (identity.ts) like a Mutex
 * word, so a holder that died inside the critical section is detected and
 * the lock taken over: the caller is then told (`'recovered'`) and repairs
 * the state from the records that the protocol keeps consistent at every
 * step (see semaphore-state.ts and barrier-state.ts).
 * @internal
 */
import { binding } from '../binding';
import { provablyDead, unpack } from '../identity';

/** Bit 30 of the low half: someone may sleep on the word, so leave() must wake. */
const CONTENDED = 1n << 30n;
const SPINS = 64;
/** A sleeper looks again after this long even without a wake. */
const SLICE_MS = 5;
/** The same holder for this long: check whether it still lives. */
const SUSPECT_MS = 20;
const LOW = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 0 : 1; // index of the low int32 half

/** One pending enter: what the waiter has seen so far. */
interface Pending {
  spins: number;
  slept: boolean;
  seen: bigint;
  since: number;
  recovered: boolean;
}

export class StateLock {
  readonly #w: BigInt64Array;
  readonly #i: number;
  readonly #f: Int32Array;
  readonly #fi: number;
  readonly #me: bigint;

  /** The lock word is `word[index]`; `futex` views the same memory as int32s. */
  constructor(word: BigInt64Array, index: number, futex: Int32Array, me: bigint) {
    this.#w = word;
    this.#i = index;
    this.#f = futex;
    this.#fi = index * 2 + LOW;
    this.#me = me;
  }

  /** Takes the lock at once if it is free. */
  tryEnter(): boolean {
    return Atomics.compareExchange(this.#w, this.#i, 0n, this.#me) === 0n;
  }

  /**
   * Takes the lock, blocking this thread for as long as another thread is
   * inside (a few microseconds, unless that thread is descheduled or dead).
   * @returns true if the holder had died inside: repair the state
   */
  enterSync(): boolean {
    if (this.tryEnter()) return false;
    const p = pending();
    for (;;) {
      const r = this.#step(p);
      if (r === true) return p.recovered;
      binding.futexWait(this.#f, this.#fi, r, SLICE_MS);
      p.slept = true;
    }
  }

  /** As {@link enterSync}, sleeping off the event loop. */
  async enterAsync(): Promise<boolean> {
    if (this.tryEnter()) return false;
    const p = pending();
    for (;;) {
      const r = this.#step(p);
      if (r === true) return p.recovered;
      await binding.futexWaitAsync(this.#f, this.#fi, r, SLICE_MS);
      p.slept = true;
    }
  }

  /**
   * Takes the lock over if a thread that provably died holds it (for a
   * waiter that would otherwise never enter).
   * @returns true if it did: repair the state, then leave()
   */
  recoverIfDead(): boolean {
    const v = Atomics.load(this.#w, this.#i);
    if (v === 0n || !provablyDead(unpack(v))) return false;
    return Atomics.compareExchange(this.#w, this.#i, v, this.#me | CONTENDED) === v;
  }

  /** Releases the lock, waking one sleeper if any. */
  leave(): void {
    if (Atomics.compareExchange(this.#w, this.#i, this.#me, 0n) === this.#me) return;
    Atomics.store(this.#w, this.#i, 0n);
    binding.futexWake(this.#f, this.#fi, 1);
  }

  /** true: taken; a number: sleep while the low half holds it, then step again. */
  #step(p: Pending): true | number {
    const w = this.#w;
    const i = this.#i;
    for (;;) {
      let v = Atomics.load(w, i);
      if (v === 0n) {
        // After sleeping, others may sleep behind us: keep CONTENDED so that
        // our leave() wakes the next one.
        if (Atomics.compareExchange(w, i, 0n, p.slept ? this.#me | CONTENDED : this.#me) === 0n) return true;
        continue;
      }
      if (p.spins > 0) {
        p.spins--;
        continue;
      }
      if ((v & CONTENDED) === 0n) {
        if (Atomics.compareExchange(w, i, v, v | CONTENDED) !== v) continue;
        v |= CONTENDED;
      }
      const now = performance.now();
      if (v !== p.seen) {
        p.seen = v;
        p.since = now;
      } else if (now - p.since >= SUSPECT_MS && provablyDead(unpack(v))) {
        // Fails if anything changed since we looked; then go round.
        if (Atomics.compareExchange(w, i, v, this.#me | CONTENDED) === v) {
          p.recovered = true;
          return true;
        }
        continue;
      }
      return Number(BigInt.asIntN(32, v));
    }
  }
}

function pending(): Pending {
  return { spins: SPINS, slept: false, seen: 0n, since: 0, recovered: false };
}
