/**
 * Cross-process synchronisation over shared memory: futex wait/notify on an
 * Int32Array view of a segment, and a Mutex owned by a process that a dead
 * owner cannot wedge.
 *
 * `Atomics.wait`/`notify` are emulated by V8 inside one process (and refuse
 * buffers that are not SharedArrayBuffers); these go to the kernel's futex
 * without the private flag, so every process mapping the segment shares the
 * wait queue. `Atomics.load/store/add/compareExchange` on views of a segment
 * already work across processes and are used as they are.
 */
import { procStat, processAlive } from './proc';
import { binding } from './binding';
import { ShmError, checkInteger, invalidType, invalidValue, outOfRange } from './errors';
import { SharedMemory } from './segment';

/** How a wait ended: woken, value already different, or out of time. */
export type WaitResult = 'ok' | 'not-equal' | 'timed-out';

function checkPlatform(): void {
  if (process.platform !== 'linux') {
    throw new ShmError('ERR_SHM_UNSUPPORTED_PLATFORM', 'cross-process wait/notify needs the Linux futex syscall');
  }
}

/** Validates (i32, index); a detached view (closed segment) is ERR_SHM_CLOSED. */
function checkWord(i32: unknown, index: unknown): number {
  if (!(i32 instanceof Int32Array)) throw invalidType('i32', 'an Int32Array', i32);
  if (i32.buffer.byteLength === 0) {
    throw new ShmError('ERR_SHM_CLOSED', 'the Int32Array has no memory behind it: its segment is closed');
  }
  return checkInteger('index', index, 0, i32.length - 1);
}

function checkExpected(value: unknown): number {
  // Atomics.wait compares int32s; accept uint32 spellings of the same bits.
  return checkInteger('expected', value, -0x8000_0000, 0xffff_ffff) | 0;
}

/** Milliseconds, or -1 for "forever" as the addon wants it. */
function checkTimeout(what: string, value: unknown): number {
  if (value === undefined || value === Infinity) return -1;
  if (typeof value !== 'number') throw invalidType(what, 'a number of milliseconds', value);
  if (!(value >= 0)) throw outOfRange(what, 'a non-negative number of milliseconds or Infinity', value);
  return value;
}

/**
 * Blocks this thread while `i32[index]` holds `expected`, until another
 * process (or thread) calls {@link notify} on the same word or `timeoutMs`
 * passes. Meant for child processes and worker threads; on the main thread it
 * blocks the event loop. A wakeup says "look again", not "the value changed":
 * re-check the word, as with any futex.
 *
 * @param timeoutMs milliseconds (fractions allowed); default: no limit
 * @returns `'not-equal'` if the value already differed, `'ok'` when woken, `'timed-out'`
 * @throws TypeError/RangeError on bad arguments; `ERR_SHM_CLOSED` if the view's segment is closed;
 *   `ERR_SHM_UNSUPPORTED_PLATFORM` off Linux
 * @example
 * const i32 = new Int32Array(seg.buffer);
 * while (Atomics.load(i32, 0) === 0) waitSync(i32, 0, 0, 1000);
 */
export function waitSync(i32: Int32Array, index: number, expected: number, timeoutMs?: number): WaitResult {
  checkPlatform();
  const i = checkWord(i32, index);
  return binding.futexWait(i32, i, checkExpected(expected), checkTimeout('timeoutMs', timeoutMs));
}

/**
 * Like {@link waitSync}, without blocking: the wait is handed to a small pool
 * of native threads shared by the whole process (at most 32, each sleeping on
 * up to 127 words at once; not libuv's pool, so pending waits never delay
 * `fs` or `dns` calls), and the promise settles on this thread. A pending wait
 * keeps the process alive, as a pending timer or read does. If the view's
 * segment is closed meanwhile, the wait goes on safely (the mapping stays
 * until the last pending wait on it ends) until notified or timed out.
 *
 * Waits of this process on the same word, expecting the same value, share
 * one kernel waiter. A notify that reaches it settles every one of them with
 * `'ok'` if the word no longer holds that value, and otherwise the oldest one.
 * So change the word, then notify (the usual protocol), and nothing is
 * missed; a notify that leaves the value unchanged may settle fewer waits
 * than its count, and may be missed if it lands within microseconds of
 * another wake of the same native thread (a wakeup means "look again"
 * either way). Beyond 4,064 distinct words pending at once, the extra ones
 * are polled every 2 ms until a thread has room: they see a change of value,
 * not a bare notify.
 *
 * @returns a promise of `'ok' | 'not-equal' | 'timed-out'`; it rejects with
 *   TypeError/RangeError on bad arguments, TypeError for a view that is not of
 *   a shared writable segment (a readonly attach, an ordinary ArrayBuffer),
 *   `ERR_SHM_CLOSED` for a closed segment
 * @example
 * const r = await waitAsync(i32, 0, 0, 5000);   // another process: Atomics.store(i32, 0, 1); notify(i32, 0)
 */
