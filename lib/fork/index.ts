/**
 * Fork pipelines: run a worker script over the rows of shared inputs in a
 * pool of forked processes. Only handles and row ranges cross the IPC
 * channel; each worker attaches the data once and works on it in place.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import { fileURLToPath } from 'node:url';
import { checkInteger, invalidType, invalidValue } from '../errors';
import { startRun, type ChunkResult } from './pool';
import { encode, tableLength, type Shared } from './wire';

export { defineWorker, isForkWorker, type WorkerTask } from './worker';
export type { ChunkResult } from './pool';
export type { Shared, Shareable } from './wire';

/** Options of {@link forkMap} and {@link forkMap.stream}. */
export interface ForkMapOptions {
  /** Shared data the workers read: a SharedMemory, a RecordTable, or an object of them. Attached, never copied. */
  input?: Shared;
  /** Shared data the workers write in place; the caller creates it (and unlinks it). */
  output?: Shared;
  /** Worker processes, started once and reused. Default `min(4, os.availableParallelism())`. */
  workers?: number;
  /** Rows per task. Default: enough for about 4 tasks per worker. */
  chunk?: number;
  /**
   * Total rows. Default: the length of the input's record tables (all of
   * them must agree). Required when the input holds no RecordTable.
   */
  length?: number;
  /** Called after each chunk with rows done so far and the total. A throw fails the run. */
  onProgress?: (done: number, total: number) => void;
  /** Aborting kills the workers and rejects with `signal.reason`. */
  signal?: AbortSignal;
  /** Node flags of the workers, as for `child_process.fork`. Default `process.execArgv`. */
  execArgv?: string[];
  /**
   * Any structured-cloneable value, sent once to every worker at start and
   * given to the worker function as `task.workerData` (like `workerData` of
   * `worker_threads`): parameters, a role, small lookup tables. Big data
   * belongs in `input`.
   */
  workerData?: unknown;
}

/** Validates everything before any process starts. */
function prepare(script: unknown, options: unknown) {
  let file: string;
  if (script instanceof URL) {
    if (script.protocol !== 'file:') throw invalidValue('script', `must be a file: URL, got ${script.protocol}`);
    file = fileURLToPath(script);
  } else if (typeof script === 'string' && script.length > 0) {
    file = script;
  } else {
    throw invalidType('script', 'a path or a file: URL', script);
  }
  fs.accessSync(file, fs.constants.R_OK); // ENOENT/EACCES now, not as a worker's death later
  if (typeof options !== 'object' || options === null) throw invalidType('options', 'an object', options);
  const o = options as ForkMapOptions;

  const input = o.input === undefined ? null : encode(o.input, 'options.input');
  const output = o.output === undefined ? null : encode(o.output, 'options.output');
  const total =
    o.length !== undefined
      ? checkInteger('options.length', o.length, 0, Number.MAX_SAFE_INTEGER)
      : tableLength(o.input, 'options.input');
  if (total === undefined) throw invalidValue('options.length', 'is required when options.input holds no RecordTable');
  const workers = checkInteger('options.workers', o.workers ?? Math.min(4, os.availableParallelism()), 1, 1024);
  const chunk =
    o.chunk === undefined
      ? Math.max(1, Math.ceil(total / (workers * 4)))
      : checkInteger('options.chunk', o.chunk, 1, Number.MAX_SAFE_INTEGER);
  if (o.onProgress !== undefined && typeof o.onProgress !== 'function') {
    throw invalidType('options.onProgress', 'a function', o.onProgress);
  }
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal)) {
    throw invalidType('options.signal', 'an AbortSignal', o.signal);
  }
  const execArgv = o.execArgv ?? process.execArgv;
  if (!Array.isArray(execArgv) || !execArgv.every((a) => typeof a === 'string')) {
    throw invalidType('options.execArgv', 'an array of strings', execArgv);
  }
  try {
    structuredClone(o.workerData); // what the IPC channel's 'advanced' serialization can carry
  } catch (err) {
    throw invalidValue('options.workerData', `must be structured-cloneable: ${(err as Error).message}`);
  }
  return {
    script: file,
    input,
    output,
    total,
    workers,
    chunk,
    execArgv,
    signal: o.signal,
    onProgress: o.onProgress,
    workerData: o.workerData,
    transport: transport(),
  };
}

