/**
 * The `shmkit` command: list, inspect, remove and sweep segments.
 *
 *   shmkit ls [--prefix P] [--json]
 *   shmkit inspect NAME [--json]
 *   shmkit rm [-f] NAME…
 *   shmkit sweep [--prefix P] [--json]
 *
 * Exit status: 0 done, 1 a command failed (one line on stderr says why),
 * 2 bad usage.
 */
import * as fs from 'node:fs';
import { SharedMemory, type SegmentInfo } from './segment';
import { ownerOf, type OwnerRecord } from './ownership';
import { sweep } from './sweep';
import { SHM_DIR, checkName } from './names';
import { describeTable } from './table/index';

/** What `shmkit inspect` knows of a segment; `--json` prints it as is. */
export interface InspectReport {
  name: string;
  path: string;
  size: number;
  kind: SegmentInfo['kind'];
  mode: string;
  uid: number;
  gid: number;
  created: string;
  ageMs: number;
  /** null: no owner recorded (unowned, handed off, or not made by shmkit). */
  owner: (OwnerRecord & { command?: string }) | null;
  /** Processes that have it mapped now (those whose /proc/<pid>/maps we may read). */
  mappedBy: { pid: number; command: string }[];
  /** Extra sections by kind (tables add schema and first rows), from {@link inspectors}. */
  [section: string]: unknown;
}

/**
 * Extra detail for `shmkit inspect` by segment kind: `inspectors.set('table',
 * fn)` makes inspect call `fn(name)` for table segments and show what it
 * returns: `json` is merged into the `--json` report, `text` lines are
 * printed after the common fields.
 * @example
 * inspectors.set('table', (name) => ({ json: { schema }, text: ['schema: …'] }));
 */
export const inspectors = new Map<string, (name: string) => { json: Record<string, unknown>; text: string[] }>();

// Tables: schema, length/capacity and the first rows as an aligned table.
inspectors.set('table', (name) => {
  let d: ReturnType<typeof describeTable>;
  try {
    d = describeTable(name, { rows: 10 });
  } catch (err) {
    // A table magic over a header that does not parse: say why, keep the rest of the report.
    return { json: { table: { error: oneLine(err) } }, text: ['', `table:    unreadable: ${printable(oneLine(err))}`] };
  }
  const hex = (b: Uint8Array) => (b.length > 16 ? `0x${Buffer.from(b.subarray(0, 16)).toString('hex')}… (${b.length} bytes)` : `0x${Buffer.from(b).toString('hex')}`);
  const cell = (v: unknown): string =>
    v instanceof Date ? (Number.isNaN(v.getTime()) ? 'Invalid Date' : v.toISOString())
    : typeof v === 'string' ? printable(JSON.stringify(v.length > 60 ? `${v.slice(0, 60)}…` : v))
    : v instanceof Uint8Array ? hex(v)
    : String(v);
  const names = d.schema.map((f) => f.name);
  const types = d.schema.map((f) => `${f.categories ? `category(${f.categories.length})` : f.type}${f.nullable ? '?' : ''}`);
  const size = d.capacity === Infinity ? `${d.length} rows (growable, room for ${d.maxRows})` : `${d.length} of ${d.capacity} rows`;
  const numeric = d.schema.map((f) => /int|float|datetime64\[(us|ns)\]/.test(f.type));
  const text = [
    '',
    `table:    ${d.layout} layout, ${size}`,
    `schema:   ${d.schema.map((f, i) => `${printable(f.name)} ${types[i]}`).join(', ')}`,
    `first ${d.rows.length} row${d.rows.length === 1 ? '' : 's'}:`,
    columns(['#', ...names.map(printable)], d.rows.map((r, i) => [String(i), ...names.map((n) => (r === null ? '(void)' : cell(r[n])))]), [true, ...numeric]).trimEnd(),
  ];
  const rows = d.rows.map((r) => r && Object.fromEntries(names.map((n) => [n, r[n] instanceof Date || typeof r[n] === 'bigint' ? cell(r[n]) : r[n] instanceof Uint8Array ? Buffer.from(r[n]).toString('hex') : r[n]])));
  return { json: { table: { layout: d.layout, length: d.length, capacity: d.capacity === Infinity ? null : d.capacity, growable: d.capacity === Infinity, maxRows: d.maxRows, schema: d.schema, rows } }, text };
});

