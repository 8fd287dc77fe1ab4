/**
 * The engine under forkMap: a fixed set of forked workers, started once and
 * reused, handed chunk tasks as they free up, and torn down completely —
 * every process waited for — whether the run ends well or not.
 * @internal
 */
import { fork, type ChildProcess } from 'node:child_process';
import { ShmError } from '../errors';
import { ParentLanes } from './lanes';
import { WORKER_ENV, restoreError, type FromWorker, type ToWorker, type Wire, type WireError } from './wire';

/** One finished chunk: its index, its rows `[start, end)` and what the worker returned. */
export interface ChunkResult<R = unknown> {
  index: number;
  start: number;
  end: number;
  result: R;
}

/** Everything a run needs, already validated. */
export interface RunSpec {
  script: string;
  workers: number;
  chunk: number;
  total: number;
  input: Wire | null;
  output: Wire | null;
  execArgv: string[];
  workerData: unknown;
  /** 'channel': tasks and results through shared-memory channels (the default); 'ipc': through child.send. */
  transport: 'channel' | 'ipc';
  signal?: AbortSignal;
  onProgress?: (done: number, total: number) => void;
  onResult: (r: ChunkResult) => void;
}

/** A started run: `finished` settles after every worker has exited. */
export interface Run {
  readonly finished: Promise<void>;
  /** Ends the run early: kills the workers and waits for them. */
  cancel(reason?: unknown): Promise<void>;
}

/** How long a worker may take to exit after its channel is closed. */
const EXIT_GRACE_MS = 2000;
/** How long a worker may take to die of SIGTERM before SIGKILL. */
const KILL_GRACE_MS = 250;

interface Task {
  index: number;
  start: number;
  end: number;
}

interface Slot {
  child: ChildProcess;
  /** Its index: the worker's place on the lanes' board. */
  n: number;
  /** The task it runs (IPC transport; with lanes the board says). */
  task: Task | null;
  /** It has said 'ready' (its script called defineWorker). */
  ready: boolean;
  exited: Promise<void>;
  gone: boolean;
}

const rows = (t: Task) => `chunk ${t.index} (rows ${t.start} to ${t.end - 1})`;

/** The error every worker failure rejects with: code ERR_SHM_WORKER, naming the chunk, cause attached. */
function workerError(message: string, pid: number | undefined, task: Task | null, cause: unknown): ShmError {
  const err = new ShmError('ERR_SHM_WORKER', message, { cause });
  return Object.assign(err, { pid, chunk: task ? { ...task } : undefined });
}

