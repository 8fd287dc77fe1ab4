// Lifecycle costs: the tracker's memory and start time, and what ownership
// adds to create() (owned vs owned: false), measured in the same run.
'use strict';
const { execFileSync, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const { SharedMemory } = require('..');
const { binding, TRACKER_PATH } = require('../dist/binding');
const { trackerPid } = require('../dist/ownership');
const { median, timeMedian, pss, fmtMs, table } = require('./util');

const out = [];
const p = (s = '') => out.push(s);
const KiB = 1024;
const fmtKiB = (b) => `${(b / KiB).toFixed(0)} KiB`;

function rss(pid) {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * KiB : 0;
}

/** Median ms of `fn` over `n` runs. */

// --- 1. create cost: owned vs unowned, alternating blocks so drift hits both.
const prefix = `shmkit-bench-life-${process.pid}`;
let k = 0;
SharedMemory.create({ name: `${prefix}-warm`, size: 4096 }).unlink(); // starts the tracker outside the timing
const times = { owned: [], unowned: [] };
const cycle = { owned: [], unowned: [] };
for (let block = 0; block < 20; block++) {
  for (const kind of ['unowned', 'owned']) {
    const segs = [];
    const owned = kind === 'owned';
    for (let i = 0; i < 100; i++) {
      const a = performance.now();
      segs.push(SharedMemory.create({ name: `${prefix}-${k++}`, size: 4096, owned }));
      times[kind].push(performance.now() - a);
    }
    for (const s of segs) (s.close(), s.unlink());
    // A whole lifetime: create + close + unlink (unlink also tells the tracker).
    for (let i = 0; i < 50; i++) {
      const a = performance.now();
      const s = SharedMemory.create({ name: `${prefix}-${k++}`, size: 4096, owned });
      s.close();
      s.unlink();
      cycle[kind].push(performance.now() - a);
    }
  }
}
const cOwned = median(times.owned);
const cUnowned = median(times.unowned);
const lOwned = median(cycle.owned);
const lUnowned = median(cycle.unowned);

// --- 2. tracker memory, idle and holding 1,000 registrations.
const tpid = trackerPid();
const idle = { rss: rss(tpid), pss: pss(tpid) };
const many = [];
for (let i = 0; i < 1000; i++) many.push(SharedMemory.create({ name: `${prefix}-m${i}`, size: 4096 }));
// The tracker reads asynchronously: give it the moment it needs to take in 1,000 lines.
const until = Date.now() + 200;
while (Date.now() < until);
const full = { rss: rss(tpid), pss: pss(tpid) };
for (const s of many) (s.close(), s.unlink());

// --- 3. tracker start: in-process spawn (what the first owned create pays), and
// a whole tracker life (spawn, start, EOF, exit) against /bin/true.
const spawnMs = timeMedian(51, () => binding.startTracker(TRACKER_PATH, true));
// Closing the last pipe lets that tracker go; the others went at each restart.
const lifeMs = timeMedian(51, () => spawnSync(TRACKER_PATH, { input: '' }));
const trueMs = timeMedian(51, () => spawnSync('/bin/true', { input: '' }));
const firstCreate = [];
const laterCreate = [];
for (let i = 0; i < 15; i++) {
  const r = JSON.parse(
    execFileSync(
      process.execPath,
      [
        '-e',
        `const { SharedMemory } = require(${JSON.stringify(require.resolve('..'))});
         const t = [];
         for (let i = 0; i < 3; i++) {
           const a = performance.now();
           const s = SharedMemory.create({ name: '${prefix}-fresh-' + process.pid + '-' + i, size: 4096 });
           t.push(performance.now() - a);
           s.close(); s.unlink();
         }
         console.log(JSON.stringify(t));`,
      ],
      { encoding: 'utf8' },
    ),
  );
  firstCreate.push(r[0]);
  laterCreate.push(median(r.slice(1)));
}

// --- 4. a killed tracker: time until the owner's watcher thread has a new one
// in service (trackerPid() names a tracker only once it has been told every
// owned name; meanwhile it is undefined).
const held = SharedMemory.create({ name: `${prefix}-held`, size: 4096 });
const nap = new Int32Array(new SharedArrayBuffer(4));
const replaceMs = [];
for (let i = 0; i < 21; i++) {
  const old = trackerPid();
  const t0 = performance.now();
  process.kill(old, 'SIGKILL');
  for (let pid = old; pid === old || pid === undefined; pid = trackerPid()) {
    if (performance.now() - t0 > 2000) throw new Error('the tracker was not replaced within 2 s');
    Atomics.wait(nap, 0, 0, 0.05);
  }
  replaceMs.push(performance.now() - t0);
}
held.close();
held.unlink();

// --- 5. creates while a killed tracker is replaced with 5,000 owned names to
// tell the new one: from the kill until the replacement is in place, this
// thread creates without pause; the slowest of those creates shows whether
// a create waits for the spawn and the replay.
const owned5k = [];
for (let i = 0; i < 5000; i++) owned5k.push(SharedMemory.create({ name: `${prefix}-r${i}`, size: 4096 }));
const slowest = [];
const replace5kMs = [];
const during = [];
for (let i = 0; i < 11; i++) {
  const old = trackerPid();
  const made = [];
  let worst = 0;
  const t0 = performance.now();
  process.kill(old, 'SIGKILL');
  for (let pid = old; pid === old || pid === undefined; pid = trackerPid()) {
    if (performance.now() - t0 > 2000) throw new Error('the tracker was not replaced within 2 s');
    const a = performance.now();
    made.push(SharedMemory.create({ name: `${prefix}-d${k++}`, size: 4096 }));
    worst = Math.max(worst, performance.now() - a);
  }
  replace5kMs.push(performance.now() - t0);
  slowest.push(worst);
  during.push(made.length);
  for (const s of made) (s.close(), s.unlink());
}
for (const s of owned5k) (s.close(), s.unlink());

p('### Lifecycle: tracker cost, owned vs unowned create');
p();
p('`node bench/run.js lifecycle`. Segments of 4 KiB; create medians over 2,000 each, alternating blocks of 100 owned / 100 unowned. An owned create adds an `fstat`, an `fsetxattr` (the owner tag) and one `write` of a line to the tracker\'s pipe.');
p();
p(table(
  ['operation', 'owned (tracked)', 'owned: false (baseline)', 'ratio', 'target'],
  [
    ['`SharedMemory.create` (4 KiB)', fmtMs(cOwned), fmtMs(cUnowned), `${(cOwned / cUnowned).toFixed(2)}×`, '< 1.5×'],
    ['create + close + unlink', fmtMs(lOwned), fmtMs(lUnowned), `${(lOwned / lUnowned).toFixed(2)}×`, '—'],
  ],
));
p();
p(table(
  ['tracker', 'value', 'baseline', 'ratio', 'target'],
  [
    ['RSS, idle', fmtKiB(idle.rss), '—', '—', '< 5 MB'],
    ['RSS, holding 1,000 owned names', fmtKiB(full.rss), '—', '—', '< 5 MB'],
    ['PSS, idle / 1,000 names', `${fmtKiB(idle.pss)} / ${fmtKiB(full.pss)}`, '—', '—', '—'],
    ['start: `posix_spawn` from this process until exec done (`startTracker(restart)`, which also kills and reaps the old one)', fmtMs(spawnMs), '—', '—', '< 20 ms'],
    ['a whole life via `spawnSync` (spawn, start, EOF, exit)', fmtMs(lifeMs), `${fmtMs(trueMs)} (\`/bin/true\`)`, `${(lifeMs / trueMs).toFixed(2)}×`, '—'],
    ['first owned create in a fresh process (starts the tracker)', fmtMs(median(firstCreate)), `${fmtMs(median(laterCreate))} (later creates)`, `${(median(firstCreate) / median(laterCreate)).toFixed(1)}×`, '< 20 ms'],
    ['tracker SIGKILLed: until the watcher has a new one running (median of 21)', fmtMs(median(replaceMs)), '—', '—', '< 2 s (the owner-death deadline)'],
    ['the same with 5,000 owned names to replay (median of 11)', fmtMs(median(replace5kMs)), '—', '—', '< 2 s'],
    [`slowest create during that replacement (median of 11; ${median(during)} creates each)`, fmtMs(median(slowest)), `${fmtMs(cOwned)} (an owned create)`, `${(median(slowest) / cOwned).toFixed(1)}×`, '—'],
  ],
));
p();
p('RSS is the tracker\'s own (VmRSS); PSS counts its share of libc once. The first owned create of a process pays the tracker start once; `spawnSync` goes through Node\'s fork+exec and so measures Node more than the tracker, hence the `/bin/true` baseline. A killed tracker is replaced by a thread in the owner that sleeps in `poll()` on the tracker\'s pidfd; the time includes the kernel tearing the old one down and telling the new one every owned name. Creates go on meanwhile (their lines are queued for the new tracker); the slowest of them measures what still waits, including this machine\'s scheduling delays.');

console.log(out.join('\n'));
