/**
 * The one owner identity (lib/identity.ts) and its judge, provablyDead:
 * reused ids, ended processes, and owners in another pid namespace.
 */
import { describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { Mutex, SharedMemory } from '../lib/index';
import { provablyDead, self, INIT_PID_NS } from '../lib/identity';
import { FIXTURES, TS_EXEC_ARGV, exited, testScope, waitFor, tsWorker, workerMessage, rejection } from './helpers';

const { fresh, children } = testScope('identity');

describe('provablyDead()', () => {
  it('is false for this thread and true for the same id with another start time (a reused pid)', () => {
    const me = self();
    expect(me.tid).toBe(process.pid); // the main thread's tid is the pid
    expect(provablyDead(me)).toBe(false);
    expect(provablyDead({ ...me, start: me.start + 1 })).toBe(true);
    expect(provablyDead({ ...me, start: (me.start + 1) & 0xff, startMask: 0xff })).toBe(true);
    expect(provablyDead({ ...me, start: me.start & 0xff, startMask: 0xff })).toBe(false);
  });

  it('is true once a process has ended and been reaped', async () => {
    const c = spawn('sleep', ['30']);
    const id = { tid: c.pid!, start: 0, startMask: 0, ns: self().ns };
    expect(provablyDead(id)).toBe(false);
    c.kill('SIGKILL');
    await exited(c);
    expect(provablyDead(id)).toBe(true);
  });

  it('names a worker thread by its own tid, dead once the worker ends while the process lives', async () => {
    const w = tsWorker('identity-worker', null);
    const id = await workerMessage<ReturnType<typeof self>>(w);
    expect(id.pid).toBe(process.pid);
    expect(id.tid).not.toBe(process.pid);
    expect(provablyDead(id)).toBe(false);
    await w.terminate();
    // terminate() resolves when the worker's JavaScript has stopped; its OS thread leaves /proc a moment later.
    await waitFor(() => provablyDead(id), 'the ended worker to be provably dead', 5000);
    expect(provablyDead(id)).toBe(true);
  });

  it('in the initial pid namespace, judges a namespace with no task left as dead', () => {
    // An inode no namespace has: nothing visible lives there.
    const ghost = { tid: 1, start: 0, startMask: 0, ns: 4_000_000_001 };
    expect(provablyDead(ghost)).toBe(self().ns === INIT_PID_NS);
  });
});

/** Starts ns-holder.ts in a new pid namespace; resolves once it holds the lock. */
async function holderInNamespace(name: string, ms: string): Promise<{ child: ChildProcess; pid: number; out: () => string }> {
  const child = spawn(
    'unshare',
    ['--pid', '--fork', '--mount-proc', '--kill-child', process.execPath, ...TS_EXEC_ARGV, path.join(FIXTURES, 'ns-holder.ts'), name, '0', ms],
    { cwd: path.resolve(__dirname, '..'), stdio: ['ignore', 'pipe', 'inherit'] },
  );
  children.push(child);
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  await new Promise<void>((resolve, reject) => {
    const check = () => (/locked (\d+)/.test(out) ? resolve() : undefined);
    child.stdout!.on('data', check);
    child.once('exit', (code) => reject(new Error(`holder exited (${code}) before locking: ${out}`)));
  });
  return { child, pid: Number(/locked (\d+)/.exec(out)![1]), out: () => out };
}

describe('a Mutex held from another pid namespace (unshare --pid)', () => {
  it('is not stolen while its holder lives: lock({ timeout: 2000 }) times out and the holder unlocks fine', async () => {
    const seg = SharedMemory.create({ name: fresh(), size: 4096 });
    const m = Mutex.create(seg, 0);
    const h = await holderInNamespace(seg.name, '3000');
    expect(h.pid).toBe(1); // its own namespace numbers it 1: that pid means nothing here
    const e = await rejection(m.lock({ timeout: 2000 }));
    expect(e.code).toBe('ERR_SHM_LOCK_TIMEOUT');
    expect(e.message).toMatch(/another pid namespace/);
    expect(await exited(h.child)).toEqual({ code: 0, signal: null });
    expect(h.out()).toContain('unlocked');
    expect(await m.lock({ timeout: 1000 })).toEqual({ recovered: false });
    m.unlock();
    seg.close();
    seg.unlink();
  });

  it('is taken over (recovered: true) once the holder is SIGKILLed and its namespace is empty', async () => {
    const seg = SharedMemory.create({ name: fresh(), size: 4096 });
    const m = Mutex.create(seg, 0);
    const h = await holderInNamespace(seg.name, 'forever');
    expect(m.tryLock()).toBe(false);
    h.child.kill('SIGKILL'); // --kill-child: the holder gets SIGKILL as unshare dies
    const t0 = performance.now();
    const r = await m.lock({ timeout: 5000 });
    expect(r.recovered).toBe(true);
    expect(performance.now() - t0).toBeLessThan(2000);
    m.unlock();
    seg.close();
    seg.unlink();
  });
});
