import { backgroundTimer } from './background-timer.js';
import { Fifo } from './fifo.js';
import type {
  WebhookJob,
  WebhookJobHandler,
  WebhookQueue,
} from '../interfaces/webhook-queue.interface.js';

interface Scheduled {
  dueAt: number;
  seq: number;
  job: WebhookJob;
}

/** One endpoint's due jobs (their delivery ids) and how many of its attempts are running. */
interface Lane {
  endpointId: string;
  due: Fifo<string>;
  active: number;
  /** Where it stands in `rotation`. */
  slot: number;
}

/**
 * The default queue: due times in a binary heap under one unref'd timer, due jobs in one lane
 * per endpoint, started round-robin within the total and per-endpoint concurrency limits.
 * Pending jobs live only in this process.
 */
export class MemoryWebhookQueue implements WebhookQueue {
  private readonly heap: Scheduled[] = [];
  // A lane holds delivery ids: 100,000 pending deliveries are 100,000 array slots here, not
  // 100,000 job objects.
  private readonly lanes = new Map<string, Lane>();
  /**
   * The lanes in round-robin order; `cursor` is the next to be offered a free slot. A lane that
   * goes idle is swapped out for the last one, which may move that one's turn ahead by up to a
   * round: every lane with due jobs still gets a slot within one pass.
   */
  private readonly rotation: Lane[] = [];
  private cursor = 0;
  /** Jobs whose handler has not settled yet. */
  private running = 0;
  /** What waits for nothing to run: `stop()` calls, each until its timeout. */
  private readonly idleWaiters = new Set<() => void>();
  private handler?: WebhookJobHandler;
  private timer?: NodeJS.Timeout;
  private timerDueAt = Infinity;
  private seq = 0;
  private dueCount = 0;
  private stopped = false;
  // Jobs enqueued once stopped: retries scheduled by attempts that finished during stop().
  private droppedWhileStopped = 0;

  constructor(
    private readonly concurrency: number,
    private readonly endpointConcurrency: number,
    private readonly now: () => number = Date.now,
  ) {}

  get pending(): number {
    return this.heap.length + this.dueCount;
  }

  get capacity(): number {
    return Math.max(0, this.concurrency - this.running - this.dueCount);
  }

  get busyEndpoints(): string[] {
    return this.rotation
      .filter((lane) => lane.active + lane.due.size >= this.endpointConcurrency)
      .map((lane) => lane.endpointId);
  }

  async enqueue(job: WebhookJob, delayMs: number): Promise<void> {
    if (this.stopped) {
      this.droppedWhileStopped++;
      return;
    }
    if (delayMs <= 0) {
      this.makeDue(job.deliveryId, job.endpointId);
      this.pump();
      return;
    }
    this.push({ dueAt: this.now() + delayMs, seq: this.seq++, job });
    this.arm();
  }

  async enqueueAll(jobs: readonly WebhookJob[]): Promise<void> {
    if (this.stopped) {
      this.droppedWhileStopped += jobs.length;
      return;
    }
    for (const job of jobs) this.makeDue(job.deliveryId, job.endpointId);
    this.pump();
  }

  start(handler: WebhookJobHandler): void {
    this.handler = handler;
    this.stopped = false;
    this.promoteDue();
    this.pump();
    this.arm();
  }

