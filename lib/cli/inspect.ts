/**
 * `shmkit inspect NAME`: everything known about one segment, with extra
 * sections by kind (tables: schema and first rows).
 * @internal
 */
import * as fs from 'node:fs';
import { SharedMemory, type SegmentInfo } from '../segment';
import { ownerOf, type OwnerRecord } from '../ownership';
import { SHM_DIR, checkName } from '../names';
import { describeTable } from '../table/index';
import { UsageError, oneLine, type Args, type Io } from './args';
import { columns, humanAge, humanSize, printable } from './format';

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

/** `shmkit inspect NAME [--json]`. */
export function inspect(args: Args, io: Io): number {
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
