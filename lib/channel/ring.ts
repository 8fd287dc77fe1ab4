/**
 * The message ring of a channel, over typed arrays only: no segment, no
 * system calls. Whether a writer is dead and what time it is come in through
 * {@link RingPorts}, so the protocol can be driven and checked alone (see
 * model/channel.pml, checked with spin).
 * @internal
 */

/*
 * N slots of SLOT bytes each (N a power of two). A message takes k >= 1
 * consecutive slots (positions p .. p+k-1, wrapping around the data), its
 * first slot's index is p & (N - 1). Positions are int32 counters that wrap:
 * every comparison is of a difference, `(a - b) | 0`.
 *
 * Shared words:
 *   tail   next position to reserve; moved only by the claimant of its slot
 *   head   next position to read; moved by compareExchange, by the reader
 *          that got the message (or skipped a dead writer's hole)
 * and per slot index i (only the first slot of a message uses them):
 *   own[i]  0, or the claim word of the writer that is reserving or writing
 *           the message that starts there (packed identity, bit 31 set)
 *   seq[i]  p + 1 once the message at position p is published
 *   klen[i] its slots, k;  info[2i], info[2i+1]: its byte length and tag
 *
 * A writer sending k slots:
 *   1. p = tail; wait for room: p + k - head <= N (positions below head are
 *      read and copied out, so their slots are free);
 *   2. claim: compareExchange own[i] 0 -> its claim (another live claimant:
 *      retry; a provably dead one with tail still p: take over by
 *      compareExchange dead claim -> its claim); then check that tail is
 *      still p (else let go: compareExchange claim -> 0, and retry);
 *   3. klen[i] = k; then tail p -> p + k (only the claimant of slot p moves
 *      tail from p, so this cannot fail);
 *   4. write the bytes, info[i];
 *   5. publish: seq[i] = p + 1; then let go: compareExchange claim -> 0.
 * A reader:
 *   1. p = head; empty if tail == p;
 *   2. look: own[i] first, then seq[i]:
 *      - seq[i] == p + 1: published. Copy the message out, then take it:
 *        compareExchange head p -> p + klen[i]. If that fails another reader
 *        took it (or the slots were reused): drop the copy and start again.
 *        The copy is whole whenever head was still p, since no writer
 *        reserves past head + N;
 *      - own[i] == 0 and not published: a dead writer's message, voided:
 *        skip it, compareExchange head p -> p + klen[i];
 *      - own[i] a claim: the writer is still at it; once its claim has been
 *        seen there for HOLE_CHECK_MS and the writer is provably dead, void
 *        it: compareExchange claim -> 0.
 * A reader that finds seq unpublished reads own, then seq again: a publish
 * (seq) comes before the writer lets go of own, so own == 0 with seq still
 * unpublished (read after own) below tail can only be a void.
 *
 * A writer killed at any step loses only its own message: before 3 its
 * claim is taken over, after 3 its slots are skipped. A reader killed at any
 * step loses nothing: until its compareExchange on head succeeds the message
 * stays for the others, and after it the message was already copied out.
 */

/** Bytes of a slot. */
export const SLOT = 64;
/** Bit 31 of a claim's low half. */
const CLAIM_BIT = 0x8000_0000;
/** How often a stuck slot's claimant is checked for death. */
export const HOLE_CHECK_MS = 20;

/** The claim word of a writer whose packed identity is `id`. */
export function claimWord(id: bigint): bigint {
  return BigInt.asIntN(64, id | BigInt(CLAIM_BIT));
}

/**
 * Where the ring's Int32 counters are in its control array: tail, head and
 * the rest each on a 64-byte line of their own, so that writers and readers
 * do not pass one cache line back and forth.
 */
