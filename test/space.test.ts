/**
 * A small /dev/shm, as a container has by default: ENOSPC says how much was
 * needed, how much is free and how to get more; `shmkit df` agrees with
 * `df -B1`; a request that takes most of what is free warns once. Run on a
 * private 64 MiB tmpfs (`unshare -m`, then `mount -t tmpfs`), never by
 * filling the machine's /dev/shm; that needs root.
 */
import { describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { humanSize } from '../lib/cli/format';
import { noSpace, warnIfLarge } from '../lib/space';
import { systemError } from '../lib/errors';
import { cannotUnshare, runFixture, testPrefix } from './helpers';

const MiB = 1 << 20;

const skipReason = cannotUnshare();

/** Runs test/fixtures/space.ts with a 64 MiB tmpfs at /dev/shm and a 4 MiB one at a scratch dir. */
async function onSmallShm(mode: 'all' | 'grow') {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shmkit-space-'));
  try {
    const r = await runFixture('space', [testPrefix('space'), dir, mode], [
      'unshare', '-m', '--propagation', 'private', '--',
      'sh', '-c', 'mount -t tmpfs -o size=64m tmpfs /dev/shm && mount -t tmpfs -o size=4m tmpfs "$1" && shift && exec "$@"', 'sh', dir,
    ]);
    expect(r.signal, r.stderr).toBeNull(); // no SIGBUS, no crash
    expect(r.code, r.stderr).toBe(0);
    return { out: JSON.parse(r.stdout.trim()), stderr: r.stderr, dir };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** The fields every shmkit ENOSPC keeps, as before this message existed. */
const enospc = (syscall: string, where: string) => ({ code: 'ENOSPC', errno: -28, syscall, path: where });
const head = (where: string) => `ENOSPC: no space left on device, posix_fallocate '${where}': `;
const count = (n: number) => `${n} bytes (${humanSize(n)})`;
/** The whole message of an ENOSPC on the 64 MiB /dev/shm. */
const shmMessage = (e: { path: string; requested: number; free: number }) =>
  `${head(e.path)}needed ${count(e.requested)}, /dev/shm has ${count(e.free)} free of 64.0 MiB; for more room: ` +
  'docker run --shm-size=1g, compose shm_size: 1gb, or in Kubernetes an emptyDir { medium: Memory, sizeLimit: 1Gi } ' +
  'mounted at /dev/shm (a container gets 64 MiB unless asked); `npx shmkit df` shows what holds it';

describe('a 64 MiB /dev/shm (a container\'s default)', () => {
  it.skipIf(skipReason !== undefined)(
    'create, Channel.create, a fixed table, a file and a growable table: ENOSPC says the bytes needed and free and how to get more; shmkit df matches df -B1, per owner; one warning',
    async () => {
      const { out, stderr, dir } = await onSmallShm('all');
      expect(out.shmSize).toBe(64 * MiB);
      expect(out.freeAtStart).toBe(64 * MiB);

      // The acceptance line: create({ size: 100 MiB }) → ENOSPC, message with both counts and --shm-size.
      const big = out.big;
      expect(big).toMatchObject({ ...enospc('posix_fallocate', big.path), requested: 100 * MiB, free: 64 * MiB });
      expect(big.path).toMatch(/-big$/);
      expect(big.message).toBe(shmMessage(big));
      expect(big.message).toContain('needed 104857600 bytes (100.0 MiB)');
      expect(big.message).toContain('/dev/shm has 67108864 bytes (64.0 MiB) free');
      for (const way of ['docker run --shm-size=', 'shm_size:', 'emptyDir', 'medium: Memory', 'sizeLimit', 'shmkit df']) expect(big.message).toContain(way);
      expect(big.stackHead).toBe(`Error: ${big.message}`); // an uncaught one prints the whole message
      // The same kind of message from a channel and from a fixed table (their sizes are their plans').
      for (const e of [out.channel, out.fixed]) {
        expect(e).toMatchObject({ ...enospc('posix_fallocate', e.path), free: 64 * MiB });
        expect(e.requested).toBeGreaterThan(64 * MiB);
        expect(e.message).toBe(shmMessage(e));
      }
      // A file: the free space of its own filesystem, and no container advice.
      const file = path.join(dir, 'big.bin');
      expect(out.file).toMatchObject({ ...enospc('posix_fallocate', file), requested: 8 * MiB, free: 4 * MiB });
      expect(out.file.message).toBe(`${head(file)}needed 8388608 bytes (8.0 MiB), the filesystem of ${dir} has 4194304 bytes (4.0 MiB) free of 4.0 MiB; free some space there, or put the file on a larger filesystem`);
      expect(out.leftAfterBig).toEqual([]);
      expect(out.warningsAfterBig).toBe(0); // larger than all that is free: the error says it, no warning

      // shmkit df --json against df -B1: nothing else runs on this tmpfs, so they are equal.
      const { report } = out.dfJson;
      expect(out.dfJson).toMatchObject({ status: 0, stderr: '' });
      expect({ size: report.size, used: report.used, free: report.free }).toEqual(out.df);
      expect(report.size).toBe(64 * MiB);
      // Per owner: what each made, page for page; together all that is used.
      const made = out.made as Record<string, number>;
      const byOwner = Object.fromEntries(report.owners.map((o: { pid: number | null; held: number }) => [o.pid ?? 'unowned', o.held]));
      expect(byOwner).toEqual(made);
      expect(report.owners.map((o: { pid: number | null; state: string; segments: number }) => [o.pid, o.state, o.segments])).toEqual([
        [Number(Object.keys(made).find((k) => made[k] === 8 * MiB + 64 * 1024)), 'alive', 2],
        [out.childPid, 'alive', 3],
        [null, 'unowned', 1],
      ]);
      const total = Object.values(made).reduce((s, n) => s + n, 0);
      expect(report.segments).toEqual({ count: 6, size: total, held: total });
      expect(report.used).toBe(total);
      // The same for people, aligned like `shmkit ls`.
      expect(out.dfHuman).toMatchObject({ status: 0, stderr: '' });
      const lines = (out.dfHuman.stdout as string).split('\n');
      expect(lines[0]).toMatch(/^FILESYSTEM +SIZE +USED +FREE +USE%$/);
      expect(lines[1]).toMatch(/^\/dev\/shm +64\.0 MiB +10\.1 MiB +53\.9 MiB +16%$/);
      expect(lines[2]).toBe('');
      expect(lines[3]).toMatch(/^OWNER +STATE +SEGMENTS +HELD$/);
      expect(lines[4]).toMatch(/^ *\d+ +alive +2 +8\.1 MiB$/);
      expect(lines[5]).toMatch(new RegExp(`^ *${out.childPid} +alive +3 +12\\.0 KiB$`));
      expect(lines[6]).toMatch(/^ +- +unowned +1 +2\.0 MiB$/);
      expect(lines[7]).toBe('6 segments hold 10.1 MiB, 100% of what is used');
      expect(out.warningsAfterDf).toBe(0); // small creates do not warn

      // The warning: once, at the create that took more than half of what was free; not at the next one.
      expect(out.w1).toEqual({ size: 40 * MiB, freeBefore: 64 * MiB, warnings: 1 });
      expect(out.w2.size).toBeGreaterThan(out.w2.freeBefore / 2); // would warn too, if it were the first
      expect(out.w2.size).toBeLessThanOrEqual(out.w2.freeBefore);
      expect(out.w2.warnings).toBe(1);
      expect(out.warnings).toHaveLength(1);
      expect(out.warnings[0].code).toBe('SHMKIT_SHM_LOW');
      expect(out.warnings[0].message).toMatch(/^'.*-w1' takes 41943040 bytes \(40\.0 MiB\) of the 67108864 bytes \(64\.0 MiB\) free on \/dev\/shm \(64\.0 MiB in all\); later requests may fail with ENOSPC; for more room: docker run --shm-size=1g/);
      expect(stderr.match(/\[SHMKIT_SHM_LOW\]/g)).toHaveLength(1); // printed once too (Node's default warning output)

      // A growable table grown until the tmpfs is full: the same kind of ENOSPC.
      const grow = out.grow;
      expect(grow).toMatchObject(enospc('posix_fallocate', grow.path));
      expect(grow.path).toMatch(/-grow$/);
      expect(grow.requested).toBeGreaterThan(0);
      expect(grow.free).toBeLessThan(grow.requested);
      expect(grow.message).toBe(shmMessage(grow));
      expect(out.growRows).toBeGreaterThan(1_000_000);
      expect(out.leftAtEnd).toEqual([]);
    },
    120_000,
  );

  it.skipIf(skipReason !== undefined)('warns at a table\'s growth step that takes more than half of what is free, once', async () => {
    const { out, stderr } = await onSmallShm('grow');
    expect(out.warnings).toHaveLength(1);
    expect(out.warnings[0].code).toBe('SHMKIT_SHM_LOW');
    const m = /^'(.*)' takes (\d+) bytes \(.*\) of the (\d+) bytes \(.*\) free on \/dev\/shm \(64\.0 MiB in all\); later requests may fail with ENOSPC; for more room: /.exec(out.warnings[0].message);
    expect(m, out.warnings[0].message).not.toBeNull();
    expect(m![1]).toMatch(/-grow$/);
    expect(Number(m![2])).toBeGreaterThan(Number(m![3]) / 2);
    expect(Number(m![2])).toBeLessThanOrEqual(Number(m![3]));
    expect(stderr.match(/\[SHMKIT_SHM_LOW\]/g)).toHaveLength(1);
    expect(out.grow).toMatchObject({ code: 'ENOSPC', errno: -28, syscall: 'posix_fallocate' });
  }, 120_000);

  it.runIf(skipReason !== undefined)('is skipped without root and unshare: it needs a private tmpfs', () => {
    console.warn(`space test skipped: ${skipReason}`);
    expect(skipReason).toBeDefined();
  });
});

describe('noSpace()', () => {
  it('leaves other errors alone, and keeps code, errno, syscall and path of an ENOSPC', () => {
    const other = systemError(2, 'shm_open', 'x');
    const message = other.message;
    expect(noSpace(other, 100, 'x')).toBe(other);
    expect(other.message).toBe(message);
    expect(noSpace('not an error', 1, 'x')).toBe('not an error');
    const e = noSpace(systemError(28, 'posix_fallocate', 'seg'), 4096, 'seg') as Error & Record<string, unknown>;
    expect(e).toMatchObject({ code: 'ENOSPC', errno: -28, syscall: 'posix_fallocate', path: 'seg', requested: 4096 });
    expect(e.free).toBe(fs.statfsSync('/dev/shm').bavail * fs.statfsSync('/dev/shm').bsize);
    expect(e.message).toMatch(/^ENOSPC: no space left on device, posix_fallocate 'seg': needed 4096 bytes \(4\.0 KiB\), \/dev\/shm has \d+ bytes/);
  });
});

describe('warnIfLarge()', () => {
  it('stays quiet for what fits in half of what is free, and for more than all of it', () => {
    const free = fs.statfsSync('/dev/shm').bavail * fs.statfsSync('/dev/shm').bsize;
    expect(warnIfLarge(1, 'a byte')).toBe(false);
    expect(warnIfLarge(Math.floor(free / 4), 'a quarter')).toBe(false);
    expect(warnIfLarge(free * 2, 'twice it')).toBe(false);
    expect(warnIfLarge(1, 'a byte', '/no/such/dir')).toBe(false); // statfs fails: never throws
  });
});
