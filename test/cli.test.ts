import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { SharedMemory } from '../lib/segment';
import { orphanSegment, removeAll, ROOT, shmEntries, testPrefix } from './helpers';

// The real binary (bin/shmkit.js → dist/cli/index.js) in a private copy of the
// package, compiled from this checkout, so that no concurrent `npm run build`
// of dist/ can change it under the tests.
let pkg: string;
beforeAll(() => {
  pkg = fs.mkdtempSync(path.join(os.tmpdir(), 'shmkit-cli-'));
  spawnSync(process.execPath, [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', path.join(ROOT, 'tsconfig.build.json'), '--outDir', path.join(pkg, 'dist')], { stdio: 'ignore' });
  expect(fs.existsSync(path.join(pkg, 'dist', 'cli', 'index.js'))).toBe(true);
  fs.mkdirSync(path.join(pkg, 'bin'));
  fs.copyFileSync(path.join(ROOT, 'bin', 'shmkit.js'), path.join(pkg, 'bin', 'shmkit.js'));
  fs.symlinkSync(path.join(ROOT, 'build'), path.join(pkg, 'build'));
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(pkg, 'node_modules')); // the loader's node-gyp-build
}, 120_000);
afterAll(() => fs.rmSync(pkg, { recursive: true, force: true }));

function shmkit(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [path.join(pkg, 'bin', 'shmkit.js'), ...args], { encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const prefixes: string[] = [];
function fresh(): string {
  const p = testPrefix('cli');
  prefixes.push(p);
  return p;
}
afterEach(() => {
  for (const p of prefixes.splice(0)) removeAll(p);
});

describe('shmkit ls', () => {
  it('prints aligned columns: name, human size, kind, owner pid, alive/dead/unowned, age', async () => {
    const prefix = fresh();
    const live = SharedMemory.create({ name: `${prefix}-a`, size: 4096 });
    const big = SharedMemory.create({ name: `${prefix}-b-longer`, size: 3 << 20, owned: false });
    const dead = await orphanSegment(`${prefix}-c`);
    const r = shmkit('ls', '--prefix', prefix);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^NAME +SIZE +KIND +OWNER +STATE +AGE$/);
    expect(lines[1]).toMatch(new RegExp(`^${live.name} +4\\.0 KiB +raw +${process.pid} +alive +\\d+s$`));
    expect(lines[2]).toMatch(new RegExp(`^${big.name} +3\\.0 MiB +raw +- +unowned +\\d+s$`));
    expect(lines[3]).toMatch(new RegExp(`^${dead.name} +4\\.0 KiB +raw +${dead.pid} +dead +\\d+s$`));
    expect(lines[4]).toBe('3 segments, 3.0 MiB');
    // Aligned: every column starts at the same offset on every row.
    const sizeEnd = lines[0]!.indexOf('SIZE') + 4;
    // Sizes are right-aligned under SIZE; KIND starts at the same column everywhere.
    for (const l of lines.slice(1, 4)) expect(l.slice(0, sizeEnd)).toMatch(/ \d+\.\d [KM]iB$/);
    expect(new Set(lines.slice(0, 4).map((l) => l.search(/ (KIND|raw) /))).size).toBe(1);
    for (const s of [live, big]) (s.close(), s.unlink());
  });

  it('--json gives the same facts for scripts', () => {
    const prefix = fresh();
    const seg = SharedMemory.create({ name: `${prefix}-j`, size: 100 });
    const r = shmkit('ls', '--json', `--prefix=${prefix}`);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { name: string; size: number; kind: string; owner: unknown; created: string; ageMs: number }[];
    expect(out).toHaveLength(1);
    expect(out[0]).toMatchObject({ name: seg.name, size: 100, kind: 'raw', owner: { pid: process.pid, alive: true } });
    expect(Date.parse(out[0]!.created)).toBeGreaterThan(Date.now() - 60_000);
    expect(out[0]!.ageMs).toBeGreaterThanOrEqual(0);
    seg.close();
    seg.unlink();
  });

  it('says so when nothing matches', () => {
    const prefix = fresh();
    expect(shmkit('ls', '--prefix', prefix)).toEqual({ code: 0, stdout: `no segments under '${prefix}'\n`, stderr: '' });
    expect(JSON.parse(shmkit('ls', '--prefix', prefix, '--json').stdout)).toEqual([]);
  });
});

describe('shmkit inspect', () => {
  it('shows size, kind, mode, owner and the processes that map it', () => {
    const prefix = fresh();
    const seg = SharedMemory.create({ name: `${prefix}-i`, size: 5000, mode: 0o640 });
    const r = shmkit('inspect', seg.name);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`name:      ${seg.name}\n`);
    expect(r.stdout).toContain(`path:      /dev/shm/${seg.name}\n`);
    expect(r.stdout).toContain('size:      4.9 KiB (5000 bytes)\n');
    expect(r.stdout).toContain('kind:      raw\n');
    expect(r.stdout).toMatch(/mode: {6}0640, uid \d+, gid \d+\n/);
    expect(r.stdout).toContain(`owner:     pid ${process.pid} (`);
    expect(r.stdout).toMatch(new RegExp(`mapped by: .*\\b${process.pid} \\(`));
    const j = JSON.parse(shmkit('inspect', seg.name, '--json').stdout);
    expect(j).toMatchObject({ name: seg.name, size: 5000, kind: 'raw', mode: '0640', owner: { pid: process.pid, alive: true, foreign: false } });
    expect(j.mappedBy.map((m: { pid: number }) => m.pid)).toContain(process.pid);
    seg.close();
    seg.unlink();
  });

  it('reports a handed-off segment as having no owner and no mappers once closed', () => {
    const prefix = fresh();
    const seg = SharedMemory.create({ name: `${prefix}-h`, size: 64 });
    seg.unregister();
    seg.close();
    const j = JSON.parse(shmkit('inspect', seg.name, '--json').stdout);
    expect(j.owner).toBeNull();
    expect(j.mappedBy).toEqual([]);
    expect(shmkit('inspect', seg.name).stdout).toContain('owner:     none');
    SharedMemory.unlink(seg.name);
  });

  it('fails with exit 1 and one line for a missing segment, exit 2 without a name', () => {
    const r = shmkit('inspect', `${fresh()}-missing`);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^shmkit inspect: ENOENT: no such file or directory, stat '.*-missing'\n$/);
    const u = shmkit('inspect');
    expect(u.code).toBe(2);
    expect(u.stderr).toBe('shmkit: inspect needs exactly one NAME (see shmkit --help)\n');
  });
});

