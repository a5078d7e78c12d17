import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DeadlineList, type Expiring } from '../../lib/delivery/transports/deadline-list.js';

interface Item extends Expiring<Item> {
  name: string;
}

/** An item due at `deadline` on the (fake) clock, that notes when it expired. */
function item(deadline: number, expired: string[], name = String(deadline)): Item {
  return { name, deadline, expire: () => expired.push(`${name}@${performance.now()}`) };
}

describe('DeadlineList', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 0 });
  });

  afterEach(() => {
    vi.useRealTimers();
  });

  it('expires each item at its own deadline, with one timer for all of them', () => {
    const expired: string[] = [];
    const list = new DeadlineList<Item>();
    list.add(item(100, expired));
    list.add(item(150, expired));
    list.add(item(150, expired, 'second 150'));
    list.add(item(300, expired));
    expect(vi.getTimerCount()).toBe(1);

    vi.advanceTimersByTime(99);
    expect(expired).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(expired).toEqual(['100@100']);
    vi.advanceTimersByTime(50);
    expect(expired).toEqual(['100@100', '150@150', 'second 150@150']);
    vi.advanceTimersByTime(1_000);
    expect(expired).toEqual(['100@100', '150@150', 'second 150@150', '300@300']);
    // Nothing left: no timer either.
    expect(vi.getTimerCount()).toBe(0);
  });

  it('orders an item that comes with an earlier deadline than the newest', () => {
    const expired: string[] = [];
    const list = new DeadlineList<Item>();
    list.add(item(500, expired));
    list.add(item(200, expired));
    list.add(item(400, expired));
    list.add(item(100, expired));
    vi.advanceTimersByTime(1_000);
    expect(expired).toEqual(['100@100', '200@200', '400@400', '500@500']);
  });

  it('never expires a removed item, wherever it stood, and keeps the others linked', () => {
    const expired: string[] = [];
    const list = new DeadlineList<Item>();
    const items = [100, 200, 300, 400, 500].map((deadline) => item(deadline, expired));
    for (const entry of items) list.add(entry);
    // The oldest (the timer stays armed for it), one in the middle, and the newest.
    list.remove(items[0]);
    list.remove(items[2]);
    list.remove(items[4]);
    // Removing twice, or an item never added, changes nothing.
    list.remove(items[2]);
    list.remove(item(250, expired));
    list.add(item(600, expired));

    vi.advanceTimersByTime(1_000);
    expect(expired).toEqual(['200@200', '400@400', '600@600']);
  });

  it('arms the timer again for the oldest item left when it fires with nothing due', () => {
    const expired: string[] = [];
    const list = new DeadlineList<Item>();
    const first = item(100, expired);
    list.add(first);
    list.add(item(250, expired));
    list.remove(first);

    vi.advanceTimersByTime(100);
    expect(expired).toEqual([]);
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(150);
    expect(expired).toEqual(['250@250']);
  });

  it('takes items added while it expires others', () => {
    const expired: string[] = [];
    const list = new DeadlineList<Item>();
    list.add({
      name: 'first',
      deadline: 100,
      expire: () => {
        expired.push(`first@${performance.now()}`);
        list.add(item(performance.now() + 50, expired, 'added'));
      },
    });
    vi.advanceTimersByTime(200);
    expect(expired).toEqual(['first@100', 'added@150']);
  });

  it('hands over everything on takeAll, oldest first, expiring none, and stops the timer', () => {
    const expired: string[] = [];
    const list = new DeadlineList<Item>();
    list.add(item(200, expired));
    list.add(item(100, expired));
    expect(list.takeAll().map((taken) => taken.name)).toEqual(['100', '200']);
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(1_000);
    expect(expired).toEqual([]);
    expect(list.takeAll()).toEqual([]);
    // Still usable afterwards.
    list.add(item(1_100, expired));
    vi.advanceTimersByTime(100);
    expect(expired).toEqual(['1100@1100']);
  });

  it('follows the monotonic clock, not the wall clock', () => {
    const expired: string[] = [];
    const list = new DeadlineList<Item>();
    list.add(item(100, expired));
    // The wall clock steps back an hour: the deadline is still 100 ms away.
    vi.setSystemTime(Date.now() - 3_600_000);
    vi.advanceTimersByTime(100);
    expect(expired).toEqual(['100@100']);
  });

  it('waits past the longest delay a timer takes by arming it again', () => {
    const expired: string[] = [];
    const list = new DeadlineList<Item>();
    const far = 2 ** 31 + 1_000;
    list.add(item(far, expired));
    vi.advanceTimersByTime(2 ** 31 - 1);
    expect(expired).toEqual([]);
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(1_001);
    expect(expired).toEqual([`${far}@${far}`]);
  });

  it('does not keep the process alive', () => {
    vi.useRealTimers();
    const list = new DeadlineList<Item>();
    const spy = vi.spyOn(globalThis, 'setTimeout');
    try {
      list.add(item(Date.now() + 60_000, []));
      const timer = spy.mock.results[0]?.value as NodeJS.Timeout;
      expect(timer.hasRef()).toBe(false);
    } finally {
      spy.mockRestore();
      list.takeAll();
    }
  });
});