export function waitAsync(i32: Int32Array, index: number, expected: number, timeoutMs?: number): Promise<WaitResult> {
  try {
    checkPlatform();
    const i = checkWord(i32, index);
    const value = checkExpected(expected);
    const ms = checkTimeout('timeoutMs', timeoutMs);
    return binding.futexWaitAsync(i32, i, value, ms); // 'not-equal' at once if the value already differs
  } catch (err) {
    return Promise.reject(err);
  }
}

/**
 * Wakes up to `count` waiters (default: all) sleeping on `i32[index]` in any
 * process, whether in {@link waitSync} or {@link waitAsync}. The pending
 * {@link waitAsync} calls of one process on one word that expect the same
 * value count as one waiter; store the new value first, and all of them
 * settle.
 * @returns how many waiters were woken
 * @throws TypeError/RangeError on bad arguments; `ERR_SHM_CLOSED` if the view's segment is closed
 * @example
 * Atomics.store(i32, 0, 1);
 * notify(i32, 0);
 */
export function notify(i32: Int32Array, index: number, count: number = Infinity): number {
  checkPlatform();
  const i = checkWord(i32, index);
  if (count !== Infinity) checkInteger('count', count, 0, Number.MAX_SAFE_INTEGER);
  if (count === 0) return 0; // FUTEX_WAKE with 0 would still wake one
  return binding.futexWake(i32, i, count === Infinity || count > 0x7fff_ffff ? -1 : count);
}

/*
 * Mutex state: Mutex.BYTES (16) bytes at an 8-byte aligned offset. All zero
 * is an unlocked mutex, so a fresh (zero-filled) segment needs no set-up and
 * Mutex.create never writes.
 *
 *   int32 [0]  the lock word: 0 = free, otherwise the owner's tag
 *                bits  0–21  owner pid (Linux pids are below 2^22)
 *                bits 22–29  owner start time (/proc/<pid>/stat field 22,
 *                            clock ticks since boot) mod 256: tells the owner
 *                            from a later process that reuses its pid
 *                bit  30     CONTENDED: someone may sleep on the word, so
 *                            unlock must notify
 *                bit  31     0
 *   int32 [1..3]  reserved, 0
 *
 * Owner and start-time fingerprint live in one word so that identity changes
 * atomically with ownership: a second word written after the CAS could be
 * read stale by a process checking for a dead owner, which would then rob a
 * live one.
 */
const PID_MASK = (1 << 22) - 1;
const CONTENDED = 1 << 30;
/** A contended waiter sleeps at most this long before checking that the owner still lives. */
const LIVENESS_SLICE_MS = 100;
const SPINS = 64;

let ownTag = 0;

/** This process's owner tag, read once. */
function myTag(): number {
  if (ownTag === 0) {
    const pid = process.pid;
    if (pid > PID_MASK) throw new ShmError('ERR_SHM_UNSUPPORTED_PLATFORM', `pid ${pid} does not fit the lock word`);
    const start = process.platform === 'linux' ? (procStat(pid)?.startTime ?? 0) : 0;
    ownTag = pid | ((start & 0xff) << 22);
  }
  return ownTag;
}

/**
 * Whether the process a tag names still runs. A zombie counts as dead (it can
 * never unlock), and so does a live process whose start time does not match
 * the tag's fingerprint (the pid was reused). Off Linux only the pid is checked.
 */
function ownerAlive(tag: number): boolean {
  const fingerprint = (tag >>> 22) & 0xff;
  return processAlive(tag & PID_MASK, (startTime) => (startTime & 0xff) === fingerprint);
}

/** What {@link Mutex.lock} resolves to. */
export interface LockResult {
  /**
   * True when the previous owner died holding the lock and this call took it
   * over: the data it guards may be half-updated; check or repair it.
   */
  readonly recovered: boolean;
}

/** Options of {@link Mutex.lock} and {@link Mutex.withLock}. */
export interface LockOptions {
  /** Give up after this many milliseconds with `ERR_SHM_LOCK_TIMEOUT`. Default: wait forever. */
  timeout?: number;
}

const ACQUIRED: LockResult = Object.freeze({ recovered: false });
const RECOVERED: LockResult = Object.freeze({ recovered: true });
const ACQUIRED_NOW: Promise<LockResult> = Promise.resolve(ACQUIRED);
const token = Symbol('Mutex');

