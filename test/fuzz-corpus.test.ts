/**
 * Replays the fuzzers' corpus (scripts/fuzz.sh → test/fuzz-corpus/) in every
 * run: the table header parser must accept or throw ERR_SHM_BAD_HEADER, the
 * tracker's line parser must never crash or corrupt memory (built here with
 * ASan + UBSan around the same harness the fuzzer ran).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ShmError } from '../lib/index';
import { parseHeader } from '../lib/table/header';
import { regionBytes, rowRegions } from '../lib/table/layout';
import { checkHeaderInput, type HeaderApi } from '../fuzz/header-check.cjs';
import { ROOT } from './helpers';

const CORPUS = path.join(ROOT, 'test', 'fuzz-corpus');
const inputs = (name: string) => fs.readdirSync(path.join(CORPUS, name)).map((f) => path.join(CORPUS, name, f));
const api = { parseHeader, ShmError, rowRegions, regionBytes } as unknown as HeaderApi;

describe('the header fuzz corpus', () => {
  it('holds real tables and fuzzed ones, at most 200 inputs', () => {
    const files = inputs('header');
    expect(files.length).toBeGreaterThanOrEqual(10);
    expect(files.length).toBeLessThanOrEqual(200);
    const verdicts = files.map((f) => checkHeaderInput(fs.readFileSync(f), api));
    expect(verdicts).toContain('ok');
    expect(verdicts).toContain('bad');
  });

  it('parses every input or throws ERR_SHM_BAD_HEADER, with every accepted area inside the segment', () => {
    for (const f of inputs('header')) {
      expect(() => checkHeaderInput(fs.readFileSync(f), api), f).not.toThrow();
    }
  });

  it('fails an input when the parser throws anything else or accepts an area past the end', () => {
    const seed = inputs('header').map((f) => fs.readFileSync(f)).find((b) => checkHeaderInput(b, api) === 'ok')!;
    const typeError = { ...api, parseHeader: () => { throw new TypeError('x is undefined'); } } as HeaderApi;
    expect(() => checkHeaderInput(seed, typeError)).toThrow(/other than ERR_SHM_BAD_HEADER/);
    const tooLong = { ...api, parseHeader: (b: Uint8Array, s: number) => ({ ...parseHeader(b, s), capacity: 2 ** 40 }) } as HeaderApi;
    expect(() => checkHeaderInput(seed, tooLong)).toThrow(/breaks its contract/);
  });
});

/** Builds the tracker harness (fuzz/tracker_fuzz.c) with a replaying main instead of libFuzzer's → the binary, or the compiler's error. */
function buildReplay(dir: string, extra: string[] = []): { bin?: string; error?: string } {
  const cc = process.env.CC ?? 'cc';
  const bin = path.join(dir, `tracker-replay${extra.length ? '-variant' : ''}`);
  const src = ['fuzz/tracker_fuzz.c', 'fuzz/replay_main.c', 'native/tracker_parse.c'].map((f) => path.join(ROOT, f));
  const r = spawnSync(cc, ['-g', '-O1', '-fsanitize=address,undefined', '-fno-sanitize-recover=undefined', ...extra, '-o', bin, ...src], { encoding: 'utf8' });
  return r.status === 0 ? { bin } : { error: `${cc}: ${r.error?.message ?? r.stderr}` };
}

/** Runs the replay over files, without the LD_PRELOAD of a test:asan run (clang's runtime under a gcc-built ASan binary refuses to start). */
function replay(bin: string, files: string[]) {
  const env: NodeJS.ProcessEnv = { ...process.env, ASAN_OPTIONS: 'detect_leaks=1:halt_on_error=1', UBSAN_OPTIONS: 'print_stacktrace=1:halt_on_error=1' };
  delete env.LD_PRELOAD;
  return spawnSync(bin, files, { encoding: 'utf8', env });
}

describe('the tracker fuzz corpus', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shmkit-fuzz-replay-'));
  const built = buildReplay(dir);
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('holds the owner\'s real lines and fuzzed ones, at most 200 inputs', () => {
    const files = inputs('tracker');
    expect(files.length).toBeGreaterThanOrEqual(10);
    expect(files.length).toBeLessThanOrEqual(200);
    expect(files.some((f) => fs.readFileSync(f).includes('\n+'))).toBe(true);
  });

  it('runs every input through the tracker\'s parser under ASan + UBSan without a report', () => {
    expect(built.error).toBeUndefined();
    const files = inputs('tracker');
    const r = replay(built.bin!, files);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(`replayed ${files.length} inputs\n`);
    expect(r.status).toBe(0);
  });

  it('fails the replay when the parser moves a partial line with memcpy instead of memmove (an injected overlap)', () => {
    const bad = buildReplay(dir, ['-Dmemmove=memcpy']);
    expect(bad.error).toBeUndefined();
    const r = replay(bad.bin!, inputs('tracker'));
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/AddressSanitizer: memcpy-param-overlap/);
  });
});
