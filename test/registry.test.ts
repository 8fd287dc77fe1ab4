import { afterEach, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import { Registry } from '../lib/registry';
import { SharedMemory } from '../lib/segment';
import { ShmError } from '../lib/errors';
import { exited, forkFixture, nextMessage, removeAll, shmEntries, testPrefix } from './helpers';

const prefixes: string[] = [];
function fresh(): string {
  const p = testPrefix('registry');
  prefixes.push(p);
  return p;
}
afterEach(() => {
  for (const p of prefixes.splice(0)) removeAll(p);
});

describe('Registry', () => {
  it('maps keys to <prefix>.<key> names', () => {
    const prefix = fresh();
    const reg = new Registry({ prefix });
    expect(reg.prefix).toBe(prefix);
    expect(reg.nameOf('prices')).toBe(`${prefix}.prices`);
    const seg = reg.create('prices', { size: 1024 });
    expect(seg.name).toBe(`${prefix}.prices`);
    expect(seg.owned).toBe(true);
    expect(fs.statSync(`/dev/shm/${prefix}.prices`).size).toBe(1024);
    expect(reg.has('prices')).toBe(true);
    expect(reg.has('other')).toBe(false);
    expect(reg.dispose()).toEqual([seg.name]);
    expect(reg.disposed).toBe(true);
  });

  it('lets a second process list and attach by key', async () => {
    const prefix = fresh();
    const reg = new Registry({ prefix });
    const a = reg.create('alpha', { size: 64 });
    reg.create('beta', { size: 64 });
    new Uint8Array(a.buffer)[0] = 99;
    const child = forkFixture('registry-peer', [prefix, 'alpha']);
    expect(await nextMessage(child)).toEqual({ keys: ['alpha', 'beta'], first: 99, owned: false });
    await exited(child);
    expect(reg.has('alpha')).toBe(true); // the peer only attached
    reg.dispose();
    expect(shmEntries(prefix)).toEqual([]);
  });

  it('lists every segment under the prefix, whoever made it, with keys and owners', () => {
    const prefix = fresh();
    const reg = new Registry({ prefix });
    reg.create('b', { size: 10 });
    const other = SharedMemory.create({ name: `${prefix}.a`, size: 20, owned: false });
    const outside = SharedMemory.create({ name: `${prefix}-not-in-it`, size: 30, owned: false });
    expect(reg.list()).toEqual([
      { key: 'a', name: `${prefix}.a`, size: 20, kind: 'raw' },
      { key: 'b', name: `${prefix}.b`, size: 10, kind: 'raw', owner: { pid: process.pid, alive: true } },
    ]);
    reg.dispose();
    for (const s of [other, outside]) (s.close(), s.unlink());
  });

  it('dispose() removes what it created and still owns, and leaves what it attached, handed off or never made', async () => {
    const prefix = fresh();
    const reg = new Registry({ prefix });
    const kept = reg.create('kept', { size: 64 });
    const handed = reg.create('handed', { size: 64 });
    handed.unregister();
    const unowned = reg.create('unowned', { size: 64, owned: false });
    const gone = reg.create('unlinked', { size: 64 });
    gone.unlink();
    // Made by another process under the same prefix, then attached here.
    const peer = forkFixture('registry-peer', [prefix, 'kept', 'peer']);
    const m = await nextMessage<{ created: string }>(peer);
    await exited(peer);
    const attached = reg.attach('peer', { own: false });
    expect(attached.name).toBe(m.created);

    expect(reg.dispose()).toEqual([kept.name]);
    expect(reg.dispose()).toEqual([]); // idempotent
    expect(shmEntries(prefix).sort()).toEqual([handed.name, `${prefix}.peer`, unowned.name].sort());
    expect(new Uint8Array(kept.buffer).length).toBe(64); // views stay mapped until closed
    for (const s of [kept, handed, unowned, gone, attached]) s.close();
    for (const n of [handed.name, unowned.name, `${prefix}.peer`]) SharedMemory.unlink(n);
  });

  it('dispose() leaves a newer segment that reuses a created name', () => {
    const prefix = fresh();
    const reg = new Registry({ prefix });
    const seg = reg.create('x', { size: 8 });
    fs.rmSync(`/dev/shm/${seg.name}`); // someone else removes it and makes a new one
    const newer = SharedMemory.create({ name: seg.name, size: 16, owned: false });
    expect(reg.dispose()).toEqual([]);
    expect(fs.statSync(`/dev/shm/${seg.name}`).size).toBe(16);
    newer.close();
    newer.unlink();
  });

  it('works with `using`', () => {
    const prefix = fresh();
    {
      using reg = new Registry({ prefix });
      reg.create('scoped', { size: 8 });
      expect(shmEntries(prefix)).toEqual([`${prefix}.scoped`]);
    }
    expect(shmEntries(prefix)).toEqual([]);
  });

  it('throws ERR_SHM_CLOSED once disposed', () => {
    const reg = new Registry({ prefix: fresh() });
    reg.dispose();
    let caught: unknown;
    try {
      reg.create('late', { size: 8 });
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(ShmError);
    expect((caught as ShmError).code).toBe('ERR_SHM_CLOSED');
    expect(() => reg.attach('late')).toThrow(/disposed/);
  });

  it('throws EEXIST for a taken key and ENOENT for a missing one', () => {
    const prefix = fresh();
    const reg = new Registry({ prefix });
    reg.create('k', { size: 8 });
    expect(() => reg.create('k', { size: 8 })).toThrow(expect.objectContaining({ code: 'EEXIST', syscall: 'shm_open', path: `${prefix}.k` }));
    expect(() => reg.attach('missing')).toThrow(expect.objectContaining({ code: 'ENOENT', errno: -2, path: `${prefix}.missing` }));
    reg.dispose();
  });

  it('validates prefixes, keys and options before any system call', () => {
    expect(() => new Registry({ prefix: '' })).toThrow(TypeError);
    expect(() => new Registry({ prefix: 'a/b' })).toThrow(TypeError);
    expect(() => new Registry({ prefix: 'x'.repeat(254) })).toThrow(TypeError);
    expect(() => new Registry(undefined as unknown as { prefix: string })).toThrow(TypeError);
    const prefix = fresh();
    const reg = new Registry({ prefix });
    expect(() => reg.create('', { size: 8 })).toThrow(TypeError);
    expect(() => reg.create('a/b', { size: 8 })).toThrow(TypeError);
    expect(() => reg.create(7 as unknown as string, { size: 8 })).toThrow(TypeError);
    expect(() => reg.create('k', null as unknown as { size: number })).toThrow(TypeError);
    expect(() => reg.create('k', { size: 0 })).toThrow(RangeError);
    expect(() => reg.nameOf('x'.repeat(300))).toThrow(TypeError);
    expect(shmEntries(prefix)).toEqual([]);
  });
});
