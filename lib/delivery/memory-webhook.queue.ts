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

// setTimeout fires at once for delays above 2^31-1 ms; longer waits are re-armed.
const MAX_TIMER_DELAY = 2 ** 31 - 1;

/**
 * The default queue: due times in a binary heap under one unref'd timer, due jobs in one FIFO
 * per endpoint, started round-robin within the total and per-endpoint concurrency limits.
 * Pending jobs live only in this process.
 */
export class MemoryWebhookQueue implements WebhookQueue {
  private readonly heap: Scheduled[] = [];
  // Due delivery ids per endpoint: the endpoint is the key, so a waiting job needs no object of
  // its own (100,000 pending deliveries are 100,000 strings here, not 100,000 jobs).
  private readonly ready = new Map<string, Fifo<string>>();
  private readonly activeByEndpoint = new Map<string, number>();
  private readonly running = new Set<Promise<void>>();
  private handler?: WebhookJobHandler;
  private timer?: NodeJS.Timeout;
  private timerDueAt = Infinity;
  private seq = 0;
  private readyCount = 0;
  private stopped = false;
  // Jobs enqueued once stopped: retries scheduled by attempts that finished during stop().
  private droppedWhileStopped = 0;

  constructor(
    private readonly concurrency: number,
    private readonly endpointConcurrency: number,
    private readonly now: () => number = Date.now,
  ) {}

  get pending(): number {
    return this.heap.length + this.readyCount;
  }

  async enqueue(job: WebhookJob, delayMs: number): Promise<void> {
    if (this.stopped) {
      this.droppedWhileStopped++;
      return;
    }
    if (delayMs <= 0) {
      this.makeReady(job);
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
    for (const job of jobs) this.makeReady(job);
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
    if (this.running.size > 0) {
      let timeout: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.allSettled(this.running),
        new Promise((resolve) => {
          timeout = setTimeout(resolve, timeoutMs);
          timeout.unref();
        }),
      ]);
      clearTimeout(timeout);
    }
    return { running: this.running.size, pending: this.pending + this.droppedWhileStopped };
  }

  private makeReady(job: WebhookJob) {
    let fifo = this.ready.get(job.endpointId);
    if (!fifo) {
      fifo = new Fifo();
      this.ready.set(job.endpointId, fifo);
    }
    fifo.push(job.deliveryId);
    this.readyCount++;
  }

  private pump() {
    if (!this.handler || this.stopped) return;
    let started = true;
    while (started && this.running.size < this.concurrency && this.readyCount > 0) {
      started = false;
      for (const [endpointId, fifo] of this.ready) {
        if (this.running.size >= this.concurrency) break;
        const active = this.activeByEndpoint.get(endpointId) ?? 0;
        if (active >= this.endpointConcurrency) continue;
        const deliveryId = fifo.shift()!;
        this.readyCount--;
        // To the back of the rotation: the next free slot goes to the next endpoint, so a
        // backlog at one endpoint cannot starve the others (Map iteration is insertion order).
        this.ready.delete(endpointId);
        if (fifo.size > 0) this.ready.set(endpointId, fifo);
        this.run({ deliveryId, endpointId }, active);
        started = true;
      }
    }
  }

  private run(job: WebhookJob, active: number) {
    this.activeByEndpoint.set(job.endpointId, active + 1);
    // A handler must not reject (the dispatcher logs and reschedules its own failures); one
    // that does anyway must not stop the queue from freeing the slot and moving on.
    const done = () => {
      this.running.delete(running);
      const left = (this.activeByEndpoint.get(job.endpointId) ?? 1) - 1;
      if (left === 0) this.activeByEndpoint.delete(job.endpointId);
      else this.activeByEndpoint.set(job.endpointId, left);
      this.pump();
    };
    // One promise per job: `then(done, done)` rather than `catch().finally()`.
    const running: Promise<void> = this.handler!(job).then(done, done);
    this.running.add(running);
  }

  private arm() {
    if (this.stopped || !this.handler || this.heap.length === 0) return;
    const dueAt = this.heap[0].dueAt;
    if (this.timer && dueAt >= this.timerDueAt) return;
    clearTimeout(this.timer);
    this.timerDueAt = dueAt;
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        this.timerDueAt = Infinity;
        this.promoteDue();
        this.pump();
        this.arm();
      },
      Math.min(Math.max(dueAt - this.now(), 0), MAX_TIMER_DELAY),
    );
    // Pending retries must not keep the process alive on their own.
    this.timer.unref();
  }

  private promoteDue() {
    const now = this.now();
    while (this.heap.length > 0 && this.heap[0].dueAt <= now) this.makeReady(this.pop().job);
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
