// Attach cost across Node versions (issue 13): for 1 MiB, 64 MiB, 1 GiB and
// 4 GiB, the parent creates the segment once; then N fresh children per Node
// version (bench/attach-child.js, run with --trace-gc) each attach it once and
// report the time and any GC. Node 20 hands segments out as external
// ArrayBuffers, newer ones (SharedMemory.bufferKind 'shared') as
// SharedArrayBuffers.
//
//   node bench/run.js attach                  (npm run bench:attach)
//   SHMKIT_BENCH_NODES=24,26  other Node majors, besides this one (default 22,24,26)
//   SHMKIT_BENCH_ATTACH_N=101 children per size per Node
'use strict';
const { spawnSync } = require('node:child_process');
const path = require('node:path');
const { SharedMemory } = require('..');
const { median, MiB, fmtMiB, table } = require('./util');
const { nodes: findNodes } = require('./nodes');

const N = Number(process.env.SHMKIT_BENCH_ATTACH_N ?? 101);
const FLOOR_N = Math.max(11, Math.round(N / 3) | 1);
const CHILD = path.join(__dirname, 'attach-child.js');
const GiB = 1024 * MiB;

const nodes = findNodes();
// 4 GiB fits every Node here: Node 20's MAX_SIZE is buffer.constants.MAX_LENGTH = 2^32 exactly.
const big = Math.min(4 * GiB, ...nodes.map((n) => n.maxSize));
const sizes = [MiB, 64 * MiB, GiB, big];

/** Nearest-rank quantile. */
function quantile(xs, q) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)];
}
const us = (x) => (x < 1000 ? `${x.toFixed(0)} µs` : `${(x / 1000).toFixed(2)} ms`);

/** One child; its JSON line plus what --trace-gc printed. */
function child(node, mode, name, other) {
  const r = spawnSync(node.execPath, ['--trace-gc', CHILD, mode, name, ...(other ? [other] : [])], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`attach child (${node.version}) failed: ${r.stderr}`);
  // V8 prints --trace-gc through stdio's buffer: its lines may come after ours.
  const lines = r.stdout.trim().split('\n');
  const res = JSON.parse(lines.find((l) => l.startsWith('{')));
  const trace = lines.filter((l) => /: (Scavenge|Mark-Compact|Mark-Sweep|Minor Mark-Sweep|Mark-sweep)/.test(l));
  res.pressure = trace.filter((l) => /external memory pressure/.test(l)).length;
  res.traced = trace.length;
  return res;
}

/** results[version][size] = [child results] */
const results = Object.fromEntries(nodes.map((n) => [n.version, {}]));
/** primed[version][size] = [child results]: the first attach of the segment in a process whose attach code already ran once */
const primed = Object.fromEntries(nodes.map((n) => [n.version, {}]));
const floors = Object.fromEntries(nodes.map((n) => [n.version, []]));
const primer = SharedMemory.create({ size: 4096, prefix: 'shmkit-bench-attach' });
for (const size of sizes) {
  const seg = SharedMemory.create({ size, prefix: 'shmkit-bench-attach' });
  try {
    for (const n of nodes) results[n.version][size] = [];
    for (const n of nodes) primed[n.version][size] = [];
    for (let i = 0; i < N; i++) {
      // Rotate the order so that drift on this shared machine hits every version alike.
      for (let k = 0; k < nodes.length; k++) {
        const n = nodes[(i + k) % nodes.length];
        results[n.version][size].push(child(n, 'attach', seg.name));
        primed[n.version][size].push(child(n, 'primed', seg.name, primer.name));
      }
    }
    if (size === MiB) {
      for (let i = 0; i < FLOOR_N; i++) for (const n of nodes) floors[n.version].push(child(n, 'floor', seg.name));
    }
  } finally {
    seg.close();
    seg.unlink();
  }
}

primer.close();
primer.unlink();

const out = [];
const p = (s = '') => out.push(s);
const head = ['segment size', ...nodes.map((n) => `${n.version} (${n.kind})`)];
const stat = (rs, key) => rs.map((r) => r[key]);

