import { spawn, spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { defineSchema } from '../lib/index';
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