/** Starts a run. Never throws: failures arrive through `finished`. */
export function startRun(spec: RunSpec): Run {
  const tasks = Math.ceil(spec.total / spec.chunk);
  const slots: Slot[] = [];
  const finishedChunks = new Uint8Array(Math.ceil(tasks / 8));
  let lanes: ParentLanes | null = null;
  let pumped: Promise<void> = Promise.resolve();
  let next = 0;
  let completed = 0;
  let rowsDone = 0;
  let settled = false;
  let stopping: Promise<void> | undefined;
  let resolve!: () => void;
  let reject!: (e: unknown) => void;
  const finished = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });

  const onAbort = () => void fail(spec.signal!.reason);
  const taskOf = (index: number): Task => {
    const start = index * spec.chunk;
    return { index, start, end: Math.min(start + spec.chunk, spec.total) };
  };
  const isDone = (index: number) => (finishedChunks[index >> 3]! & (1 << (index & 7))) !== 0;

  /** Stops every worker; graceful = close the channel and let it exit, else SIGTERM. Then SIGKILL. */
  function stopAll(graceful: boolean): Promise<void> {
    stopping ??= (async () => {
      spec.signal?.removeEventListener('abort', onAbort);
      lanes?.end(); // idle workers and the pump return
      const live = slots.filter((s) => !s.gone);
      for (const s of live) {
        if (graceful && s.child.connected) s.child.disconnect();
        else s.child.kill('SIGTERM');
      }
      const timer = setTimeout(() => {
        for (const s of live) if (!s.gone) s.child.kill('SIGKILL');
      }, graceful ? EXIT_GRACE_MS : KILL_GRACE_MS);
      await Promise.all(live.map((s) => s.exited));
      clearTimeout(timer);
      await pumped;
      lanes?.dispose();
    })();
    return stopping;
  }

  async function fail(err: unknown): Promise<void> {
    if (settled) return stopping;
    settled = true;
    await stopAll(false);
    reject(err);
  }

  async function succeed(): Promise<void> {
    if (settled) return;
    settled = true;
    await stopAll(true);
    resolve();
  }

  /** Takes a chunk's result (once): true if the run goes on. */
  function complete(index: number, result: unknown): boolean {
    if (settled || !(index >= 0 && index < tasks) || isDone(index)) return false;
    finishedChunks[index >> 3] |= 1 << (index & 7);
    completed++;
    const task = taskOf(index);
    rowsDone += task.end - task.start;
    try {
      spec.onResult({ ...task, result });
      spec.onProgress?.(rowsDone, spec.total);
    } catch (err) {
      void fail(err);
      return false;
    }
    if (completed < tasks) return true;
    void succeed();
    return false;
  }

  /** The lanes' results, as they come; more tasks for each (the channel's receive lets the event loop take turns). */
  async function pump(l: ParentLanes): Promise<void> {
    while (!settled) {
      let r;
      try {
        r = await l.next();
      } catch (err) {
        if (!settled) void fail(err);
        return;
      }
      if (complete(r.index, r.result)) next = l.fill(next, tasks);
    }
  }

  function send(slot: Slot, msg: ToWorker): void {
    // Usually the worker has just died and its 'exit' (with the signal or code) comes first; if it does not, report this.
    const lost = (err: Error) =>
      setTimeout(
        () => void fail(workerError(`forkMap: could not reach worker ${slot.child.pid}: ${err.message}`, slot.child.pid, slot.task, err)),
        KILL_GRACE_MS,
      ).unref();
    try {
      // With a callback, a late failure (the worker just died) is reported here, not as an 'error' event.
      slot.child.send(msg, (err) => err && lost(err));
    } catch (err) {
      lost(err as Error);
    }
  }

  /** The IPC transport: the next task to this worker. */
  function dispatch(slot: Slot): void {
    if (settled) return;
    if (next >= tasks) {
      slot.task = null;
      return;
    }
    slot.task = taskOf(next++);
    send(slot, { shmkit: 'task', ...slot.task });
  }

  function onMessage(slot: Slot, msg: FromWorker): void {
    if (settled || typeof msg !== 'object' || msg === null || !('shmkit' in msg)) return;
    switch (msg.shmkit) {
      case 'ready':
        slot.ready = true;
        send(slot, {
          shmkit: 'init',
          input: spec.input,
          output: spec.output,
          workerData: spec.workerData,
          lanes: lanes?.wire(slot.n) ?? null,
          chunk: spec.chunk,
          total: spec.total,
        });
        return;
      case 'idle':
        dispatch(slot);
        return;
      case 'done':
        if (lanes) {
          // A result too large for the results ring.
          if (complete(msg.index, msg.result)) next = lanes.fill(next, tasks);
        } else if (slot.task?.index === msg.index && complete(msg.index, msg.result)) {
          dispatch(slot);
        }
        return;
      case 'error': {
        const e: WireError = msg.error;
        const task = msg.index === null ? null : taskOf(msg.index);
        const where = task ? rows(task) : 'attaching its input/output';
        void fail(workerError(`forkMap: ${where} failed in worker ${slot.child.pid}: ${e.message}`, slot.child.pid, task, restoreError(e)));
        return;
      }
    }
  }

  function onExit(slot: Slot, code: number | null, signal: NodeJS.Signals | null): void {
    slot.gone = true;
    if (settled) return;
    // Results it sent before it went still count (the last of them may complete the run).
    lanes?.drain((r) => complete(r.index, r.result) || !settled);
    if (settled) return;
    let task = slot.task;
    if (lanes) {
      const running = lanes.running(slot.n);
      task = running !== null && !isDone(running) ? taskOf(running) : null;
    }
    const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
    const cause = Object.assign(new Error(`worker ${slot.child.pid} ${how}`), { exitCode: code, signal });
    const where = task ? `while running ${rows(task)}` : slot.ready ? 'between chunks' : 'before taking a task (did the script call defineWorker()?)';
    void fail(workerError(`forkMap: worker ${slot.child.pid} ${how} ${where}`, slot.child.pid, task, cause));
  }

  if (spec.signal?.aborted) {
    settled = true;
    reject(spec.signal.reason);
    return { finished, cancel: () => Promise.resolve() };
  }
  if (tasks === 0) {
    settled = true;
    resolve();
    return { finished, cancel: () => Promise.resolve() };
  }
  spec.signal?.addEventListener('abort', onAbort, { once: true });

  const count = Math.min(spec.workers, tasks);
  if (spec.transport === 'channel') {
    try {
      lanes = ParentLanes.create(count);
    } catch {
      lanes = null; // no room for the channels (a small /dev/shm): tasks and results go over IPC
    }
  }
  if (lanes) {
    next = lanes.fill(0, tasks);
    pumped = pump(lanes);
  }
  for (let i = 0; i < count; i++) {
    let child: ChildProcess;
    try {
      child = fork(spec.script, [], {
        execArgv: spec.execArgv,
        env: { ...process.env, [WORKER_ENV]: String(process.pid) },
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
        // Structured clone: results may hold bigint, Map, typed arrays.
        serialization: 'advanced',
      });
    } catch (err) {
      void fail(err);
      break;
    }
    let markExited!: () => void;
    const slot: Slot = { child, n: i, task: null, ready: false, gone: false, exited: new Promise<void>((res) => (markExited = res)) };
    child.once('exit', (code, signal) => {
      onExit(slot, code, signal);
      markExited();
    });
    child.on('message', (m: FromWorker) => onMessage(slot, m));
    child.on('error', (err) => {
      // A spawn failure: no process, so no 'exit' will come.
      if (child.pid === undefined) {
        slot.gone = true;
        markExited();
      }
      void fail(workerError(`forkMap: worker ${child.pid ?? '(not started)'} failed: ${err.message}`, child.pid, slot.task, err));
    });
    slots.push(slot);
  }

  return {
    finished,
    cancel: async (reason?: unknown) => {
      await fail(reason ?? new ShmError('ERR_SHM_WORKER', 'forkMap: run cancelled'));
      await finished.catch(() => {});
    },
  };
}
