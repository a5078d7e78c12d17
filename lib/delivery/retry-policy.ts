import {
  invalidAttemptNumber,
  invalidMaxRetryAfter,
  invalidRetryDelay,
  invalidRetryDelays,
} from '../webhooks.messages.js';

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

/** The Standard Webhooks retry schedule in ms: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h, 24 h. */
export const DEFAULT_RETRY_DELAYS: readonly number[] = Object.freeze([
  5 * SECOND,
  5 * MINUTE,
  30 * MINUTE,
  2 * HOUR,
  5 * HOUR,
  10 * HOUR,
  14 * HOUR,
  20 * HOUR,
  24 * HOUR,
]);

/** Default upper bound on how long a receiver's `Retry-After` may postpone a retry. */
export const DEFAULT_MAX_RETRY_AFTER_MS = 24 * HOUR;

// ±20%: enough to spread retries of a burst that failed together (a receiver that was down)
// so they do not all return at the same instant when it comes back.
const JITTER = 0.2;

/** Options of `RetryPolicy`. */
export interface RetryPolicyOptions {
  /** Milliseconds before each retry; default `DEFAULT_RETRY_DELAYS`. `[]` disables retries. */
  retryDelays?: readonly number[];
  /** Source of uniform numbers in [0, 1); injectable so tests can pin the jitter. */
  random?: () => number;
  /** Cap on a receiver's `Retry-After`, in ms; default 24 h. */
  maxRetryAfterMs?: number;
}

/**
 * When to retry a failed attempt: the schedule with ±20% jitter, stretched (never shortened)
 * by a receiver's `Retry-After`.
 */
export class RetryPolicy {
  /** The validated schedule, in ms before retry 1, 2, … */
  readonly retryDelays: readonly number[];
  private readonly random: () => number;
  private readonly maxRetryAfterMs: number;

  constructor(options: RetryPolicyOptions = {}) {
    this.retryDelays = Object.freeze(validateDelays(options.retryDelays ?? DEFAULT_RETRY_DELAYS));
    this.random = options.random ?? Math.random;
    const maxRetryAfterMs = options.maxRetryAfterMs ?? DEFAULT_MAX_RETRY_AFTER_MS;
    if (!isNonNegativeFinite(maxRetryAfterMs)) {
      throw new Error(invalidMaxRetryAfter(maxRetryAfterMs));
    }
    this.maxRetryAfterMs = maxRetryAfterMs;
  }

  /**
   * Milliseconds to wait after attempt `attemptNumber` (1-based) failed, or `undefined` when
   * that was the last one. `retryAfterMs` is the receiver's parsed `Retry-After`, if any.
   */
  nextDelay(attemptNumber: number, retryAfterMs?: number): number | undefined {
    if (!Number.isSafeInteger(attemptNumber) || attemptNumber < 1) {
      throw new Error(invalidAttemptNumber(attemptNumber));
    }
    const scheduled = this.retryDelays[attemptNumber - 1];
    if (scheduled === undefined) {
      return undefined;
    }
    const jittered = Math.round(scheduled * (1 - JITTER + 2 * JITTER * this.random()));
    if (retryAfterMs === undefined || !(retryAfterMs >= 0)) {
      return jittered;
    }
    // Retry-After is honoured as a minimum, not a replacement. A fixed floor such as 1 s would
    // be wrong for short schedules (tests, `[10, 20]`), and letting it shorten the schedule
    // would let a receiver that answers `Retry-After: 0` to every request turn backoff into a
    // retry storm. The cap keeps a buggy or hostile receiver from parking a delivery for years;
    // the schedule itself, which the operator chose, is never capped.
    return Math.max(jittered, Math.min(Math.ceil(retryAfterMs), this.maxRetryAfterMs));
  }
}

/**
 * Milliseconds a `Retry-After` header asks to wait, from delta-seconds (`'120'`) or an HTTP-date
 * (0 if that date is past); `undefined` when absent or unparsable.
 */
