/**
 * N-API's promise: the addon built once (here, by Node 20) loads and works
 * in other Node majors. Each runs through `npx -y node@<major>` (a registry
 * package); a major that cannot be fetched is skipped with a message.
 */
import { describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { SharedMemory } from '../lib/index';
import { ROOT, testPrefix } from './helpers';

function nodeMajor(major: number): string[] | undefined {
  const r = spawnSync('npx', ['-y', `node@${major}`, '--version'], { encoding: 'utf8', timeout: 120_000 });
  return r.status === 0 && r.stdout.startsWith(`v${major}.`) ? ['npx', '-y', `node@${major}`] : undefined;
}

describe.each([22, 24])('the addon under Node %i', (major) => {
  it('creates a segment there that this Node attaches, and attaches one made here', (ctx) => {
    const cmd = nodeMajor(major);
    if (!cmd) {
      console.warn(`skipped: node@${major} could not be fetched from the registry`);
      ctx.skip(); // counted as skipped, not passed
      return;
    }
    const prefix = testPrefix(`node${major}`);
    const mine = SharedMemory.create({ name: `${prefix}-from20`, size: 64 });
    new Uint8Array(mine.buffer).fill(20);
    const script = `
      const { SharedMemory } = require(${JSON.stringify(ROOT)});
      const seg = SharedMemory.create({ name: ${JSON.stringify(`${prefix}-there`)}, size: 4096, owned: false });
      new Uint8Array(seg.buffer).fill(${major});
      const other = SharedMemory.attach(${JSON.stringify(mine.name)});
      const bytes = new Uint8Array(other.buffer);
      other.close();
      console.log(JSON.stringify({ version: process.version, seen: bytes.length, first: new Uint8Array(SharedMemory.attach(${JSON.stringify(mine.name)}).buffer)[0] }));`;
    const out = JSON.parse(execFileSync(cmd[0]!, [...cmd.slice(1), '-e', script], { encoding: 'utf8', cwd: ROOT }));
    expect(out.version.startsWith(`v${major}.`)).toBe(true);
    expect(out.seen).toBe(0); // closed views read as empty there too
    expect(out.first).toBe(20);
    const theirs = SharedMemory.attach(`${prefix}-there`);
    expect(theirs.size).toBe(4096);
    expect(new Uint8Array(theirs.buffer).every((b) => b === major)).toBe(true);
    theirs.close();
    theirs.unlink();
    mine.close();
    mine.unlink();
  }, 180_000);
});
