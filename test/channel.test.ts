/**
 * Channels: values and bytes through the ring, errors, and many real
 * producer and consumer processes (one of them SIGKILLed mid-stream).
 */
import { describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import type { ChildProcess } from 'node:child_process';
import { Channel, SharedMemory, type SegmentHandle } from '../lib/index';
import { exited, forkFixture, nextMessage, testScope, tsWorker, waitFor, workerMessage } from './helpers';

const { fresh, children } = testScope('channel');

function peer(args: string[]): ChildProcess {
  const c = forkFixture('channel-peer', args);
  children.push(c);
  return c;
}

/** The code of what `f` throws. */
function codeOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (err) {
    return (err as NodeJS.ErrnoException).code;
  }
  return undefined;
}

describe('Channel: values and bytes', () => {
  it('carries numbers, strings, booleans, null, undefined, objects and bytes, in order, across the end of the ring', () => {
    const ch = Channel.create({ name: fresh(), bytes: 4096 });
    const rx = Channel.attach(ch.handle);
    const values: unknown[] = [0, -1.5, NaN, 2 ** 60, '', 'é日本', 'x'.repeat(1000), true, false, null, undefined, { a: [1, 'b'], d: new Date(5) }, 10n, new Map([[1, 2]])];
    for (let round = 0; round < 40; round++) {
      for (const v of values) ch.send(v);
      const bytes = new Uint8Array(300 + round).map((_, i) => (i * round) & 255);
      ch.sendBytes(bytes);
      for (const v of values) expect(rx.receiveSync(0)).toEqual(v);
      expect(rx.receiveBytesSync(0)).toEqual(bytes);
    }
    expect(rx.receiveSync(5)).toBeUndefined(); // nothing left: undefined after the timeout
    ch.send(new Uint8Array([1, 2, 3])); // a Uint8Array value goes as bytes
    expect(rx.receiveBytesSync(0)).toEqual(new Uint8Array([1, 2, 3]));
    rx.segment.close();
    ch.segment.close();
    ch.unlink();
  });

  it('refuses what does not fit, a full ring, a closed channel and a detached handle with clear codes, losing nothing', async () => {
    const ch = Channel.create({ name: fresh(), bytes: 1024 });
    expect(ch.maxMessageBytes).toBe(1024);
    expect(codeOf(() => ch.send('y'.repeat(1025)))).toBe('ERR_SHM_MESSAGE_TOO_LARGE');
    let n = 0;
    while (ch.trySend(n)) n++;
    expect(n).toBe(16); // 16 slots of 64 bytes, a number each
    expect(codeOf(() => ch.send(99))).toBe('ERR_SHM_CHANNEL_FULL');
    await expect(ch.sendAsync(99, { timeout: 30 })).rejects.toMatchObject({ code: 'ERR_SHM_LOCK_TIMEOUT' });
    // receiveBytes on a value leaves it there.
    expect(codeOf(() => ch.receiveBytesSync(0))).toBe('ERR_SHM_VALUE');
    const pending = ch.sendAsync('after room');
    expect(ch.receiveSync(0)).toBe(0);
    await pending; // woken by the receive that made room
    for (let i = 1; i < 16; i++) expect(await ch.receive()).toBe(i);
    expect(await ch.receive()).toBe('after room');
    await expect(ch.receive({ timeout: 20 })).rejects.toMatchObject({ code: 'ERR_SHM_LOCK_TIMEOUT' });
    ch.send('last');
    ch.close();
    expect(ch.closed).toBe(true);
    expect(codeOf(() => ch.send(1))).toBe('ERR_SHM_CHANNEL_CLOSED');
    expect(ch.receiveSync()).toBe('last'); // drained first…
    expect(codeOf(() => ch.receiveSync())).toBe('ERR_SHM_CHANNEL_CLOSED'); // …then closed, at once
    await expect(ch.receive()).rejects.toMatchObject({ code: 'ERR_SHM_CHANNEL_CLOSED' });
    ch.segment.close();
    expect(codeOf(() => ch.receiveSync(0))).toBe('ERR_SHM_CLOSED');
    ch.unlink();
  });

  it('refuses a segment that is not a channel, or whose header is corrupt, with ERR_SHM_BAD_HEADER', () => {
    const raw = SharedMemory.create({ name: fresh(), size: 65536 });
    expect(codeOf(() => Channel.attach(raw.handle))).toBe('ERR_SHM_BAD_HEADER');
    const ch = Channel.create({ name: fresh(), bytes: 2048 });
    const u32 = new Uint32Array(ch.segment.buffer, 0, 5);
    for (const [word, value] of [[2, 99], [3, 17], [3, 1 << 30], [4, 32]] as const) {
      const keep = u32[word]!;
      u32[word] = value;
      expect(codeOf(() => Channel.attach(ch.name)), `word ${word} = ${value}`).toBe('ERR_SHM_BAD_HEADER');
      u32[word] = keep;
    }
    expect(Channel.attach(ch.name).maxMessageBytes).toBe(2048);
    expect(SharedMemory.list({ prefix: ch.name })).toMatchObject([{ name: ch.name, kind: 'channel' }]);
    raw.close();
    raw.unlink();
    ch.segment.close();
    ch.unlink();
    expect(codeOf(() => Channel.create({ bytes: 0 }))).toBe('ERR_OUT_OF_RANGE');
  });

  it('lets a worker thread receive with for await until the channel is closed and drained', async () => {
    const ch = Channel.create({ name: fresh(), bytes: 1 << 16 });
    const w = tsWorker('channel-thread', ch.handle);
    const reply = workerMessage<{ sum: number; count: number }>(w);
    for (let i = 1; i <= 5000; i++) await ch.sendAsync(i);
    ch.close();
    expect(await reply).toEqual({ sum: (5000 * 5001) / 2, count: 5000 });
    await w.terminate();
    ch.segment.close();
    ch.unlink();
  }, 60_000);
});

