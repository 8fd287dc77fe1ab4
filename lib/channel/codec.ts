/**
 * How a channel message's value becomes bytes and back. Numbers, strings,
 * booleans, null and undefined have encodings of their own (v8.serialize
 * costs microseconds even for a small integer); a Uint8Array (Buffer
 * included) is copied as it is, as `sendBytes` does; anything else structured
 * cloneable goes through v8.serialize.
 * @internal
 */
import * as v8 from 'node:v8';

export const TAG = {
  bytes: 0,
  v8: 1,
  number: 2,
  string: 3,
  undefined: 4,
  null: 5,
  true: 6,
  false: 7,
} as const;

/** A value ready to copy into the ring: its tag and byte length, and how to write it. */
export interface Encoded {
  tag: number;
  bytes: number;
  /** Raw bytes to copy (bytes, v8); for number and string the value itself is written in place. */
  raw?: Uint8Array;
  value?: number | string;
}

const EMPTY = new Uint8Array(0);

/** The encoding of `value`. @throws what v8.serialize throws for values it cannot clone */
export function encode(value: unknown): Encoded {
  switch (typeof value) {
    case 'number':
      return { tag: TAG.number, bytes: 8, value };
    case 'string':
      return { tag: TAG.string, bytes: Buffer.byteLength(value, 'utf8'), value };
    case 'boolean':
      return { tag: value ? TAG.true : TAG.false, bytes: 0, raw: EMPTY };
    case 'undefined':
      return { tag: TAG.undefined, bytes: 0, raw: EMPTY };
    default:
      if (value === null) return { tag: TAG.null, bytes: 0, raw: EMPTY };
      // Bytes (a Buffer too) go as they are, as with sendBytes: the receiver gets a Uint8Array.
      if (value instanceof Uint8Array) return { tag: TAG.bytes, bytes: value.length, raw: value };
      {
        const raw = v8.serialize(value);
        return { tag: TAG.v8, bytes: raw.length, raw };
      }
  }
}

/**
 * Writes an encoded value at `at` of `data` when it fits there without
 * wrapping (`room` bytes): true if written, false if the caller must
 * write {@link flatten}'s bytes in two parts.
 */
export function writeInPlace(data: Uint8Array, buf: Buffer, at: number, room: number, e: Encoded): boolean {
  if (e.bytes > room) return false;
  if (e.tag === TAG.number) buf.writeDoubleLE(e.value as number, at);
  else if (e.tag === TAG.string) buf.write(e.value as string, at, e.bytes, 'utf8');
  else data.set(e.raw!, at);
  return true;
}

/** The bytes of an encoded value, for a write that wraps around the ring. */
export function flatten(e: Encoded): Uint8Array {
  if (e.raw) return e.raw;
  if (e.tag === TAG.number) {
    const b = Buffer.allocUnsafe(8);
    b.writeDoubleLE(e.value as number, 0);
    return b;
  }
  return Buffer.from(e.value as string, 'utf8');
}

/**
 * A number as read from memory, as a small integer (V8's Smi) when it is
 * one. `readDoubleLE` gives a heap double even for 7; a loop that starts
 * from it (`for (let i = start; …) x[i]`) then runs on float64 indexes,
 * measured 1.5× slower than with the same value from child.send.
 */
export function smi(v: number): number {
  return (v | 0) === v && !Object.is(v, -0) ? v | 0 : v;
}

/** The value of a message's bytes (`bytes` tag: a copy of them). */
export function decode(tag: number, bytes: Uint8Array): unknown {
  switch (tag) {
    case TAG.bytes:
      return bytes;
    case TAG.number:
      return smi(Buffer.from(bytes.buffer, bytes.byteOffset, 8).readDoubleLE(0));
    case TAG.string:
      return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('utf8');
    case TAG.undefined:
      return undefined;
    case TAG.null:
      return null;
    case TAG.true:
      return true;
    case TAG.false:
      return false;
    default:
      return v8.deserialize(bytes);
  }
}
