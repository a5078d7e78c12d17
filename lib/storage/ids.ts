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
/** Digits of the sequence within a millisecond. */
const SEQUENCE_DIGITS = 4;
/** 36^4: ids one process can make in one millisecond and still sort in the order made. */
const SEQUENCE_LIMIT = 36 ** SEQUENCE_DIGITS;
const DIGITS = Buffer.from('0123456789abcdefghijklmnopqrstuvwxyz', 'latin1');
/** Where an id is put together: its longest part is the caller's prefix. */
let scratch = Buffer.alloc(64);

/**
 * A prefixed, time-ordered identifier (`msg_…`, `ep_…`): the time in base 36 (9 digits), a
 * sequence within the millisecond (4 digits), then 64 random bits in hex. Ids sort as text
 * (byte order) in the order one process made them, and by time across processes, which is
 * what the stores' cursors page by; the random bits keep them unguessable and unique across
 * processes.
 *
 * Written byte by byte into a buffer and read out as one flat string, in one call into the
 * runtime: joined with `+` or a template, the parts would make a tree of strings, which V8
 * flattens into another the first time the id is a map key (about 100 bytes more for every id
 * the memory store keeps), and a call per part costs more than an emit's other bookkeeping
 * (`npm run bench:delivery`).
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
  const length = prefix.length + 1 + lastTime.length + SEQUENCE_DIGITS + 2 * ID_RANDOM_BYTES;
  if (scratch.length < length) scratch = Buffer.alloc(2 * length);
  let at = writeText(prefix, 0);
  scratch[at++] = 0x5f; // '_'
  at = writeText(lastTime, at);
  for (
    let digit = SEQUENCE_DIGITS - 1, rest = sequence;
    digit >= 0;
    digit--, rest = (rest / 36) | 0
  ) {
    scratch[at + digit] = DIGITS[rest % 36];
  }
  at += SEQUENCE_DIGITS;
  for (let i = offset; i < offset + ID_RANDOM_BYTES; i++) {
    scratch[at++] = DIGITS[pool[i] >> 4];
    scratch[at++] = DIGITS[pool[i] & 0xf];
  }
  offset += ID_RANDOM_BYTES;
  return scratch.toString('latin1', 0, at);
}

/**
 * The ids `<prefix>_<base>_<place>` of `count` records made together (a message's deliveries),
 * each one flat string, as `createId` makes them. `<place>` is the record's index in base 36
 * after one digit that says how many follow, so the ids sort as text in the order made. The
 * shared head is written once for all of them.
 */
export function numberedIds(prefix: string, base: string, count: number): string[] {
  const head = prefix.length + base.length + 2;
  // The place: at most one digit of length and 11 digits of a safe integer in base 36.
  if (scratch.length < head + 12) scratch = Buffer.alloc(2 * (head + 12));
  let at = writeText(prefix, 0);
  scratch[at++] = 0x5f; // '_'
  at = writeText(base, at);
  scratch[at++] = 0x5f;
  const ids = new Array<string>(count);
  for (let index = 0; index < count; index++) {
    let digits = 1;
    for (let rest = index; rest >= 36; rest = Math.floor(rest / 36)) digits++;
    scratch[at] = DIGITS[digits - 1];
    for (let digit = digits, rest = index; digit >= 1; digit--, rest = Math.floor(rest / 36)) {
      scratch[at + digit] = DIGITS[rest % 36];
    }
    ids[index] = scratch.toString('latin1', 0, at + 1 + digits);
  }
  return ids;
}

/** Copies `text` (one byte per character) into the scratch buffer at `at`; returns its end. */
function writeText(text: string, at: number): number {
  for (let i = 0; i < text.length; i++) scratch[at++] = text.charCodeAt(i);
  return at;
}

/**
 * The id of a delivery's `attempt`-th attempt, derived from the delivery id (`dlv_…` becomes
 * `atm_…_<attempt>`): unique without new randomness, so a store may remake it rather than keep it.
 */
export function attemptId(deliveryId: string, attempt: number): string {
  return `atm_${deliveryId.slice(deliveryId.indexOf('_') + 1)}_${attempt}`;
}
