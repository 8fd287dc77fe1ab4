/**
 * Channel: a bounded multi-producer multi-consumer message queue in a
 * segment of its own, between processes and worker threads.
 */
import { setImmediate as immediate } from 'node:timers/promises';
import { binding } from '../binding';
import { ShmError, checkInteger, invalidType } from '../errors';
import { provablyDead, selfPacked, unpack } from '../identity';
import { SharedMemory, type SegmentHandle } from '../segment';
import { notify, waitAsync, waitSync } from '../sync/wait';
import { TAG, decode, encode, flatten, smi, writeInPlace, type Encoded } from './codec';
import { MAX_SLOTS, arrays, plan, slotsForBytes, writeHeader } from './layout';
import { CLOSED, CTL, EMPTY, FULL, PENDING, Ring, SLOT, claimWord, slotsFor, type Found } from './ring';

/** Options of {@link Channel.create}. */
export interface ChannelOptions {
  /** Bytes of the ring (rounded up to a power of two of 64-byte slots, at least 1 KiB). Default 1 MiB. */
  bytes?: number;
  /** Segment name; generated when absent. */
  name?: string;
  /** Prefix of a generated name. */
  prefix?: string;
  /** Unlink the segment when this process ends. Default true. */
  owned?: boolean;
}

/** Options of the waiting calls. */
export interface ChannelWaitOptions {
  /** Milliseconds; default: no limit. */
  timeout?: number;
}

/** How long a waiting receiver or sender spins (looking again) before it sleeps. */
const SPIN_MS = 0.05;
/**
 * The longest a stream of `receive()` calls that each find a message (and
 * so resolve in microtasks only) may keep the event loop from a turn.
 */
const TURN_MS = 2;
/** While a writer is still writing the next message, sleeps are cut to this, to look for its death. */
const PENDING_SLICE_MS = 25;
const token = Symbol('Channel');
const PORTS = {
  dead: (claim: bigint) => provablyDead(unpack(claim)),
  now: () => performance.now(),
  wake: () => undefined as void,
};

/** What one look at the ring gave a receiver. */
type Got = { value: unknown } | typeof EMPTY | typeof PENDING | typeof CLOSED;

/**
 * A channel handle: `Channel.create` makes one (and its segment), any other
 * process or worker thread attaches by `handle`. Every message is delivered
 * to exactly one receiver, in the order each sender sent it; a sender killed
 * mid-message leaves nothing torn (its message is skipped once it is
 * provably dead).
 *
 * @example
 * const ch = Channel.create({ bytes: 1 << 20 });
 * child.send(ch.handle);            // child: const rx = Channel.attach(handle); for await (const m of rx) …
 * ch.send({ job: 1 }); ch.close();
 */
export class Channel implements AsyncIterable<unknown> {
  readonly #seg: SharedMemory;
  readonly #ring: Ring;
  readonly #ctl: Int32Array;
  readonly #data: Uint8Array;
  readonly #buf: Buffer;
  /** When a receive() last let the event loop take a turn. */
  #turn = performance.now();

  /** @internal use {@link Channel.create} or {@link Channel.attach}. */
  constructor(key: typeof token, seg: SharedMemory) {
    if (key !== token) throw new TypeError('use Channel.create() or Channel.attach()');
    const a = arrays(seg.buffer, seg.size, seg.name);
    this.#seg = seg;
    this.#ctl = a.ctl;
    this.#data = a.data;
    this.#buf = Buffer.from(a.data.buffer, a.data.byteOffset, a.data.length);
    const ctl = a.ctl;
    // A wake is a bare futex call: ctl is a live view of this mapping (the checks of notify() cost more than the call).
    this.#ring = new Ring(a, claimWord(selfPacked()), { ...PORTS, wake: (i: number) => void binding.futexWake(ctl, i, -1) });
  }

  /**
   * Creates a channel in a new segment (owned like any segment).
   * @throws TypeError/RangeError on bad options; what {@link SharedMemory.create} throws
   * @example
   * const ch = Channel.create({ bytes: 1 << 16, name: 'app.jobs' });
   */
  static create(options: ChannelOptions = {}): Channel {
    if (typeof options !== 'object' || options === null) throw invalidType('options', 'an object', options);
    const bytes = checkInteger('options.bytes', options.bytes ?? 1 << 20, 1, MAX_SLOTS * SLOT);
    const n = slotsForBytes(bytes);
    const seg = SharedMemory.create({ size: plan(n).size, name: options.name, prefix: options.prefix ?? 'shmkit-ch', owned: options.owned });
    writeHeader(seg.buffer, n);
    return new Channel(token, seg);
  }

