// Helpers shared by the benchmarks: timing, medians, PSS of a process tree,
// and markdown tables.
'use strict';
const fs = require('node:fs');

/** Nanoseconds as a bigint-free number. */
const now = () => Number(process.hrtime.bigint());

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * Runs fn `n` times, returns the median duration in ms. `after(result)`, if
 * given, runs after each call, untimed (to free what fn made).
 */
function timeMedian(n, fn, after) {
  const t = [];
  for (let i = 0; i < n; i++) {
    const a = now();
    const r = fn(i);
    t.push((now() - a) / 1e6);
    after?.(r);
  }
  return median(t);
}

function children(pid) {
  try {
    return fs
      .readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

/** Pids of `root` and all its descendants. */
function tree(root = process.pid) {
  const out = [root];
  for (let i = 0; i < out.length; i++) out.push(...children(out[i]));
  return out;
}

/** PSS in bytes of one process (0 if it is gone). */
function pss(pid) {
  try {
    const m = /^Pss:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** PSS summed over the process tree under `root`: shared pages counted once. */
function treePss(root = process.pid) {
  return tree(root).reduce((s, p) => s + pss(p), 0);
}

const MiB = 1 << 20;
const fmtMiB = (b) => `${(b / MiB).toFixed(1)} MiB`;
const fmtMs = (ms) => (ms < 1 ? `${(ms * 1000).toFixed(1)} µs` : `${ms.toFixed(ms < 10 ? 2 : 0)} ms`);

/** A markdown table from a header row and rows of cells. */
function table(header, rows) {
  const line = (cells) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

module.exports = { now, median, timeMedian, tree, pss, treePss, MiB, fmtMiB, fmtMs, table };

/**
 * Starts bench/pss-sampler.js watching the tree under `root`; resolves to
 * { stop(): Promise<{ peak, samples }> }. Sampling happens in its own process,
 * so it goes on while this one is blocked.
 */
function startSampler(root = process.pid, everyMs = 50) {
  const { fork } = require('node:child_process');
  const path = require('node:path');
  const child = fork(path.join(__dirname, 'pss-sampler.js'), [String(root), String(everyMs)], { stdio: 'inherit' });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('message', () =>
      resolve({
        stop: () =>
          new Promise((res, rej) => {
            const died = (code, signal) => rej(new Error(`the PSS sampler exited (${code ?? signal}) before reporting`));
            child.once('exit', died);
            child.once('message', (m) => {
              child.off('exit', died);
              res(m);
            });
            child.send('stop');
          }),
      }),
    );
  });
}

module.exports.startSampler = startSampler;
