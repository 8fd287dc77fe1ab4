/**
 * The package as users get it. `npm run prebuilds` builds this machine's
 * prebuilt pair (addon + tracker), `npm pack` packs it, and the tarball is
 * installed into empty folders:
 * - with PATH holding only node, npm and sh (no cc, gcc, g++, make or
 *   python3): nothing compiles, the prebuilt addon loads, a segment
 *   round-trips between two processes, and the prebuilt tracker unlinks the
 *   segment of an owner killed with SIGKILL;
 * - with `--build-from-source`: node-gyp compiles the addon and tracker as on
 *   a machine where no prebuilt fits, and `require` and `import` both work.
 * Installs are `--offline`: the two dependencies come from npm's cache.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { exited, processGone, ROOT, testPrefix, waitFor } from './helpers';

const PLATFORM = `${process.platform}-${process.arch}`;
/** What a machine needs to compile the addon; none of it may be on the no-compiler PATH. */
const BUILD_TOOLS = ['cc', 'gcc', 'g++', 'c++', 'clang', 'make', 'python3', 'python'];

const run = (file: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env) =>
  execFileSync(file, args, { cwd, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
const npm = (args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env) =>
  run('npm', args, cwd, { ...env, npm_config_loglevel: 'error' });

/** A folder holding a package.json and nothing else, ready for `npm install`. */
function emptyApp(dir: string): string {
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true }));
  return dir;
}

/*
 * The two-process round trip, run in the app against the installed package.
 * parent.js: creates an owned segment, writes a message, forks child.js, which
 * attaches by name, reads it and writes its answer; the parent reads that and
 * prints both; at exit the owned segment is unlinked.
 * owner.js: creates an owned segment, prints its name, then waits to be killed.
 */
const PARENT_JS = `
const { SharedMemory } = require('shmkit');
const { fork } = require('node:child_process');
const seg = SharedMemory.create({ name: process.argv[2], size: 4096 });
Buffer.from(seg.buffer).write('from the parent', 0);
const child = fork(require.resolve('./child.js'), [seg.name]);
child.on('message', (sent) => {
  const answer = Buffer.from(seg.buffer).toString('utf8', 100, 100 + 15);
  console.log(JSON.stringify({ sent, answer }));
  child.disconnect();
});
`;
const CHILD_JS = `
const { SharedMemory } = require('shmkit');
const seg = SharedMemory.attach(process.argv[2]);
const view = Buffer.from(seg.buffer);
const read = view.toString('utf8', 0, 15);
view.write('from the child!', 100);
process.send({ size: seg.size, read, pid: process.pid });
`;
const OWNER_JS = `
const { SharedMemory } = require('shmkit');
const seg = SharedMemory.create({ name: process.argv[2], size: 1 << 20 });
new Uint8Array(seg.buffer).fill(7);
console.log(seg.name);
setInterval(() => {}, 1000);
`;