/**
 * A mutual-exclusion lock whose state lives in shared memory, owned by a
 * process. An uncontended `lock()`/`unlock()` is one compare-and-swap in
 * JavaScript; a contended one sleeps in the kernel (futex) without blocking
 * the event loop. If the owner dies holding it, the next `lock()` takes it
 * over and says so (`recovered: true`); a live owner is never robbed.
 *
 * Ownership is per process: within one process the lock is not re-entrant —
 * a second `lock()` (another async task, or a worker thread of the same
 * process) waits for `unlock()` like any other process would, so awaiting
 * `lock()` while already holding it in the same call chain never returns
 * (use a timeout). Threads of one process share ownership: any of them may
 * unlock what another locked.
 *
 * @example
 * const m = Mutex.create(seg, 0);                 // every process: same segment, same offset
 * await m.withLock(() => { counter[0] += 1; });
 */
export class Mutex {
  /** Bytes of shared memory a mutex uses. */
  static readonly BYTES = 16;

  readonly #seg: SharedMemory;
  readonly #offset: number;
  readonly #word: Int32Array;
  readonly #me: number;

  /** @internal use {@link Mutex.create}. */
  constructor(key: typeof token, seg: SharedMemory, byteOffset: number) {
    if (key !== token) throw new TypeError('use Mutex.create()');
    this.#seg = seg;
    this.#offset = byteOffset;
    this.#word = new Int32Array(seg.buffer, byteOffset, Mutex.BYTES / 4);
    this.#me = myTag();
  }

  /**
   * A mutex over `Mutex.BYTES` bytes of `seg` at `byteOffset`. It does not
   * write anything: all-zero bytes are an unlocked mutex, and every process
   * that calls `create` with the same segment and offset gets the same lock.
   *
   * @throws TypeError if `seg` is not a writable SharedMemory (a readonly
   *   attach is a private copy, which would guard nothing); RangeError if the
   *   offset is not a multiple of 8 or the bytes do not fit; `ERR_SHM_CLOSED`
   *   if `seg` is closed; `ERR_SHM_UNSUPPORTED_PLATFORM` off Linux
   * @example
   * const seg = SharedMemory.create({ size: 4096 });
   * const m = Mutex.create(seg, 0);
   */
  static create(seg: SharedMemory, byteOffset: number): Mutex {
    checkPlatform();
    if (!(seg instanceof SharedMemory)) throw invalidType('seg', 'a SharedMemory', seg);
    if (seg.closed) throw new ShmError('ERR_SHM_CLOSED', `segment '${seg.name}' is closed`);
    if (seg.readonly) {
      throw invalidValue('seg', 'must be writable: a readonly attach is a private copy-on-write view');
    }
    if (seg.size < Mutex.BYTES) {
      throw outOfRange('seg.size', `at least Mutex.BYTES (${Mutex.BYTES})`, seg.size);
    }
    const offset = checkInteger('byteOffset', byteOffset, 0, seg.size - Mutex.BYTES);
    if (offset % 8 !== 0) throw outOfRange('byteOffset', 'a multiple of 8', offset);
    return new Mutex(token, seg, offset);
  }

  /** The segment that holds the lock state. */
  get segment(): SharedMemory {
    return this.#seg;
  }

  /** Where the lock state starts in the segment. */
  get byteOffset(): number {
    return this.#offset;
  }

