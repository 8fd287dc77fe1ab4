/**
 * Loads the compiled addon and types its functions. The only file that knows
 * where the `.node` file lives.
 * @internal
 */
import * as path from 'node:path';
import { ShmError } from './errors-base';

/** The native exports; see native/*.cc for what each one does. */
export interface Binding {
  setErrorFactory(factory: (errno: number, syscall: string, path: string) => Error): void;
  /** shm_open('/' + name, oflag | O_CLOEXEC, mode) → fd. */
  open(name: string, oflag: number, mode: number): number;
  /** shm_unlink('/' + name). */
  unlink(name: string): void;
  /** posix_fallocate(fd, 0, size): size set and every page reserved. */
  reserve(fd: number, size: number, name: string): void;
  /** mmap the whole object; readonly gives a private copy-on-write view. */
  map(fd: number, size: number, readonly: boolean, name: string): ArrayBuffer;
  /** Detach, then munmap; false if the buffer was not a live mapping. */
  unmap(buffer: ArrayBuffer): boolean;
}

function load(): Binding {
  if (process.platform === 'win32') {
    throw new ShmError('ERR_SHM_UNSUPPORTED_PLATFORM', 'shmkit needs POSIX shared memory; Windows is not supported');
  }
  const file = path.join(__dirname, '..', 'build', 'Release', 'shmkit.node');
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require(file) as Binding;
}

/** The addon, loaded once per process. */
export const binding: Binding = load();
