/**
 * A channel's segment: a small header, the ring's control words and
 * per-slot words, then the slots.
 *
 *   0    magic 'SHMKCHN\0'
 *   8    uint32 format version (1)
 *   12   uint32 slots, N (a power of two, 16 .. 2^24)
 *   16   uint32 bytes per slot (64)
 *   64   ctl   Int32 x CTL_WORDS (ring.ts CTL)
 *   256  own   BigInt64 x N
 *        seq   Int32 x N
 *        klen  Int32 x N
 *        info  Int32 x 2N
 *        data  N x 64 bytes, 64-byte aligned
 * @internal
 */
import { ShmError } from '../errors';
import { CHANNEL_MAGIC } from '../magic';
import { CTL_WORDS, SLOT, type RingArrays } from './ring';

export const VERSION = 1;
export const MIN_SLOTS = 16;
export const MAX_SLOTS = 1 << 24;
const CTL_AT = 64;
const OWN_AT = 256;

/** Byte offsets of the arrays for N slots, and the whole size. */
export function plan(n: number): { seq: number; klen: number; info: number; data: number; size: number } {
  const seq = OWN_AT + 8 * n;
  const klen = seq + 4 * n;
  const info = klen + 4 * n;
  const data = Math.ceil((info + 8 * n) / SLOT) * SLOT;
  return { seq, klen, info, data, size: data + SLOT * n };
}

/** Slots for a ring of at least `bytes` bytes: a power of two, at least MIN_SLOTS. */
export function slotsForBytes(bytes: number): number {
  let n = MIN_SLOTS;
  while (n * SLOT < bytes) n *= 2;
  return n;
}

/** Writes the header of a fresh (zero-filled) segment. */
export function writeHeader(buffer: ArrayBufferLike, n: number): void {
  const u8 = new Uint8Array(buffer);
  const u32 = new Uint32Array(buffer, 0, 5);
  u32[3] = n;
  u32[4] = SLOT;
  u32[2] = VERSION;
  u8.set(CHANNEL_MAGIC, 0); // last: a reader that sees the magic sees the rest
}

/** The ring's arrays over a segment, after checking its header. */
export function arrays(buffer: ArrayBufferLike, size: number, what: string): RingArrays {
  const bad = (why: string) => new ShmError('ERR_SHM_BAD_HEADER', `segment '${what}' is not a shmkit channel: ${why}`);
  if (size < OWN_AT) throw bad(`${size} bytes is too small`);
  const u8 = new Uint8Array(buffer, 0, 8);
  for (let i = 0; i < CHANNEL_MAGIC.length; i++) if (u8[i] !== CHANNEL_MAGIC[i]) throw bad('wrong magic');
  const u32 = new Uint32Array(buffer, 0, 5);
  if (u32[2] !== VERSION) throw bad(`format version ${u32[2]}, this shmkit reads version ${VERSION}`);
  const n = u32[3]!;
  if (n < MIN_SLOTS || n > MAX_SLOTS || (n & (n - 1)) !== 0) throw bad(`bad slot count ${n}`);
  if (u32[4] !== SLOT) throw bad(`bad slot size ${u32[4]}`);
  const p = plan(n);
  if (p.size > size) throw bad(`${n} slots need ${p.size} bytes, the segment has ${size}`);
  return {
    ctl: new Int32Array(buffer, CTL_AT, CTL_WORDS),
    own: new BigInt64Array(buffer, OWN_AT, n),
    seq: new Int32Array(buffer, p.seq, n),
    klen: new Int32Array(buffer, p.klen, n),
    info: new Int32Array(buffer, p.info, 2 * n),
    data: new Uint8Array(buffer, p.data, SLOT * n),
  };
}