  /** Pid of the process holding the lock (possibly dead), or undefined when free. */
  get owner(): number | undefined {
    this.#checkOpen();
    const v = Atomics.load(this.#word, 0);
    return v === 0 ? undefined : v & PID_MASK;
  }

  /**
   * Takes the lock, waiting (without blocking the event loop) while another
   * process holds it. A holder that died is detected within about 100 ms and
   * its lock taken over: the result then has `recovered: true`.
   *
   * @returns a promise of `{ recovered }`; it rejects with `ERR_SHM_LOCK_TIMEOUT`
   *   when `options.timeout` ms pass first (`timeout: 0` tries once, and still
   *   recovers a dead owner's lock), `ERR_SHM_CLOSED` if the segment is closed,
   *   TypeError/RangeError on bad options
   * @example
   * const { recovered } = await m.lock({ timeout: 1000 });
   * try { if (recovered) repair(); work(); } finally { m.unlock(); }
   */
  lock(options?: LockOptions): Promise<LockResult> {
    const w = this.#word;
    if (options === undefined && w.length !== 0 && Atomics.compareExchange(w, 0, 0, this.#me) === 0) {
      return ACQUIRED_NOW;
    }
    try {
      this.#checkOpen();
      if (typeof options !== 'object' && options !== undefined) throw invalidType('options', 'an object', options);
      const ms = checkTimeout('options.timeout', options?.timeout);
      if (Atomics.compareExchange(w, 0, 0, this.#me) === 0) return ACQUIRED_NOW;
      return this.#lockSlow(ms < 0 ? Infinity : performance.now() + ms, ms);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  async #lockSlow(deadline: number, ms: number): Promise<LockResult> {
    const w = this.#word;
    const me = this.#me;
    let slept = false;
    let checkOwner = false;
    let spins = SPINS;
    for (;;) {
      this.#checkOpen();
      let v = Atomics.load(w, 0);
      if (v === 0) {
        // After sleeping, others may sleep behind us: keep CONTENDED so our
        // unlock wakes the next one.
        if (Atomics.compareExchange(w, 0, 0, slept ? me | CONTENDED : me) === 0) return ACQUIRED;
        continue;
      }
      // A short spin pays off only when another process holds it (this one's
      // JavaScript cannot release it while we loop).
      if (spins > 0 && (v & PID_MASK) !== process.pid) {
        spins--;
        continue;
      }
      if ((v & CONTENDED) === 0) {
        if (Atomics.compareExchange(w, 0, v, v | CONTENDED) !== v) continue;
        v |= CONTENDED;
      }
      const left = deadline - performance.now();
      if (checkOwner || left <= 0) {
        checkOwner = false;
        if (!ownerAlive(v & ~CONTENDED)) {
          // The CAS fails if anything changed since we looked: the owner
          // unlocked, or another waiter recovered first. Then just go round.
          if (Atomics.compareExchange(w, 0, v, me | CONTENDED) === v) return RECOVERED;
          continue;
        }
        if (left <= 0) {
          throw new ShmError(
            'ERR_SHM_LOCK_TIMEOUT',
            `lock() timed out after ${ms} ms; the mutex is held by process ${v & PID_MASK}`,
          );
        }
      }
      const r = await binding.futexWaitAsync(w, 0, v, Math.min(left, LIVENESS_SLICE_MS));
      slept = true;
      // The owner held it for a whole slice without letting go: is it alive?
      checkOwner = r === 'timed-out';
    }
  }

  /**
   * Takes the lock if it is free, without waiting.
   * It never takes over a dead owner's lock; `lock({ timeout: 0 })` does.
   * @returns true if this process now holds the lock
   * @throws `ERR_SHM_CLOSED` if the segment is closed
   * @example
   * if (m.tryLock()) { try { work(); } finally { m.unlock(); } }
   */
  tryLock(): boolean {
    this.#checkOpen();
    return Atomics.compareExchange(this.#word, 0, 0, this.#me) === 0;
  }

  /**
   * Releases the lock and wakes one waiter, if any.
   * @throws `ERR_SHM_NOT_OWNER` if this process does not hold it (it is free
   *   or another process holds it; nothing changes); `ERR_SHM_CLOSED` if the segment is closed
   * @example
   * m.unlock();
   */
  unlock(): void {
    const w = this.#word;
    const me = this.#me;
    if (w.length !== 0 && Atomics.compareExchange(w, 0, me, 0) === me) return;
    this.#checkOpen();
    const v = Atomics.load(w, 0);
    if ((v & ~CONTENDED) !== me) {
      throw new ShmError(
        'ERR_SHM_NOT_OWNER',
        v === 0
          ? `unlock() of a mutex that is not locked (process ${process.pid})`
          : `unlock() by process ${process.pid} of a mutex held by process ${v & PID_MASK}`,
      );
    }
    // Only we change a held word, apart from waiters setting CONTENDED, which
    // is set already: a plain store is enough.
    Atomics.store(w, 0, 0);
    binding.futexWake(w, 0, 1);
  }

  /**
   * Runs `fn` holding the lock and releases it however `fn` ends.
   * `fn` gets the {@link LockResult}, so it can repair data after a recovery.
   * @returns what `fn` returns (awaited)
   * @throws what `fn` throws; as {@link Mutex.lock} otherwise
   * @example
   * await m.withLock(({ recovered }) => { if (recovered) rebuild(); counter[0]++; });
   */
  async withLock<T>(fn: (result: LockResult) => T | PromiseLike<T>, options?: LockOptions): Promise<T> {
    if (typeof fn !== 'function') throw invalidType('fn', 'a function', fn);
    const result = await this.lock(options);
    try {
      return await fn(result);
    } finally {
      this.unlock();
    }
  }

  #checkOpen(): void {
    if (this.#word.length === 0) {
      throw new ShmError('ERR_SHM_CLOSED', `segment '${this.#seg.name}' is closed`);
    }
  }
}
