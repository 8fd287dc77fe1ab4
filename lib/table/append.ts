/**
 * The concurrent append protocol of record tables, over typed arrays only:
 * no segment, no system calls. Whether a writer is dead and what time it is
 * come in through {@link AppendPorts}, so the protocol can be driven and
 * checked alone (see model/append.pml, checked with spin).
 * @internal
 */

/*
 * Shared words. The header has two Int32 counters:
 *   reserved   next free slot; moved only by compareExchange, never past capacity
 *   committed  the table's length: every slot below it is COMMITTED or VOID,
 *              and it only moves forward (compareExchange)
 * and every slot (row) has one 64-bit state word:
 *   0          FREE       not reserved yet, or reserved and not yet marked
 *   1          COMMITTED  the row is complete
 *   2          VOID       no row here: its writer died (or gave up) before
 *                         committing; its bytes are unspecified and every
 *                         reader shows it as missing
 *   4 | m<<32  RUN        the second slot of a batch of m + 1 rows: it and
 *                         the m - 1 slots after it end as the head did
 *   claim      low half has bit 31 set: the head of a batch that a writer
 *              is writing; the word is the writer's packed identity
 *              (identity.ts): tid, start-time fingerprint, pid namespace
 *
 * A writer appending n rows:
 *   1. reserve [s, s+n): compareExchange reserved r -> r + n (a full table
 *      changes nothing);
 *   2. mark: if n > 1, compareExchange state[s+1] FREE -> RUN(n-1);
 *   3. claim: compareExchange state[s] FREE -> its claim word;
 *      if 2 or 3 fails, recovery voided the head while the writer stalled
 *      between 1 and 3: it voids the rest of its reservation that is still
 *      FREE and starts again at 1 (the RUN, if marked, follows the void head);
 *   4. write the data of [s, s+n);
 *   5. commit: compareExchange state[s] claim -> COMMITTED. This is the one
 *      decision point of the batch: if it fails, recovery judged the writer
 *      dead and voided the head — the batch is void as a whole (the RUN
 *      follows the head) and the writer writes it again from 1;
 *   6. advance.
 * Advance (anyone, any time): from committed, step over COMMITTED and VOID;
 * at a RUN at slot k (whose head k - 1 is final, being below k in the scan
 * or below committed), store the head's fate into slots k+1 .. k+m-1, then
 * compareExchange slot k RUN -> fate (a resolver that dies midway leaves the
 * RUN for the next one; all resolvers write the same values); then move
 * committed forward by compareExchange. Nothing below committed changes
 * again, so a reader that loaded committed sees only finished rows.
 *
 * Recovery, at the first slot k that advance cannot step over (a hole), once
 * it has been seen there for a while:
 *   - a claim whose writer is provably dead (HOLE_CHECK_MS between checks):
 *     compareExchange claim -> VOID;
 *   - FREE for ZERO_STALL_MS with no change (a writer died, or stalled, between
 *     1 and 3): compareExchange FREE -> VOID on k and on each following slot
 *     while FREE. A live writer whose reservation was voided this way finds
 *     out at 2 or 3 and starts again, so no row is lost.
 * A live writer that is stopped (SIGSTOP) holds committed back until it runs.
 */

export const FREE = 0;
export const COMMITTED = 1;
export const VOID = 2;
export const RUN = 4;
/** Bit 31 of a state's low half: a claim. */
const CLAIM_BIT = 0x8000_0000;
const COMMITTED_64 = BigInt(COMMITTED);
const VOID_64 = BigInt(VOID);
const RUN_64 = BigInt(RUN);
const LOW_64 = 0xffff_ffffn;
const CLAIM_64 = BigInt(CLAIM_BIT);

/** How often a hole's claimant is checked for death. */
export const HOLE_CHECK_MS = 20;
/** How long a hole may stay FREE (reserved, never claimed) before it is voided. */
export const ZERO_STALL_MS = 2000;

/** Index of a state's low half in an Int32Array over the states. */
const LO = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 0 : 1;

/** What the protocol needs from outside. */
export interface AppendPorts {
  /** Whether the writer whose claim word this is provably no longer runs. */
  dead(claim: bigint): boolean;
  /** Milliseconds from a monotonic clock. */
  now(): number;
  /** Wakes readers asleep on the committed word (called only while the waiters word is not 0). */
  wake?(): void;
}

