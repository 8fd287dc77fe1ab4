import { spawn, spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { defineSchema, type Schema } from '../lib/index';
import { ROOT } from './helpers';

/**
 * The Python the tests drive: $SHMKIT_PYTHON when set (CI's venv from
 * .ci/python-venv, with `pip install ./python[arrow]`, pandas, polars, duckdb),
 * else plain python3 (numpy; the scripts then import python/ by path).
 */
export const PYTHON = process.env.SHMKIT_PYTHON || 'python3';
export const VENV = !!process.env.SHMKIT_PYTHON;

/** Whether PYTHON can import every module named. */
export function pythonHas(...modules: string[]): boolean {
  return spawnSync(PYTHON, ['-c', modules.map((m) => `import ${m}`).join('; ')], { stdio: 'ignore' }).status === 0;
}

/** Runs PYTHON with argv and resolves with its stdout, rejecting on a non-zero exit with its stderr. */
export function pythonRaw(argv: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`${PYTHON} exited ${code}: ${err}`))));
  });
}

/** Runs test/python/<script>.py and parses the JSON it prints. */
export async function python(script: string, args: string[]): Promise<Record<string, any>> {
  return JSON.parse(await pythonRaw([path.join(ROOT, 'test', 'python', `${script}.py`), ...args]));
}

/** A schema with every scalar type at its edges, shared by the numpy and Arrow tests. */
export const Trade = defineSchema({
  id: 'int64',
  u: 'uint64',
  price: 'float64',
  f32: 'float32',
  qty: 'uint32',
  small: 'int8',
  buy: 'bool',
  sym: 'utf8[8]',
  ts: 'datetime64[ms]',
  tns: 'datetime64[ns]',
  venue: { category: ['XNYS', 'XNAS', 'BATS'] },
});

/** Every type of an Arrow-native table, nullable and not: the Python Arrow and numpy tests read it row for row. */
export const Event = defineSchema({
  id: 'int64',
  u64: { type: 'uint64', nullable: true },
  i8: 'int8',
  u8: { type: 'uint8', nullable: true },
  i16: 'int16',
  u16: 'uint16',
  i32: { type: 'int32', nullable: true },
  u32: 'uint32',
  f32: { type: 'float32', nullable: true },
  score: { type: 'float64', nullable: true },
  ok: { type: 'bool', nullable: true },
  flag: 'bool',
  user: 'utf8',
  note: { type: 'utf8', nullable: true },
  blob: 'binary',
  nblob: { type: 'binary', nullable: true },
  sym: 'utf8[8]',
  nsym: { type: 'utf8[4]', nullable: true },
  ts: 'datetime64[us]',
  tms: { type: 'datetime64[ms]', nullable: true },
  tsec: 'datetime64[s]',
  tns: 'datetime64[ns]',
  venue: { category: ['XNYS', 'XNAS', 'BATS'] },
  side: { category: ['buy', 'sell'], nullable: true },
});

const f64 = new DataView(new ArrayBuffer(8));
/** A float as test/python/common.py's enc() writes it: the hex of its float64 bits (NaN: 'NaN'). */
export function encFloat(x: number): string {
  if (Number.isNaN(x)) return 'NaN';
  f64.setFloat64(0, x, true);
  return `f:${Buffer.from(f64.buffer).toString('hex')}`;
}

/**
 * A row from get() in the lossless JSON form of test/python/common.py's enc():
 * integers and datetimes (in the field's unit) as decimal strings, floats as
 * their bits, bytes as 'b:' + hex, strings and booleans as they are, null as null.
 */
export function encodeRow(schema: Schema, row: Record<string, unknown> | null): Record<string, unknown> | null {
  if (row === null) return null;
  const out: Record<string, unknown> = {};
  for (const f of schema.fields) {
    const v = row[f.name];
    if (v === null || v === undefined) out[f.name] = null;
    else if (f.kind === 'float32' || f.kind === 'float64') out[f.name] = encFloat(v as number);
    else if (v instanceof Date) out[f.name] = String(f.unit === 's' ? v.getTime() / 1000 : v.getTime());
    else if (v instanceof Uint8Array) out[f.name] = `b:${Buffer.from(v).toString('hex')}`;
    else if (typeof v === 'bigint' || typeof v === 'number') out[f.name] = String(v);
    else out[f.name] = v;
  }
  return out;
}
