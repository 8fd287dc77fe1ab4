// The fan-out demo (examples/fanout/demo.js) across Node versions (issue 13):
// the demo, unchanged, run by each Node in a fresh process, its children
// forked with the same Node. shmkit attach by name against child.send
// ('advanced' and 'json') in the same run.
//
//   node bench/run.js fanout
//   SHMKIT_BENCH_NODES=24,26  other Node majors, besides this one (default 22,24,26)
//   SHMKIT_BENCH_FANOUT_ROUNDS=3
'use strict';
const { execFileSync } = require('node:child_process');
const path = require('node:path');
const { fmtMiB, fmtMs, table } = require('./util');
const { nodes: findNodes } = require('./nodes');
const { fmtHandoff } = require('../examples/fanout/demo');

const ROUNDS = Number(process.env.SHMKIT_BENCH_FANOUT_ROUNDS ?? 3);
const DEMO = path.join(__dirname, '..', 'examples', 'fanout', 'demo.js');
const nodes = findNodes();

const res = {};
for (const n of nodes) {
  const stdout = execFileSync(n.execPath, [DEMO, '--mb', '256', '--json-mb', '16', '--rounds', String(ROUNDS), '--prefix', 'shmkit-bench-fanout', '--json'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  res[n.version] = JSON.parse(stdout.trim().split('\n').pop());
}

const head = ['', ...nodes.map((n) => `${n.version} (${n.kind})`)];
const row = (label, f) => [label, ...nodes.map((n) => f(res[n.version].rows))];
const ratio = (r) => r.peak / (r.baseline + r.bytes);
const out = [];
const p = (s = '') => out.push(s);
p('### Fan-out demo across Node versions (issue 13)');
p();
p(`\`node bench/run.js fanout\`: \`examples/fanout/demo.js --rounds ${ROUNDS} --json\` run unchanged by each Node (\`npx -y node@24 examples/fanout/demo.js\` does the same by hand). 256 MiB Float64Array; 4 warm children each sum a quarter; the IPC baselines send each child the whole array. Handoff = from the parent's first send until every child has said it holds its data (median of ${res[nodes[0].version].shmRounds} rounds for shmkit, ${ROUNDS} for the IPC ones; min–max in brackets); PSS ratio = peak tree PSS / (idle tree + one copy of the data), sampled every 50 ms over one more round. The machine (2 cores) was shared with other engineers' work while this ran.`);
p();
p(table(head, [
  row('shmkit: handoff to 4 children', ([s]) => fmtHandoff(s)),
  row("child.send 'advanced': handoff", ([, a]) => fmtHandoff(a)),
  row("child.send 'json' (16 MiB slice): handoff", ([, , j]) => fmtHandoff(j)),
  row("**handoff speedup** ('advanced' / shmkit)", ([s, a]) => `**${Math.round(a.handoff / s.handoff).toLocaleString('en')}×**`),
  row('total (handoff + sums): shmkit / advanced', ([s, a]) => `${fmtMs(s.total)} / ${fmtMs(a.total)}`),
  row('peak tree PSS: shmkit / advanced', ([s, a]) => `${fmtMiB(s.peak)} / ${fmtMiB(a.peak)}`),
  row('**PSS ratio** shmkit (idle tree)', ([s]) => `**${ratio(s).toFixed(2)}** (${fmtMiB(s.baseline)})`),
  row("PSS ratio 'advanced'", ([, a]) => ratio(a).toFixed(2)),
]));
p();
const verdicts = nodes.filter((n) => n.kind === 'shared').map((n) => {
  const [s, a] = res[n.version].rows;
  const speed = a.handoff / s.handoff;
  return `- ${n.version}: handoff ≥ 1000× faster than child.send: **${speed >= 1000 ? 'met' : 'not met'}** (${Math.round(speed).toLocaleString('en')}×); PSS ratio ≤ 1.15: **${ratio(s) <= 1.15 ? 'met' : 'not met'}** (${ratio(s).toFixed(2)})`;
});
p('Goals on Node with SharedArrayBuffer segments:');
p();
p(verdicts.join('\n'));
console.log(out.join('\n'));
