/**
 * The barrier's protocol over typed arrays: no syscalls, no processes;
 * model/barrier.pml checks it. Every function except the loads runs inside
 * the state lock (state-lock.ts).
 *
 * Barrier state: BAR_BYTES (1056) bytes at an 8-byte aligned offset.
 *
 *   int32 [0]   tag 0x42415231 ('BAR1'), written last by create()
 *   int32 [1]   version (1)
 *   int32 [2]   parties
 *   int32 [3]   gen: the round, in steps of 2 (even); odd (gen | 1) once
 *               broken, for good. Waiters sleep (futex) on it.
 *   int64 [2]   the state lock word (state-lock.ts)
 *   int32 [6]   why it broke: 0 not broken, 1 a party died, 2 a wait timed out
 *   int32 [7]   the thread id of that party
 *   then MAX_PARTIES (64) member slots of 16 bytes, at byte 32 + 16·i:
 *     int64     id: packed identity of the member thread; 0 = free
 *     int32     arrived: the gen of its last arrival; -1 = never
 *     int32     reserved, 0
 *
 * A thread becomes a member at its first wait() (a slot of its own; a
 * thread waiting twice in one round, from two async tasks, holds two). The
 * arrivals of a round are the slots whose `arrived` equals `gen`, counted
 * afresh at every arrival: there is no separate counter to get out of step.
 * The arrival that makes them `parties` moves `gen` on by 2, one store, and
 * that is the only way a round ends; waiters of round g pass when `gen`
 * is neither g nor g | 1. A member that is not arrived in the current round
 * and is provably dead breaks the barrier (gen | 1), as does a wait that
 * times out: every waiter then rejects, now and later.
 */

export const TAG = 0x42415231;
export const VERSION = 1;
export const MAX_PARTIES = 64;
export const BAR_BYTES = 32 + 16 * MAX_PARTIES;

/** int32 indexes. */
export const I_TAG = 0;
export const I_VERSION = 1;
export const I_PARTIES = 2;
export const I_GEN = 3;
export const I_CAUSE = 6;
export const I_CULPRIT = 7;
/** int64 index of the lock word. */
export const L_LOCK = 2;
export const CAUSE_DEAD = 1;
export const CAUSE_TIMEOUT = 2;
const slotId = (i: number) => 4 + 2 * i; // int64 index
const slotArrived = (i: number) => 10 + 4 * i; // int32 index

/** Writes a fresh barrier at round 0 with no member; the tag last. */
export function init(i32: Int32Array, i64: BigInt64Array, parties: number): void {
  Atomics.store(i32, I_TAG, 0);
  for (let i = 0; i < MAX_PARTIES; i++) {
    Atomics.store(i64, slotId(i), 0n);
    Atomics.store(i32, slotArrived(i), -1);
    Atomics.store(i32, slotArrived(i) + 1, 0);
  }
  Atomics.store(i64, L_LOCK, 0n);
  Atomics.store(i32, I_VERSION, VERSION);
  Atomics.store(i32, I_PARTIES, parties);
  Atomics.store(i32, I_GEN, 0);
  Atomics.store(i32, I_CAUSE, 0);
  Atomics.store(i32, I_CULPRIT, 0);
  Atomics.store(i32, I_TAG, TAG);
}

/** What is wrong with the state's header, or undefined if it is a barrier. */
export function headerProblem(i32: Int32Array): string | undefined {
  const tag = Atomics.load(i32, I_TAG);
  if (tag !== TAG) return `no barrier there (tag 0x${(tag >>> 0).toString(16)}, expected 0x${TAG.toString(16)})`;
  const version = Atomics.load(i32, I_VERSION);
  if (version !== VERSION) return `unknown barrier version ${version}`;
  const parties = Atomics.load(i32, I_PARTIES);
  if (!(parties >= 1 && parties <= MAX_PARTIES)) return `bad party count ${parties}`;
  return undefined;
}

