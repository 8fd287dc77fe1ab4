import { afterEach, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { SharedMemory } from '../lib/segment';
import { sweep } from '../lib/sweep';
import { ownerOf, trackerPid } from '../lib/ownership';
import { INIT_PID_NS } from '../lib/identity';
import { binding, TRACKER_PATH } from '../lib/binding';
import {
  exited,
  forkFixture,
  killTrackerOf,
  nextMessage,
  orphanSegment,
  processGone,
  removeAll,
  runFixture,
  shmEntries,
  testPrefix,
  waitFor,
} from './helpers';

interface Report {
  names: string[];
  trackerPid: number | null;
  pid: number;
  grandchild?: number;
}
interface Attached {
  attached: boolean;
  owned?: boolean;
  first?: number;
  code?: string;
  trackerPid: number | null;
}

const prefixes: string[] = [];
const children: ChildProcess[] = [];
const pids: number[] = [];
function fresh(label: string): string {
  const p = testPrefix(`lifecycle-${label}`);
  prefixes.push(p);
  return p;
}

afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const pid of pids.splice(0)) {
    try {
      process.kill(pid, 'SIGKILL'); // a negative pid: a whole process group
    } catch {
      /* already gone */
    }
  }
  for (const p of prefixes.splice(0)) removeAll(p);
});

const exists = (name: string) => fs.existsSync(`/dev/shm/${name}`);

/** Where process `pid`'s tracker watcher thread sleeps (its wchan), or undefined if it has none. */
function watcherWchan(pid: number): string | undefined {
  for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
    try {
      if (fs.readFileSync(`/proc/${pid}/task/${tid}/comm`, 'latin1').trim() !== 'shmkit-watch') continue;
      return fs.readFileSync(`/proc/${pid}/task/${tid}/wchan`, 'latin1');
    } catch {
      continue; // a thread that just ended
    }
  }
  return undefined;
}

/** Whether process `pid`'s tracker watcher thread is asleep in poll(), i.e. idle. */
const watcherPolling = (pid: number) => /poll/.test(watcherWchan(pid) ?? '');

/** Pid of the live `shmkit-tracker` child of process `ppid`, if it has one. */
function trackerOf(ppid: number): number | undefined {
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = fs.readFileSync(`/proc/${entry}/stat`, 'latin1');
    } catch {
      continue; // gone meanwhile
    }
    const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    const [state, parent] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (comm === 'shmkit-tracker' && Number(parent) === ppid && !/^[ZX]/.test(state!)) return Number(entry);
  }
  return undefined;
}

async function startOwner(prefix: string, count = 1, mode = 'owned', opts = {}): Promise<[ChildProcess, Report]> {
  const child = forkFixture('lifecycle-owner', [prefix, String(count), mode], opts);
  children.push(child);
  const report = await nextMessage<Report>(child);
  expect(report.names).toHaveLength(count);
  for (const n of report.names) expect(exists(n)).toBe(true);
  return [child, report];
}

/**
 * Waits until owner `pid` has a tracker other than `old` in service and its
 * watcher is back asleep in poll(): only then has the replacement been told
 * every owned name (it is installed after that, and the watcher polls only
 * an installed tracker).
 */
function replaced(pid: number, old: number, timeoutMs = 2000): Promise<number> {
  return waitFor(() => {
    const now = trackerOf(pid) ?? 0;
    return now > 0 && now !== old && watcherPolling(pid);
  }, `a replacement for tracker ${old}, told every owned name`, timeoutMs);
}

/** Waits (back-off polling, at most 2 s) until none of `names` exists; returns the time taken. */
function allGone(names: string[], what: string): Promise<number> {
  return waitFor(() => names.every((n) => !exists(n)), what, 2000);
}

