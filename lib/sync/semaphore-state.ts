/**
 * The semaphore's protocol over typed arrays: no syscalls, no processes;
 * model/semaphore.pml checks it. Every function except the loads runs inside
 * the state lock (state-lock.ts).
 *
 * Semaphore state: SEM_BYTES (544) bytes at an 8-byte aligned offset.
 *
 *   int32 [0]   tag 0x53454d31 ('SEM1'), written last by create()
 *   int32 [1]   version (1)
 *   int32 [2]   permits: the total, fixed at create()
 *   int32 [3]   count: permits free now
 *   int64 [2]   the state lock word (state-lock.ts): 0 or the packed
 *               identity of the thread inside
 *   int32 [6]   seq: bumped by every release and recovery; permit waiters
 *               sleep (futex) on it
 *   int32 [7]   sleepers: how many waiters may sleep on seq (a release
 *               makes the futex call only when it is not 0)
 *   then HOLDERS (32) slots of 16 bytes, at byte 32 + 16·i:
 *     int64     id: packed identity of the holding thread (stale when held is 0)
 *     int32     held: permits it holds; 0 = a free slot
 *     int32     reserved, 0
 *
 * The rule that makes a death harmless at any step: the slots are the
 * truth and `count` is derived, `count = permits − Σ held`. Each change
 * writes the slot first (a taker sets id, then held; a giver lowers held)
 * and `count` after it, so a thread that dies inside the lock leaves slots
 * that say exactly who holds what, and whoever takes the lock over
 * recomputes `count` from them (repair). A slot whose holder is provably
 * dead is emptied and its permits go back to `count` (reclaim).
 */

export const TAG = 0x53454d31;
export const VERSION = 1;
export const HOLDERS = 32;
export const SEM_BYTES = 32 + 16 * HOLDERS;

/** int32 indexes. */
export const I_TAG = 0;
export const I_VERSION = 1;
export const I_PERMITS = 2;
export const I_COUNT = 3;
export const I_SEQ = 6;
export const I_SLEEPERS = 7;
/** int64 index of the lock word. */
export const L_LOCK = 2;
const slotId = (i: number) => 4 + 2 * i; // int64 index
const slotHeld = (i: number) => 10 + 4 * i; // int32 index

/** Writes a fresh semaphore: every permit free, no holder; the tag last. */
export function init(i32: Int32Array, i64: BigInt64Array, permits: number): void {
  Atomics.store(i32, I_TAG, 0);
  for (let i = 0; i < HOLDERS; i++) {
    Atomics.store(i64, slotId(i), 0n);
    Atomics.store(i32, slotHeld(i), 0);
    Atomics.store(i32, slotHeld(i) + 1, 0);
  }
  Atomics.store(i64, L_LOCK, 0n);
  Atomics.store(i32, I_VERSION, VERSION);
  Atomics.store(i32, I_PERMITS, permits);
  Atomics.store(i32, I_COUNT, permits);
  Atomics.store(i32, I_SEQ, 0);
  Atomics.store(i32, I_SLEEPERS, 0);
  Atomics.store(i32, I_TAG, TAG);
}

/** What is wrong with the state's header, or undefined if it is a semaphore. */
export function headerProblem(i32: Int32Array): string | undefined {
  const tag = Atomics.load(i32, I_TAG);
  if (tag !== TAG) return `no semaphore there (tag 0x${(tag >>> 0).toString(16)}, expected 0x${TAG.toString(16)})`;
  const version = Atomics.load(i32, I_VERSION);
  if (version !== VERSION) return `unknown semaphore version ${version}`;
  const permits = Atomics.load(i32, I_PERMITS);
  if (!(permits >= 1)) return `bad permit total ${permits}`;
  const count = Atomics.load(i32, I_COUNT);
  if (count < 0 || count > permits) return `free permits ${count} out of 0..${permits}`;
  return undefined;
}

/**
 * Takes one permit for `me`: 'ok', 'empty' (none free) or 'full' (a permit
 * is free but all HOLDERS slots hold permits of other threads). In the lock.
 */
export function take(i32: Int32Array, i64: BigInt64Array, me: bigint): 'ok' | 'empty' | 'full' {
  const count = Atomics.load(i32, I_COUNT);
  if (count <= 0) return 'empty';
  let free = -1;
  let mine = -1;
  for (let i = 0; i < HOLDERS; i++) {
    const held = Atomics.load(i32, slotHeld(i));
    if (held === 0) {
      if (free < 0) free = i;
    } else if (Atomics.load(i64, slotId(i)) === me) {
      mine = i;
      break;
    }
  }
  if (mine >= 0) {
    Atomics.add(i32, slotHeld(mine), 1);
  } else if (free >= 0) {
    Atomics.store(i64, slotId(free), me);
    Atomics.store(i32, slotHeld(free), 1);
  } else {
    return 'full';
  }
  Atomics.store(i32, I_COUNT, count - 1); // only after the slot says who holds it
  return 'ok';
}

/** Permits `me` holds (a load; right only in the lock or for `me` itself). */
export function heldBy(i32: Int32Array, i64: BigInt64Array, me: bigint): number {
  for (let i = 0; i < HOLDERS; i++) {
    const held = Atomics.load(i32, slotHeld(i));
    if (held > 0 && Atomics.load(i64, slotId(i)) === me) return held;
  }
  return 0;
}

/**
 * Gives back `n` of the permits `me` holds. In the lock.
 * @returns false if `me` holds fewer than `n` (nothing changes)
 */
export function give(i32: Int32Array, i64: BigInt64Array, me: bigint, n: number): boolean {
  for (let i = 0; i < HOLDERS; i++) {
    const held = Atomics.load(i32, slotHeld(i));
    if (held === 0 || Atomics.load(i64, slotId(i)) !== me) continue;
    if (held < n) return false;
    Atomics.store(i32, slotHeld(i), held - n); // the slot first: a death after it is repaired
    Atomics.store(i32, I_COUNT, Atomics.load(i32, I_COUNT) + n);
    Atomics.add(i32, I_SEQ, 1);
    return true;
  }
  return false;
}

/** After taking the lock over from a thread that died in it: `count` from the slots. */
export function repair(i32: Int32Array): void {
  let sum = 0;
  for (let i = 0; i < HOLDERS; i++) sum += Atomics.load(i32, slotHeld(i));
  Atomics.store(i32, I_COUNT, Atomics.load(i32, I_PERMITS) - sum);
  Atomics.add(i32, I_SEQ, 1);
}

/** Holders with permits, read without the lock: candidates for {@link reclaim}. */
export function holders(i32: Int32Array, i64: BigInt64Array): { slot: number; id: bigint }[] {
  const out: { slot: number; id: bigint }[] = [];
  for (let i = 0; i < HOLDERS; i++) {
    if (Atomics.load(i32, slotHeld(i)) > 0) out.push({ slot: i, id: Atomics.load(i64, slotId(i)) });
  }
  return out;
}

/**
 * Returns the permits of slot `slot` if it still belongs to `id` (judged
 * dead outside the lock: a dead thread's slot can change only here). In the
 * lock. @returns how many permits went back
 */
export function reclaim(i32: Int32Array, i64: BigInt64Array, slot: number, id: bigint): number {
  const held = Atomics.load(i32, slotHeld(slot));
  if (held === 0 || Atomics.load(i64, slotId(slot)) !== id) return 0;
  Atomics.store(i32, slotHeld(slot), 0);
  Atomics.store(i32, I_COUNT, Atomics.load(i32, I_COUNT) + held);
  Atomics.add(i32, I_SEQ, 1);
  return held;
}
