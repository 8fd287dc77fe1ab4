/**
 * The `shmkit` command: list, inspect, remove and sweep segments, and show
 * how full the shared-memory filesystem is.
 *
 *   shmkit ls [--prefix P] [--json]
 *   shmkit inspect NAME [--json]
 *   shmkit rm [-f] NAME…
 *   shmkit sweep [--prefix P] [--json]
 *   shmkit df [--json]
 *
 * One file per command (group) in this folder. Exit status: 0 done, 1 a
 * command failed (one line on stderr says why), 2 bad usage.
 */
import { UsageError, oneLine, parse, type Io } from './args';
import { df } from './df';
import { inspect } from './inspect';
import { ls } from './ls';
import { doSweep, rm } from './remove';

export { inspectors, inspectSegment, renderInspect, type InspectReport } from './inspect';
export { diskFree, type DfReport } from './df';
export { humanAge, humanSize } from './format';
export type { Io } from './args';

const USAGE = `usage: shmkit <command> [options]

commands:
  ls [--prefix P] [--json]       list segments: name, size, kind, owner, age
  inspect NAME [--json]          everything known about one segment
  rm [-f] NAME...                unlink segments (-f: ignore missing ones)
  sweep [--prefix P] [--json]    unlink segments whose owner process is dead
  df [--json]                    size, used and free of /dev/shm, and what segments hold, per owner

exit status: 0 ok, 1 a command failed, 2 bad usage`;

/**
 * Runs the CLI on `argv` (without node and script); returns the exit status.
 * Never throws: a failure is one line on `io.err` and status 1 (2 for bad usage).
 * @example
 * process.exitCode = main(process.argv.slice(2));
 */
export function main(argv: string[], io: Io = { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s) }): number {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'ls':
      case 'list':
        return ls(parse(rest, ['--prefix'], ['--json']), io);
      case 'inspect':
        return inspect(parse(rest, [], ['--json']), io);
      case 'rm':
        return rm(parse(rest, [], ['-f', '--force']), io);
      case 'sweep':
        return doSweep(parse(rest, ['--prefix'], ['--json']), io);
      case 'df':
        return df(parse(rest, [], ['--json']), io);
      case undefined:
      case 'help':
      case '-h':
      case '--help':
        io.out(`${USAGE}\n`);
        return command === undefined ? 2 : 0;
      default:
        throw new UsageError(`unknown command '${command}'`);
    }
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`shmkit: ${err.message} (see shmkit --help)\n`);
      return 2;
    }
    io.err(`shmkit ${command}: ${oneLine(err)}\n`);
    return 1;
  }
}