/** Runs 4 producers × `count` messages and 2 consumers; kills producer 0 after `killAfter` ms if given. */
async function stream(count: number, killAfter?: number) {
  const ch = Channel.create({ name: fresh(), bytes: 1 << 16 });
  const h = JSON.stringify(ch.handle satisfies SegmentHandle);
  const consumers = [0, 1].map(() => peer(['consume', h, '4', String(count)]));
  const producers = [0, 1, 2, 3].map((id) => peer(['produce', h, String(id), String(count)]));
  await Promise.all(producers.map((p) => nextMessage(p)));
  if (killAfter !== undefined) {
    await new Promise((r) => setTimeout(r, killAfter));
    producers[0]!.kill('SIGKILL');
  }
  const done = await Promise.all(producers.map((p) => exited(p)));
  ch.close();
  const reports = await Promise.all(consumers.map((c) => nextMessage<{ got: string; bad: number; outOfOrder: number; n: number }>(c)));
  ch.segment.close();
  ch.unlink();
  const seen = new Uint8Array(4 * count);
  let twice = 0;
  for (const r of reports) {
    const bits = Buffer.from(r.got, 'base64');
    for (let i = 0; i < 4 * count; i++) {
      if (bits[i >> 3]! & (1 << (i & 7))) {
        if (seen[i]) twice++;
        seen[i] = 1;
      }
    }
  }
  const perProducer = [0, 1, 2, 3].map((id) => seen.subarray(id * count, (id + 1) * count).reduce((a, b) => a + b, 0));
  return { reports, twice, perProducer, seen, done, total: reports.reduce((a, r) => a + r.n, 0) };
}

describe('Channel between processes', () => {
  it('4 producer processes × 100,000 messages, 2 consumers: every message exactly once, each producer in order, none torn', async () => {
    const r = await stream(100_000);
    expect(r.reports.map((x) => [x.bad, x.outOfOrder])).toEqual([[0, 0], [0, 0]]);
    expect(r.twice).toBe(0);
    expect(r.perProducer).toEqual([100_000, 100_000, 100_000, 100_000]);
    expect(r.total).toBe(400_000);
    expect(r.reports.every((x) => x.n > 0)).toBe(true); // both consumers took part
  }, 180_000);

  it('with a producer SIGKILLed mid-stream: the others all arrive, the dead one a prefix, none torn, none twice', async () => {
    const r = await stream(100_000, 150);
    expect(r.done[0]!.signal).toBe('SIGKILL');
    expect(r.reports.map((x) => [x.bad, x.outOfOrder])).toEqual([[0, 0], [0, 0]]);
    expect(r.twice).toBe(0);
    expect(r.perProducer.slice(1)).toEqual([100_000, 100_000, 100_000]);
    const dead = r.perProducer[0]!;
    expect(dead).toBeLessThan(100_000);
    // What it sent before dying arrived: a prefix, less at most the one message it was writing.
    const firstMissing = r.seen.subarray(0, 100_000).indexOf(0);
    expect(r.seen.subarray(firstMissing + 1, 100_000).reduce((a, b) => a + b, 0)).toBe(0);
    expect(r.total).toBe(300_000 + dead);
  }, 180_000);

  it('lets the event loop take turns while for await drains a channel that never runs dry', async () => {
    const ch = Channel.create({ bytes: 1 << 20, name: fresh() });
    const p = peer(['produce', JSON.stringify(ch.handle), '0', '400000']);
    await nextMessage(p);
    const ticks: number[] = [];
    const timer = setInterval(() => ticks.push(performance.now()), 1);
    let n = 0;
    const start = performance.now();
    for await (const m of ch) {
      void m;
      if (++n === 400_000) break;
    }
    const end = performance.now();
    clearInterval(timer);
    await exited(p);
    expect(n).toBe(400_000);
    // The timer fired all along the stream, not only after it: gaps stay short.
    const inside = ticks.filter((t) => t < end);
    expect(inside.length).toBeGreaterThan(10);
    const gaps = [start, ...inside, end].slice(1).map((t, i, a) => t - (i === 0 ? start : a[i - 1]!));
    expect(Math.max(...gaps)).toBeLessThan(250);
    ch.close();
    ch.segment.close();
  }, 60_000);

  it('is unlinked when its owner process dies, like any segment', async () => {
    const name = fresh();
    const c = forkFixture('channel-owner', [name]);
    children.push(c);
    await nextMessage(c);
    expect(SharedMemory.list({ prefix: name })).toMatchObject([{ name, kind: 'channel' }]);
    c.kill('SIGKILL');
    await exited(c);
    await waitFor(() => !fs.existsSync(`/dev/shm/${name}`), 'the dead owner’s channel to be unlinked', 10_000);
  }, 30_000);
});