/** Where a table's Int32 counters are in its header array. */
export interface AppendWords {
  reserved: number;
  committed: number;
  /** An upper bound of the VOID slots (no decision of the protocol reads it; readers skip a validity scan at 0). */
  voids: number;
  /** Rows that may be reserved: slots [0, ready) have memory (grow.ts); it only grows. */
  ready: number;
  /** Readers asleep on committed (waitForLength); a committer wakes them when it is not 0. */
  waiters: number;
}

/** The claim word of a writer whose packed identity (low half tid + fingerprint, high half namespace) is `id`. */
export function claimWord(id: bigint): bigint {
  return BigInt.asIntN(64, id | BigInt(CLAIM_BIT));
}

/** One writer's (or reader's) handle on a table's counters and row states. */
export class AppendLog {
  readonly #h: Int32Array;
  readonly #iReserved: number;
  readonly #iCommitted: number;
  readonly #iVoids: number;
  readonly #iReady: number;
  readonly #iWaiters: number;
  readonly #st: BigInt64Array;
  readonly #w: Int32Array;
  readonly #cap: number;
  readonly #me: bigint;
  readonly #ports: AppendPorts;
  #holeSlot = -1;
  #holeWord = 0n;
  #holeSince = 0;
  #holeChecked = 0;

  /**
   * @param header Int32 words holding the counters at the indices `words` names
   * @param states one 64-bit state per slot, `capacity` (the most rows) of them
   * @param me this writer's claim word ({@link claimWord})
   */
  constructor(header: Int32Array, words: AppendWords, states: BigInt64Array, capacity: number, me: bigint, ports: AppendPorts) {
    this.#h = header;
    this.#iReserved = words.reserved;
    this.#iCommitted = words.committed;
    this.#iVoids = words.voids;
    this.#iReady = words.ready;
    this.#iWaiters = words.waiters;
    this.#st = states;
    this.#w = new Int32Array(states.buffer, states.byteOffset, states.length * 2);
    this.#cap = capacity;
    this.#me = me;
    this.#ports = ports;
  }

