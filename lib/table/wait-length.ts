/**
 * waitForLength: sleep on a table's committed word until it reaches n.
 * @internal
 */
import { outOfRange } from '../errors';
import { checkTimeout, waitAsync } from '../sync/wait';

/** Longest futex sleep: a writable reader then looks again (advancing past dead writers' rows). */
const WAIT_SLICE_MS = 100;
/**
 * A read-only attach never writes the segment, so it cannot announce itself
 * in the waiters word and no committer wakes it: it looks this often.
 */
const READONLY_SLICE_MS = 10;

/**
 * Resolves 'ok' once `length()` ≥ n, or 'timed-out'. It announces itself in
 * the waiters word before it reads committed and sleeps on it, so the
 * committer that moves committed after that read wakes it (append.ts).
 * @param length the table's length now (throws when the table is closed)
 */
export async function waitForLength(h: Int32Array, iCommitted: number, iWaiters: number, n: unknown, timeout: unknown, writable: boolean, length: () => number): Promise<'ok' | 'timed-out'> {
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) throw outOfRange('n', 'an integer ≥ 0', n);
  const ms = checkTimeout('options.timeout', timeout);
  const deadline = ms < 0 ? Infinity : performance.now() + ms;
  for (;;) {
    if (length() >= n) return 'ok';
    const left = deadline - performance.now();
    if (left <= 0) return 'timed-out';
    if (!writable) {
      const c = Atomics.load(h, iCommitted);
      if (c < n) await waitAsync(h, iCommitted, c, Math.min(left, READONLY_SLICE_MS));
      continue;
    }
    Atomics.add(h, iWaiters, 1);
    try {
      const c = Atomics.load(h, iCommitted);
      if (c < n) await waitAsync(h, iCommitted, c, Math.min(left, WAIT_SLICE_MS));
    } finally {
      // A view detached by close() meanwhile cannot be written: the count stays one
      // too high (committers then wake for nothing), never too low.
      if (h.length > 0) Atomics.sub(h, iWaiters, 1);
    }
  }
}