class UsageError extends Error {}

interface Io {
  out: (s: string) => void;
  err: (s: string) => void;
}

const USAGE = `usage: shmkit <command> [options]

commands:
  ls [--prefix P] [--json]       list segments: name, size, kind, owner, age
  inspect NAME [--json]          everything known about one segment
  rm [-f] NAME...                unlink segments (-f: ignore missing ones)
  sweep [--prefix P] [--json]    unlink segments whose owner process is dead

exit status: 0 ok, 1 a command failed, 2 bad usage`;

/**
 * Runs the CLI on `argv` (without node and script); returns the exit status.
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

// ---------------------------------------------------------------------------

interface Args {
  options: Map<string, string | true>;
  positional: string[];
}

function parse(argv: string[], valued: string[], flags: string[]): Args {
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

function noPositional(args: Args, command: string): void {
  if (args.positional.length > 0) throw new UsageError(`${command} takes no names, got '${args.positional[0]}'`);
}

// ---------------------------------------------------------------------------
// ls

interface LsEntry {
  name: string;
  size: number;
  kind: SegmentInfo['kind'];
  owner: { pid: number; alive: boolean } | null;
  created: string | null;
  ageMs: number | null;
}

function ls(args: Args, io: Io): number {
  noPositional(args, 'ls');
  const prefix = (args.options.get('--prefix') as string | undefined) ?? '';
  const now = Date.now();
  const entries: LsEntry[] = SharedMemory.list({ prefix }).map((s) => {
    const born = birth(s.name);
    return {
      name: s.name,
      size: s.size,
      kind: s.kind,
      owner: s.owner ?? null,
      created: born === undefined ? null : new Date(born).toISOString(),
      ageMs: born === undefined ? null : Math.max(0, Math.round(now - born)),
    };
  });
  if (args.options.has('--json')) {
    io.out(`${JSON.stringify(entries, null, 2)}\n`);
    return 0;
  }
  if (entries.length === 0) {
    io.out(prefix ? `no segments under '${prefix}'\n` : 'no segments\n');
    return 0;
  }
  const rows = entries.map((e) => [
    printable(e.name),
    humanSize(e.size),
    e.kind,
    e.owner ? String(e.owner.pid) : '-',
    e.owner ? (e.owner.alive ? 'alive' : 'dead') : 'unowned',
    e.ageMs === null ? '?' : humanAge(e.ageMs),
  ]);
  io.out(columns(['NAME', 'SIZE', 'KIND', 'OWNER', 'STATE', 'AGE'], rows, [false, true, false, true, false, true]));
  const total = entries.reduce((s, e) => s + e.size, 0);
  io.out(`${entries.length} segment${entries.length === 1 ? '' : 's'}, ${humanSize(total)}\n`);
  return 0;
}

// ---------------------------------------------------------------------------
// inspect

/**
 * Everything `shmkit inspect` shows about segment `name`.
 * @throws `ENOENT` (fs-shaped, from stat) if there is no such segment; TypeError for an invalid name
 * @example
 * const r = inspectSegment('myapp.prices'); r.owner?.pid;
 */
export function inspectSegment(name: string): InspectReport {
  const path = `${SHM_DIR}/${checkName(name)}`;
  const st = fs.statSync(path);
  const info = SharedMemory.list({ prefix: name }).find((s) => s.name === name);
  const owner = ownerOf(name);
  const born = st.birthtimeMs > 0 ? st.birthtimeMs : st.ctimeMs;
  const report: InspectReport = {
    name,
    path,
    size: st.size,
    kind: info?.kind ?? 'raw',
    mode: `0${(st.mode & 0o7777).toString(8)}`,
    uid: st.uid,
    gid: st.gid,
    created: new Date(born).toISOString(),
    ageMs: Math.max(0, Math.round(Date.now() - born)),
    owner: owner === undefined ? null : { ...owner, command: command(owner.pid, owner.alive) },
    mappedBy: mappedBy(path),
  };
  return report;
}

/**
 * Renders an {@link InspectReport} for a terminal, aligned `label: value`
 * lines, followed by the `text` of the kind's inspector (if any).
 * @example
 * process.stdout.write(renderInspect(inspectSegment('myapp.prices'), []));
 */
