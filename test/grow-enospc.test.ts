/**
 * A growable table on a full /dev/shm: the append that needs memory it
 * cannot get throws ENOSPC (from posix_fallocate, ahead of any write), and
 * nothing dies of SIGBUS. Run on a private 64 MiB tmpfs (`unshare -m`, then
 * `mount -t tmpfs`), never by filling the machine's /dev/shm; that needs root.
 */
import { describe, expect, it } from 'vitest';
import { cannotUnshare, runFixture, testPrefix } from './helpers';

const skipReason = cannotUnshare();

const system = (syscall: string) => ({ code: 'ENOSPC', errno: -28, syscall });

describe('a growable table on a full 64 MiB /dev/shm', () => {
  it.skipIf(skipReason !== undefined)(
    'throws ENOSPC at the append that needs memory, keeps every earlier row intact, never SIGBUSes, and refuses a fixed table too big at create',
    async () => {
      const prefix = testPrefix('grow-enospc');
      const r = await runFixture('grow-enospc', [prefix], [
        'unshare', '-m', '--propagation', 'private', '--',
        'sh', '-c', 'mount -t tmpfs -o size=64m tmpfs /dev/shm && exec "$@"', 'sh',
      ]);
      expect(r.signal, r.stderr).toBeNull(); // no SIGBUS, no crash
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const out = JSON.parse(r.stdout.trim());
      expect(out.shmSize).toBe(64 << 20);
      // Every row read back intact (get and toArrow, valid views) after each failure, and no failure changed length.
      expect(out.problems).toEqual([]);

      // Heap values: the first append that does not fit is refused with ENOSPC from posix_fallocate.
      expect(out.heapFailure).toMatchObject({ ...system('posix_fallocate'), path: `${prefix}-heap` });
      expect(out.heapFailure.message).toMatch(new RegExp(`^ENOSPC: no space left on device, posix_fallocate '${prefix}-heap': needed \\d+ bytes .* --shm-size=`));
      // Every shape of append went in before (single, appendMany of rows, of columns).
      expect(Object.values(out.heapShapes).every((n) => (n as number) > 10), JSON.stringify(out.heapShapes)).toBe(true);
      // The tmpfs was nearly full: a fallocate ahead of the appends wastes little.
      expect(out.heapBytes).toBeGreaterThan(60 << 20);
      // Later appends, smaller or not: each fits or throws ENOSPC again; a 1 MiB value surely does not fit.
      expect(out.heapLater[0]).toEqual(system('posix_fallocate'));
      for (const x of out.heapLater) if (x !== 'ok') expect(x).toEqual(system('posix_fallocate'));

      // Short values only: the row regions run out, with ENOSPC too; the last rows that fit still go in.
      expect(out.rowsFailure).toMatchObject({ ...system('posix_fallocate'), path: `${prefix}-rows` });
      expect(out.rowsRows).toBeGreaterThan(200_000);
      for (const x of out.rowsLater) if (x !== 'ok') expect(x).toEqual(system('posix_fallocate'));

      // Fixed-capacity tables too big for the tmpfs: ENOSPC at create, nothing left behind.
      expect(out.fixed.numbers).toMatchObject({ ...system('posix_fallocate'), path: `${prefix}-fixed-numbers` });
      expect(out.fixed.utf8).toMatchObject({ ...system('posix_fallocate'), path: `${prefix}-fixed-utf8` });
      expect(out.fixedLeft).toEqual([]);
      expect(out.leftAtEnd).toEqual([]);
      console.log(
        `grow-enospc: heap phase ${out.heapRows} rows, ${out.heapBytes} value bytes, ${out.heapFreeAtFailure} bytes free at ENOSPC; ` +
          `rows phase ${out.rowsRows} rows, ${out.rowsFreeAtFailure} bytes free at ENOSPC; later ${JSON.stringify(out.heapLater.map((x: unknown) => (x === 'ok' ? 'ok' : 'ENOSPC')))}`,
      );
    },
    120_000,
  );

  it.runIf(skipReason !== undefined)('is skipped without root and unshare: it needs a private tmpfs', () => {
    console.warn(`grow-enospc skipped: ${skipReason}`);
    expect(skipReason).toBeDefined();
  });
});