describe('an owner that dies', () => {
  it.each(['SIGKILL', 'SIGTERM', 'SIGINT', 'SIGHUP'] as const)(
    'has its owned segments removed within 2 s when killed by %s',
    async (signal) => {
      const [child, r] = await startOwner(fresh(signal.toLowerCase()), 3);
      expect(r.trackerPid).toBeGreaterThan(0);
      child.kill(signal);
      expect(await exited(child)).toEqual({ code: null, signal });
      await allGone(r.names, `segments of an owner killed by ${signal} to be removed`);
      await waitFor(() => processGone(r.trackerPid!), 'the tracker to exit after its owner', 2000);
    },
  );

  it.each([
    ['exit', 0],
    ['throw', 1],
    ['reject', 1],
  ] as const)('has its owned segments removed when it ends by %s', async (how, code) => {
    // The deliberate crash's stack trace is expected: keep it out of the test output.
    const [child, r] = await startOwner(fresh(how), 2, 'owned', { stdio: ['ignore', 'ignore', 'ignore', 'ipc'] });
    child.send(how);
    expect(await exited(child)).toEqual({ code, signal: null });
    await allGone(r.names, `segments of an owner that ended by ${how} to be removed`);
    await waitFor(() => processGone(r.trackerPid!), 'the tracker to exit after its owner', 2000);
  });

  it('has all of 1,000 owned segments removed within 2 s of SIGKILL', async () => {
    const [child, r] = await startOwner(fresh('thousand'), 1000);
    child.kill('SIGKILL');
    await exited(child);
    await allGone(r.names, '1,000 segments of a SIGKILLed owner to be removed');
  });

  it('has its segments removed when SIGINT hits its whole process group (Ctrl-C)', async () => {
    const prefix = fresh('pgrp');
    // detached: the owner leads its own process group, as a shell job does.
    const [child, r] = await startOwner(prefix, 2, 'owned', { detached: true });
    process.kill(-child.pid!, 'SIGINT');
    expect(await exited(child)).toEqual({ code: null, signal: 'SIGINT' });
    await allGone(r.names, 'segments of an owner whose group got SIGINT to be removed');
  });

  it('is cleaned up after even when its tracker was sent SIGINT, SIGTERM and SIGHUP first', async () => {
    const [child, r] = await startOwner(fresh('tracker-signals'), 1);
    for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.kill(r.trackerPid!, s);
    // Still there after the signals: its owner is alive and the segment intact.
    expect(processGone(r.trackerPid!)).toBe(false);
    expect(exists(r.names[0]!)).toBe(true);
    child.kill('SIGKILL');
    await exited(child);
    await allGone(r.names, 'the segment to be removed by a tracker that ignored signals');
  });

  it('is not kept from cleanup by a forked grandchild that outlives it, nor cleaned up after by it', async () => {
    const [child, r] = await startOwner(fresh('grandchild'), 1, 'grandchild');
    pids.push(r.grandchild!);
    expect(processGone(r.grandchild!)).toBe(false);
    child.kill('SIGKILL');
    await exited(child);
    // The grandchild still runs, yet the tracker saw its pipe close: no fd leaked into the grandchild.
    await allGone(r.names, 'the segment to be removed while the grandchild lives');
    expect(processGone(r.grandchild!)).toBe(false);
  });

  it('never removes a newer segment that reuses an owned name', async () => {
    const [child, r] = await startOwner(fresh('reuse'), 1);
    const name = r.names[0]!;
    SharedMemory.unlink(name);
    const other = SharedMemory.create({ name, size: 16, owned: false });
    child.kill('SIGKILL');
    await exited(child);
    await waitFor(() => processGone(r.trackerPid!), 'the tracker to finish', 2000);
    expect(exists(name)).toBe(true);
    other.close();
    other.unlink();
  });

  it('leaves nothing behind when it creates an owned segment and then simply has nothing left to do', async () => {
    const prefix = fresh('idle');
    // runFixture: no IPC channel, so only our own handles could keep it alive.
    const res = await runFixture('lifecycle-owner', [prefix, '1', 'owned', 'idle']);
    expect(res.code).toBe(0);
    const r = JSON.parse(res.stdout) as Report;
    expect(r.trackerPid).toBeGreaterThan(0);
    expect(exists(r.names[0]!)).toBe(false); // the exit hook removed it at once
    await waitFor(() => processGone(r.trackerPid!), 'the tracker to exit with its owner', 2000);
  });
});

