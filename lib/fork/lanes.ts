/**
 * The fast path of forkMap: tasks and results travel through two channels
 * instead of the IPC pipe, so a worker takes its next task the moment it is
 * free (no round trip through the parent) and a result costs a copy into
 * shared memory, not a pipe write and a wake-up per message.
 *
 * - `tasks`: the parent keeps it topped up with chunk indexes (one number
 *   each); every worker takes from it (work goes to whoever is free).
 * - `results`: workers send `[index][tag][value]` (the channel codec's
 *   encodings: a number result costs no v8.serialize); the parent drains it.
 * - `board`: one Float64 per worker, the chunk it is running plus one (0 when
 *   none), so a worker's death can still be blamed on its chunk. Plain
 *   stores: the parent reads a slot only once its worker is gone.
 *
 * The IPC channel stays the control path: init, errors, results too large
 * for the results ring, and the end of the run.
 * @internal
 */
import { Channel } from '../channel/channel';
import { setImmediate as immediate } from 'node:timers/promises';
import * as v8 from 'node:v8';
import { TAG, decode, encode, flatten, smi, type Encoded } from '../channel/codec';
import { SharedMemory, type SegmentHandle } from '../segment';

/** Ring bytes of the tasks channel: 1024 chunks in flight (a chunk index takes one 64-byte slot). */
const TASK_BYTES = 1 << 16;
/** Ring bytes of the results channel. A bigger result goes over IPC. */
const RESULT_BYTES = 1 << 20;
/** The longest a worker runs chunks without letting its event loop take a turn. */
const TURN_MS = 2;
/** Bytes before a result's value: its chunk index (f64) and the codec tag. */
const RESULT_HEAD = 9;

/** What a worker needs to join the lanes (plain JSON, in the init message). */
export interface LanesWire {
  tasks: SegmentHandle;
  results: SegmentHandle;
  board: SegmentHandle;
  /** This worker's slot on the board. */
  slot: number;
}

/** One result as it came out of the results channel. */
export interface LaneResult {
  index: number;
  result: unknown;
}

/** The parent's side: owns the three segments; `dispose()` unlinks them. */
export class ParentLanes {
  readonly tasks: Channel;
  readonly results: Channel;
  readonly #board: SharedMemory;
  readonly #slots: Float64Array;

  private constructor(tasks: Channel, results: Channel, board: SharedMemory) {
    this.tasks = tasks;
    this.results = results;
    this.#board = board;
    this.#slots = new Float64Array(board.buffer);
  }

  /**
   * Creates the lanes for `workers` workers (owned segments: unlinked when
   * this process ends, whatever happens).
   * @throws what {@link SharedMemory.create} throws (e.g. ENOSPC); nothing is left behind
   */
  static create(workers: number): ParentLanes {
    const made: { close(): void; unlink(): void }[] = [];
    try {
      const tasks = Channel.create({ bytes: TASK_BYTES, prefix: 'shmkit-fork' });
      made.push(tasks.segment);
      const results = Channel.create({ bytes: RESULT_BYTES, prefix: 'shmkit-fork' });
      made.push(results.segment);
      const board = SharedMemory.create({ size: 8 * workers, prefix: 'shmkit-fork' });
      return new ParentLanes(tasks, results, board);
    } catch (err) {
      for (const s of made) {
        s.close();
        s.unlink();
      }
      throw err;
    }
  }

