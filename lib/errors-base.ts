/**
 * The error class of every shmkit-specific failure. Kept apart from
 * errors.ts so that binding.ts can use it before the addon is loaded.
 * @internal
 */

/**
 * Every code an {@link ShmError} can carry. Each is documented in the README
 * and has a test.
 */
export type ShmErrorCode =
  | 'ERR_SHM_UNSUPPORTED_PLATFORM'
  | 'ERR_SHM_CLOSED'
  | 'ERR_SHM_SIZE_MISMATCH'
  | 'ERR_SHM_BAD_HEADER'
  | 'ERR_SHM_TABLE_FULL'
  | 'ERR_SHM_VOID_ROW'
  | 'ERR_SHM_STRING_TOO_LONG'
  | 'ERR_SHM_VALUE'
  | 'ERR_SHM_SCHEMA_MISMATCH'
  | 'ERR_SHM_READONLY'
  | 'ERR_SHM_LAYOUT'
  | 'ERR_SHM_LOCK_TIMEOUT'
  | 'ERR_SHM_NOT_OWNER'
  | 'ERR_SHM_WORKER'
  | 'ERR_SHM_IPC'
  | 'ERR_SHM_IPC_CODEC'
  | 'ERR_SHM_FILE_BACKED'
  | 'ERR_SHM_CHANNEL_FULL'
  | 'ERR_SHM_CHANNEL_CLOSED'
  | 'ERR_SHM_MESSAGE_TOO_LARGE'
  | 'ERR_SHM_BARRIER_BROKEN'
  | 'ERR_SHM_BARRIER_FULL'
  | 'ERR_SHM_TRUNCATED'
  | 'ERR_SHM_EXTERNAL_BUFFERS';

/**
 * A misuse or a broken invariant that is not a system call failure.
 * `code` always starts with `ERR_SHM_`.
 *
 * @example
 * try { t.append(row) } catch (e) { if (e instanceof ShmError && e.code === 'ERR_SHM_TABLE_FULL') grow() }
 */
export class ShmError extends Error {
  /** Stable machine-readable code, e.g. `'ERR_SHM_TABLE_FULL'`. */
  readonly code: ShmErrorCode;
  constructor(code: ShmErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = 'ShmError';
  }
}