p('### Attach cost across Node versions (issue 13)');
p();
p(`\`node bench/run.js attach\` (\`npm run bench:attach\`). For each size the parent (${process.version}) creates the segment once; then ${N} fresh child processes per Node version, taking turns, each run \`bench/attach-child.js\` with \`--trace-gc\`: it requires only the package and times its one \`SharedMemory.attach(name)\` (read-write) with \`process.hrtime.bigint()\`, right after the require, so the time includes everything a first call costs (V8 compiling the attach path and Node's \`fs.fstatSync\` on first use). GCs: a \`PerformanceObserver\` on 'gc' entries counts those that start during the attach and in the 50 ms after it (the child does nothing else then); \`--trace-gc\` gives their reason. The machine (2 cores) was shared with other engineers' test runs while this ran: medians and p90s, not means.`);
p();
p('Cold attach, the only one in a fresh process: median / p90');
p();
p(table(head, sizes.map((size) => [fmtMiB(size), ...nodes.map((n) => {
  const t = stat(results[n.version][size], 'us');
  return `${us(median(t))} / ${us(quantile(t, 0.9))}`;
})])));
p();
p(table(
  ['', ...nodes.map((n) => n.version)],
  [
    [`${fmtMiB(big)} median / 1 MiB median`, ...nodes.map((n) => `${(median(stat(results[n.version][big], 'us')) / median(stat(results[n.version][MiB], 'us'))).toFixed(2)}×`)],
    [`floor: cold \`fs.openSync\`+\`fstatSync\`+\`closeSync\` of the /dev/shm file (median of ${FLOOR_N} children)`, ...nodes.map((n) => us(median(stat(floors[n.version], 'us'))))],
    ['floor, warm (as the warm attaches below)', ...nodes.map((n) => us(median(stat(floors[n.version], 'warmUs'))))],
  ],
));
p();
p('First attach of the segment in a fresh process whose attach code has run once (`primed`: the child attached and closed a 4 KiB segment first): median / p90. This is the cost of attaching a segment of that size, without the one-time start-up of the code path');
p();
p(table(head, sizes.map((size) => [fmtMiB(size), ...nodes.map((n) => {
  const t = stat(primed[n.version][size], 'us');
  return `${us(median(t))} / ${us(quantile(t, 0.9))}`;
})])));
p();
p('Warm attach (the same child, 50 ms later: five more attaches of the same name in a row, each closed; the median of the last four per child): median / p90 over children');
p();
p(table(head, sizes.map((size) => [fmtMiB(size), ...nodes.map((n) => {
  const t = stat(results[n.version][size], 'warmUs');
  return `${us(median(t))} / ${us(quantile(t, 0.9))}`;
})])));
p();
const { constants: pc } = require('node:perf_hooks');
const kinds = {
  [pc.NODE_PERFORMANCE_GC_MINOR]: 'minor',
  [pc.NODE_PERFORMANCE_GC_MAJOR]: 'major',
  [pc.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
  [pc.NODE_PERFORMANCE_GC_WEAKCB]: 'weak callbacks',
};
const gcCell = (rs) => {
  const during = rs.filter((r) => r.gcDuring.length);
  const after = rs.filter((r) => r.gcAfter.length);
  const pressure = rs.filter((r) => r.pressure);
  const what = [...new Set(during.flatMap((r) => r.gcDuring.map((k) => kinds[k] ?? k)))].join(', ');
  const ms = during.length ? ` ${median(during.map((r) => r.gcDuringMs)).toFixed(1)} ms` : '';
  return `${during.length}/${rs.length}${what ? ` (${what}${ms})` : ''} · ${after.length} · ${pressure.length}`;
};
p(`GCs: children with a GC that started during the attach (kind, median GC time) · children with one in the 50 ms after it · children whose \`--trace-gc\` shows any "external memory pressure" GC (V8 reacting to an external ArrayBuffer; over the child's whole life, warm attaches included). ${N} children per cell.`);
p();
p(table(head, [
  ...sizes.map((size) => [fmtMiB(size), ...nodes.map((n) => gcCell(results[n.version][size]))]),
  ...sizes.map((size) => [`${fmtMiB(size)}, primed`, ...nodes.map((n) => gcCell(primed[n.version][size]))]),
  ['control: the floor children (no attach)', ...nodes.map((n) => gcCell(floors[n.version]))],
]));
p();
const goals = nodes.filter((n) => n.kind === 'shared').map((n) => {
  const med = sizes.map((s) => median(stat(results[n.version][s], 'us')));
  const under = med.every((m) => m < 60);
  const ratio = med[3] / med[0];
  const warm = sizes.map((s) => median(stat(results[n.version][s], 'warmUs')));
  const pri = sizes.map((s) => median(stat(primed[n.version][s], 'us')));
  const gcFree = sizes.every((s) => [...results[n.version][s], ...primed[n.version][s]].every((r) => r.gcDuring.length === 0 && r.pressure === 0));
  return `- ${n.version}: every size under 60 µs median: cold (the first attach in a process) **${under ? 'yes' : 'no'}** (${med.map(us).join(', ')}); primed (the segment's first attach in a fresh process, code warm) **${pri.every((m) => m < 60) ? 'yes' : 'no'}** (${pri.map(us).join(', ')}), ${fmtMiB(big)}/1 MiB ${(pri[3] / pri[0]).toFixed(2)}×; warm **${warm.every((m) => m < 60) ? 'yes' : 'no'}** (${warm.map(us).join(', ')}). ${fmtMiB(big)} ≤ 2× 1 MiB: **${ratio <= 2 ? 'yes' : 'no'}** (cold ${ratio.toFixed(2)}×, warm ${(warm[3] / warm[0]).toFixed(2)}×). No GC caused by attach: **${gcFree ? 'yes' : 'no'}**.`;
});
p('Goals on Node with SharedArrayBuffer segments (every size under 60 µs median; 4 GiB ≤ 2× 1 MiB; no GC caused by attach):');
p();
p(goals.join('\n'));
console.log(out.join('\n'));