export function parseRetryAfter(
  value: string | string[] | undefined,
  now: number = Date.now(),
): number | undefined {
  // A repeated header is ambiguous; the first one is what most HTTP clients report.
  const raw = Array.isArray(value) ? value[0] : value;
  if (typeof raw !== 'string') {
    return undefined;
  }
  const text = raw.trim();
  if (/^\d+$/.test(text)) {
    // RFC 9110 tells recipients to saturate overlong delta-seconds rather than reject them.
    return Math.min(Number(text) * SECOND, Number.MAX_SAFE_INTEGER);
  }
  const date = parseHttpDate(text, now);
  return date === undefined ? undefined : Math.max(0, date - now);
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const DAY = '(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)';
const LONG_DAY = '(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)';
const MONTH = `(${MONTHS.join('|')})`;
const TIME = '(\\d{2}):(\\d{2}):(\\d{2})';
// The three forms RFC 9110 §5.6.7 requires recipients to accept. Date.parse is no substitute:
// it accepts almost anything ('1', '12.5') and reads asctime, which has no zone, as local time.
const IMF_FIXDATE = new RegExp(`^${DAY}, (\\d{2}) ${MONTH} (\\d{4}) ${TIME} GMT$`);
const RFC850_DATE = new RegExp(`^${LONG_DAY}, (\\d{2})-${MONTH}-(\\d{2}) ${TIME} GMT$`);
const ASCTIME_DATE = new RegExp(`^${DAY} ${MONTH} ( \\d|\\d{2}) ${TIME} (\\d{4})$`);

function parseHttpDate(text: string, now: number): number | undefined {
  let match = IMF_FIXDATE.exec(text);
  if (match) {
    const [, day, month, year, hours, minutes, seconds] = match;
    return utc(year!, month!, day!, hours!, minutes!, seconds!);
  }
  match = RFC850_DATE.exec(text);
  if (match) {
    const [, day, month, twoDigitYear, hours, minutes, seconds] = match;
    // RFC 9110: a two-digit year more than 50 years in the future belongs to the past century.
    let year = 2000 + Number(twoDigitYear);
    if (year > new Date(now).getUTCFullYear() + 50) {
      year -= 100;
    }
    return utc(String(year), month!, day!, hours!, minutes!, seconds!);
  }
  match = ASCTIME_DATE.exec(text);
  if (match) {
    const [, month, day, hours, minutes, seconds, year] = match;
    return utc(year!, month!, day!, hours!, minutes!, seconds!);
  }
  return undefined;
}

function utc(
  year: string,
  month: string,
  day: string,
  hours: string,
  minutes: string,
  seconds: string,
): number | undefined {
  const monthIndex = MONTHS.indexOf(month);
  const fields = [Number(day), Number(hours), Number(minutes), Number(seconds)] as const;
  const time = Date.UTC(Number(year), monthIndex, ...fields);
  // Date.UTC rolls 31 Feb over into March; a date that does not round-trip is garbage.
  const parsed = new Date(time);
  const valid =
    parsed.getUTCDate() === fields[0] &&
    parsed.getUTCMonth() === monthIndex &&
    parsed.getUTCHours() === fields[1] &&
    parsed.getUTCMinutes() === fields[2] &&
    parsed.getUTCSeconds() === fields[3];
  return valid ? time : undefined;
}

function validateDelays(delays: unknown): number[] {
  if (!Array.isArray(delays)) {
    throw new Error(invalidRetryDelays(delays));
  }
  // Array.from, unlike map, visits the holes of a sparse array such as [5000, , 60000].
  return Array.from(delays, (delay: unknown, index) => {
    if (!isNonNegativeFinite(delay)) {
      throw new Error(invalidRetryDelay(delay, index));
    }
    return delay;
  });
}

function isNonNegativeFinite(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0;
}