  /**
   * Attaches a channel by name or handle, in any process or worker thread.
   * @throws `ERR_SHM_BAD_HEADER` if the segment is not a channel; what {@link SharedMemory.attach} throws
   * @example
   * const rx = Channel.attach(handle);
   */
  static attach(nameOrHandle: string | SegmentHandle): Channel {
    const seg = SharedMemory.attach(nameOrHandle);
    try {
      return new Channel(token, seg);
    } catch (err) {
      seg.close();
      throw err;
    }
  }

  /** The segment the channel lives in. */
  get segment(): SharedMemory {
    return this.#seg;
  }
  /** The segment's name. */
  get name(): string {
    return this.#seg.name;
  }
  /** Plain JSON for {@link Channel.attach} in another process. */
  get handle(): SegmentHandle {
    return this.#seg.handle;
  }
  /** The most bytes one message can have. */
  get maxMessageBytes(): number {
    return this.#ring.n * SLOT;
  }
  /** True once some handle called {@link Channel.close}: sends fail, receivers drain what is left. */
  get closed(): boolean {
    return this.#seg.closed || Atomics.load(this.#ctl, CTL.closed) !== 0;
  }

  /**
   * Sends `value` (any structured-cloneable value; numbers, strings,
   * booleans, null and undefined are encoded without v8.serialize).
   * @throws `ERR_SHM_CHANNEL_FULL` if there is no room now; `ERR_SHM_CHANNEL_CLOSED`;
   *   `ERR_SHM_MESSAGE_TOO_LARGE` if it can never fit; v8's error for a value it cannot clone
   * @example
   * ch.send({ id: 1, text: 'hello' });
   */
  send(value: unknown): void {
    if (!this.#trySendEncoded(encode(value))) throw this.#fullError();
  }

  /** Sends raw bytes, one copy into the ring; the receiver gets a Uint8Array. Throws as {@link send}. */
  sendBytes(bytes: Uint8Array): void {
    if (!(bytes instanceof Uint8Array)) throw invalidType('bytes', 'a Uint8Array', bytes);
    if (!this.#trySendEncoded({ tag: TAG.bytes, bytes: bytes.length, raw: bytes })) throw this.#fullError();
  }

  /** Like {@link send}, but false instead of `ERR_SHM_CHANNEL_FULL`. */
  trySend(value: unknown): boolean {
    return this.#trySendEncoded(encode(value));
  }

  /**
   * Sends `value`, waiting (without blocking the event loop) for room.
   * @throws `ERR_SHM_CHANNEL_CLOSED`; `ERR_SHM_LOCK_TIMEOUT` after `timeout` ms; as {@link send}
   * @example
   * await ch.sendAsync(bigObject, { timeout: 5000 });
   */
  async sendAsync(value: unknown, options: ChannelWaitOptions = {}): Promise<void> {
    const e = encode(value);
    const deadline = this.#deadline(options.timeout);
    for (;;) {
      const seen = Atomics.load(this.#ctl, CTL.roomSeq);
      Atomics.add(this.#ctl, CTL.writers, 1);
      try {
        if (this.#trySendEncoded(e)) return;
        const left = deadline - performance.now();
        if (left <= 0) throw new ShmError('ERR_SHM_LOCK_TIMEOUT', `no room in channel '${this.name}' within ${options.timeout} ms`);
        await waitAsync(this.#ctl, CTL.roomSeq, seen, Math.min(left, 1000));
      } finally {
        Atomics.sub(this.#ctl, CTL.writers, 1);
      }
    }
  }

  #fullError(): ShmError {
    return new ShmError('ERR_SHM_CHANNEL_FULL', `channel '${this.name}' is full (${this.#ring.n * SLOT} bytes): receive, or use sendAsync`);
  }

  #trySendEncoded(e: Encoded): boolean {
    if (this.#seg.closed) throw new ShmError('ERR_SHM_CLOSED', `channel '${this.name}' is detached from this process`);
    this.#seg.assertIntact();
    const k = slotsFor(e.bytes);
    if (k > this.#ring.n) {
      throw new ShmError('ERR_SHM_MESSAGE_TOO_LARGE', `a message of ${e.bytes} bytes does not fit in channel '${this.name}' (${this.#ring.n * SLOT} bytes)`);
    }
    const pos = this.#ring.reserve(k);
    if (pos === FULL) return false;
    if (pos === CLOSED) throw new ShmError('ERR_SHM_CHANNEL_CLOSED', `channel '${this.name}' is closed`);
    const { at, before } = this.#ring.where(pos);
    if (!writeInPlace(this.#data, this.#buf, at, before, e)) this.#ring.write(pos, flatten(e));
    this.#ring.publish(pos, e.bytes, e.tag);
    return true;
  }

  /** One look: the next message if one is there (taken), else what is in the way. */
  #tryReceive(bytesOnly: boolean): Got {
    for (;;) {
      if (this.#seg.closed) throw new ShmError('ERR_SHM_CLOSED', `channel '${this.name}' is detached from this process`);
      this.#seg.assertIntact();
      const f = this.#ring.look();
      if (typeof f === 'number') return f;
      if (bytesOnly && f.tag !== TAG.bytes) {
        throw new ShmError('ERR_SHM_VALUE', 'the next message was sent with send(), not sendBytes(): use receive()');
      }
      const value = this.#copyOut(f);
      if (this.#ring.take(f.pos, f.k)) return { value: typeof value === 'function' ? value() : value };
    }
  }

  /** The message's value copied out of the ring (a thunk where decoding must wait until it is taken). */
  #copyOut(f: Found): unknown {
    const { at, before } = this.#ring.where(f.pos);
    const inPlace = f.bytes <= before;
    if (f.tag === TAG.number && inPlace) return smi(this.#buf.readDoubleLE(at));
    if (f.tag === TAG.string && inPlace) return this.#buf.toString('utf8', at, at + f.bytes);
    const bytes = inPlace ? this.#data.slice(at, at + f.bytes) : this.#ring.read(f.pos, f.bytes);
    return f.tag === TAG.bytes ? bytes : () => decode(f.tag, bytes); // v8.deserialize only of a message that is ours
  }

  #deadline(timeout: number | undefined): number {
    if (timeout === undefined || timeout === Infinity) return Infinity;
    return performance.now() + checkInteger('options.timeout', Math.ceil(timeout), 0, 2 ** 31);
  }

  /** Spins on the ring for up to SPIN_MS: the message, or what was in the way at the end. */
  #spin(bytesOnly: boolean): Got {
    const end = performance.now() + SPIN_MS;
    let got = this.#tryReceive(bytesOnly);
    for (let i = 0; typeof got === 'number' && got !== CLOSED; i++) {
      if ((i & 63) === 63 && performance.now() > end) break;
      got = this.#tryReceive(bytesOnly);
    }
    return got;
  }

  /**
   * The next message, blocking this thread (for children and worker threads).
   * @returns the value, or `undefined` if `timeoutMs` passed first
   * @throws `ERR_SHM_CHANNEL_CLOSED` once the channel is closed and drained
   * @example
   * for (let m; (m = rx.receiveSync(1000)) !== undefined; ) handle(m);
   */
  receiveSync(timeoutMs?: number): unknown {
    return this.#receiveSync(false, timeoutMs);
  }

  /** Like {@link receiveSync} for a message sent with `sendBytes`: its bytes. */
  receiveBytesSync(timeoutMs?: number): Uint8Array | undefined {
    return this.#receiveSync(true, timeoutMs) as Uint8Array | undefined;
  }

  #receiveSync(bytesOnly: boolean, timeoutMs?: number): unknown {
    let got = this.#tryReceive(bytesOnly); // the busy case: no clock, no spin
    if (typeof got === 'object') return got.value;
    const deadline = this.#deadline(timeoutMs);
    for (;;) {
      got = this.#spin(bytesOnly);
      if (typeof got === 'object') return got.value;
      if (got === CLOSED) throw this.#closedError();
      const seen = Atomics.load(this.#ctl, CTL.dataSeq);
      Atomics.add(this.#ctl, CTL.readers, 1);
      try {
        got = this.#tryReceive(bytesOnly); // again, now that writers know to wake us
        if (typeof got === 'object') return got.value;
        if (got === CLOSED) throw this.#closedError();
        const left = deadline - performance.now();
        if (left <= 0) return undefined;
        waitSync(this.#ctl, CTL.dataSeq, seen, Math.min(left, got === PENDING ? PENDING_SLICE_MS : 1000));
      } finally {
        Atomics.sub(this.#ctl, CTL.readers, 1);
      }
    }
  }

  /**
   * The next message, without blocking the event loop. While messages keep
   * coming, each call resolves at once (microtasks only), so one call in a
   * while (at least every 2 ms) first lets the event loop take a turn:
   * timers, I/O and `for await` over a busy channel get along.
   * @throws `ERR_SHM_CHANNEL_CLOSED` once the channel is closed and drained;
   *   `ERR_SHM_LOCK_TIMEOUT` after `timeout` ms
   * @example
   * const msg = await rx.receive({ timeout: 5000 });
   */
  receive(options: ChannelWaitOptions = {}): Promise<unknown> {
    return this.#receive(false, options);
  }

  /** Like {@link receive} for a message sent with `sendBytes`: its bytes. */
  receiveBytes(options: ChannelWaitOptions = {}): Promise<Uint8Array> {
    return this.#receive(true, options) as Promise<Uint8Array>;
  }

  async #receive(bytesOnly: boolean, options: ChannelWaitOptions): Promise<unknown> {
    if (performance.now() - this.#turn > TURN_MS) {
      await immediate(); // a busy stream must not starve timers, I/O and other processes' exits
      this.#turn = performance.now();
    }
    const deadline = this.#deadline(options.timeout);
    for (;;) {
      let got = this.#tryReceive(bytesOnly);
      if (typeof got === 'object') return got.value;
      if (got === CLOSED) throw this.#closedError();
      const seen = Atomics.load(this.#ctl, CTL.dataSeq);
      Atomics.add(this.#ctl, CTL.readers, 1);
      try {
        got = this.#tryReceive(bytesOnly);
        if (typeof got === 'object') return got.value;
        if (got === CLOSED) throw this.#closedError();
        const left = deadline - performance.now();
        if (left <= 0) throw new ShmError('ERR_SHM_LOCK_TIMEOUT', `no message in channel '${this.name}' within ${options.timeout} ms`);
        await waitAsync(this.#ctl, CTL.dataSeq, seen, Math.min(left, got === PENDING ? PENDING_SLICE_MS : 1000));
        this.#turn = performance.now(); // the wait was a turn
      } finally {
        Atomics.sub(this.#ctl, CTL.readers, 1);
      }
    }
  }

  #closedError(): ShmError {
    return new ShmError('ERR_SHM_CHANNEL_CLOSED', `channel '${this.name}' is closed and drained`);
  }

  /** Messages until the channel is closed and drained. */
  async *[Symbol.asyncIterator](): AsyncIterator<unknown> {
    for (;;) {
      try {
        yield await this.receive();
      } catch (err) {
        if ((err as ShmError).code === 'ERR_SHM_CHANNEL_CLOSED') return;
        throw err;
      }
    }
  }

  /**
   * Ends the stream for every handle: sends fail with `ERR_SHM_CHANNEL_CLOSED`,
   * receivers get what is left, then `ERR_SHM_CHANNEL_CLOSED` (iteration
   * ends). This handle stays attached; `ch.segment.close()` detaches it.
   * Idempotent.
   * @example
   * ch.close();
   */
  close(): void {
    if (this.#seg.closed || Atomics.exchange(this.#ctl, CTL.closed, 1) !== 0) return;
    Atomics.add(this.#ctl, CTL.dataSeq, 1);
    Atomics.add(this.#ctl, CTL.roomSeq, 1);
    notify(this.#ctl, CTL.dataSeq);
    notify(this.#ctl, CTL.roomSeq);
  }

  /** Removes the segment's name (as {@link SharedMemory.unlink}). */
  unlink(): void {
    this.#seg.unlink();
  }
}
