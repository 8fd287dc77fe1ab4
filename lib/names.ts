/**
 * Segment names: validation and generation. A name is what follows the '/'
 * of `shm_open`; on Linux it is the file name under /dev/shm.
 * @internal
 */
import { randomBytes } from 'node:crypto';
import { invalidType, invalidValue } from './errors';

/** Longest name in bytes: NAME_MAX of /dev/shm. */
export const NAME_MAX = 255;

/** Where named segments appear as files (Linux). */
export const SHM_DIR = '/dev/shm';

/**
 * Checks a segment name (or a prefix of one) before any system call.
 * @throws TypeError for a non-string, empty, '.', '..', '/' or NUL in it, or over 255 bytes
 */
export function checkName(value: unknown, what = 'name'): string {
  if (typeof value !== 'string') throw invalidType(what, 'a string', value);
  if (value.length === 0) throw invalidValue(what, 'must not be empty');
  if (value.includes('/')) throw invalidValue(what, "must not contain '/'");
  if (value.includes('\0')) throw invalidValue(what, 'must not contain NUL');
  if (value === '.' || value === '..') throw invalidValue(what, "must not be '.' or '..'");
  if (Buffer.byteLength(value) > NAME_MAX) throw invalidValue(what, `must be at most ${NAME_MAX} bytes of UTF-8`);
  return value;
}

/** `<prefix>-<16 hex digits>`: 64 bits from the system's CSPRNG. */
export function generateName(prefix = 'shmkit'): string {
  return checkName(`${checkName(prefix, 'options.prefix')}-${randomBytes(8).toString('hex')}`, 'options.prefix');
}