export const CTL = {
  tail: 0,
  head: 16,
  /** 1 once closed: no more sends. */
  closed: 32,
  /** Bumped by a writer that publishes while readers sleep (their futex word). */
  dataSeq: 33,
  /** Bumped by a reader that frees room while writers sleep. */
  roomSeq: 34,
  /** Readers asleep on dataSeq (a writer only bumps and wakes while this is not 0). */
  readers: 35,
  /** Writers asleep on roomSeq. */
  writers: 36,
} as const;
/** Int32 words of the control array (192 bytes). */
export const CTL_WORDS = 48;

/** What the protocol needs from outside. */
export interface RingPorts {
  /** Whether the writer whose claim word this is provably no longer runs. */
  dead(claim: bigint): boolean;
  /** Milliseconds from a monotonic clock. */
  now(): number;
  /** Wakes sleepers on ctl[index] (called only while the matching sleeper count is not 0). */
  wake(index: number): void;
}

/** The ring's shared arrays. */
export interface RingArrays {
  ctl: Int32Array;
  own: BigInt64Array;
  seq: Int32Array;
  klen: Int32Array;
  info: Int32Array;
  data: Uint8Array;
}

/** A message found at head: where, how many slots, bytes and tag. */
export interface Found {
  pos: number;
  k: number;
  bytes: number;
  tag: number;
}

/** What {@link Ring.reserve} returns when it cannot reserve. */
export const FULL = -1;
export const CLOSED = -2;
/** What {@link Ring.look} says when there is nothing to take yet. */
export const EMPTY = 0;
export const PENDING = 1;

/** Slots a message of `bytes` bytes takes. */
export function slotsFor(bytes: number): number {
  return Math.max(1, Math.ceil(bytes / SLOT));
}

/** One process's (or thread's) handle on a ring. */
export class Ring {
  readonly n: number;
  readonly #mask: number;
  readonly #a: RingArrays;
  readonly #me: bigint;
  readonly #ports: RingPorts;
  // A stuck slot this handle has been watching: position, claim seen, since when, last check.
  #holePos = 0;
  #holeClaim = 0n;
  #holeSince = -1;
  #holeChecked = 0;

  constructor(arrays: RingArrays, me: bigint, ports: RingPorts) {
    this.#a = arrays;
    this.n = arrays.seq.length;
    this.#mask = this.n - 1;
    this.#me = me;
    this.#ports = ports;
  }

