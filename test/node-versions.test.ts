/**
 * N-API's promise: the addon built once (here, by Node 20) loads and works
 * in other Node majors. Each runs through `npx -y node@<major>` (a registry
 * package); a major that cannot be fetched is skipped with a message.
 */
import { describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { MAX_SIZE, RecordTable, SharedMemory, defineSchema } from '../lib/index';
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
      console.log(JSON.stringify({ version: process.version, kind: SharedMemory.bufferKind, seen: bytes.length, zeros: bytes.every((b) => b === 0), first: new Uint8Array(SharedMemory.attach(${JSON.stringify(mine.name)}).buffer)[0] }));`;
    const out = JSON.parse(execFileSync(cmd[0]!, [...cmd.slice(1), '-e', script], { encoding: 'utf8', cwd: ROOT }));
    expect(out.version.startsWith(`v${major}.`)).toBe(true);
    // Closed views read as empty (an ArrayBuffer) or as zeros (a SharedArrayBuffer, Node 22.23.3+/24.16+).
    if (out.kind === 'external') expect(out.seen).toBe(0);
    else expect([out.kind, out.seen, out.zeros]).toEqual(['shared', 64, true]);
    expect(out.first).toBe(20);
    const theirs = SharedMemory.attach(`${prefix}-there`);
    expect(theirs.size).toBe(4096);
    expect(new Uint8Array(theirs.buffer).every((b) => b === major)).toBe(true);
    theirs.close();
    theirs.unlink();
    mine.close();
    mine.unlink();
  }, 180_000);

  it('grows a table there over a segment past 4 GiB (its default extent), with strings of every length, and reads one made here', (ctx) => {
    const cmd = nodeMajor(major);
    if (!cmd) {
      console.warn(`skipped: node@${major} could not be fetched from the registry`);
      ctx.skip();
      return;
    }
    const prefix = testPrefix(`node${major}t`);
    const S = defineSchema({ s: 'utf8', n: { type: 'int32', nullable: true } });
    const mine = RecordTable.create(S, { name: `${prefix}-from20` });
    mine.append({ s: 'made by node 20, long enough', n: null });
    const script = `
      const { RecordTable, defineSchema } = require(${JSON.stringify(ROOT)});
      const t = RecordTable.create(defineSchema({ s: 'utf8', n: { type: 'int32', nullable: true } }), { name: ${JSON.stringify(`${prefix}-there`)}, owned: false });
      const vals = ['', 'é', '123456789012', '1234567890123', 'ü'.repeat(40), 'x'.repeat(70000)];
      for (let i = 0; i < 3000; i++) t.append({ s: vals[i % vals.length] + i, n: i % 2 ? i : null });
      const rows = [0, 1, 2, 3, 4, 5, 2999].map((i) => t.get(i));
      const arrow = [0, 3, 5].map((i) => t.toArrow().getChild('s').get(i));
      const other = RecordTable.attach(${JSON.stringify(mine.name)});
      console.log(JSON.stringify({ size: t.segment.size, rows: rows.map((r) => [r.s.length, r.s.slice(0, 20), r.n]), arrow: arrow.map((a) => a.length), theirs: other.get(0) }));`;
    const out = JSON.parse(execFileSync(cmd[0]!, [...cmd.slice(1), '-e', script], { encoding: 'utf8', cwd: ROOT, maxBuffer: 1 << 24 }));
    expect(out.size).toBeGreaterThan(2 ** 32);
    const vals = ['', 'é', '123456789012', '1234567890123', 'ü'.repeat(40), 'x'.repeat(70000)];
    expect(out.rows).toEqual([0, 1, 2, 3, 4, 5, 2999].map((i) => [(vals[i % 6]! + i).length, (vals[i % 6]! + i).slice(0, 20), i % 2 ? i : null]));
    expect(out.arrow).toEqual([1, 14, 70001]);
    expect(out.theirs).toEqual({ s: 'made by node 20, long enough', n: null });
    try {
      if (out.size > MAX_SIZE) {
        // This Node (20) maps at most 4 GiB: it says so instead of failing oddly.
        expect(() => RecordTable.attach(`${prefix}-there`)).toThrow(/more than this Node can map/);
      } else {
        const theirs = RecordTable.attach(`${prefix}-there`);
        expect(theirs.get(5).s).toBe('x'.repeat(70000) + '5');
        theirs.close();
      }
    } finally {
      SharedMemory.unlink(`${prefix}-there`);
    }
    mine.close();
    mine.unlink();
  }, 180_000);
});
