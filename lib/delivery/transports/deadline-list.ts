import { backgroundTimer } from '../background-timer.js';

/**
 * Something that must end by its `deadline`, in `performance.now()` milliseconds: monotonic,
 * so that a step of the wall clock neither holds attempts past their timeout nor ends them
 * early. The list links it in place through `older` and `newer`, which belong to the list:
 * adding and removing allocate nothing.
 */
export interface Expiring<T> {
  readonly deadline: number;
  /** Called once its deadline has passed, after it has left the list. */
  expire(): void;
  older?: T;
  newer?: T;
}

/**
 * Attempts in flight ordered by deadline, under one unref'd timer for all of them rather than
 * one each: every attempt of a transport has the same timeout, so deadlines arrive in order
 * and adding one is O(1) at the newest end, as is removing one wherever it stands.
 *
 * The timer is not moved when the oldest item leaves (the common case: the first sent is the
 * first answered), which would make it a timer per attempt again; when it fires with nothing
 * due, it is armed again for the oldest item left.
 */
export class DeadlineList<T extends Expiring<T>> {
  private oldest?: T;
  private newest?: T;
  private timer?: NodeJS.Timeout;
  private timerAt = Infinity;

  constructor(private readonly now: () => number = () => performance.now()) {}

  add(item: T): void {
    // From the newest end: with one timeout for all, the loop does not run.
    let older = this.newest;
    while (older && older.deadline > item.deadline) older = older.older;
    const newer = older ? older.newer : this.oldest;
    item.older = older;
    item.newer = newer;
    if (older) older.newer = item;
    else this.oldest = item;
    if (newer) newer.older = item;
    else this.newest = item;
    if (item.deadline < this.timerAt) this.arm(item.deadline);
  }

  /** Takes `item` out of the list; nothing happens if it is not in it. */
  remove(item: T): void {
    const { older, newer } = item;
    if (!older && !newer && this.oldest !== item) return;
    if (older) older.newer = newer;
    else this.oldest = newer;
    if (newer) newer.older = older;
    else this.newest = older;
    item.older = undefined;
    item.newer = undefined;
  }

  /** Takes every item out, oldest first, expiring none, and stops the timer. */
  takeAll(): T[] {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = Infinity;
    const items: T[] = [];
    while (this.oldest) {
      items.push(this.oldest);
      this.remove(this.oldest);
    }
    return items;
  }

  private arm(at: number): void {
    clearTimeout(this.timer);
    this.timerAt = at;
    // Attempts in flight keep the process alive through their sockets, not through this.
    this.timer = backgroundTimer(() => this.fire(), at - this.now());
  }

  private fire(): void {
    this.timer = undefined;
    this.timerAt = Infinity;
    const now = this.now();
    while (this.oldest && this.oldest.deadline <= now) {
      const item = this.oldest;
      this.remove(item);
      item.expire();
    }
    if (this.oldest) this.arm(this.oldest.deadline);
  }
}