describe('a process that only attaches', () => {
  it.each(['exit', 'hang'])('never removes the segment, however it ends (%s)', async (end) => {
    const seg = SharedMemory.create({ name: `${fresh('attacher')}-0`, size: 4096, owned: false });
    new Uint8Array(seg.buffer)[0] = 7;
    const child = forkFixture('lifecycle-attacher', [seg.name, 'attach', end]);
    children.push(child);
    const m = await nextMessage<Attached>(child);
    expect(m).toMatchObject({ attached: true, owned: false, first: 7, trackerPid: null });
    if (end === 'hang') child.kill('SIGKILL');
    await exited(child);
    expect(exists(seg.name)).toBe(true);
    expect(new Uint8Array(seg.buffer)[0]).toBe(7);
    seg.close();
    seg.unlink();
  });

  it('removes nothing when its attach fails', async () => {
    const name = `${fresh('attach-fail')}-0`;
    const child = forkFixture('lifecycle-attacher', [name, 'adopt', 'exit']);
    children.push(child);
    expect(await nextMessage<Attached>(child)).toEqual({ attached: false, code: 'ENOENT', trackerPid: null });
    await exited(child);
    expect(shmEntries(name)).toEqual([]);
  });
});

describe('unregister() and adopt', () => {
  it('lets a segment outlive its creator, with no owner recorded', async () => {
    const [child, r] = await startOwner(fresh('unregister'), 1, 'unregister');
    const name = r.names[0]!;
    expect(ownerOf(name)).toBeUndefined();
    child.kill('SIGKILL');
    await exited(child);
    await waitFor(() => processGone(r.trackerPid!), 'the creator\'s tracker to finish', 2000);
    expect(exists(name)).toBe(true);
    SharedMemory.unlink(name);
  });

  it('works for the pipeline case: a child makes a result, hands it off and exits; the parent adopts and reads it', async () => {
    const [child, r] = await startOwner(fresh('pipeline'), 1, 'unregister');
    child.send('exit');
    expect(await exited(child)).toEqual({ code: 0, signal: null });
    const seg = SharedMemory.attach(r.names[0]!, { own: true });
    expect(seg.owned).toBe(true);
    expect(new Uint8Array(seg.buffer)[0]).toBe(42);
    expect(ownerOf(seg.name)).toMatchObject({ pid: process.pid, alive: true });
    seg.close();
    seg.unlink();
    expect(seg.owned).toBe(false);
  });

  it('makes the adopter\'s death remove the segment', async () => {
    const [creator, r] = await startOwner(fresh('adopt'), 1, 'unregister');
    creator.send('exit');
    await exited(creator);
    const adopter = forkFixture('lifecycle-attacher', [r.names[0]!, 'adopt', 'hang']);
    children.push(adopter);
    const m = await nextMessage<Attached>(adopter);
    expect(m).toMatchObject({ attached: true, owned: true, first: 42 });
    expect(m.trackerPid).toBeGreaterThan(0);
    expect(ownerOf(r.names[0]!)).toMatchObject({ pid: adopter.pid, alive: true });
    adopter.kill('SIGKILL');
    await exited(adopter);
    await allGone(r.names, 'the adopted segment to be removed when its adopter died');
  });
});

