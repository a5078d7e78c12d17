import { randomFillSync } from 'node:crypto';

// One system call fills a pool for hundreds of ids: `randomBytes(10)` per id costs more than
// the rest of an emit's bookkeeping.
const POOL_SIZE = 4096;
const ID_RANDOM_BYTES = 10;
const pool = Buffer.alloc(POOL_SIZE);
let offset = POOL_SIZE;
// Many ids are made within one millisecond: its base-36 form is made once.
let lastMs = -1;
let lastTime = '';

/**
 * A prefixed, roughly time-ordered identifier (`msg_…`, `ep_…`): the time part keeps logs
 * sortable, the 80 random bits keep ids unguessable and unique across processes.
 */
export function createId(prefix: string): string {
  if (offset + ID_RANDOM_BYTES > POOL_SIZE) {
    randomFillSync(pool);
    offset = 0;
  }
  const random = pool.toString('hex', offset, offset + ID_RANDOM_BYTES);
  offset += ID_RANDOM_BYTES;
  const now = Date.now();
  if (now !== lastMs) {
    lastMs = now;
    lastTime = now.toString(36).padStart(9, '0');
  }
  return `${prefix}_${lastTime}${random}`;
}
