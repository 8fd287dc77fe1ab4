/**
 * Shared test helpers: unique name prefixes, real child processes running
 * test/fixtures/<role>.ts, and polling with back-off instead of fixed sleeps.
 */
import { afterEach } from 'vitest';
import { execFileSync, fork, spawn, spawnSync, type ChildProcess, type ForkOptions, type SpawnOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';

export const ROOT = path.resolve(__dirname, '..');
export const FIXTURES = path.join(__dirname, 'fixtures');
/** Node flags that let a child run a TypeScript fixture. */
export const TS_EXEC_ARGV = ['--import', 'tsx'];
export const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

/** This vitest run's id, set by global-setup.ts (all names of the run start with `shmkit-test-<run>-`). */
export const RUN = process.env.SHMKIT_TEST_RUN ?? randomBytes(3).toString('hex');

/**
 * A fresh name prefix, e.g. `shmkit-test-<run>-segment-1a2b3c4d`. Every
 * segment a test makes must start with one, so the global teardown can tell
 * this run's leaks from other runs' segments.
 */
export function testPrefix(label: string): string {
  return `shmkit-test-${RUN}-${label}-${randomBytes(4).toString('hex')}`;
}

/** Names under /dev/shm that start with `prefix`. */
export function shmEntries(prefix: string): string[] {
  return fs.readdirSync('/dev/shm').filter((n) => n.startsWith(prefix));
}

/** Removes every segment under `prefix` (afterEach safety net; tests still assert their own cleanup). */
export function removeAll(prefix: string): void {
  for (const n of shmEntries(prefix)) fs.rmSync(`/dev/shm/${n}`, { force: true });
}

/** Forks test/fixtures/<role>.ts with an IPC channel. */
export function forkFixture(role: string, args: string[] = [], options: ForkOptions = {}): ChildProcess {
  return fork(path.join(FIXTURES, `${role}.ts`), args, {
    execArgv: TS_EXEC_ARGV,
    cwd: ROOT,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    ...options,
  });
}

/** Runs test/fixtures/<role>.ts through `command` (e.g. setpriv, unshare) and collects its output. */
export function runFixture(
  role: string,
  args: string[] = [],
  wrap: string[] = [],
  options: SpawnOptions = {},
): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
  const argv = [...wrap, process.execPath, ...TS_EXEC_ARGV, path.join(FIXTURES, `${role}.ts`), ...args];
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], ...options });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d) => (stdout += d));
    child.stderr!.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** Next IPC message from `child` (rejects if it exits first). */
export function nextMessage<T = unknown>(child: ChildProcess): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: T) => {
      cleanup();
      resolve(m);
    };
    const onExit = (code: number | null, signal: string | null) => {
      cleanup();
      reject(new Error(`child exited (code ${code}, signal ${signal}) before sending a message`));
    };
    const cleanup = () => {
      child.off('message', onMessage);
      child.off('exit', onExit);
    };
    child.on('message', onMessage);
    child.on('exit', onExit);
  });
}

/** Resolves with the child's exit code and signal. */
export function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  }
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}

/**
 * Polls `check` with exponential back-off (1 ms doubling to 100 ms) until it
 * returns true; rejects after `timeoutMs` with `what` in the message.
 */
export async function waitFor(check: () => boolean, what: string, timeoutMs = 5000): Promise<number> {
  const start = Date.now();
  let delay = 1;
  for (;;) {
    if (check()) return Date.now() - start;
    if (Date.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 100);
  }
}

/** True once `pid` no longer runs (gone, or a zombie). */
export function processGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return true;
  }
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
    return /^[ZX]/.test(stat.slice(stat.lastIndexOf(')') + 2));
  } catch {
    return true;
  }
}

/**
 * Kills the tracker of owner `child` in a way the owner cannot repair: the
 * owner is stopped first (SIGSTOP), so its watcher thread cannot start a
 * replacement. Whatever the owner owns is then left behind when the caller
 * kills it — the "owner and tracker killed at once" case that only sweep()
 * cleans up. The owner still counts as alive while stopped.
 */