describe('owner records, list() and sweep()', () => {
  it('list() names the owner and whether it is alive', async () => {
    const prefix = fresh('list');
    const [child, r] = await startOwner(prefix, 1);
    // Kill the tracker for good first, so that the owner's death leaves the segment behind.
    await killTrackerOf(child, r.trackerPid!);
    expect(SharedMemory.list({ prefix })).toEqual([
      { name: r.names[0], size: 4096, kind: 'raw', owner: { pid: child.pid, alive: true } },
    ]);
    child.kill('SIGKILL');
    await exited(child);
    expect(SharedMemory.list({ prefix })[0]!.owner).toEqual({ pid: child.pid, alive: false });
    expect(sweep({ prefix })).toEqual(r.names);
  });

  it('sweep() removes dead owners\' segments and keeps live owners\', handed-off and foreign ones', async () => {
    const prefix = fresh('sweep');
    const [dead, rd] = await startOwner(`${prefix}-dead`, 3);
    const [, ru] = await startOwner(`${prefix}-handed`, 1, 'unregister');
    const live = SharedMemory.create({ name: `${prefix}-live`, size: 64 });
    const unowned = SharedMemory.create({ name: `${prefix}-unowned`, size: 64, owned: false });
    fs.writeFileSync(`/dev/shm/${prefix}-raw`, 'made by something else'); // unknown origin
    await killTrackerOf(dead, rd.trackerPid!);
    dead.kill('SIGKILL');
    await exited(dead);
    expect(rd.names.every(exists)).toBe(true); // nobody was left to clean up

    expect(sweep({ prefix: `${prefix}-nomatch` })).toEqual([]);
    expect(sweep({ prefix })).toEqual([...rd.names].sort());
    expect(shmEntries(prefix).sort()).toEqual([ru.names[0], `${prefix}-live`, `${prefix}-raw`, `${prefix}-unowned`].sort());
    expect(sweep({ prefix })).toEqual([]);
    for (const s of [live, unowned]) (s.close(), s.unlink());
    SharedMemory.unlink(ru.names[0]!);
    fs.rmSync(`/dev/shm/${prefix}-raw`);
  });

  it('judges owner records by pid, start time and pid namespace (a child namespace looked into, an empty one dead from the initial one), and only provably dead ones get swept', async () => {
    const prefix = fresh('tags');
    const ns = Number(/\[(\d+)\]/.exec(fs.readlinkSync('/proc/self/ns/pid'))![1]);
    const startOf = (pid: number) => {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
      return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
    };
    // A zombie: a python child that exited and that its parent never reaps.
    const py = spawn('python3', ['-c', 'import os,time\npid=os.fork()\nif pid==0: os._exit(0)\nprint(pid,flush=True)\ntime.sleep(60)'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    children.push(py);
    const zombie = Number(await new Promise<string>((r) => py.stdout!.once('data', (d) => r(String(d)))));
    await waitFor(() => processGone(zombie), 'the python child to become a zombie');
    const me = startOf(process.pid);
    // A live owner in a child pid namespace, where it is pid 1.
    const boxed = spawn('unshare', ['--pid', '--fork', '--mount-proc', '--kill-child', 'sleep', '60'], { stdio: 'ignore' });
    children.push(boxed);
    let inner = 0;
    await waitFor(() => {
      try {
        inner = Number(fs.readFileSync(`/proc/${boxed.pid}/task/${boxed.pid}/children`, 'latin1').trim().split(' ')[0]);
        return inner > 0 && /sleep/.test(fs.readFileSync(`/proc/${inner}/comm`, 'latin1'));
      } catch {
        return false;
      }
    }, 'the boxed sleep to start');
    const boxedNs = Number(/\[(\d+)\]/.exec(fs.readlinkSync(`/proc/${inner}/ns/pid`))![1]);
    // A namespace nobody lives in: dead when seen from the initial namespace, which sees them all.
    const emptyIsDead = ns === INIT_PID_NS;
    const cases: [string, string, { alive: boolean; foreign: boolean } | undefined][] = [
      ['live', `shmkit1 ${process.pid} ${me} ${ns}`, { alive: true, foreign: false }],
      ['reused-pid', `shmkit1 ${process.pid} ${me + 1} ${ns}`, { alive: false, foreign: false }],
      ['no-such-pid', `shmkit1 999999999 1 ${ns}`, { alive: false, foreign: false }],
      ['zombie', `shmkit1 ${zombie} ${startOf(zombie)} ${ns}`, { alive: false, foreign: false }],
      ['other-namespace', `shmkit1 1 ${startOf(inner)} ${boxedNs}`, { alive: true, foreign: true }],
      ['other-namespace-reused', `shmkit1 1 ${startOf(inner) + 1} ${boxedNs}`, { alive: false, foreign: true }],
      ['empty-namespace', `shmkit1 1 1 ${ns + 1}`, { alive: !emptyIsDead, foreign: true }],
      ['malformed', 'hello', undefined],
    ];
    for (const [label, value] of cases) {
      const file = `/dev/shm/${prefix}-${label}`;
      fs.writeFileSync(file, 'x');
      execFileSync('python3', ['-c', 'import os,sys; os.setxattr(sys.argv[1], "user.shmkit.owner", sys.argv[2].encode())', file, value]);
    }
    for (const [label, , expected] of cases) {
      const owner = ownerOf(`${prefix}-${label}`);
      if (expected === undefined) expect(owner, label).toBeUndefined();
      else expect(owner, label).toMatchObject(expected);
    }
    const swept = [...(emptyIsDead ? ['empty-namespace'] : []), 'no-such-pid', 'other-namespace-reused', 'reused-pid', 'zombie'];
    expect(sweep({ prefix })).toEqual(swept.map((l) => `${prefix}-${l}`).sort());
    const kept = ['live', 'malformed', 'other-namespace', ...(emptyIsDead ? [] : ['empty-namespace'])];
    expect(shmEntries(prefix).sort()).toEqual(kept.map((l) => `${prefix}-${l}`).sort());
  });

  /** Flocks on inode `ino` in /proc/locks: how many are held and how many processes wait. */
  const flocksOn = (ino: bigint) => {
    const lines = fs.readFileSync('/proc/locks', 'latin1').split('\n').filter((l) => / FLOCK /.test(l) && l.includes(`:${ino} `));
    return { held: lines.filter((l) => !l.includes('->')).length, waiting: lines.filter((l) => l.includes('->')).length };
  };
  /** A segment whose owner and tracker are both dead, and its inode. */
  const orphaned = async (prefix: string) => {
    const { name } = await orphanSegment(prefix);
    return { name, ino: fs.statSync(`/dev/shm/${name}`, { bigint: true }).ino };
  };
  /** Another process (util-linux flock(1)) holding the segment's flock, as an adopter or a sweep does meanwhile. */
  const holdFlock = async (name: string, ino: bigint) => {
    // --close: only flock(1) itself holds the lock, not its `sleep`; own process group, so both go together.
    const holder = spawn('flock', ['--exclusive', '--close', `/dev/shm/${name}`, 'sleep', '60'], { stdio: 'ignore', detached: true });
    children.push(holder);
    pids.push(-holder.pid!); // its whole group (flock and sleep), should the test fail first
    await waitFor(() => flocksOn(ino).held === 1, 'flock(1) to hold the lock');
    return {
      release: async () => {
        process.kill(-holder.pid!, 'SIGKILL');
        await exited(holder);
      },
    };
  };

  it('sweep() leaves a dead owner\'s segment alone while another process holds its flock, and removes it after', async () => {
    const prefix = fresh('sweep-locked');
    const { name, ino } = await orphaned(prefix);
    const holder = await holdFlock(name, ino);
    expect(sweep({ prefix })).toEqual([]);
    expect(exists(name)).toBe(true);
    await holder.release();
    await waitFor(() => flocksOn(ino).held === 0, 'the lock to be released');
    expect(sweep({ prefix })).toEqual([name]);
    expect(exists(name)).toBe(false);
  });

  it('attach({ own: true }) racing a sweep that removes the name fails with ENOENT and owns nothing', async () => {
    const prefix = fresh('adopt-swept');
    const { name, ino } = await orphaned(prefix);
    const sweeper = await holdFlock(name, ino); // a sweep() that has taken the lock and decided
    const adopter = forkFixture('lifecycle-attacher', [name, 'adopt', 'exit']);
    children.push(adopter);
    const report = nextMessage<Attached>(adopter);
    await waitFor(() => flocksOn(ino).waiting === 1, 'the adopter to wait for the lock');
    fs.unlinkSync(`/dev/shm/${name}`); // the sweep removes the name...
    await sweeper.release(); // ...and lets go
    expect(await report).toEqual({ attached: false, code: 'ENOENT', trackerPid: null });
    expect(await exited(adopter)).toEqual({ code: 0, signal: null });
    expect(exists(name)).toBe(false);
  });

  it('attach({ own: true }) that takes the flock first is seen by sweep() as the live owner', async () => {
    const prefix = fresh('adopt-first');
    const { name } = await orphaned(prefix);
    expect(SharedMemory.list({ prefix })[0]!.owner).toEqual({ pid: expect.any(Number), alive: false });
    const adopted = SharedMemory.attach(name, { own: true });
    expect(SharedMemory.list({ prefix })[0]!.owner).toEqual({ pid: process.pid, alive: true });
    expect(sweep({ prefix })).toEqual([]);
    adopted.close();
    adopted.unlink();
  });

  it('sweep() validates its options', () => {
    expect(() => sweep({ prefix: 3 as unknown as string })).toThrow(TypeError);
    expect(() => sweep(null as unknown as object)).toThrow(TypeError);
  });
});

describe('the tracker', () => {
  it('is shared by worker threads, and its replacement is told what every thread owns', async () => {
    const prefix = fresh('threads');
    const child = forkFixture('lifecycle-threads', [prefix]);
    children.push(child);
    await nextMessage(child);
    const step = async (who: 'main' | 'worker') => {
      child.send(who);
      return nextMessage<{ names: string[]; trackerPid: number }>(child);
    };
    const first = await step('main');
    const second = await step('worker');
    expect(second.trackerPid).toBe(first.trackerPid); // one tracker per process
    process.kill(first.trackerPid, 'SIGKILL');
    await waitFor(() => processGone(first.trackerPid), 'the tracker to die', 2000);
    // Both threads register while the watcher may still be replacing it
    // (their lines then wait for the new tracker), or after.
    await step('worker');
    const fourth = await step('main');
    expect(fourth.names).toHaveLength(4);
    await replaced(child.pid!, first.trackerPid);
    child.kill('SIGKILL');
    await exited(child);
    await allGone(fourth.names, 'segments of both threads to be removed by the new tracker');
  });

  it('is replaced at once when killed, so an owner SIGKILLed right after still has its segments removed', async () => {
    const [child, r] = await startOwner(fresh('watch'), 3);
    process.kill(r.trackerPid!, 'SIGKILL');
    // The owner does nothing from here on: no register meets EPIPE. Its
    // watcher thread alone must notice the death and start a replacement.
    await replaced(r.pid, r.trackerPid!);
    expect(processGone(r.trackerPid!)).toBe(true);
    expect(fs.existsSync(`/proc/${r.trackerPid}`)).toBe(false); // and the dead one was reaped, not left a zombie
    child.kill('SIGKILL');
    await exited(child);
    await allGone(r.names, 'segments of an owner SIGKILLed after its tracker was, to be removed');
  });

  it('is replaced when killed, and the replacement knows every owned segment', async () => {
    const [child, r] = await startOwner(fresh('respawn'), 2);
    process.kill(r.trackerPid!, 'SIGKILL');
    await waitFor(() => processGone(r.trackerPid!), 'the tracker to die', 2000);
    // A register now meets the replacement in flight (and is queued for it),
    // or EPIPE (and hands the replacement to the watcher), or the new tracker.
    child.send('more');
    const again = await nextMessage<Report>(child);
    expect(again.names).toHaveLength(3);
    expect(again.trackerPid).not.toBe(r.trackerPid);
    await replaced(r.pid, r.trackerPid!);
    child.kill('SIGKILL');
    await exited(child);
    await allGone(again.names, 'all three segments to be removed by the replacement tracker');
  });

  it('is replaced by startTracker(restart) without the old one removing what it was told', async () => {
    const seg = SharedMemory.create({ name: `${fresh('restart')}-0`, size: 4096 });
    const old = trackerPid()!;
    expect(binding.startTracker(TRACKER_PATH, true).pid).not.toBe(old);
    await waitFor(() => processGone(old), 'the old tracker to end', 2000);
    expect(exists(seg.name)).toBe(true);
    seg.close();
    seg.unlink();
  });
});

describe('a tracker replacement', () => {
  interface Made {
    kept: string[];
    handedOff: string[];
    unlinked: string[];
    slowestMs: number;
  }
  /** An owner whose main thread and worker thread create on request (test/fixtures/lifecycle-busy.ts). */
  const startBusy = async (prefix: string) => {
    const child = forkFixture('lifecycle-busy', [prefix]);
    children.push(child);
    await nextMessage(child);
    return child;
  };
  const ask = <T>(child: ChildProcess, message: object) => {
    child.send(message);
    return nextMessage<T>(child);
  };
  const create = (child: ChildProcess, label: string, count: number, pauseMs = 0) =>
    ask<Made>(child, { cmd: 'create', label, count, pauseMs });
  const replaying = (pid: number) => /pipe_write/.test(watcherWchan(pid) ?? '');

  it('does not keep the main thread or a worker from creating while it is stuck telling the new tracker everything', async () => {
    const prefix = fresh('held');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shmkit-held-'));
    const hold = path.join(dir, 'hold');
    // A tracker that does not start reading its pipe while `hold` exists.
    const held = path.join(dir, 'tracker.sh');
    fs.writeFileSync(held, `#!/bin/sh\nwhile [ -e '${hold}' ]; do sleep 0.02; done\nexec '${TRACKER_PATH}'\n`, { mode: 0o755 });
    try {
      const child = await startBusy(prefix);
      // Over 1 MiB of registrations, more than a tracker's pipe holds: the
      // replay to a held tracker blocks until it is let go.
      await ask(child, { cmd: 'fake', path: held, count: 6000 });
      const before = await create(child, 'before', 3);
      const old = trackerOf(child.pid!)!;
      fs.writeFileSync(hold, '');
      process.kill(old, 'SIGKILL');
      await waitFor(() => replaying(child.pid!), 'the watcher to block replaying to the held tracker', 5000);
      const during = await Promise.race([
        create(child, 'during', 5),
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error('the creates waited for the replay')), 5000)),
      ]);
      expect(replaying(child.pid!)).toBe(true); // they did not wait for it: it is still stuck
      expect(during.kept).toHaveLength(6);
      fs.rmSync(hold);
      await replaced(child.pid!, old, 5000);
      child.kill('SIGKILL');
      await exited(child);
      // The lines queued during the replay reached the new tracker.
      await allGone([...before.kept, ...during.kept], 'segments made before and during the replacement to be removed');
      expect(during.handedOff.filter((n) => !exists(n))).toEqual([]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true }); // lets a held tracker go, should the test fail
    }
  });

  it('loses and reorders nothing two threads register, unlink and hand off while the tracker is killed again and again', async () => {
    const prefix = fresh('churn');
    const child = await startBusy(prefix);
    const pid = child.pid!;
    const stop = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'shmkit-churn-')), 'stop');
    try {
      // Both threads create without end (a few per ms) until `stop` exists.
      const made = ask<Made>(child, { cmd: 'create', label: 'churn', count: 0, pauseMs: 0.1, until: stop });
      let last = 0;
      for (let kills = 0; kills < 10; ) {
        const now = trackerOf(pid);
        if (now !== undefined && now !== last) {
          process.kill(now, 'SIGKILL'); // installed, or still being told everything
          kills++;
          last = now;
        }
        await new Promise((r) => setTimeout(r, 5));
      }
      // The last replacement, too, happens while both threads create.
      await replaced(pid, last);
      fs.writeFileSync(stop, '');
      const r = await made;
      expect(r.kept.length).toBeGreaterThan(50);
      child.kill('SIGKILL');
      await exited(child);
      await allGone(r.kept, 'every segment still owned to be removed');
      // A hand-off or unlink replayed before the register it follows would show here.
      expect(r.handedOff.filter((n) => !exists(n))).toEqual([]);
      expect(r.unlinked.filter(exists)).toEqual([]);
    } finally {
      fs.rmSync(path.dirname(stop), { recursive: true, force: true });
    }
  });

  it('is retried while the owner has no descriptor to spare, and succeeds once it has', async () => {
    const [child, r] = await startOwner(fresh('nofile'), 3);
    const soft = /^Max open files\s+(\d+)/m.exec(fs.readFileSync(`/proc/${r.pid}/limits`, 'latin1'))![1]!;
    const limit = (n: string) => execFileSync('prlimit', ['--pid', String(r.pid), `--nofile=${n}:`]);
    limit('1'); // no new descriptor at all: its lowest free one is above 0
    try {
      process.kill(r.trackerPid!, 'SIGKILL');
      await waitFor(() => processGone(r.trackerPid!), 'the tracker to die', 2000);
      // Meanwhile attempts fail for want of a pipe (10, 20, 40, 80, 160 ms apart).
      await new Promise((res) => setTimeout(res, 300));
      expect(trackerOf(r.pid)).toBeUndefined();
      expect(watcherWchan(r.pid)).toBeDefined(); // the watcher did not give up
    } finally {
      limit(soft);
    }
    await replaced(r.pid, r.trackerPid!, 3000);
    child.kill('SIGKILL');
    await exited(child);
    await allGone(r.names, 'segments of an owner whose tracker was replaced after a failed start to be removed');
  });
});
