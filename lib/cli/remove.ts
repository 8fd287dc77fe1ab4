/**
 * `shmkit rm` and `shmkit sweep`: removing segments by name, or those of
 * dead owners.
 * @internal
 */
import { SharedMemory } from '../segment';
import { sweep } from '../sweep';
import { UsageError, noPositional, oneLine, type Args, type Io } from './args';
import { printable } from './format';

/** `shmkit rm [-f] NAME…`: exit 1 if any name could not be removed. */
export function rm(args: Args, io: Io): number {
  if (args.positional.length === 0) throw new UsageError('rm needs at least one NAME');
  const force = args.options.has('-f') || args.options.has('--force');
  let failed = 0;
  for (const name of args.positional) {
    try {
      SharedMemory.unlink(name);
    } catch (err) {
      if (force && (err as NodeJS.ErrnoException).code === 'ENOENT') continue;
      io.err(`shmkit rm: ${oneLine(err)}\n`);
      failed++;
    }
  }
  return failed > 0 ? 1 : 0;
}

/** `shmkit sweep [--prefix P] [--json]`. */
export function doSweep(args: Args, io: Io): number {
  noPositional(args, 'sweep');
  const prefix = args.options.get('--prefix') as string | undefined;
  const removed = sweep({ prefix });
  if (args.options.has('--json')) io.out(`${JSON.stringify(removed)}\n`);
  else if (removed.length === 0) io.out('nothing to sweep: no segment has a dead owner\n');
  else io.out(`removed ${removed.length} segment${removed.length === 1 ? '' : 's'} of dead owners:\n${removed.map((n) => `  ${printable(n)}\n`).join('')}`);
  return 0;
}
