// Channels (issue 14) against child.send/process.send and against a
// MessagePort between worker threads, in the same run: ping-pong round trip
// (median, p99), one-way throughput of 64-byte and 4 KiB messages, 4
// producer processes into 1 consumer, and the CPU time each message costs.
//
//   node bench/run.js channel
//   SHMKIT_BENCH_CHANNEL_SCALE=0.2   fewer messages (a quick look)
'use strict';
const { fork } = require('node:child_process');
const { Worker, MessageChannel, receiveMessageOnPort } = require('node:worker_threads');
const { Channel } = require('..');
const { median, table } = require('./util');

const SCALE = Number(process.env.SHMKIT_BENCH_CHANNEL_SCALE ?? 1);
const n = (x) => Math.max(1000, Math.round(x * SCALE));
const ns = () => Number(process.hrtime.bigint());
const cpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) * 1000; // ns
};
const [role, ...args] = process.argv.slice(2);

// ---- children ---------------------------------------------------------------
if (role === 'pong') {
  // Echoes every message of channel a into channel b until -1.
  const a = Channel.attach(JSON.parse(args[0]));
  const b = Channel.attach(JSON.parse(args[1]));
  process.send('ready');
  const c0 = cpu();
  let count = 0;
  for (;;) {
    const m = a.receiveSync();
    if (m === -1) break;
    b.send(m);
    count++;
  }
  process.send({ cpuPerMsg: (cpu() - c0) / count }, () => process.exit(0));
} else if (role === 'ipc-pong') {
  process.on('message', (m) => (m === -1 ? process.exit(0) : process.send(m)));
  process.send('ready');
} else if (role === 'produce') {
  // Sends count messages of size bytes (spinning on trySend while full).
  const ch = Channel.attach(JSON.parse(args[0]));
  const [count, size] = [Number(args[1]), Number(args[2])];
  const msg = new Uint8Array(size).fill(7);
  process.send('ready');
  process.once('message', () => {
    for (let i = 0; i < count; i++) while (!ch.trySend(msg));
    process.send('done', () => process.exit(0));
  });
} else if (role === 'consume') {
  const ch = Channel.attach(JSON.parse(args[0]));
  const count = Number(args[1]);
  process.send('ready');
  let t0 = 0;
  let c0 = 0;
  for (let i = 0; i < count; i++) {
    ch.receiveBytesSync();
    if (i === 0) [t0, c0] = [ns(), cpu()];
  }
  process.send({ ns: ns() - t0, cpu: cpu() - c0, count: count - 1 }, () => process.exit(0));
} else if (role === 'ipc-produce') {
  const [count, size] = [Number(args[0]), Number(args[1])];
  const msg = Buffer.alloc(size, 7);
  process.once('message', async () => {
    for (let i = 0; i < count; i++) {
      if (!process.send(msg)) await new Promise((r) => setImmediate(r)); // let the pipe drain
    }
  });
  process.send('ready');
}

function child(role, args, options = {}) {
  return fork(__filename, [role, ...args], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], ...options });
}
const next = (c) => new Promise((r) => c.once('message', r));
const q = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))];
const us = (v) => `${(v / 1000).toFixed(1)} µs`;
const rate = (count, nsTotal) => count / (nsTotal / 1e9);
const fmtRate = (r) => (r >= 1e6 ? `${(r / 1e6).toFixed(2)} M/s` : `${(r / 1e3).toFixed(0)} k/s`);

async function pingPongChannel(rounds) {
  const a = Channel.create({ bytes: 1 << 16 });
  const b = Channel.create({ bytes: 1 << 16 });
  const c = child('pong', [JSON.stringify(a.handle), JSON.stringify(b.handle)]);
  await next(c);
  const lat = [];
  for (let i = 0; i < rounds + 2000; i++) {
    const t = ns();
    a.send(i);
    if (b.receiveSync() !== i) throw new Error('ping-pong out of order');
    if (i >= 2000) lat.push(ns() - t);
  }
  a.send(-1);
  const { cpuPerMsg } = await next(c);
  for (const ch of [a, b]) ch.unlink();
  return { lat, cpuPerMsg };
}

async function pingPongIpc(rounds) {
  const c = child('ipc-pong', []);
  await next(c);
  const lat = [];
  for (let i = 0; i < rounds + 500; i++) {
    const t = ns();
    c.send(i);
    await next(c);
    if (i >= 500) lat.push(ns() - t);
  }
  c.send(-1);
  return { lat };
}

/** Ping-pong between two worker threads over a MessagePort (blocking receive, as receiveSync). */
async function pingPongPort(rounds) {
  const code = `
    const { workerData: { port, rounds, role }, parentPort, receiveMessageOnPort } = require('node:worker_threads');
    const sab = new Int32Array(new SharedArrayBuffer(4));
    const get = () => { for (;;) { const m = receiveMessageOnPort(port); if (m) return m.message; } };
    const lat = [];
    if (role === 'ping') {
      for (let i = 0; i < rounds + 2000; i++) { const t = process.hrtime.bigint(); port.postMessage(i); get(); if (i >= 2000) lat.push(Number(process.hrtime.bigint() - t)); }
      port.postMessage(-1);
      parentPort.postMessage(lat);
    } else { for (;;) { const m = get(); if (m === -1) break; port.postMessage(m); } parentPort.postMessage(null); }`;
  const { port1, port2 } = new MessageChannel();
  const ping = new Worker(code, { eval: true, workerData: { port: port1, rounds, role: 'ping' }, transferList: [port1] });
  const pong = new Worker(code, { eval: true, workerData: { port: port2, rounds, role: 'pong' }, transferList: [port2] });
  const [lat] = await Promise.all([next(ping), next(pong)]); // both listening from the start: a message with no listener is lost
  await Promise.all([ping.terminate(), pong.terminate()]);
  return { lat };
}

