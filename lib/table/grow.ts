/**
 * Growth of a table's memory, shared by every process that appends: rows
 * ready (row regions allocated) and the heap of variable-length values (a
 * bump pointer, and how far it is allocated). Pure: the allocation itself
 * comes in through {@link GrowPorts}, so the protocol can be driven alone
 * (see model/grow.pml).
 * @internal
 */

import { regionBytes } from './layout';

/*
 * A growable table is one sparse extent (layout.ts): every region has its
 * full address range from the start, and memory is given to it ahead of the
 * appends with posix_fallocate, so that no write ever lands on a missing
 * tmpfs page (on a full /dev/shm that is a SIGBUS; fallocate says ENOSPC).
 *
 * Shared words (header):
 *   rowsReady  Int32: every row region has memory for rows [0, rowsReady).
 *              Raised only by compareExchange to a larger value, and only
 *              after the memory for it was allocated. append.ts reserves
 *              rows below it only, so no row is written without memory.
 *   heapTop    Int64: heap bytes handed out. A writer takes [t, t + len) by
 *              compareExchange t -> t + len, first moving t to the next
 *              slice boundary if the value would straddle one (an Arrow
 *              view's bytes lie in one data buffer). Never past heapSize.
 *   heapReady  Int64: heap bytes [0, heapReady) have memory; raised like
 *              rowsReady. A writer stores a value only below it.
 *
 * Growth steps: to need n rows (or heap bytes), a writer allocates from the
 * ready mark it read up to a target ≥ n (n plus 1/32 of what is ready, at
 * least a minimum step, capped at the maximum), then raises the mark to the
 * target unless someone raised it further. Two writers may allocate the same
 * range: posix_fallocate of allocated pages is a no-op, so both succeed and
 * both raises are true. A writer that dies midway leaves the mark where it
 * was: the next one allocates again. If the step fails (ENOSPC) it tries
 * again for exactly n before it throws, so a nearly full /dev/shm still takes
 * the last rows that fit. Nothing is ever freed: a reader that loaded a mark
 * may read below it for as long as it holds the mapping.
 */

/** Least rows one growth step adds. */
export const MIN_ROW_STEP = 4096;
/** Least heap bytes one growth step adds. */
export const MIN_HEAP_STEP = 256 << 10;

/** What growth needs from outside. */
export interface GrowPorts {
  /** Gives [offset, offset + length) of the extent memory; throws (ENOSPC) if it cannot. */
  allocate(offset: number, length: number): void;
}

/**
 * One growth step from `ready` to cover `n` (≤ max): allocates up to n plus
 * 1/32 of what is ready (at least `min` more), or, if that fails, exactly n;
 * returns the new mark. Throws what the exact allocation throws.
 */
function step(ready: number, n: number, max: number, min: number, allocate: (from: number, to: number) => void): number {
  const ahead = Math.min(max, Math.max(n, ready + Math.max(Math.floor(ready / 32), min)));
  try {
    allocate(ready, ahead);
    return ahead;
  } catch {
    allocate(ready, n);
    return n;
  }
}

/** One process's handle on a table's growth words. */
export class Growth {
  readonly #h: Int32Array;
  readonly #h64: BigInt64Array;
  readonly #iReady: number;
  readonly #iTop: number;
  readonly #iHeapReady: number;
  readonly #maxRows: number;
  readonly #regions: readonly { at: number; per: number }[];
  readonly #heapAt: number;
  readonly #heapSize: number;
  readonly #slice: number;
  readonly #ports: GrowPorts;

  /**
   * @param h Int32 header words, rowsReady at iReady
   * @param h64 BigInt64 header words, heapTop at iTop and heapReady at iHeapReady
   * @param regions the row regions (layout.ts rowRegions), each with room for maxRows
   * @param heap [offset, size] of the heap, and its slice size
   */
  constructor(h: Int32Array, h64: BigInt64Array, iReady: number, iTop: number, iHeapReady: number, maxRows: number, regions: readonly { at: number; per: number }[], heap: { at: number; size: number; slice: number }, ports: GrowPorts) {
    this.#h = h;
    this.#h64 = h64;
    this.#iReady = iReady;
    this.#iTop = iTop;
    this.#iHeapReady = iHeapReady;
    this.#maxRows = maxRows;
    this.#regions = regions;
    this.#heapAt = heap.at;
    this.#heapSize = heap.size;
    this.#slice = heap.slice;
    this.#ports = ports;
  }

  /** Rows whose memory is allocated. */
  get rowsReady(): number {
    return Atomics.load(this.#h, this.#iReady);
  }

  /** Heap bytes whose memory is allocated (a reader's bound for heap data). */
  get heapReady(): number {
    return Math.min(Number(Atomics.load(this.#h64, this.#iHeapReady)), this.#heapSize);
  }

  /** Heap bytes handed out so far. */
  get heapTop(): number {
    return Number(Atomics.load(this.#h64, this.#iTop));
  }

  /**
   * Makes rows [0, n) writable (n ≤ maxRows).
   * @throws what allocate throws (ENOSPC), with nothing changed for readers
   */
  ensureRows(n: number): void {
    const ready = Atomics.load(this.#h, this.#iReady);
    if (n <= ready) return;
    const target = step(ready, n, this.#maxRows, MIN_ROW_STEP, (from, to) => {
      for (const r of this.#regions) {
        const a = regionBytes(r, from);
        const b = regionBytes(r, to);
        if (b > a) this.#ports.allocate(r.at + a, b - a);
      }
    });
    for (let cur = Atomics.load(this.#h, this.#iReady); cur < target; cur = Atomics.load(this.#h, this.#iReady)) {
      if (Atomics.compareExchange(this.#h, this.#iReady, cur, target) === cur) break;
    }
  }

  /**
   * Hands out `len` heap bytes (1 ≤ len ≤ slice) inside one slice, with memory.
   * @returns the absolute offset of the first byte, or -1 if the heap has no
   *   room left (nothing changed)
   * @throws what allocate throws (ENOSPC); the bytes are then lost to the
   *   heap, and nothing else changed
   */
  heapAlloc(len: number): number {
    const slice = this.#slice;
    for (;;) {
      const top = Atomics.load(this.#h64, this.#iTop);
      let start = Number(top);
      if ((start % slice) + len > slice) start = Math.ceil(start / slice) * slice;
      const end = start + len;
      if (end > this.#heapSize) return -1;
      if (Atomics.compareExchange(this.#h64, this.#iTop, top, BigInt(end)) !== top) continue;
      this.#ensureHeap(end);
      return this.#heapAt + start;
    }
  }

  /** Makes heap bytes [0, n) writable. */
  #ensureHeap(n: number): void {
    const h64 = this.#h64;
    const ready = Number(Atomics.load(h64, this.#iHeapReady));
    if (n <= ready) return;
    const target = BigInt(step(ready, n, this.#heapSize, MIN_HEAP_STEP, (from, to) => this.#ports.allocate(this.#heapAt + from, to - from)));
    for (let cur = Atomics.load(h64, this.#iHeapReady); cur < target; cur = Atomics.load(h64, this.#iHeapReady)) {
      if (Atomics.compareExchange(h64, this.#iHeapReady, cur, target) === cur) break;
    }
  }
}
