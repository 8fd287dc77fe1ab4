// A separate process that samples the PSS of a process tree every N ms, so
// that sampling goes on while the measured process is busy (a synchronous
// child.send of 256 MiB blocks its event loop for seconds). It leaves itself
// out of the sum. Protocol: forked with [rootPid, everyMs]; sends 'ready';
// on 'stop' replies { peak, samples: [{ t, pss }] } and exits.
'use strict';
const { tree, pss } = require('./util');

const root = Number(process.argv[2]);
const every = Number(process.argv[3] ?? 50);
const start = Date.now();
const samples = [];
const sample = () => {
  const total = tree(root)
    .filter((p) => p !== process.pid)
    .reduce((s, p) => s + pss(p), 0);
  samples.push({ t: Date.now() - start, pss: total });
};
sample();
const timer = setInterval(sample, every);
process.on('message', (m) => {
  if (m !== 'stop') return;
  clearInterval(timer);
  sample();
  process.send({ peak: Math.max(...samples.map((s) => s.pss)), samples }, () => process.exit(0));
});
process.send('ready');