describe('the npm package', () => {
  let tmp = '';
  let tarball = '';
  let files: { path: string; mode: number }[] = [];

  beforeAll(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shmkit-pack-'));
    npm(['run', 'prebuilds'], ROOT);
    const packed = JSON.parse(npm(['pack', '--json', '--pack-destination', tmp], ROOT)) as { filename: string; files: { path: string; mode: number }[] }[];
    tarball = path.join(tmp, packed[0]!.filename);
    files = packed[0]!.files;
  }, 300_000);

  afterAll(() => {
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('packs the prebuilt addon and tracker (executable), the sources to compile from, and no build or test files', () => {
    const byPath = new Map(files.map((f) => [f.path, f.mode]));
    expect(byPath.get(`prebuilds/${PLATFORM}/shmkit.glibc.node`)).toBeDefined();
    expect(byPath.get(`prebuilds/${PLATFORM}/shmkit-tracker`)! & 0o111).toBe(0o111);
    expect(files.filter((f) => f.path.startsWith('prebuilds/')).map((f) => f.path).sort()).toEqual([
      `prebuilds/${PLATFORM}/shmkit-tracker`,
      `prebuilds/${PLATFORM}/shmkit.glibc.node`,
    ]);
    for (const f of ['dist/index.js', 'binding.gyp', 'native/tracker.c', 'native/addon.cc']) expect(byPath.has(f)).toBe(true);
    expect(files.some((f) => f.path.startsWith('test/') || f.path.startsWith('build/') || f.path.startsWith('scripts/'))).toBe(false);
  });

  it('installs without a compiler on PATH, compiles nothing, and round-trips a segment between two processes', async () => {
    // PATH: node, npm and the shell npm runs scripts with; nothing else.
    const bin = path.join(tmp, 'bin');
    fs.mkdirSync(bin);
    for (const tool of ['node', 'npm', 'sh']) {
      fs.symlinkSync(run('sh', ['-c', `command -v ${tool}`], ROOT).trim(), path.join(bin, tool));
    }
    const env: NodeJS.ProcessEnv = { ...process.env, PATH: bin };
    delete env.npm_config_build_from_source;
    for (const tool of BUILD_TOOLS) {
      expect(() => run('sh', ['-c', `command -v ${tool}`], tmp, env), `${tool} on the restricted PATH`).toThrow();
    }

    const app = emptyApp(path.join(tmp, 'no-compiler'));
    npm(['install', '--offline', '--no-audit', '--no-fund', tarball], app, env);
    const pkg = path.join(app, 'node_modules/shmkit');
    expect(fs.existsSync(path.join(pkg, 'build'))).toBe(false); // node-gyp never ran
    expect(fs.existsSync(path.join(pkg, `prebuilds/${PLATFORM}/shmkit-tracker`))).toBe(true);

    fs.writeFileSync(path.join(app, 'parent.js'), PARENT_JS);
    fs.writeFileSync(path.join(app, 'child.js'), CHILD_JS);
    fs.writeFileSync(path.join(app, 'owner.js'), OWNER_JS);

    const name = testPrefix('pack-roundtrip');
    const out = JSON.parse(run(process.execPath, ['parent.js', name], app, env));
    expect(out.sent).toMatchObject({ size: 4096, read: 'from the parent' });
    expect(out.answer).toBe('from the child!');
    expect(fs.existsSync(`/dev/shm/${name}`)).toBe(false); // owned: unlinked at the parent's exit

    // An owner killed with SIGKILL: its tracker, the prebuilt executable, unlinks the segment.
    const owned = testPrefix('pack-killed');
    const owner = spawn(process.execPath, ['owner.js', owned], { cwd: app, env, stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      await new Promise<void>((resolve, reject) => {
        owner.stdout!.once('data', () => resolve());
        owner.once('exit', (code) => reject(new Error(`owner.js exited (${code}) before creating its segment`)));
      });
      expect(fs.statSync(`/dev/shm/${owned}`).size).toBe(1 << 20);
      const children = fs.readFileSync(`/proc/${owner.pid}/task/${owner.pid}/children`, 'utf8').trim().split(/\s+/).map(Number);
      const trackers = children.filter((pid) => fs.readlinkSync(`/proc/${pid}/exe`) === fs.realpathSync(path.join(pkg, `prebuilds/${PLATFORM}/shmkit-tracker`)));
      expect(trackers).toHaveLength(1);

      owner.kill('SIGKILL');
      expect(await exited(owner)).toEqual({ code: null, signal: 'SIGKILL' });
      await waitFor(() => !fs.existsSync(`/dev/shm/${owned}`), `the tracker to unlink /dev/shm/${owned}`, 5000);
      await waitFor(() => processGone(trackers[0]!), 'the tracker to exit', 5000);
    } finally {
      owner.kill('SIGKILL');
      try {
        fs.unlinkSync(`/dev/shm/${owned}`); // only if the tracker failed: leave nothing behind
      } catch {
        /* gone, as it should be */
      }
    }
  }, 120_000);

  it('compiles the addon and tracker with --build-from-source (where no prebuilt fits), and works with require and import', () => {
    const app = emptyApp(path.join(tmp, 'from-source'));
    npm(['install', '--offline', '--no-audit', '--no-fund', '--build-from-source', tarball], app);
    const release = path.join(app, 'node_modules/shmkit/build/Release');
    expect(fs.existsSync(path.join(release, 'shmkit.node'))).toBe(true);
    expect(fs.statSync(path.join(release, 'shmkit-tracker')).mode & 0o111).toBe(0o111);

    const name = testPrefix('package');
    const cjs = run(
      process.execPath,
      ['-e', `
        const { SharedMemory } = require('shmkit');
        const seg = SharedMemory.create({ name: ${JSON.stringify(name)}, size: 4096 });
        new Uint8Array(seg.buffer)[7] = 42;
        const other = SharedMemory.attach(${JSON.stringify(name)});
        console.log(JSON.stringify({ size: other.size, byte: new Uint8Array(other.buffer)[7] }));
      `],
      app,
    );
    expect(JSON.parse(cjs)).toEqual({ size: 4096, byte: 42 });
    expect(fs.existsSync(`/dev/shm/${name}`)).toBe(false); // owned: unlinked at exit

    const esm = run(
      process.execPath,
      ['--input-type=module', '-e', `
        import { SharedMemory } from 'shmkit';
        const seg = SharedMemory.create({ name: ${JSON.stringify(name + '-esm')}, size: 16 });
        console.log(SharedMemory.attach(seg.handle).size);
      `],
      app,
    );
    expect(esm.trim()).toBe('16');
  }, 240_000);
});