describe('shmkit rm', () => {
  it('unlinks every name given', () => {
    const prefix = fresh();
    for (const k of ['x', 'y']) SharedMemory.create({ name: `${prefix}-${k}`, size: 8, owned: false }).close();
    expect(shmkit('rm', `${prefix}-x`, `${prefix}-y`)).toEqual({ code: 0, stdout: '', stderr: '' });
    expect(shmEntries(prefix)).toEqual([]);
  });

  it('removes the rest, then exits 1 with one line per missing name; -f ignores missing ones', () => {
    const prefix = fresh();
    SharedMemory.create({ name: `${prefix}-z`, size: 8, owned: false }).close();
    const r = shmkit('rm', `${prefix}-missing`, `${prefix}-z`);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`shmkit rm: ENOENT: no such file or directory, shm_unlink '${prefix}-missing'\n`);
    expect(shmEntries(prefix)).toEqual([]);
    expect(shmkit('rm', '-f', `${prefix}-missing`)).toEqual({ code: 0, stdout: '', stderr: '' });
    expect(shmkit('rm').code).toBe(2);
  });
});

describe('shmkit sweep', () => {
  it('removes only segments of dead owners and names them', async () => {
    const prefix = fresh();
    const dead = await orphanSegment(`${prefix}-dead`);
    const live = SharedMemory.create({ name: `${prefix}-live`, size: 8 });
    const r = shmkit('sweep', '--prefix', prefix);
    expect(r).toEqual({ code: 0, stdout: `removed 1 segment of dead owners:\n  ${dead.name}\n`, stderr: '' });
    expect(shmEntries(prefix)).toEqual([live.name]);
    expect(shmkit('sweep', '--prefix', prefix, '--json')).toEqual({ code: 0, stdout: '[]\n', stderr: '' });
    expect(shmkit('sweep', '--prefix', prefix).stdout).toBe('nothing to sweep: no segment has a dead owner\n');
    live.close();
    live.unlink();
  });

  it('--json lists the removed names', async () => {
    const prefix = fresh();
    const dead = await orphanSegment(prefix);
    expect(JSON.parse(shmkit('sweep', '--json', '--prefix', prefix).stdout)).toEqual([dead.name]);
  });
});

