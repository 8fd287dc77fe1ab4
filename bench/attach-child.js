// One fresh process, one attach: the child of bench/attach.bench.js. It
// requires only the package, so it runs unchanged under any Node major (one
// native build serves them all); the parent runs it with --trace-gc.
//
//   node --trace-gc bench/attach-child.js attach <name>
//   node --trace-gc bench/attach-child.js floor <name>
//   node --trace-gc bench/attach-child.js primed <name> <other>
//
// attach: times SharedMemory.attach(name) (process.hrtime.bigint around it),
// the first call of it in this process, right after the require, as a
// program that attaches once would; records the GCs that a PerformanceObserver
// saw start during it and in the 50 ms after (this process does nothing else
// then); then times five more attaches of the same name in a row, warm.
// primed: the same, after one attach and close of another (small) segment
// <other>: the attach path's code is then compiled and its first calls into
// Node and the addon made, so the time is that of attaching this segment for
// the first time in this process, not of starting up the code.
// floor: the same for fs.openSync + fstatSync + closeSync of the /dev/shm file,
// the syscalls an attach makes (less mmap) through Node's own fs, also cold.
// Prints one JSON line.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { PerformanceObserver, performance } = require('node:perf_hooks');
const { SharedMemory } = require(path.resolve(__dirname, '..'));

const [mode, name, other] = process.argv.slice(2);
if (mode === 'primed') SharedMemory.attach(other).close();
const gcs = [];
const obs = new PerformanceObserver((list) => {
  for (const e of list.getEntries()) gcs.push({ start: e.startTime, ms: e.duration, kind: e.detail?.kind ?? e.kind });
});
obs.observe({ entryTypes: ['gc'] });

const op =
  mode === 'floor'
    ? () => {
        const fd = fs.openSync(`/dev/shm/${name}`, 'r+');
        fs.fstatSync(fd);
        fs.closeSync(fd);
        return undefined;
      }
    : () => SharedMemory.attach(name);

const p0 = performance.now();
const t0 = process.hrtime.bigint();
const seg = op();
const t1 = process.hrtime.bigint();
const p1 = performance.now();
setTimeout(() => {
  const p2 = performance.now();
  // Warm: five more in a row, each closed again; the first of them pays for
  // waking up after the idle 50 ms, so the median is of the last four.
  const warm = [];
  for (let i = 0; i < 5; i++) {
    const a = process.hrtime.bigint();
    const s = op();
    warm.push(Number(process.hrtime.bigint() - a) / 1e3);
    s?.close();
  }
  obs.disconnect();
  // kind: perf_hooks.constants.NODE_PERFORMANCE_GC_* (1 minor, 4 major, 8 incremental, 16 weak callbacks)
  const during = gcs.filter((g) => g.start >= p0 && g.start <= p1);
  const after = gcs.filter((g) => g.start > p1 && g.start < p2);
  const w = warm.slice(1).sort((a, b) => a - b);
  fs.writeSync(
    1,
    `${JSON.stringify({
      us: Number(t1 - t0) / 1e3,
      warmUs: (w[1] + w[2]) / 2,
      kind: SharedMemory.bufferKind,
      size: seg?.size,
      gcDuring: during.map((g) => g.kind),
      gcDuringMs: during.reduce((s, g) => s + g.ms, 0),
      gcAfter: after.map((g) => g.kind),
    })}\n`,
  );
  seg?.close();
}, 50);