  async stop(timeoutMs: number): Promise<{ running: number; pending: number }> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.timerDueAt = Infinity;
    if (this.running > 0) {
      let timeout: NodeJS.Timeout | undefined;
      let waiter!: () => void;
      await new Promise<void>((resolve) => {
        waiter = resolve;
        this.idleWaiters.add(waiter);
        timeout = backgroundTimer(resolve, timeoutMs);
      });
      this.idleWaiters.delete(waiter);
      clearTimeout(timeout);
    }
    return { running: this.running, pending: this.pending + this.droppedWhileStopped };
  }

  private makeDue(deliveryId: string, endpointId: string) {
    let lane = this.lanes.get(endpointId);
    if (!lane) {
      lane = { endpointId, due: new Fifo(), active: 0, slot: this.rotation.length };
      this.lanes.set(endpointId, lane);
      this.rotation.push(lane);
    }
    lane.due.push(deliveryId);
    this.dueCount++;
  }

  /**
   * Starts due jobs until the total limit is reached or every lane with due jobs is at its own
   * limit, offering each free slot to the next lane in the rotation, so that a backlog at one
   * endpoint cannot starve the others. That is the invariant every other method keeps: after
   * it, no lane could start a job that it does not run.
   */
  private pump() {
    if (!this.handler || this.stopped) return;
    const { rotation } = this;
    let idle = 0;
    while (this.running < this.concurrency && this.dueCount > 0 && idle < rotation.length) {
      if (this.cursor >= rotation.length) this.cursor = 0;
      const lane = rotation[this.cursor++];
      if (lane.due.size > 0 && lane.active < this.endpointConcurrency) {
        this.run(lane);
        idle = 0;
      } else {
        idle++;
      }
    }
  }

  private run(lane: Lane) {
    const job: WebhookJob = { deliveryId: lane.due.shift()!, endpointId: lane.endpointId };
    this.dueCount--;
    lane.active++;
    // A handler must not reject (the dispatcher logs and reschedules its own failures); one
    // that does anyway must not stop the queue from freeing the slot and moving on.
    const done = () => {
      // Full before this job ended: a lane waiting for the total limit may start now.
      const wasFull = this.running >= this.concurrency;
      this.running--;
      lane.active--;
      if (this.running === 0) for (const waiter of this.idleWaiters) waiter();
      if (this.stopped || !this.handler) return this.dropIfIdle(lane);
      if (wasFull) this.pump();
      // Otherwise (the invariant of `pump`) only this job's lane can have gained a job to start.
      else if (lane.due.size > 0 && lane.active < this.endpointConcurrency) this.run(lane);
      this.dropIfIdle(lane);
    };
    // One promise per job: `then(done, done)` rather than `catch().finally()`; counted, not kept
    // in a set, which would hash every attempt's promise.
    this.running++;
    let attempt: Promise<void>;
    try {
      attempt = this.handler!(job);
    } catch (error) {
      // Thrown rather than rejected: the slot is freed all the same.
      attempt = Promise.reject(error);
    }
    attempt.then(done, done);
  }

  /** Forgets a lane with nothing due or running: endpoints come and go. */
  private dropIfIdle(lane: Lane) {
    if (lane.active > 0 || lane.due.size > 0) return;
    const { rotation } = this;
    const last = rotation.pop()!;
    if (last !== lane) {
      rotation[lane.slot] = last;
      last.slot = lane.slot;
    }
    this.lanes.delete(lane.endpointId);
  }

  private arm() {
    if (this.stopped || !this.handler || this.heap.length === 0) return;
    const dueAt = this.heap[0].dueAt;
    if (this.timer && dueAt >= this.timerDueAt) return;
    clearTimeout(this.timer);
    this.timerDueAt = dueAt;
    // Fired early for a far due time, it finds nothing due and arms again.
    this.timer = backgroundTimer(() => {
      this.timer = undefined;
      this.timerDueAt = Infinity;
      this.promoteDue();
      this.pump();
      this.arm();
    }, dueAt - this.now());
  }

  private promoteDue() {
    const now = this.now();
    while (this.heap.length > 0 && this.heap[0].dueAt <= now) {
      const { job } = this.pop();
      this.makeDue(job.deliveryId, job.endpointId);
    }
  }

  private push(item: Scheduled) {
    const heap = this.heap;
    heap.push(item);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(heap[i], heap[parent])) break;
      [heap[i], heap[parent]] = [heap[parent], heap[i]];
      i = parent;
    }
  }

  private pop(): Scheduled {
    const heap = this.heap;
    const top = heap[0];
    const last = heap.pop()!;
    if (heap.length > 0) {
      heap[0] = last;
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        const right = left + 1;
        let smallest = i;
        if (left < heap.length && before(heap[left], heap[smallest])) smallest = left;
        if (right < heap.length && before(heap[right], heap[smallest])) smallest = right;
        if (smallest === i) break;
        [heap[i], heap[smallest]] = [heap[smallest], heap[i]];
        i = smallest;
      }
    }
    return top;
  }
}

const before = (a: Scheduled, b: Scheduled) =>
  a.dueAt < b.dueAt || (a.dueAt === b.dueAt && a.seq < b.seq);
