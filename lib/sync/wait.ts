/**
 * Futex wait/notify on an Int32Array view of a segment, across processes.
 *
 * `Atomics.wait`/`notify` are emulated by V8 inside one process (and refuse
 * buffers that are not SharedArrayBuffers); these go to the kernel's futex
 * without the private flag, so every process mapping the segment shares the
 * wait queue. `Atomics.load/store/add/compareExchange` on views of a segment
 * already work across processes and are used as they are.
 */
import { binding } from '../binding';
import { ShmError, checkInteger, invalidType, outOfRange } from '../errors';

/** How a wait ended: woken, value already different, or out of time. */
export type WaitResult = 'ok' | 'not-equal' | 'timed-out';


/**
 * Validates (i32, index); a view of a closed segment is ERR_SHM_CLOSED: a
 * detached ArrayBuffer, or a SharedArrayBuffer whose pages close() swapped
 * for zeros (a wait there would sleep on memory no one else sees).
 */
function checkWord(i32: unknown, index: unknown): number {
  if (!(i32 instanceof Int32Array)) throw invalidType('i32', 'an Int32Array', i32);
  if (i32.buffer.byteLength === 0 || (i32.length > 0 && !(i32.buffer instanceof ArrayBuffer) && binding.isClosed(i32))) {
    throw new ShmError('ERR_SHM_CLOSED', 'the Int32Array has no memory behind it: its segment is closed');
  }
  return checkInteger('index', index, 0, i32.length - 1);
}

function checkExpected(value: unknown): number {
  // Atomics.wait compares int32s; accept uint32 spellings of the same bits.
  return checkInteger('expected', value, -0x8000_0000, 0xffff_ffff) | 0;
}

/** Milliseconds, or -1 for "forever" as the addon wants it. */
export function checkTimeout(what: string, value: unknown): number {
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
 * @throws TypeError/RangeError on bad arguments; `ERR_SHM_CLOSED` if the view's segment is closed
 * @example
 * const i32 = new Int32Array(seg.buffer);
 * while (Atomics.load(i32, 0) === 0) waitSync(i32, 0, 0, 1000);
 */
export function waitSync(i32: Int32Array, index: number, expected: number, timeoutMs?: number): WaitResult {
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
 *   a shared segment mapping (an ordinary ArrayBuffer; a
 *   readonly attach off x86-64 Linux, which is a private copy),
 *   `ERR_SHM_CLOSED` for a closed segment
 * @example
 * const r = await waitAsync(i32, 0, 0, 5000);   // another process: Atomics.store(i32, 0, 1); notify(i32, 0)
 */
export function waitAsync(i32: Int32Array, index: number, expected: number, timeoutMs?: number): Promise<WaitResult> {
  try {
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
  const i = checkWord(i32, index);
  if (count !== Infinity) checkInteger('count', count, 0, Number.MAX_SAFE_INTEGER);
  if (count === 0) return 0; // FUTEX_WAKE with 0 would still wake one
  return binding.futexWake(i32, i, count === Infinity || count > 0x7fff_ffff ? -1 : count);
}

