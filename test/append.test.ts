/**
 * The append protocol alone (lib/table/append.ts), over plain typed arrays:
 * interleavings driven step by step, with death and time under the test's
 * control. The concurrent, process-killing tests are in table.test.ts and
 * threads.test.ts; the exhaustive check is model/check.sh.
 */
import { describe, expect, it } from 'vitest';
import { AppendLog, COMMITTED, FREE, HOLE_CHECK_MS, RUN, VOID, ZERO_STALL_MS, claimWord } from '../lib/table/append';

const CAP = 16;

/** A table's shared words, and writers over them with their own identity, clock and view of who is dead. */
function table() {
  const header = Int32Array.of(0, 0, 0, CAP, 0); // reserved, committed, voids, ready, waiters
  const states = new BigInt64Array(CAP);
  const dead = new Set<bigint>();
  let clock = 0;
  const writer = (id: number) =>
    new AppendLog(header, { reserved: 0, committed: 1, voids: 2, ready: 3, waiters: 4 }, states, CAP, claimWord(BigInt(id)), { dead: (w) => dead.has(w), now: () => clock });
  const low = (i: number) => Number(BigInt.asIntN(32, states[i]!));
  return {
    header,
    states,
    writer,
    low,
    kill: (id: number) => dead.add(claimWord(BigInt(id))),
    tick: (ms: number) => (clock += ms),
  };
}

/** Calls advance() as time passes until it stops changing (recovery needs the same hole seen twice, HOLE_CHECK_MS apart). */
function settle(t: ReturnType<typeof table>, log: AppendLog, ms: number): number {
  let k = log.advance();
  for (let waited = 0; waited <= ms; waited += HOLE_CHECK_MS) {
    t.tick(HOLE_CHECK_MS);
    k = log.advance();
  }
  return k;
}

describe('AppendLog', () => {
  it('publishes a batch only when its head commits, and resolves the rest of the batch from the head', () => {
    const t = table();
    const a = t.writer(1);
    const s = a.begin(3);
    expect(s).toBe(0);
    expect(t.low(0)).toBeLessThan(0); // claimed: bit 31 set
    expect(t.low(1)).toBe(RUN);
    expect(t.low(2)).toBe(FREE);
    expect(a.advance()).toBe(0); // nothing visible before the commit
    expect(a.commit(s, 3)).toBe(true);
    expect(a.committed).toBe(3);
    expect([0, 1, 2].map(t.low)).toEqual([COMMITTED, COMMITTED, COMMITTED]);
  });

  it('never lets a commit overwrite a void: the writer judged dead learns its batch is gone and length moves on', () => {
    const t = table();
    const a = t.writer(1);
    const b = t.writer(2);
    const s = a.begin(2);
    t.kill(1); // b now believes a is dead (say, a wrongly judged owner)
    expect(settle(t, b, 2 * HOLE_CHECK_MS)).toBe(2);
    expect([t.low(0), t.low(1)]).toEqual([VOID, VOID]);
    expect(a.commit(s, 2)).toBe(false); // compare-and-swap on the head: the void stands
    expect([t.low(0), t.low(1)]).toEqual([VOID, VOID]);
    expect(a.committed).toBe(2);
    const again = a.begin(2); // what the table does: write it again
    expect(again).toBe(2);
    expect(a.commit(again, 2)).toBe(true);
    expect(a.committed).toBe(4);
  });

  it('does not void a live writer\'s claim, however long it takes', () => {
    const t = table();
    const a = t.writer(1);
    const b = t.writer(2);
    const s = a.begin(1);
    const later = b.begin(1);
    expect(b.commit(later, 1)).toBe(true);
    expect(settle(t, b, 10 * ZERO_STALL_MS)).toBe(0); // held back behind a's hole, not stolen
    expect(a.commit(s, 1)).toBe(true);
    expect(b.advance()).toBe(2);
  });

  it('voids a reservation never claimed after ZERO_STALL_MS, and its writer, if alive, starts again', () => {
    const t = table();
    const a = t.writer(1);
    const b = t.writer(2);
    // a reserves 3 slots and stalls before marking or claiming them.
    Atomics.add(t.header, 0, 3);
    const s = b.begin(1);
    expect(s).toBe(3);
    expect(b.commit(s, 1)).toBe(true);
    expect(settle(t, b, ZERO_STALL_MS - 2 * HOLE_CHECK_MS)).toBe(0);
    expect(settle(t, b, 3 * HOLE_CHECK_MS)).toBe(4);
    expect([0, 1, 2].map(t.low)).toEqual([VOID, VOID, VOID]);
    // A live writer stalled there would find its marks refused and reserve anew.
    expect(a.begin(1)).toBe(4);
  });

  it('a writer whose reservation was voided under it voids the rest and takes a new one', () => {
    const t = table();
    const a = t.writer(1);
    // What a writer finds when it stalled between its reserve and its marks
    // for longer than ZERO_STALL_MS: recovery has voided the head of what it
    // is about to reserve (slots 0 and 1 here).
    t.states[0] = BigInt(VOID);
    t.states[1] = BigInt(VOID);
    const s = a.begin(3); // reserves 0..2, its RUN mark on slot 1 fails
    expect(t.low(2)).toBe(VOID); // it gave back the rest of that reservation
    expect(s).toBe(3); // and took a fresh one: slots are never reused
    expect(a.commit(s, 3)).toBe(true);
    expect(a.committed).toBe(6);
    expect(Array.from(a.validity(6))).toEqual([0, 0, 0, 1, 1, 1]);
  });

  it('throws nothing and changes nothing when a batch does not fit', () => {
    const t = table();
    const a = t.writer(1);
    expect(a.begin(CAP + 1)).toBe(-1);
    expect(t.header[0]).toBe(0);
    expect(a.begin(CAP)).toBe(0);
    expect(a.begin(1)).toBe(-1);
  });

  it('abandon() voids the whole batch, and the void count says how many slots', () => {
    const t = table();
    const a = t.writer(1);
    expect(a.voidCount).toBe(0);
    const s = a.begin(4);
    a.abandon(s);
    expect(a.voidCount).toBe(4);
    expect(a.committed).toBe(4);
    expect([0, 1, 2, 3].map(t.low)).toEqual([VOID, VOID, VOID, VOID]);
    expect(Array.from(a.validity(4))).toEqual([0, 0, 0, 0]);
  });

  it('never moves committed backwards, and a resolver that stopped mid-run is finished by the next one', () => {
    const t = table();
    const a = t.writer(1);
    const s = a.begin(5);
    expect(Atomics.compareExchange(t.states, s, claimWord(1n), BigInt(COMMITTED))).toBe(claimWord(1n)); // the head commits, nobody advanced yet
    // A resolver stopped after storing the fate into one follower.
    t.states[2] = BigInt(COMMITTED);
    const seen: number[] = [];
    for (let k = 0; k < 3; k++) seen.push(t.writer(3).advance());
    expect(seen).toEqual([5, 5, 5]);
    expect([0, 1, 2, 3, 4].map(t.low)).toEqual([COMMITTED, COMMITTED, COMMITTED, COMMITTED, COMMITTED]);
  });
});