/** How many slots arrived in round `g`. */
export function arrivals(i32: Int32Array, g: number): number {
  let n = 0;
  for (let i = 0; i < MAX_PARTIES; i++) if (Atomics.load(i32, slotArrived(i)) === g) n++;
  return n;
}

/**
 * Records the arrival of `me` in the current round. In the lock.
 * `dead` judges a member's identity; it is asked only when every slot is
 * taken, to let a new thread take the place of a dead member.
 * @returns the round and 'last' (this arrival ended it), 'wait',
 *   'broken', or 'full' (every slot belongs to another live member)
 */
export function arrive(
  i32: Int32Array,
  i64: BigInt64Array,
  me: bigint,
  dead: (id: bigint) => boolean,
): { gen: number; outcome: 'last' | 'wait' | 'broken' | 'full' } {
  const gen = Atomics.load(i32, I_GEN);
  if ((gen & 1) !== 0) return { gen, outcome: 'broken' };
  let mine = -1;
  let free = -1;
  for (let i = 0; i < MAX_PARTIES && mine < 0; i++) {
    const id = Atomics.load(i64, slotId(i));
    if (id === me && Atomics.load(i32, slotArrived(i)) !== gen) mine = i;
    else if (id === 0n && free < 0) free = i;
  }
  if (mine < 0 && free < 0) {
    for (let i = 0; i < MAX_PARTIES && free < 0; i++) {
      if (Atomics.load(i32, slotArrived(i)) !== gen && dead(Atomics.load(i64, slotId(i)))) free = i;
    }
    if (free < 0) return { gen, outcome: 'full' };
  }
  if (mine < 0) {
    mine = free;
    Atomics.store(i64, slotId(mine), me); // a member first, arrived after
  }
  Atomics.store(i32, slotArrived(mine), gen);
  return { gen, outcome: completeIfDue(i32, gen) ? 'last' : 'wait' };
}

/** Ends round `gen` if every party arrived: the one store that lets waiters pass. In the lock. */
function completeIfDue(i32: Int32Array, gen: number): boolean {
  if (arrivals(i32, gen) < Atomics.load(i32, I_PARTIES)) return false;
  Atomics.store(i32, I_GEN, (gen + 2) | 0);
  return true;
}

/**
 * After taking the lock over from a thread that died in it: ends the
 * round if its last arrival was recorded but the round not moved on.
 * @returns true if it did (wake the waiters)
 */
export function repair(i32: Int32Array): boolean {
  const gen = Atomics.load(i32, I_GEN);
  return (gen & 1) === 0 && completeIfDue(i32, gen);
}

/** Breaks round `gen`, if it is still the current one. In the lock. @returns whether it did */
export function breakRound(i32: Int32Array, gen: number, cause: number, culprit: number): boolean {
  if (Atomics.load(i32, I_GEN) !== gen) return false;
  Atomics.store(i32, I_CAUSE, cause);
  Atomics.store(i32, I_CULPRIT, culprit);
  Atomics.store(i32, I_GEN, gen | 1);
  return true;
}

/** Members not arrived in round `gen`, read without the lock: candidates for a death check. */
export function missing(i32: Int32Array, i64: BigInt64Array, gen: number): bigint[] {
  const out: bigint[] = [];
  for (let i = 0; i < MAX_PARTIES; i++) {
    const id = Atomics.load(i64, slotId(i));
    if (id !== 0n && Atomics.load(i32, slotArrived(i)) !== gen) out.push(id);
  }
  return out;
}

/** Whether `id` is still a member not arrived in round `gen`. In the lock. */
export function stillMissing(i32: Int32Array, i64: BigInt64Array, gen: number, id: bigint): boolean {
  for (let i = 0; i < MAX_PARTIES; i++) {
    if (Atomics.load(i64, slotId(i)) === id && Atomics.load(i32, slotArrived(i)) !== gen) return true;
  }
  return false;
}
