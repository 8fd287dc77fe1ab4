/**
 * What SharedMemory.list says of one /dev/shm entry: its size, kind (a
 * table's or a channel's magic at offset 0, or raw) and owner.
 * @internal
 */
import * as fs from 'node:fs';
import type { SystemError } from './errors';
import { CHANNEL_MAGIC, TABLE_MAGIC } from './magic';
import { SHM_DIR } from './names';
import { ownerOf } from './ownership';
import type { SegmentInfo } from './segment-types';

const { O_RDONLY } = fs.constants;

/** Size and kind of one /dev/shm entry; undefined if it vanished meanwhile. */
export function describeSegment(name: string): SegmentInfo | undefined {
  let fd: number;
  try {
    fd = fs.openSync(`${SHM_DIR}/${name}`, O_RDONLY);
  } catch (err) {
    if ((err as SystemError).code === 'ENOENT') return undefined;
    // Not readable by us: we can still say how large it is.
    try {
      return { name, size: fs.statSync(`${SHM_DIR}/${name}`).size, kind: 'raw' };
    } catch {
      return undefined;
    }
  }
  try {
    const size = fs.fstatSync(fd).size;
    const head = Buffer.alloc(TABLE_MAGIC.length);
    const n = size >= head.length ? fs.readSync(fd, head, 0, head.length, 0) : 0;
    const kind = n < head.length ? 'raw' : head.equals(TABLE_MAGIC) ? 'table' : head.equals(CHANNEL_MAGIC) ? 'channel' : 'raw';
    const owner = ownerOf(name);
    return owner === undefined ? { name, size, kind } : { name, size, owner: { pid: owner.pid, alive: owner.alive }, kind };
  } finally {
    fs.closeSync(fd);
  }
}
