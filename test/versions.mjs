#!/usr/bin/env node
/**
 * Runs the native-heavy test files (attach, close, workers, tables, sync)
 * under several Node majors with the one addon built here by the machine's
 * Node: the real vitest run, its forked children and worker threads all on
 * that Node (file-backed ones too). Majors other than this process's come from the `node` npm
 * package (`npx -y node@<major>`).
 *
 *   node test/versions.mjs              20, 22, 24 and 26 (npm run test:versions)
 *   node test/versions.mjs newest       only the newest of those (npm test)
 *   node test/versions.mjs 24 26        the majors given
 *
 * Exits non-zero if any run fails or a major cannot be fetched.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const MAJORS = [20, 22, 24, 26];
/** The files that exercise the addon: segments, lifecycle, readonly guard, futex and mutex, workers, tables. */
export const NATIVE_TESTS = [
  'test/segment.test.ts',
  'test/lifecycle.test.ts',
  'test/readonly.test.ts',
  'test/sync.test.ts',
  'test/sync-pool.test.ts',
  'test/threads.test.ts',
  'test/workers.test.ts',
  'test/table.test.ts',
  'test/append.test.ts',
  'test/grow.test.ts',
  'test/table-arrow-api.test.ts',
  'test/file-segment.test.ts',
  'test/channel.test.ts',
  'test/semaphore.test.ts',
  'test/barrier.test.ts',
  'test/fork-lanes.test.ts',
  'test/truncate.test.ts',
];

const args = process.argv.slice(2);
const majors = args.length === 0 ? MAJORS : args[0] === 'newest' ? [Math.max(...MAJORS)] : args.map(Number);
const own = Number(process.versions.node.split('.')[0]);

/** The node binary of a major: this one, or the `node` package's, fetched by npx. */
function nodeBinary(major) {
  if (major === own) return process.execPath;
  const out = execFileSync('npx', ['-y', `node@${major}`, '-p', 'process.execPath + " " + process.version'], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 300_000,
  }).trim();
  const [bin, version] = out.split(' ');
  if (!version.startsWith(`v${major}.`)) throw new Error(`npx node@${major} gave ${version}`);
  return bin;
}

const results = [];
for (const major of majors) {
  const started = Date.now();
  let status;
  try {
    const bin = nodeBinary(major);
    console.log(`\n=== Node ${major} (${bin}) ===`);
    status = spawnSync(bin, [path.join(ROOT, 'node_modules/vitest/vitest.mjs'), 'run', ...NATIVE_TESTS], {
      cwd: ROOT,
      stdio: 'inherit',
      env: { ...process.env, SHMKIT_TEST_NODE: String(major) },
    }).status;
  } catch (err) {
    console.error(`Node ${major}: ${err.message}`);
    status = 1;
  }
  results.push({ major, ok: status === 0, seconds: Math.round((Date.now() - started) / 1000) });
}
console.log('\n' + results.map((r) => `Node ${r.major}: ${r.ok ? 'passed' : 'FAILED'} (${r.seconds} s)`).join('\n'));
process.exit(results.every((r) => r.ok) ? 0 : 1);
