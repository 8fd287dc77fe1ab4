/**
 * The CLI's plumbing: argument parsing, output streams and usage errors,
 * shared by every command.
 * @internal
 */

/** A wrong command line: printed with a pointer to --help, exit status 2. */
export class UsageError extends Error {}

/** Where a command writes (stdout and stderr, or a test's buffers). */
export interface Io {
  out: (s: string) => void;
  err: (s: string) => void;
}

/** A parsed command line: options by name (`true` for flags) and the rest. */
export interface Args {
  options: Map<string, string | true>;
  positional: string[];
}

/**
 * Parses `argv`: `valued` options take a value (`--prefix P` or
 * `--prefix=P`), `flags` take none; `--` ends the options.
 * @throws UsageError on an unknown option or a missing value
 */
export function parse(argv: string[], valued: string[], flags: string[]): Args {
  const options = new Map<string, string | true>();
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      positional.push(...argv.slice(i + 1));
      break;
    }
    const eq = a.startsWith('--') ? a.indexOf('=') : -1;
    const key = eq > 0 ? a.slice(0, eq) : a;
    if (valued.includes(key)) {
      const value = eq > 0 ? a.slice(eq + 1) : argv[++i];
      if (value === undefined) throw new UsageError(`${key} needs a value`);
      options.set(key, value);
    } else if (flags.includes(a)) {
      options.set(a, true);
    } else if (a.startsWith('-') && a !== '-') {
      throw new UsageError(`unknown option '${a}'`);
    } else {
      positional.push(a);
    }
  }
  return { options, positional };
}

/** @throws UsageError if a command that takes no names got one */
export function noPositional(args: Args, command: string): void {
  if (args.positional.length > 0) throw new UsageError(`${command} takes no names, got '${args.positional[0]}'`);
}

/** The first line of an error's message: what a command prints on failure. */
export function oneLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0]!;
}
