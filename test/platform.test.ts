/**
 * shmkit is Linux-only (package.json `os`, README, lib/binding.ts): loading
 * it anywhere else throws before the addon is looked for. The fixture sets
 * `process.platform` before the first require; nothing else is faked.
 */
import { describe, expect, it } from 'vitest';
import { runFixture } from './helpers';

describe('loading shmkit off Linux', () => {
  it.each(['darwin', 'win32', 'freebsd'])('throws ERR_SHM_UNSUPPORTED_PLATFORM on %s', async (platform) => {
    const r = await runFixture('platform', [platform]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).loaded).toEqual({
      code: 'ERR_SHM_UNSUPPORTED_PLATFORM',
      name: 'ShmError',
      message: `shmkit runs on Linux only; this is ${platform}`,
    });
  });

  it('loads on Linux, where list() works', async () => {
    const r = await runFixture('platform', ['linux']);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.loaded).toBe(true);
    expect(out.list).toBe('ok');
  });
});
