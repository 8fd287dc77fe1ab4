/**
 * One process's handle on a table's shared words: the append protocol
 * (append.ts), growth (grow.ts) and the generated codec, wired together.
 * RecordTable is the public face of it.
 * @internal
 */
import { ShmError } from '../errors';
import { provablyDead, selfPacked, unpack } from '../identity';
import type { SharedMemory } from '../segment';
import { notify } from '../sync/wait';
import { AppendLog, claimWord } from './append';
import { heapCursor, type Batch } from './bulk';
import { buildCodec, type Codec } from './codec';
import { Growth } from './grow';
import { OFF, SLICE, rowRegions, type TableLayout } from './layout';

/** Int32 indices of the header counters. */
export const WORDS = { reserved: OFF.reserved >> 2, committed: OFF.committed >> 2, voids: OFF.voids >> 2, ready: OFF.rowsReady >> 2, waiters: OFF.waiters >> 2 };

/** How a table's protocol learns whether a claimant is dead, and the time. */
const PORTS = { dead: (claim: bigint) => provablyDead(unpack(claim)), now: () => performance.now() };

export class TableStore {
  readonly log: AppendLog;
  readonly grow: Growth;
  readonly codec: Codec;
  /** The header's Int32 words. */
  readonly h: Int32Array;
  readonly #plan: TableLayout;
  readonly #name: string;

  constructor(seg: SharedMemory, plan: TableLayout) {
    this.#plan = plan;
    this.#name = seg.name;
    const h = (this.h = new Int32Array(seg.buffer, 0, OFF.schema >> 2));
    const states = new BigInt64Array(seg.buffer, plan.stateOffset, plan.capacity);
    const wake = () => void notify(h, WORDS.committed);
    this.log = new AppendLog(h, WORDS, states, plan.capacity, claimWord(selfPacked()), { ...PORTS, wake });
    const h64 = new BigInt64Array(seg.buffer, 0, OFF.schema >> 3);
    const heap = { at: plan.heapOffset, size: plan.heapSize, slice: SLICE };
    this.grow = new Growth(h, h64, WORDS.ready, OFF.heapTop >> 3, OFF.heapReady >> 3, plan.capacity, rowRegions(plan), heap, {
      allocate: (o, n) => seg.allocate(o, n),
    });
    this.codec = buildCodec(plan, seg.buffer, {
      reserve: (n) => this.reserve(n),
      commit: (s) => this.log.commit(s, 1),
      heap: (n) => this.heap(n),
      heapReady: () => this.grow.heapReady,
    });
  }

  /**
   * Appends a validated batch as one block: heap room, then reserve and
   * claim, write, commit (append.ts). A write that throws voids the whole
   * batch; a batch that recovery voided meanwhile (this writer was judged
   * dead) is written again. Returns the first row, or -1 for an empty batch.
   */
  appendBatch(batch: Batch): number {
    if (batch.n <= 0) return -1;
    for (;;) {
      const cursor = heapCursor(batch.heap, (n) => this.heap(n));
      const s = this.reserve(batch.n);
      try {
        batch.write(s, cursor);
      } catch (err) {
        this.log.abandon(s);
        throw err;
      }
      if (this.log.commit(s, batch.n)) return s;
    }
  }

  /** Reserves and claims n rows, growing the table's memory as needed; ERR_SHM_TABLE_FULL or ENOSPC change nothing. */
  reserve(n: number): number {
    for (;;) {
      const s = this.log.begin(n);
      if (s >= 0) return s;
      const cap = this.#plan.capacity;
      const r = this.log.reserved;
      if (r + n > cap) {
        const room = this.#plan.growable ? `room for ${cap} rows (options maxBytes/maxRows at create)` : `a capacity of ${cap} rows`;
        throw new ShmError('ERR_SHM_TABLE_FULL', `table '${this.#name}' is full: it has ${room}, ${cap - r} free, ${n} needed`);
      }
      this.grow.ensureRows(r + n); // ENOSPC here leaves the table as it was
    }
  }

  /** n heap bytes for a long utf8/binary value, with memory; ERR_SHM_TABLE_FULL when the heap's address space is used up. */
  heap(n: number): number {
    const at = this.grow.heapAlloc(n);
    if (at < 0) {
      throw new ShmError('ERR_SHM_TABLE_FULL', `table '${this.#name}' has no heap room left for a ${n}-byte value (${this.grow.heapTop} of ${this.#plan.heapSize} bytes used; options maxBytes at create)`);
    }
    return at;
  }
}