describe('shmkit df', () => {
  // The machine's /dev/shm is shared with other tests: exact equality with df -B1
  // is tested on a private tmpfs (space.test.ts); here, the shape and our own share.
  it('--json gives size, used and free in bytes, and what each owner holds', () => {
    const prefix = fresh();
    const seg = SharedMemory.create({ name: `${prefix}-df`, size: 3 << 20 });
    const r = shmkit('df', '--json');
    expect(r).toMatchObject({ code: 0, stderr: '' });
    const j = JSON.parse(r.stdout);
    const st = fs.statfsSync('/dev/shm');
    expect(j.path).toBe('/dev/shm');
    expect(j.size).toBe(st.blocks * st.bsize);
    for (const k of ['used', 'free']) expect(Number.isSafeInteger(j[k]) && j[k] >= 0 && j[k] <= j.size).toBe(true);
    const mine = j.owners.find((o: { pid: number | null }) => o.pid === process.pid);
    expect(mine).toMatchObject({ state: 'alive' });
    expect(mine.segments).toBeGreaterThanOrEqual(1);
    expect(mine.held).toBeGreaterThanOrEqual(3 << 20);
    expect(j.segments.held).toBe(j.owners.reduce((s: number, o: { held: number }) => s + o.held, 0));
    expect(j.segments.count).toBe(j.owners.reduce((s: number, o: { segments: number }) => s + o.segments, 0));
    seg.close();
    seg.unlink();
  });

  it('prints a df-like line and an aligned table of owners', () => {
    const prefix = fresh();
    const seg = SharedMemory.create({ name: `${prefix}-df`, size: 4096 });
    const r = shmkit('df');
    expect(r).toMatchObject({ code: 0, stderr: '' });
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^FILESYSTEM +SIZE +USED +FREE +USE%$/);
    expect(lines[1]).toMatch(/^\/dev\/shm +\d+(\.\d)? [KMGT]?i?B +\d+(\.\d)? [KMGT]?i?B +\d+(\.\d)? [KMGT]?i?B +\d+%$/);
    expect(lines[3]).toMatch(/^OWNER +STATE +SEGMENTS +HELD$/);
    expect(lines.some((l) => new RegExp(`^ *${process.pid} +alive +\\d+ +\\d`).test(l))).toBe(true);
    expect(lines.at(-1)).toMatch(/^\d+ segments? holds? .*, \d+% of what is used$/);
    expect(shmkit('df', 'x').code).toBe(2);
    seg.close();
    seg.unlink();
  });
});

describe('shmkit usage', () => {
  it('prints help with exit 0, and exits 2 with one line on unknown commands and options', () => {
    const h = shmkit('--help');
    expect(h.code).toBe(0);
    expect(h.stdout).toMatch(/^usage: shmkit <command>/);
    expect(shmkit().code).toBe(2);
    expect(shmkit('frobnicate')).toEqual({ code: 2, stdout: '', stderr: "shmkit: unknown command 'frobnicate' (see shmkit --help)\n" });
    expect(shmkit('ls', '--bogus')).toEqual({ code: 2, stdout: '', stderr: "shmkit: unknown option '--bogus' (see shmkit --help)\n" });
    expect(shmkit('ls', '--prefix').stderr).toBe('shmkit: --prefix needs a value (see shmkit --help)\n');
    expect(shmkit('sweep', 'name').code).toBe(2);
  });

  it('is declared as the package binary', () => {
    const json = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
    expect(json.bin).toEqual({ shmkit: 'bin/shmkit.js' });
    expect(json.files).toContain('bin/');
    expect(fs.readFileSync(path.join(ROOT, 'bin', 'shmkit.js'), 'utf8')).toMatch(/^#!\/usr\/bin\/env node\n/);
    expect(execFileSync(path.join(pkg, 'bin', 'shmkit.js'), ['--help'], { encoding: 'utf8' })).toMatch(/^usage/);
  });
});