export function renderInspect(r: InspectReport, extra: string[]): string {
  const owner =
    r.owner === null
      ? 'none (unowned, handed off, or not made by shmkit)'
      : `pid ${r.owner.pid}${r.owner.command ? ` (${r.owner.command})` : ''}, ${
          r.owner.foreign ? 'in another pid namespace' : r.owner.alive ? 'alive' : 'dead: `shmkit sweep` removes it'
        }`;
  const fields: [string, string][] = [
    ['name', printable(r.name)],
    ['path', printable(r.path)],
    ['size', `${humanSize(r.size)} (${r.size} bytes)`],
    ['kind', r.kind],
    ['mode', `${r.mode}, uid ${r.uid}, gid ${r.gid}`],
    ['created', `${r.created} (${humanAge(r.ageMs)} ago)`],
    ['owner', owner],
    ['mapped by', r.mappedBy.length === 0 ? 'no process' : r.mappedBy.map((m) => `${m.pid} (${m.command})`).join(', ')],
  ];
  const width = Math.max(...fields.map(([k]) => k.length));
  return [...fields.map(([k, v]) => `${`${k}:`.padEnd(width + 2)}${v}`), ...extra].join('\n') + '\n';
}

function inspect(args: Args, io: Io): number {
  if (args.positional.length !== 1) throw new UsageError('inspect needs exactly one NAME');
  const name = args.positional[0]!;
  const report = inspectSegment(name);
  const extra = inspectors.get(report.kind)?.(name);
  if (args.options.has('--json')) {
    io.out(`${JSON.stringify({ ...report, ...extra?.json }, null, 2)}\n`);
  } else {
    io.out(renderInspect(report, extra?.text ?? []));
  }
  return 0;
}

// ---------------------------------------------------------------------------
// rm, sweep

function rm(args: Args, io: Io): number {
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

function doSweep(args: Args, io: Io): number {
  noPositional(args, 'sweep');
  const prefix = args.options.get('--prefix') as string | undefined;
  const removed = sweep({ prefix });
  if (args.options.has('--json')) io.out(`${JSON.stringify(removed)}\n`);
  else if (removed.length === 0) io.out('nothing to sweep: no segment has a dead owner\n');
  else io.out(`removed ${removed.length} segment${removed.length === 1 ? '' : 's'} of dead owners:\n${removed.map((n) => `  ${printable(n)}\n`).join('')}`);
  return 0;
}

// ---------------------------------------------------------------------------
// Helpers

function oneLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0]!;
}

/** Creation time in ms (birth time where the filesystem records it). */
function birth(name: string): number | undefined {
  try {
    const st = fs.statSync(`${SHM_DIR}/${name}`);
    return st.birthtimeMs > 0 ? st.birthtimeMs : st.ctimeMs;
  } catch {
    return undefined;
  }
}

/** Names may hold control characters; never let them move the cursor. */
function printable(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\x00-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** 512 B, 4.0 KiB, 1.5 MiB, 2.0 GiB. */
export function humanSize(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${v} B` : `${v.toFixed(1)} ${units[u]}`;
}

/** 45s, 12m, 3h, 2d. */
export function humanAge(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}

function columns(header: string[], rows: string[][], right: boolean[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (right[i] ? c.padStart(widths[i]!) : i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd() + '\n';
  return line(header) + rows.map(line).join('');
}

function command(pid: number, alive: boolean): string | undefined {
  if (!alive) return undefined; // the pid may belong to someone else by now
  try {
    return fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** Pids whose memory maps show `path`: the processes using the segment now. */
function mappedBy(path: string): { pid: number; command: string }[] {
  const out: { pid: number; command: string }[] = [];
  let pids: string[];
  try {
    pids = fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p));
  } catch {
    return out;
  }
  const needle = ` ${path}\n`;
  for (const p of pids) {
    try {
      if (!fs.readFileSync(`/proc/${p}/maps`, 'utf8').includes(needle)) continue;
      out.push({ pid: Number(p), command: command(Number(p), true) ?? '?' });
    } catch {
      // Gone meanwhile, or not ours to read.
    }
  }
  return out;
}
