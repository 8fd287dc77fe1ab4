/**
 * What SharedMemory.list says of one /dev/shm entry: its size, kind (a
 * table's or a channel's magic at offset 0, or raw) and owner; and, for
 * `shmkit df`, how much memory each entry holds.
 * @internal
 */
import * as fs from 'node:fs';
import type { SystemError } from './errors';
import { CHANNEL_MAGIC, TABLE_MAGIC } from './magic';
import { SHM_DIR } from './names';
import { ownerOf } from './ownership';
import type { SegmentInfo } from './segment-types';

const { O_RDONLY } = fs.constants;

/** A /dev/shm entry and the memory it holds. */
export interface SegmentHolding extends SegmentInfo {
  /**
   * Bytes of the filesystem it takes (`st_blocks × 512`): its pages, not its
   * apparent size (a growable table's extent is sparse: terabytes apparent,
   * only the rows it holds in memory).
   */
  held: number;
}

/**
 * Every regular file directly under /dev/shm whose name starts with
 * `prefix`, with its size, kind, owner and the memory it holds, sorted by
 * name (SharedMemory.list, `shmkit df`). Entries that vanish meanwhile are left out.
 * @throws the fs error of readdir (`ENOENT` where there is no /dev/shm)
 */
export function listHoldings(prefix = ''): SegmentHolding[] {
  const out: SegmentHolding[] = [];
  for (const entry of fs.readdirSync(SHM_DIR, { withFileTypes: true })) {
    if (!entry.isFile() || !entry.name.startsWith(prefix)) continue;
    const d = describeHolding(entry.name);
    if (d) out.push(d);
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** Size, kind, owner and held bytes of one /dev/shm entry; undefined if it vanished meanwhile. */
function describeHolding(name: string): SegmentHolding | undefined {
  let fd: number;
  try {
    fd = fs.openSync(`${SHM_DIR}/${name}`, O_RDONLY);
  } catch (err) {
    if ((err as SystemError).code === 'ENOENT') return undefined;
    // Not readable by us: we can still say how large it is.
    try {
      const st = fs.statSync(`${SHM_DIR}/${name}`);
      return { name, size: st.size, kind: 'raw', held: st.blocks * 512 };
    } catch {
      return undefined;
    }
  }
  try {
    const st = fs.fstatSync(fd);
    const size = st.size;
    const held = st.blocks * 512;
    const head = Buffer.alloc(TABLE_MAGIC.length);
    const n = size >= head.length ? fs.readSync(fd, head, 0, head.length, 0) : 0;
    const kind = n < head.length ? 'raw' : head.equals(TABLE_MAGIC) ? 'table' : head.equals(CHANNEL_MAGIC) ? 'channel' : 'raw';
    const owner = ownerOf(name);
    return owner === undefined ? { name, size, kind, held } : { name, size, owner: { pid: owner.pid, alive: owner.alive }, kind, held };
  } finally {
    fs.closeSync(fd);
  }
}