  /**
   * Reserves k slots at tail (steps 1–3): their position, or FULL (no room
   * now) or CLOSED. The caller then writes and calls {@link publish}.
   */
  reserve(k: number): number {
    const { ctl, own, klen } = this.#a;
    for (;;) {
      if (Atomics.load(ctl, CTL.closed) !== 0) return CLOSED;
      const p = Atomics.load(ctl, CTL.tail);
      if (((p + k - Atomics.load(ctl, CTL.head)) | 0) > this.n) return FULL;
      const i = p & this.#mask;
      const cur = Atomics.compareExchange(own, i, 0n, this.#me);
      if (cur !== 0n) {
        // Another claimant: live (retry) or dead; a dead one is taken over only while tail is still p.
        if (Atomics.load(ctl, CTL.tail) !== p || !this.#deadClaim(p, cur)) continue;
        if (Atomics.compareExchange(own, i, cur, this.#me) !== cur) continue;
      }
      if (Atomics.load(ctl, CTL.tail) !== p) {
        Atomics.compareExchange(own, i, this.#me, 0n); // a stale look: let go
        continue;
      }
      Atomics.store(klen, i, k);
      Atomics.store(ctl, CTL.tail, (p + k) | 0); // only the claimant of slot p moves tail from p
      return p;
    }
  }

  /** Step 5: the message at `pos` (reserved by this handle) is written: make it visible. */
  publish(pos: number, bytes: number, tag: number): void {
    const { ctl, own, seq, info } = this.#a;
    const i = pos & this.#mask;
    info[2 * i] = bytes;
    info[2 * i + 1] = tag;
    Atomics.store(seq, i, (pos + 1) | 0);
    Atomics.compareExchange(own, i, this.#me, 0n);
    if (Atomics.load(ctl, CTL.readers) !== 0) {
      Atomics.add(ctl, CTL.dataSeq, 1);
      this.#ports.wake(CTL.dataSeq);
    }
  }

  /**
   * Steps 1–2 of a reader: the published message at head, or EMPTY (nothing
   * reserved), PENDING (a writer is still writing), CLOSED (closed and
   * drained). Skips dead writers' messages on the way.
   */
  look(): Found | typeof EMPTY | typeof PENDING | typeof CLOSED {
    const { ctl, own, seq, klen, info } = this.#a;
    for (;;) {
      const p = Atomics.load(ctl, CTL.head);
      if (Atomics.load(ctl, CTL.tail) === p) {
        // Closed is read after tail: a send that reserved before close is seen.
        return Atomics.load(ctl, CTL.closed) !== 0 && Atomics.load(ctl, CTL.tail) === p ? CLOSED : EMPTY;
      }
      const i = p & this.#mask;
      const published = (p + 1) | 0;
      // Published: the common case, decided without the (BigInt) claim word.
      if (Atomics.load(seq, i) === published) return { pos: p, k: Atomics.load(klen, i), bytes: info[2 * i]!, tag: info[2 * i + 1]! };
      const claim = Atomics.load(own, i);
      if (Atomics.load(seq, i) === published) continue; // published meanwhile: look again
      if (claim === 0n) {
        this.take(p, Atomics.load(klen, i)); // voided: skip it (or someone else did)
        continue;
      }
      if (!this.#deadClaim(p, claim)) return PENDING;
      Atomics.compareExchange(own, i, claim, 0n);
    }
  }

  /** Whether the claim at `p` belongs to a provably dead writer (checked every HOLE_CHECK_MS). */
  #deadClaim(p: number, claim: bigint): boolean {
    const now = this.#ports.now();
    if (this.#holeSince < 0 || this.#holePos !== p || this.#holeClaim !== claim) {
      this.#holePos = p;
      this.#holeClaim = claim;
      this.#holeSince = now;
      this.#holeChecked = now;
      return false;
    }
    if (now - this.#holeChecked < HOLE_CHECK_MS) return false;
    this.#holeChecked = now;
    return this.#ports.dead(claim);
  }

  /**
   * Takes the message at `pos` of `k` slots (after copying it out): true if
   * this reader got it, false if another did first.
   */
  take(pos: number, k: number): boolean {
    const { ctl } = this.#a;
    if (Atomics.compareExchange(ctl, CTL.head, pos, (pos + k) | 0) !== pos) return false;
    if (Atomics.load(ctl, CTL.writers) !== 0) {
      Atomics.add(ctl, CTL.roomSeq, 1);
      this.#ports.wake(CTL.roomSeq);
    }
    return true;
  }

  /** The byte offset of position `pos` in the data, and how many bytes follow it before the ring wraps. */
  where(pos: number): { at: number; before: number } {
    const at = (pos & this.#mask) * SLOT;
    return { at, before: this.#a.data.length - at };
  }

  /** Copies `src` into the slots from `pos` on, wrapping at the end of the data. */
  write(pos: number, src: Uint8Array): void {
    const { data } = this.#a;
    const { at, before } = this.where(pos);
    if (src.length <= before) data.set(src, at);
    else {
      data.set(src.subarray(0, before), at);
      data.set(src.subarray(before), 0);
    }
  }

  /** Copies `bytes` bytes out of the slots from `pos` on into a new array. */
  read(pos: number, bytes: number): Uint8Array {
    const { data } = this.#a;
    const { at, before } = this.where(pos);
    if (bytes <= before) return data.slice(at, at + bytes);
    const out = new Uint8Array(bytes);
    out.set(data.subarray(at, at + before));
    out.set(data.subarray(0, bytes - before), before);
    return out;
  }
}
