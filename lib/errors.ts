/**
 * Errors: system errors shaped like Node's `fs` errors, and the argument
 * checks every public entry point uses so that messages read the same
 * everywhere. The addon formats nothing; it calls {@link systemError}.
 */
import * as util from 'node:util';
import { binding } from './binding';
import { ShmError, type ShmErrorCode } from './errors-base';

export { ShmError, type ShmErrorCode } from './errors-base';

/**
 * A failed system call, shaped like the errors of Node's `fs` module.
 * `errno` is negative, as in Node.
 */
export interface SystemError extends Error {
  code: string;
  errno: number;
  syscall: string;
  path?: string;
  /** On an `ENOSPC` from shmkit: the bytes the failed call asked for. */
  requested?: number;
  /** On an `ENOSPC` from shmkit: the bytes free on that filesystem just after it failed. */
  free?: number;
}

/**
 * Builds an `fs`-style error: `ENOENT: no such file or directory, shm_open 'x'`.
 * The addon reports every failed system call through it; exported so that
 * code around shmkit can raise errors of the same shape.
 * @param errno positive errno value as the C library reports it
 * @example
 * throw systemError(2, 'shm_open', 'app.cache');   // err.code 'ENOENT', err.errno -2
 */
export function systemError(errno: number, syscall: string, path?: string): SystemError {
  const [code, description] = util.getSystemErrorMap().get(-errno) ?? [`E${errno}`, 'unknown error'];
  const where = path === undefined || path === '' ? syscall : `${syscall} '${path}'`;
  const err = new Error(`${code}: ${description}, ${where}`) as SystemError;
  err.errno = -errno;
  err.code = code;
  err.syscall = syscall;
  if (path !== undefined && path !== '') err.path = path;
  Error.captureStackTrace(err, systemError);
  return err;
}

/**
 * What the addon throws when the runtime refuses external buffers (V8's
 * memory sandbox): the cause and the way out. @internal
 */
export function externalBuffersError(name: string): ShmError {
  return new ShmError(
    'ERR_SHM_EXTERNAL_BUFFERS',
    `cannot map segment '${name}': this runtime was built with V8's memory sandbox, which forbids buffers over memory V8 did not allocate ` +
      `(napi_no_external_buffers_allowed), and a shared memory segment is such memory. Run shmkit in a Node.js process ` +
      `(in Electron: the main process or a utilityProcess, not a renderer) or in a Node build without the sandbox. ` +
      `Its bytes can still be copied in and out with Node's fs (fs.readFileSync('/dev/shm/${name}'), fs.writeSync on a descriptor of it).`,
  );
}

/** The factory the addon calls: a system error, or (errno 0) the ShmError `code`. @internal */
export function nativeError(errno: number, syscall: string, path: string, code?: string): Error {
  if (code === 'ERR_SHM_EXTERNAL_BUFFERS') return externalBuffersError(path);
  if (code !== undefined) return new ShmError(code as ShmErrorCode, `${code}: ${path}`);
  return systemError(errno, syscall, path);
}

binding.setErrorFactory(nativeError);

type Coded<E extends Error> = E & { code: string };

function coded<E extends Error>(err: E, code: string): Coded<E> {
  return Object.assign(err, { code });
}

/** `TypeError` with Node's `ERR_INVALID_ARG_TYPE` code. @internal */
export function invalidType(what: string, expected: string, value: unknown): TypeError {
  return coded(new TypeError(`${what} must be ${expected}, got ${describe(value)}`), 'ERR_INVALID_ARG_TYPE');
}

/** `TypeError` with Node's `ERR_INVALID_ARG_VALUE` code. @internal */
export function invalidValue(what: string, rule: string): TypeError {
  return coded(new TypeError(`${what} ${rule}`), 'ERR_INVALID_ARG_VALUE');
}

/** `RangeError` with Node's `ERR_OUT_OF_RANGE` code. @internal */
export function outOfRange(what: string, rule: string, value: unknown): RangeError {
  return coded(new RangeError(`${what} must be ${rule}, got ${describe(value)}`), 'ERR_OUT_OF_RANGE');
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? value.slice(0, 40) + '…' : value);
  if (typeof value === 'bigint') return `${value}n`;
  if (value === null || typeof value !== 'object') return String(value);
  return Array.isArray(value) ? 'an array' : 'an object';
}

/**
 * Checks that `value` is a safe integer in [min, max].
 * @throws TypeError if it is not a number; RangeError if out of range or fractional
 * @internal
 */
export function checkInteger(what: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number') throw invalidType(what, 'a number', value);
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    const rule =
      min === 1 && max >= Number.MAX_SAFE_INTEGER ? 'a positive safe integer'
      : min === 1 ? `a positive safe integer no larger than ${max}`
      : `an integer from ${min} to ${max}`;
    throw outOfRange(what, rule, value);
  }
  return value;
}