  /** The init payload of worker `slot`. */
  wire(slot: number): LanesWire {
    return { tasks: this.tasks.handle, results: this.results.handle, board: this.#board.handle, slot };
  }

  /** Sends chunk indexes from `next` on while there is room (and chunks); returns the new `next`. */
  fill(next: number, count: number): number {
    while (next < count && this.tasks.trySend(next)) next++;
    return next;
  }

  /** The chunk worker `slot` was running when last seen, or null. */
  running(slot: number): number | null {
    const v = this.#board.closed ? 0 : this.#slots[slot]!;
    return v > 0 ? v - 1 : null;
  }

  /**
   * Every result already in the results channel, without waiting; stops
   * when `each` returns false (the run is over: it may have ended the lanes).
   */
  drain(each: (r: LaneResult) => boolean): void {
    while (!this.results.closed) {
      const b = this.results.receiveBytesSync(0);
      if (b === undefined || !each(unpackResult(b))) return;
    }
  }

  /** The next result; rejects with ERR_SHM_CHANNEL_CLOSED once {@link end} was called. */
  async next(): Promise<LaneResult> {
    return unpackResult(await this.results.receiveBytes());
  }

  /** Ends both streams: idle workers and a waiting {@link next} return. */
  end(): void {
    if (this.tasks.segment.closed) return;
    this.tasks.close();
    this.results.close();
  }

  /** Unmaps and unlinks the three segments. Idempotent. */
  dispose(): void {
    for (const s of [this.tasks.segment, this.results.segment, this.#board]) {
      if (s.closed) continue;
      s.close();
      s.unlink();
    }
  }
}

/** A worker's side. */
export class WorkerLanes {
  readonly #tasks: Channel;
  readonly #results: Channel;
  readonly #slots: Float64Array;
  readonly #slot: number;
  #turn = performance.now();

  /**
   * Attaches the lanes; everything it attached goes into `opened` (closed
   * when the worker ends; a worker never unlinks).
   */
  constructor(wire: LanesWire, opened: { close(): void }[]) {
    this.#tasks = Channel.attach(wire.tasks);
    opened.push(this.#tasks.segment);
    this.#results = Channel.attach(wire.results);
    opened.push(this.#results.segment);
    const board = SharedMemory.attach(wire.board);
    opened.push(board);
    this.#slots = new Float64Array(board.buffer);
    this.#slot = wire.slot;
  }

  /**
   * The next chunk index, or null once the run is over (the tasks channel
   * closed). Every TURN_MS it first lets the event loop take a turn: a
   * worker fed without pause would otherwise never see its IPC channel
   * (the parent leaving) or its own timers until the chunks ran out.
   */
  async take(): Promise<number | null> {
    if (performance.now() - this.#turn > TURN_MS) {
      await immediate();
      this.#turn = performance.now();
    }
    try {
      const index = (this.#tasks.receiveSync(0) ?? (await this.#tasks.receive())) as number;
      this.#slots[this.#slot] = index + 1;
      return index;
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      if (code === 'ERR_SHM_CHANNEL_CLOSED' || code === 'ERR_SHM_CLOSED') return null;
      throw err;
    }
  }

  /**
   * Sends a chunk's result. False when it is too large for the results ring
   * (the caller sends it over IPC instead).
   * @throws what v8.serialize throws for a value it cannot clone; ERR_SHM_CHANNEL_CLOSED when the run is over
   */
  async put(index: number, result: unknown): Promise<boolean> {
    const bytes = packResult(index, result);
    if (bytes.length > this.#results.maxMessageBytes) return false;
    await this.#results.sendAsync(bytes);
    this.#slots[this.#slot] = 0;
    return true;
  }

  /** The chunk is done, its result sent by other means. */
  clear(): void {
    this.#slots[this.#slot] = 0;
  }
}

/** `[index f64][tag][value]`. */
export function packResult(index: number, result: unknown): Uint8Array {
  // A Buffer (any Uint8Array subclass) keeps its class, as over IPC: v8.serialize records it; plain bytes go as they are.
  const e: Encoded =
    result instanceof Uint8Array && result.constructor !== Uint8Array ? { tag: TAG.v8, bytes: 0, raw: v8.serialize(result) } : encode(result);
  const value = flatten(e);
  const out = Buffer.allocUnsafe(RESULT_HEAD + value.length);
  out.writeDoubleLE(index, 0);
  out[8] = e.tag;
  out.set(value, RESULT_HEAD);
  return out;
}

/** The inverse of {@link packResult}. */
export function unpackResult(bytes: Uint8Array): LaneResult {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  const tag = b[8]!;
  // The bytes are this process's own copy (the receive copied them out of the ring).
  return { index: smi(b.readDoubleLE(0)), result: decode(tag, bytes.subarray(RESULT_HEAD)) };
}
