/**
 * The first bytes of a record table segment, so that `list()` can tell a
 * table from a raw segment without parsing it.
 * @internal
 */
export const TABLE_MAGIC: Buffer = Buffer.from('SHMKTBL\0', 'latin1');

/** The first bytes of a channel's segment (lib/channel/layout.ts). @internal */
export const CHANNEL_MAGIC: Buffer = Buffer.from('SHMKCHN\0', 'latin1');
