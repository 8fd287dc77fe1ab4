/**
 * The package as users get it: `npm pack`, install the tarball into an empty
 * folder (which compiles the addon there), then `require` and `import` it.
 */
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ROOT, testPrefix } from './helpers';

const npm = (args: string[], cwd: string) =>
  execFileSync('npm', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, npm_config_loglevel: 'error' } });

describe('the npm package', () => {
  it('installs from its own tarball into an empty folder, compiles, and works with require and import', () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shmkit-pack-'));
    try {
      const packed = JSON.parse(npm(['pack', '--json', '--pack-destination', tmp], ROOT)) as { filename: string; files: { path: string }[] }[];
      const files = packed[0]!.files.map((f) => f.path);
      expect(files).toContain('dist/index.js');
      expect(files).toContain('binding.gyp');
      expect(files.some((f) => f.startsWith('test/'))).toBe(false);
      expect(files.some((f) => f.startsWith('build/'))).toBe(false);

      const app = path.join(tmp, 'app');
      fs.mkdirSync(app);
      fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true }));
      npm(['install', '--no-audit', '--no-fund', path.join(tmp, packed[0]!.filename)], app);
      expect(fs.existsSync(path.join(app, 'node_modules/shmkit/build/Release/shmkit.node'))).toBe(true);

      const name = testPrefix('package');
      const cjs = execFileSync(
        process.execPath,
        ['-e', `
          const { SharedMemory } = require('shmkit');
          const seg = SharedMemory.create({ name: ${JSON.stringify(name)}, size: 4096 });
          new Uint8Array(seg.buffer)[7] = 42;
          const other = SharedMemory.attach(${JSON.stringify(name)});
          console.log(JSON.stringify({ size: other.size, byte: new Uint8Array(other.buffer)[7] }));
        `],
        { cwd: app, encoding: 'utf8' },
      );
      expect(JSON.parse(cjs)).toEqual({ size: 4096, byte: 42 });
      expect(fs.existsSync(`/dev/shm/${name}`)).toBe(false); // owned: unlinked at exit

      const esm = execFileSync(
        process.execPath,
        ['--input-type=module', '-e', `
          import { SharedMemory } from 'shmkit';
          const seg = SharedMemory.create({ name: ${JSON.stringify(name + '-esm')}, size: 16 });
          console.log(SharedMemory.attach(seg.handle).size);
        `],
        { cwd: app, encoding: 'utf8' },
      );
      expect(esm.trim()).toBe('16');
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  }, 240_000);
});