export async function killTrackerOf(child: ChildProcess, trackerPid: number): Promise<void> {
  child.kill('SIGSTOP');
  process.kill(trackerPid, 'SIGKILL');
  await waitFor(() => processGone(trackerPid), 'the tracker to die', 2000);
}

/**
 * A segment `<prefix>-0` whose owner died together with its tracker, so that
 * nobody cleaned it up: what sweep() is for. Returns its name and the dead
 * owner's pid.
 */
export async function orphanSegment(prefix: string): Promise<{ name: string; pid: number }> {
  const child = forkFixture('lifecycle-owner', [prefix, '1', 'owned']);
  try {
    const r = await nextMessage<{ names: string[]; trackerPid: number }>(child);
    await killTrackerOf(child, r.trackerPid);
    return { name: r.names[0]!, pid: child.pid! };
  } finally {
    child.kill('SIGKILL'); // also if something above failed: never leave it stopped
    await exited(child);
  }
}

/**
 * A worker thread running test/fixtures/<role>.ts (TypeScript through tsx),
 * with `data` as its workerData.
 */
export function tsWorker(role: string, data: unknown): Worker {
  const file = path.join(FIXTURES, `${role}.ts`);
  return new Worker(`require('tsx/cjs'); require(${JSON.stringify(file)});`, { eval: true, workerData: data });
}

/** The next message a worker posts (rejects if it errors or exits first). */
export function workerMessage<T = unknown>(w: Worker): Promise<T> {
  return new Promise((resolve, reject) => {
    const off = () => {
      w.off('message', onMessage);
      w.off('error', onError);
      w.off('exit', onExit);
    };
    const onMessage = (m: T) => (off(), resolve(m));
    const onError = (e: Error) => (off(), reject(e));
    const onExit = (code: number) => (off(), reject(new Error(`worker exited (${code}) before posting`)));
    w.on('message', onMessage);
    w.on('error', onError);
    w.on('exit', onExit);
  });
}

/**
 * A test file's names and children: `fresh()` gives names under a prefix of
 * its own, and after each test every child still running is SIGKILLed and
 * every segment under the prefix removed (a safety net: tests still assert
 * their own cleanup).
 */
export function testScope(label: string): { prefix: string; fresh: () => string; children: ChildProcess[] } {
  const prefix = testPrefix(label);
  let n = 0;
  const children: ChildProcess[] = [];
  afterEach(() => {
    for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    removeAll(prefix);
  });
  return { prefix, fresh: () => `${prefix}-${n++}`, children };
}

/** The error a promise rejects with; fails the test if it resolves. */
export async function rejection(p: Promise<unknown>): Promise<NodeJS.ErrnoException> {
  try {
    await p;
  } catch (err) {
    return err as NodeJS.ErrnoException;
  }
  throw new Error('expected the promise to reject');
}

/** Readonly attaches are guarded shared pages here (native/guard.cc: x86-64 Linux), private copies elsewhere. */
export const READONLY_GUARDED = process.platform === 'linux' && process.arch === 'x64';

/**
 * Why a private tmpfs (`unshare -m`, then `mount -t tmpfs` over `at`) cannot
 * be had here, or undefined if it can: the out-of-space tests need one.
 */
export function cannotUnshare(at = '/dev/shm'): string | undefined {
  if (!isRoot) return 'not root (unshare -m and mount need it)';
  const r = spawnSync('unshare', ['-m', '--propagation', 'private', '--', 'sh', '-c', `mount -t tmpfs -o size=1m tmpfs ${at}`], { encoding: 'utf8' });
  if (r.error) return `unshare is unavailable: ${r.error.message}`;
  if (r.status !== 0) return `unshare -m + mount failed: ${r.stderr.trim() || `exit ${r.status}`}`;
  return undefined;
}

/** The first C++ compiler found on PATH (for the native unit tests), or undefined. */
export function findCxx(): string | undefined {
  for (const c of ['c++', 'g++', 'clang++']) {
    try {
      execFileSync(c, ['--version'], { stdio: 'ignore' });
      return c;
    } catch {
      /* try the next */
    }
  }
  return undefined;
}
