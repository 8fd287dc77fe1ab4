/**
 * The worker side of forkMap: defineWorker() answers the parent's tasks with
 * the user's function, over inputs and outputs attached once at start.
 */
import { ShmError, invalidType } from '../errors';
import { WorkerLanes } from './lanes';
import { WORKER_ENV, attach, flattenError, type FromWorker, type ToWorker } from './wire';

/** What the worker function receives for each chunk. */
export interface WorkerTask<In = any, Out = any> {
  /** `options.input` of forkMap, attached in this worker (once, reused by every task). */
  input: In;
  /** `options.output`, attached read-write; undefined when forkMap had none. */
  output: Out;
  /** This chunk's index (0-based); results come back in this order. */
  index: number;
  /** First row of the chunk. */
  start: number;
  /** One past the last row of the chunk. */
  end: number;
  /** `options.workerData` of forkMap (a structured clone, the same for every task); undefined when none was given. */
  workerData: unknown;
}

/**
 * Whether this process was started by {@link forkMap} as one of its workers
 * (and has not called {@link defineWorker} yet): lets one file be both the
 * parent and the worker script, as `isMainThread` does for worker_threads.
 * @example
 * if (isForkWorker()) defineWorker(work); else await forkMap(__filename, { input });
 */
export function isForkWorker(): boolean {
  const parent = process.env[WORKER_ENV];
  // The pid check keeps a grandchild that inherited the variable from mistaking itself for a worker.
  return parent !== undefined && Number(parent) === process.ppid && typeof process.send === 'function';
}

let defined = false;

/**
 * Makes this process a forkMap worker: `fn` runs once per chunk and its
 * return value (small, structured-cloneable) goes back to the parent. Inputs
 * and outputs are attached once, when the worker starts; inputs are mapped
 * read-only, so a worker never changes them for others.
 * Workers never unlink anything they were given.
 *
 * @throws ShmError ERR_SHM_WORKER when this process was not started by
 *   forkMap (e.g. the script was run directly) or defineWorker was already called
 * @example
 * defineWorker(({ input, start, end }) => { let s = 0; for (let i = start; i < end; i++) s += input.column('x')[i]; return s; });
 */
export function defineWorker<In = any, Out = any, R = unknown>(fn: (task: WorkerTask<In, Out>) => R | Promise<R>): void {
  if (typeof fn !== 'function') throw invalidType('fn', 'a function', fn);
  if (defined) throw new ShmError('ERR_SHM_WORKER', 'defineWorker() was already called in this process');
  if (!isForkWorker()) {
    throw new ShmError('ERR_SHM_WORKER', 'defineWorker() must run in a process started by forkMap()');
  }
  defined = true;
  delete process.env[WORKER_ENV];

  const opened: { close(): void }[] = [];
  let input: unknown;
  let output: unknown;
  let workerData: unknown;

  const reply = (msg: FromWorker) => {
    // Once the parent has closed the channel (run over, failed or aborted) there is nobody to tell.
    if (!process.connected) return;
    // The callback keeps a late write failure (EPIPE as the parent goes) from becoming an 'error' event.
    // A throw (a result that cannot be cloned) goes to run()'s caller; with the channel gone, 'disconnect' ends us.
    process.send!(msg, undefined, {}, () => {});
  };

  /** Runs one chunk; the result or the error goes back through `send`. */
  const run = async (index: number, start: number, end: number, send: (result: R) => Promise<void> | void) => {
    let result: R;
    try {
      result = await fn({ input: input as In, output: output as Out, index, start, end, workerData });
    } catch (err) {
      reply({ shmkit: 'error', index, error: flattenError(err) });
      return false;
    }
    try {
      await send(result);
    } catch (err) {
      const e = new TypeError(`the result of chunk ${index} cannot be sent to the parent: ${(err as Error).message}`);
      reply({ shmkit: 'error', index, error: flattenError(e) });
      return false;
    }
    return true;
  };

  /** The channel path: take chunks until the run is over, send results through the lanes. */
  const loop = async (lanes: WorkerLanes, chunk: number, total: number) => {
    for (let index; (index = await lanes.take()) !== null; ) {
      const start = index * chunk;
      const ok = await run(index, start, Math.min(start + chunk, total), async (result) => {
        if (!(await lanes.put(index!, result))) {
          lanes.clear();
          reply({ shmkit: 'done', index: index!, result }); // too large for the ring: the IPC way
        }
      });
      if (!ok) return; // the run has failed: the parent stops us
    }
  };

  process.on('message', (msg: ToWorker) => {
    if (typeof msg !== 'object' || msg === null || !('shmkit' in msg)) return;
    if (msg.shmkit === 'init') {
      let lanes: WorkerLanes | null = null;
      try {
        input = msg.input ? attach(msg.input, 'input', opened) : undefined;
        output = msg.output ? attach(msg.output, 'output', opened) : undefined;
        workerData = msg.workerData;
        if (msg.lanes) lanes = new WorkerLanes(msg.lanes, opened);
      } catch (err) {
        reply({ shmkit: 'error', index: null, error: flattenError(err) });
        return;
      }
      if (lanes) {
        loop(lanes, msg.chunk, msg.total).catch((err: unknown) => reply({ shmkit: 'error', index: null, error: flattenError(err) }));
      } else {
        reply({ shmkit: 'idle' });
      }
    } else if (msg.shmkit === 'task') {
      const { index, start, end } = msg;
      void run(index, start, end, (result) => reply({ shmkit: 'done', index, result }));
    }
  });

  // The parent closes the channel when the run is over (or when it died):
  // unmap, then leave, even if the user's code left timers or sockets open.
  process.once('disconnect', () => {
    for (const o of opened) {
      try {
        o.close();
      } catch {
        /* already closed by the user's code */
      }
    }
    process.exit(0);
  });

  reply({ shmkit: 'ready' });
}