async function throughputChannel(producers, count, size) {
  const ch = Channel.create({ bytes: 1 << 20 });
  const h = JSON.stringify(ch.handle);
  const cons = child('consume', [h, String(producers * count)]);
  const prods = Array.from({ length: producers }, () => child('produce', [h, String(count), String(size)]));
  await Promise.all([cons, ...prods].map(next));
  const finished = Promise.all([next(cons), ...prods.map(next)]);
  for (const p of prods) p.send('go');
  const [r] = await finished;
  ch.unlink();
  return { rate: rate(r.count, r.ns), cpuPerMsg: r.cpu / r.count };
}

async function throughputIpc(count, size) {
  const c = child('ipc-produce', [String(count), String(size)], { serialization: 'advanced' });
  await next(c);
  let got = 0;
  let t0 = 0;
  const c0 = cpu();
  const done = new Promise((resolve) =>
    c.on('message', () => {
      if (got++ === 0) t0 = ns();
      if (got === count) resolve(ns() - t0);
    }),
  );
  c.send('go');
  const total = await done;
  const cpuParent = cpu() - c0;
  c.kill();
  return { rate: rate(count - 1, total), cpuPerMsg: cpuParent / count };
}

async function throughputPort(count, size) {
  const code = `
    const { workerData: { port, count, size } } = require('node:worker_threads');
    const msg = new Uint8Array(size).fill(7);
    for (let i = 0; i < count; i++) port.postMessage(msg);`;
  const { port1, port2 } = new MessageChannel();
  let got = 0;
  let t0 = 0;
  const done = new Promise((resolve) =>
    port2.on('message', () => {
      if (got++ === 0) t0 = ns();
      if (got === count) resolve(ns() - t0);
    }),
  );
  const w = new Worker(code, { eval: true, workerData: { port: port1, count, size }, transferList: [port1] });
  const total = await done;
  port2.close();
  await w.terminate();
  return { rate: rate(count - 1, total) };
}

async function main() {
  const out = [];
  const p = (s = '') => out.push(s);
  const ch = await pingPongChannel(n(100_000));
  const ipc = await pingPongIpc(n(20_000));
  const port = await pingPongPort(n(100_000));
  p('### Channels (issue 14)');
  p();
  p('`node bench/run.js channel`. Every figure is measured in this run on this (shared, 2-core) machine. Ping-pong: the parent sends a number and waits for its echo; the channel pair and the MessagePort pair both block in a spinning receive (`receiveSync`, `receiveMessageOnPort` in a loop), `child.send` waits on its event loop.');
  p();
  p(table(['ping-pong round trip', 'median', 'p99', 'vs child.send (median)'], [
    ['Channel (2 processes, receiveSync)', us(median(ch.lat)), us(q(ch.lat, 0.99)), `${(median(ipc.lat) / median(ch.lat)).toFixed(1)}× faster`],
    ['child.send / process.send', us(median(ipc.lat)), us(q(ipc.lat, 0.99)), '1×'],
    ['MessagePort (2 worker threads)', us(median(port.lat)), us(q(port.lat, 0.99)), `${(median(ipc.lat) / median(port.lat)).toFixed(1)}× faster`],
  ]));
  p();
  p(`CPU time of the echoing process per round trip (channel): ${us(ch.cpuPerMsg)}; its receive spins for up to 50 µs before sleeping, so a busy pair makes no system call.`);
  p();
  const rows = [];
  for (const size of [64, 4096]) {
    const count = n(size === 64 ? 1_000_000 : 200_000);
    const c1 = await throughputChannel(1, count, size);
    const i1 = await throughputIpc(n(size === 64 ? 200_000 : 50_000), size);
    const p1 = await throughputPort(n(size === 64 ? 500_000 : 100_000), size);
    rows.push([`${size} B, 1 → 1`, fmtRate(c1.rate), fmtRate(i1.rate), fmtRate(p1.rate), `${(c1.rate / i1.rate).toFixed(1)}×`, `${us(c1.cpuPerMsg)} (consumer)`]);
  }
  const c4 = await throughputChannel(4, n(250_000), 64);
  rows.push(['64 B, 4 processes → 1', fmtRate(c4.rate), '', '', '', `${us(c4.cpuPerMsg)} (consumer)`]);
  p(table(['one-way throughput', 'Channel', 'child.send (advanced)', 'MessagePort (threads)', 'Channel / child.send', 'CPU per message'], rows));
  p();
  p('Producers spin on `trySend` while the ring (1 MiB) is full; the consumer loops on `receiveBytesSync`. `child.send` sends a 64 B / 4 KiB `Buffer` with advanced serialization; MessagePort posts a Uint8Array from a worker to the main thread.');
  console.log(out.join('\n'));
}

if (!role) {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