  /** Slots reserved so far (not all written yet). */
  get reserved(): number {
    return Math.min(Atomics.load(this.#h, this.#iReserved), this.#cap);
  }

  /** At least how many slots are void (anywhere, not only below committed), never fewer: 0 means every published row is a row. */
  get voidCount(): number {
    return Atomics.load(this.#h, this.#iVoids);
  }

  /** The published length, without advancing it. */
  get committed(): number {
    return Atomics.load(this.#h, this.#iCommitted);
  }

  /** Steps 1–3: reserves and claims [s, s+n); returns s, or -1 if n rows do not fit below `ready` (nothing changed). */
  begin(n: number): number {
    const h = this.#h;
    for (;;) {
      const r = Atomics.load(h, this.#iReserved);
      if (r + n > Math.min(Atomics.load(h, this.#iReady), this.#cap)) return -1;
      if (Atomics.compareExchange(h, this.#iReserved, r, r + n) !== r) continue;
      // No JavaScript function is called from here to the claim: a worker's
      // terminate() takes effect only at a function entry or a loop edge, so
      // it cannot leave this reservation unclaimed (a SIGKILL can: that is
      // the ZERO_STALL_MS case).
      if (n > 1 && Atomics.compareExchange(this.#st, r + 1, 0n, (BigInt(n - 1) << 32n) | RUN_64) !== 0n) {
        this.#voidFree(r + 2, r + n); // the head went with slot r+1: give the rest back
      } else if (Atomics.compareExchange(this.#st, r, 0n, this.#me) === 0n) {
        return r;
      }
      this.advance();
    }
  }

  /** Step 5–6: publishes [s, s+n) begun by {@link begin}; false if recovery voided it first (write it again). */
  commit(s: number, n: number): boolean {
    if (Atomics.compareExchange(this.#st, s, this.#me, COMMITTED_64) !== this.#me) {
      this.advance();
      return false;
    }
    // Resolve our own RUN now, as any advance would (same values, so a
    // concurrent resolver is harmless), and step over [s, s+n) unread.
    if (n > 1) this.#resolveRun(s + 1, (BigInt(n - 1) << 32n) | RUN_64);
    this.#advance(s, s + n);
    return true;
  }

  /** Gives up [s, s+n) begun by {@link begin} (a value failed mid-write): the batch becomes void. */
  abandon(s: number): void {
    this.#toVoid(s, this.#me);
    this.advance();
  }

  /**
   * compareExchange of slot k from `from` to VOID; whether it happened. The
   * count goes up first and back down if the exchange fails, so a process
   * killed in between leaves it too high (a reader scans for nothing), never
   * too low (a reader would take a void row for a row).
   */
  #toVoid(k: number, from: bigint): boolean {
    Atomics.add(this.#h, this.#iVoids, 1);
    if (Atomics.compareExchange(this.#st, k, from, VOID_64) === from) return true;
    Atomics.sub(this.#h, this.#iVoids, 1);
    return false;
  }

  /** Moves committed forward as far as it can, recovering a dead writer's hole when due; returns it. */
  advance(): number {
    return this.#advance(-1, -1);
  }

  /** advance(), stepping over [mine, mineEnd) unread: rows this writer has just committed and resolved. */
  #advance(mine: number, mineEnd: number): number {
    const h = this.#h;
    const st = this.#st;
    for (;;) {
      const c = Atomics.load(h, this.#iCommitted);
      const r = Math.min(Atomics.load(h, this.#iReserved), this.#cap);
      let k = c;
      // 64-bit loads of words others change with 64-bit compareExchange: the
      // memory model orders atomics of the same size only.
      while (k < r) {
        if (k === mine) {
          k = mineEnd;
          continue;
        }
        const v = Atomics.load(st, k);
        if (v === COMMITTED_64 || v === VOID_64) k++;
        else if ((v & LOW_64) === RUN_64) k = this.#resolveRun(k, v);
        else break;
      }
      if (k > c) {
        if (Atomics.compareExchange(h, this.#iCommitted, c, k) !== c) continue;
        // After the exchange: a reader that raised waiters before we looked is woken,
        // one that raises it later sees the new committed before it sleeps.
        if (Atomics.load(h, this.#iWaiters) !== 0) this.#ports.wake?.();
      }
      if (k < r && this.#hole(k, r)) continue;
      return k;
    }
  }

  /** Whether slot i (below committed) is void. */
  isVoid(i: number): boolean {
    // Below committed nothing changes any more, and the load of committed
    // ordered every write of these words before this read.
    return this.#w[2 * i + LO] === VOID;
  }

  /** 1 for each committed row in [0, n), 0 for each void one. */
  validity(n: number): Uint8Array {
    const out = new Uint8Array(n);
    const w = this.#w;
    for (let i = 0; i < n; i++) out[i] = w[2 * i + LO] === COMMITTED ? 1 : 0;
    return out;
  }

  /** Resolves the RUN (word `run`) at slot k from its head at k - 1; returns the slot after the run. */
  #resolveRun(k: number, run: bigint): number {
    const w = this.#w;
    const fate = Atomics.load(this.#st, k - 1); // COMMITTED or VOID: final, being below k in the scan or below committed
    const m = Number(run >> 32n);
    const low = Number(fate);
    for (let j = k + 1; j < k + m; j++) w[2 * j + LO] = low; // FREE slots only this run's resolvers write
    // Counted before, uncounted on failure, as in #toVoid.
    if (fate === VOID_64) Atomics.add(this.#h, this.#iVoids, m);
    if (Atomics.compareExchange(this.#st, k, run, fate) !== run && fate === VOID_64) Atomics.sub(this.#h, this.#iVoids, m);
    return k + m;
  }

  /** Sets FREE slots of [from, to) to VOID. */
  #voidFree(from: number, to: number): void {
    for (let j = from; j < to; j++) this.#toVoid(j, 0n);
  }

  /** A hole at slot k (below reserved r): recovers it when due; true if it changed anything. */
  #hole(k: number, r: number): boolean {
    const now = this.#ports.now();
    const word = Atomics.load(this.#st, k);
    if (k !== this.#holeSlot || word !== this.#holeWord) {
      this.#holeSlot = k;
      this.#holeWord = word;
      this.#holeSince = now;
      this.#holeChecked = now;
      return false;
    }
    if (now - this.#holeChecked < HOLE_CHECK_MS) return false;
    this.#holeChecked = now;
    if (word === 0n) {
      if (now - this.#holeSince < ZERO_STALL_MS) return false;
      for (let j = k; j < r && this.#toVoid(j, 0n); j++);
      return true;
    }
    if ((word & CLAIM_64) === 0n) return true; // finished meanwhile: step on
    if (!this.#ports.dead(word)) return false;
    this.#toVoid(k, word);
    return true;
  }
}