/**
 * Tasks and results go through shared-memory channels unless
 * `SHMKIT_FORKMAP_TRANSPORT=ipc` asks for child.send (the benchmark's
 * baseline, and a way to rule the channels out when diagnosing).
 */
function transport(): 'channel' | 'ipc' {
  const t = process.env.SHMKIT_FORKMAP_TRANSPORT;
  if (t === undefined || t === '' || t === 'channel') return 'channel';
  if (t === 'ipc') return 'ipc';
  throw invalidValue('SHMKIT_FORKMAP_TRANSPORT', `must be 'channel' or 'ipc', got '${t}'`);
}

/**
 * Runs `script` (which calls {@link defineWorker}) over rows `[0, length)` in
 * a pool of forked workers and resolves with each chunk's return value, in
 * chunk order. Workers start once and take `chunk`-row tasks as they free up.
 *
 * On any failure — a worker throws, dies, or cannot attach; `onProgress`
 * throws; `signal` aborts — every worker is killed and waited for before the
 * promise rejects. Workers never unlink the input or output. Tasks and
 * results travel through two channels and a small board that forkMap
 * creates for the run (owned, unlinked when it ends or this process dies);
 * where /dev/shm has no room for them, or `SHMKIT_FORKMAP_TRANSPORT=ipc`
 * says so, through child.send.
 *
 * @throws (rejects) TypeError/RangeError on bad options, before any fork;
 *   ENOENT if `script` does not exist; ShmError ERR_SHM_WORKER naming the
 *   chunk and rows, with the worker's error (or exit code/signal) as `cause`;
 *   `signal.reason` on abort
 * @example
 * const sums = await forkMap(new URL('./sum.js', import.meta.url), { input: table, chunk: 100_000 });
 */
export async function forkMap<R = unknown>(script: string | URL, options: ForkMapOptions): Promise<R[]> {
  const spec = prepare(script, options);
  const results: R[] = new Array(Math.ceil(spec.total / spec.chunk));
  const run = startRun({ ...spec, onResult: (r) => (results[r.index] = r.result as R) });
  await run.finished;
  return results;
}

/**
 * Like {@link forkMap}, but yields `{ index, start, end, result }` for each
 * chunk as soon as it completes (in completion order). Leaving the loop early
 * (`break`, `return`, a throw) kills the workers and waits for them. Errors
 * are as for forkMap; results that arrived before a failure are yielded first.
 *
 * @example
 * for await (const { index, result } of forkMap.stream('./worker.js', { input: table })) console.log(index, result);
 */
async function* stream<R = unknown>(script: string | URL, options: ForkMapOptions): AsyncGenerator<ChunkResult<R>, void, undefined> {
  const spec = prepare(script, options);
  const queue: ChunkResult<R>[] = [];
  let wake: (() => void) | undefined;
  let ended = false;
  let failure: { error: unknown } | undefined;
  const run = startRun({
    ...spec,
    onResult: (r) => {
      queue.push(r as ChunkResult<R>);
      wake?.();
    },
  });
  run.finished.then(
    () => {
      ended = true;
      wake?.();
    },
    (error: unknown) => {
      ended = true;
      failure = { error };
      wake?.();
    },
  );
  try {
    for (;;) {
      if (queue.length > 0) {
        yield queue.shift()!;
      } else if (ended) {
        if (failure) throw failure.error;
        return;
      } else {
        await new Promise<void>((r) => (wake = r));
        wake = undefined;
      }
    }
  } finally {
    if (!ended) await run.cancel();
  }
}

forkMap.stream = stream;
