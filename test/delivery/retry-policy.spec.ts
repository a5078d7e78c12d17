import { describe, expect, it } from 'vitest';
import {
  DEFAULT_RETRY_DELAYS,
  parseRetryAfter,
  RetryPolicy,
} from '../../lib/delivery/retry-policy.js';

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const middle = () => 0.5;
// [5000, <hole>, 60000]: Array.prototype.map would skip the hole instead of rejecting it.
const sparse = () => {
  const delays = [5000, 0, 60000];
  delete delays[1];
  return delays;
};

describe('DEFAULT_RETRY_DELAYS', () => {
  it('is the Standard Webhooks schedule', () => {
    expect(DEFAULT_RETRY_DELAYS).toEqual([
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
    expect(Object.isFrozen(DEFAULT_RETRY_DELAYS)).toBe(true);
  });
});

describe('RetryPolicy', () => {
  it('follows the default schedule and gives up after 1 + 9 attempts', () => {
    const policy = new RetryPolicy({ random: middle });
    const delays = Array.from({ length: 10 }, (_, index) => policy.nextDelay(index + 1));
    expect(delays).toEqual([...DEFAULT_RETRY_DELAYS, undefined]);
    expect(policy.nextDelay(11)).toBeUndefined();
    expect(policy.nextDelay(1000)).toBeUndefined();
  });

  it('follows a custom schedule', () => {
    const policy = new RetryPolicy({ retryDelays: [10, 20], random: middle });
    expect([1, 2, 3].map((attempt) => policy.nextDelay(attempt))).toEqual([10, 20, undefined]);
  });

  it('never retries with an empty schedule', () => {
    const policy = new RetryPolicy({ retryDelays: [] });
    expect(policy.nextDelay(1)).toBeUndefined();
  });

  it('copies the schedule, so later changes to the options do not leak in', () => {
    const retryDelays = [1000, 2000];
    const policy = new RetryPolicy({ retryDelays, random: middle });
    retryDelays[0] = 99;
    expect(policy.nextDelay(1)).toBe(1000);
  });

  it('jitters by -20% at random 0 and +20% at random 1', () => {
    expect(new RetryPolicy({ random: () => 0 }).nextDelay(2)).toBe(4 * MINUTE);
    expect(new RetryPolicy({ random: () => 1 }).nextDelay(2)).toBe(6 * MINUTE);
    expect(new RetryPolicy({ retryDelays: [10], random: () => 0 }).nextDelay(1)).toBe(8);
    expect(new RetryPolicy({ retryDelays: [10], random: () => 1 }).nextDelay(1)).toBe(12);
  });

  it('keeps Math.random jitter within ±20% and spreads it across that range', () => {
    const policy = new RetryPolicy();
    for (const [index, scheduled] of DEFAULT_RETRY_DELAYS.entries()) {
      const draws = Array.from({ length: 2000 }, () => policy.nextDelay(index + 1)!);
      expect(Math.min(...draws)).toBeGreaterThanOrEqual(Math.round(scheduled * 0.8));
      expect(Math.max(...draws)).toBeLessThanOrEqual(Math.round(scheduled * 1.2));
      // Spread: both outer tenths of the range are hit, so it is not a constant offset.
      expect(draws.some((draw) => draw < scheduled * 0.84)).toBe(true);
      expect(draws.some((draw) => draw > scheduled * 1.16)).toBe(true);
    }
  });

  it('does not jitter a zero delay below zero', () => {
    const policy = new RetryPolicy({ retryDelays: [0], random: () => 0 });
    expect(policy.nextDelay(1)).toBe(0);
  });

  describe('with Retry-After', () => {
    it('waits longer when the receiver asks for more than the schedule', () => {
      const policy = new RetryPolicy({ random: middle });
      expect(policy.nextDelay(1, 2 * MINUTE)).toBe(2 * MINUTE);
    });

    it('never retries sooner than the schedule, so Retry-After: 0 cannot cause a storm', () => {
      const policy = new RetryPolicy({ random: middle });
      expect(policy.nextDelay(2, 0)).toBe(5 * MINUTE);
      expect(policy.nextDelay(2, SECOND)).toBe(5 * MINUTE);
      expect(new RetryPolicy({ random: () => 0 }).nextDelay(2, 0)).toBe(4 * MINUTE);
    });

    it('keeps a short test schedule short: no fixed 1 s floor', () => {
      const policy = new RetryPolicy({ retryDelays: [10, 20], random: middle });
      expect(policy.nextDelay(1, 0)).toBe(10);
      expect(policy.nextDelay(1, 15)).toBe(15);
      expect(policy.nextDelay(2, 5)).toBe(20);
    });

    it('caps Retry-After at 24 h by default', () => {
      const policy = new RetryPolicy({ random: middle });
      expect(policy.nextDelay(1, 365 * 24 * HOUR)).toBe(24 * HOUR);
      expect(policy.nextDelay(1, Infinity)).toBe(24 * HOUR);
      expect(policy.nextDelay(1, Number.MAX_SAFE_INTEGER)).toBe(24 * HOUR);
    });

    it('caps Retry-After at maxRetryAfterMs, but never cuts the schedule itself', () => {
      const policy = new RetryPolicy({
        retryDelays: [10, 5000],
        random: middle,
        maxRetryAfterMs: 100,
      });
      expect(policy.nextDelay(1, 60 * SECOND)).toBe(100);
      expect(policy.nextDelay(2, 60 * SECOND)).toBe(5000);
    });

    it('ignores an unusable Retry-After', () => {
      const policy = new RetryPolicy({ random: middle });
      expect(policy.nextDelay(1, -5)).toBe(5 * SECOND);
      expect(policy.nextDelay(1, Number.NaN)).toBe(5 * SECOND);
    });

    it('still gives up when the schedule is exhausted', () => {
      const policy = new RetryPolicy({ retryDelays: [10], random: middle });
      expect(policy.nextDelay(2, 60 * SECOND)).toBeUndefined();
    });
  });

  describe('validation', () => {
    const invalid: [unknown, number, string][] = [
      [[1000, -1], 1, '-1'],
      [[Number.NaN], 0, 'NaN'],
      [[5, Infinity], 1, 'Infinity'],
      [[5, 10, '300'], 2, '"300"'],
      [[null], 0, 'null'],
      [sparse(), 1, 'undefined'],
    ];

    it.each(invalid)('rejects %j naming index %i and the value', (retryDelays, index, shown) => {
      expect(() => new RetryPolicy({ retryDelays: retryDelays as number[] })).toThrow(
        `retryDelays[${index}] must be a non-negative finite number of milliseconds (got ${shown})`,
      );
    });

    it('rejects a schedule that is not an array', () => {
      expect(() => new RetryPolicy({ retryDelays: 5000 as unknown as number[] })).toThrow(
        'retryDelays must be an array of milliseconds, e.g. [5000, 300000] (got 5000)',
      );
    });

    it('rejects an invalid maxRetryAfterMs', () => {
      expect(() => new RetryPolicy({ maxRetryAfterMs: -1 })).toThrow(/maxRetryAfterMs.*got -1/);
    });

    it('rejects attempt numbers that do not exist', () => {
      const policy = new RetryPolicy();
      for (const attempt of [0, -1, 1.5, Number.NaN]) {
        expect(() => policy.nextDelay(attempt)).toThrow(/Attempt numbers start at 1/);
      }
    });
  });
});

describe('parseRetryAfter', () => {
  const now = Date.UTC(2015, 9, 21, 7, 28, 0);

  it('reads delta-seconds', () => {
    expect(parseRetryAfter('120', now)).toBe(120 * SECOND);
    expect(parseRetryAfter('0', now)).toBe(0);
    expect(parseRetryAfter(' 5 ', now)).toBe(5 * SECOND);
    expect(parseRetryAfter(['30', '60'], now)).toBe(30 * SECOND);
  });

  it('saturates overlong delta-seconds instead of overflowing', () => {
    expect(parseRetryAfter('9'.repeat(400), now)).toBe(Number.MAX_SAFE_INTEGER);
  });

  it('reads the three HTTP-date forms as UTC', () => {
    expect(parseRetryAfter('Wed, 21 Oct 2015 07:30:00 GMT', now)).toBe(2 * MINUTE);
    expect(parseRetryAfter('Wednesday, 21-Oct-15 07:30:00 GMT', now)).toBe(2 * MINUTE);
    expect(parseRetryAfter('Wed Oct 21 07:30:00 2015', now)).toBe(2 * MINUTE);
    expect(parseRetryAfter('Fri Nov  6 08:49:37 2015', now)).toBe(
      Date.UTC(2015, 10, 6, 8, 49, 37) - now,
    );
  });

  it('treats a date in the past as no wait', () => {
    expect(parseRetryAfter('Wed, 21 Oct 2015 07:00:00 GMT', now)).toBe(0);
  });

  it.each([
    undefined,
    [],
    '',
    'soon',
    '-5',
    '1.5',
    '12.5',
    '1e3',
    '0x10',
    '2015-10-21T07:30:00Z',
    'Wed, 21 Oct 2015 07:30:00 PST',
    'Wed, 31 Feb 2015 07:30:00 GMT',
    'Wed, 21 Oct 2015 25:30:00 GMT',
  ])('returns undefined for %j', (value) => {
    expect(parseRetryAfter(value as string | string[] | undefined, now)).toBeUndefined();
  });
});
