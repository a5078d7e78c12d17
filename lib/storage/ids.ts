import { randomFillSync } from 'node:crypto';

// One system call fills a pool for hundreds of ids: `randomBytes(8)` per id costs more than
// the rest of an emit's bookkeeping.
const POOL_SIZE = 4096;
const ID_RANDOM_BYTES = 8;
const pool = Buffer.alloc(POOL_SIZE);
let offset = POOL_SIZE;
// Many ids are made within one millisecond: its base-36 form is made once, and a sequence
// orders the ids made within it.
let lastMs = -1;
let lastTime = '';
let sequence = 0;
/** 36^4: ids one process can make in one millisecond and still sort in the order made. */
const SEQUENCE_LIMIT = 1_679_616;
/** Where an id is put together: its longest part is the caller's prefix. */
let scratch = Buffer.alloc(64);

/**
 * A prefixed, time-ordered identifier (`msg_…`, `ep_…`): the time in base 36 (9 digits), a
 * sequence within the millisecond (4 digits), then 64 random bits in hex. Ids sort as text
 * (byte order) in the order one process made them, and by time across processes, which is
 * what the stores' cursors page by; the random bits keep them unguessable and unique across
 * processes.
 *
 * Put together in a buffer and read out as one flat string: joined with `+` or a template, the
 * parts would make a tree of strings, which V8 flattens into another the first time the id is a
 * map key, about 100 bytes more for every id the memory store keeps (`npm run bench:store`).
 */
export function createId(prefix: string): string {
  if (offset + ID_RANDOM_BYTES > POOL_SIZE) {
    randomFillSync(pool);
    offset = 0;
  }
  let now = Date.now();
  // A clock set back, or a millisecond used up: the ids go on from the last one.
  if (now < lastMs || (now === lastMs && sequence + 1 >= SEQUENCE_LIMIT)) now = lastMs + 1;
  if (now !== lastMs) {
    lastMs = now;
    lastTime = now.toString(36).padStart(9, '0');
    sequence = 0;
  } else {
    sequence++;
  }
  const length = prefix.length + 1 + lastTime.length + 4 + 2 * ID_RANDOM_BYTES;
  if (scratch.length < length) scratch = Buffer.alloc(2 * length);
  let at = scratch.write(prefix, 0, 'latin1');
  at += scratch.write('_', at, 'latin1');
  at += scratch.write(lastTime, at, 'latin1');
  at += scratch.write(sequence.toString(36).padStart(4, '0'), at, 'latin1');
  at += scratch.write(pool.toString('hex', offset, offset + ID_RANDOM_BYTES), at, 'latin1');
  offset += ID_RANDOM_BYTES;
  return scratch.toString('latin1', 0, at);
}

/**
 * The id of a delivery's `attempt`-th attempt, derived from the delivery id (`dlv_…` becomes
 * `atm_…_<attempt>`): unique without new randomness, so a store may remake it rather than keep it.
 */
export function attemptId(deliveryId: string, attempt: number): string {
  return `atm_${deliveryId.slice(deliveryId.indexOf('_') + 1)}_${attempt}`;
}
