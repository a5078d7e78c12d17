import { afterEach, describe, expect, it, vi } from 'vitest';
import { MemoryWebhookQueue } from '../../lib/delivery/memory-webhook.queue.js';
import type { WebhookJob } from '../../lib/interfaces/webhook-queue.interface.js';

const job = (endpointId: string, n: number | string): WebhookJob => ({
  deliveryId: `${endpointId}-${n}`,
  endpointId,
});

/** One job per endpoint, each named `deliveryId` (what the expectations read). */
const jobsOf = (deliveryId: string, endpointIds: string[]): WebhookJob[] =>
  endpointIds.map((endpointId) => ({ deliveryId, endpointId }));

/** A promise with its resolve function exposed. */
function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((done) => (resolve = done));
  return { promise, resolve };
}

/** Resolves after `ms` real milliseconds (small delays only). */
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls until `check()` holds; rejects after `timeoutMs`. */
async function until(check: () => boolean, what: string, timeoutMs = 5_000) {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(2);
  }
}

/** A handler that records what ran and how many were in flight, in total and per endpoint. */
function instrumentedHandler(work: (job: WebhookJob) => Promise<void>) {
  const started: string[] = [];
  const finished: string[] = [];
  const inFlight = new Map<string, number>();
  let total = 0;
  let maxTotal = 0;
  const maxPerEndpoint = new Map<string, number>();
  const handler = async (item: WebhookJob) => {
    started.push(item.deliveryId);
    total++;
    maxTotal = Math.max(maxTotal, total);
    const mine = (inFlight.get(item.endpointId) ?? 0) + 1;
    inFlight.set(item.endpointId, mine);
    maxPerEndpoint.set(item.endpointId, Math.max(maxPerEndpoint.get(item.endpointId) ?? 0, mine));
    try {
      await work(item);
    } finally {
      total--;
      inFlight.set(item.endpointId, inFlight.get(item.endpointId)! - 1);
      finished.push(item.deliveryId);
    }
  };
  return {
    handler,
    started,
    finished,
    get maxTotal() {
      return maxTotal;
    },
    maxPerEndpoint,
  };
}

describe('MemoryWebhookQueue', () => {
  const queues: MemoryWebhookQueue[] = [];
  const queue = (concurrency: number, endpointConcurrency: number) => {
    const created = new MemoryWebhookQueue(concurrency, endpointConcurrency);
    queues.push(created);
    return created;
  };

  afterEach(async () => {
    vi.restoreAllMocks();
    await Promise.all(queues.splice(0).map((created) => created.stop(0)));
  });

  describe('concurrency', () => {
    it('never exceeds the total limit nor the per-endpoint limit, and reaches both', async () => {
      const q = queue(5, 2);
      const probe = instrumentedHandler(() => sleep(Math.random() * 4));
      q.start(probe.handler);
      const jobs: WebhookJob[] = [];
      for (let n = 0; n < 30; n++) {
        for (const endpoint of ['a', 'b', 'c', 'd']) jobs.push(job(endpoint, n));
      }
      await Promise.all(jobs.map((item) => q.enqueue(item, 0)));
      await until(() => probe.finished.length === jobs.length, 'every job to finish');

      expect(probe.maxTotal).toBe(5);
      for (const endpoint of ['a', 'b', 'c', 'd']) {
        expect(probe.maxPerEndpoint.get(endpoint)).toBe(2);
      }
      expect(new Set(probe.started).size).toBe(jobs.length);
      expect(q.pending).toBe(0);
    });

    it('lets a single endpoint use only its own limit even when the total allows more', async () => {
      const q = queue(100, 3);
      const probe = instrumentedHandler(() => sleep(2));
      q.start(probe.handler);
      for (let n = 0; n < 20; n++) await q.enqueue(job('only', n), 0);
      await until(() => probe.finished.length === 20, 'every job to finish');

      expect(probe.maxPerEndpoint.get('only')).toBe(3);
    });

    it('hands a freed slot to the next endpoint in turn once the total limit was reached', async () => {
      // Total 2: a and b fill it; c waits for the total, not for its own limit.
      const q = queue(2, 5);
      const gates = new Map<string, () => void>();
      const started: string[] = [];
      q.start(
        (item) =>
          new Promise<void>((resolve) => {
            started.push(item.deliveryId);
            gates.set(item.deliveryId, resolve);
          }),
      );
      await q.enqueue(job('a', 1), 0);
      await q.enqueue(job('a', 2), 0);
      await q.enqueue(job('b', 1), 0);
      await q.enqueue(job('c', 1), 0);
      expect(started).toEqual(['a-1', 'a-2']);
      gates.get('a-1')!();
      await until(() => started.length === 3, 'the next start');
      // Not a-… again: b was next in turn.
      expect(started[2]).toBe('b-1');
      gates.get('a-2')!();
      await until(() => started.length === 4, 'the last start');
      expect(started[3]).toBe('c-1');
      for (const open of gates.values()) open();
    });

    it('forgets an endpoint once it has nothing due or running', async () => {
      const q = queue(10, 2);
      const probe = instrumentedHandler(() => sleep(1));
      q.start(probe.handler);
      for (let n = 0; n < 50; n++) await q.enqueueAll(jobsOf(`m${n}`, [`ep-${n % 25}`, 'shared']));
      await until(() => probe.finished.length === 100, 'every job to finish');
      const internals = q as unknown as { lanes: Map<string, unknown>; rotation: unknown[] };
      expect(internals.lanes.size).toBe(0);
      expect(internals.rotation).toHaveLength(0);
      expect(q.pending).toBe(0);
    });

    it('keeps going after a handler rejects', async () => {
      const q = queue(1, 1);
      const ran: string[] = [];
      q.start(async (item) => {
        ran.push(item.deliveryId);
        if (item.deliveryId === 'a-0') throw new Error('handler failure');
      });
      await q.enqueue(job('a', 0), 0);
      await q.enqueue(job('a', 1), 0);
      await until(() => ran.length === 2, 'both jobs to run');
      expect(ran).toEqual(['a-0', 'a-1']);
    });
  });

  describe('fairness', () => {
    it('starts jobs round-robin across endpoints, FIFO within each', async () => {
      const q = queue(1, 1);
      for (const item of [job('a', 1), job('a', 2), job('a', 3), job('b', 1), job('b', 2)]) {
        await q.enqueue(item, 0);
      }
      await q.enqueue(job('c', 1), 0);
      const probe = instrumentedHandler(() => sleep(1));
      q.start(probe.handler);
      await until(() => probe.finished.length === 6, 'every job to finish');

      expect(probe.started).toEqual(['a-1', 'b-1', 'c-1', 'a-2', 'b-2', 'a-3']);
    });

    it('takes jobs from enqueueAll like one enqueue each, and starts them at once', async () => {
      const q = queue(1, 1);
      const started: string[] = [];
      let finished = 0;
      q.start(async (item) => {
        started.push(`${item.endpointId}:${item.deliveryId}`);
        await sleep(1);
        finished++;
      });
      await q.enqueueAll(jobsOf('m1', ['a', 'b', 'c']));
      expect(started).toEqual(['a:m1']);
      await q.enqueueAll(jobsOf('m2', ['a', 'c']));
      await q.enqueue(job('a', 3), 0);
      await until(() => finished === 6, 'every job to finish');

      expect(started).toEqual(['a:m1', 'b:m1', 'c:m1', 'a:m2', 'c:m2', 'a:a-3']);
      expect(q.pending).toBe(0);
    });

    it('tells its capacity: the total limit less what runs and what is due', async () => {
      const q = queue(3, 1);
      expect(q.capacity).toBe(3);
      const gate = deferred();
      q.start(() => gate.promise);
      await q.enqueue(job('a', 1), 0);
      expect(q.capacity).toBe(2);
      // Due, waiting for its endpoint's only slot: counted, since it will take a total slot.
      await q.enqueue(job('a', 2), 0);
      expect(q.capacity).toBe(1);
      // Not due yet: not counted.
      await q.enqueue(job('b', 1), 60_000);
      expect(q.capacity).toBe(1);
      await q.enqueue(job('c', 1), 0);
      await q.enqueue(job('d', 1), 0);
      expect(q.capacity).toBe(0);
      gate.resolve();
      await q.stop(1000);
    });

    it('names the endpoints with as many jobs running or due as their limit', async () => {
      const q = queue(10, 2);
      const gate = deferred();
      q.start(() => gate.promise);
      await q.enqueue(job('a', 1), 0);
      expect(q.busyEndpoints).toEqual([]);
      // One running and one due: at its limit of 2.
      await q.enqueue(job('a', 2), 0);
      await q.enqueue(job('b', 1), 0);
      // Scheduled for later: not counted.
      await q.enqueue(job('c', 1), 60_000);
      await q.enqueue(job('c', 2), 60_000);
      expect(q.busyEndpoints).toEqual(['a']);
      gate.resolve();
      await q.stop(1000);
    });

    it('does not let a busy endpoint starve one that arrives later', async () => {
      const q = queue(2, 2);
      const probe = instrumentedHandler(() => sleep(1));
      q.start(probe.handler);
      for (let n = 0; n < 50; n++) await q.enqueue(job('busy', n), 0);
      await q.enqueue(job('quiet', 0), 0);
      await until(() => probe.finished.length === 51, 'every job to finish');

      // 'busy' had 2 running and 48 waiting when 'quiet' arrived: quiet starts within one turn.
      expect(probe.started.indexOf('quiet-0')).toBeLessThanOrEqual(3);
    });
  });

  describe('delays', () => {
    it('fires delayed jobs in due order, not before they are due', async () => {
      const q = queue(10, 10);
      const fired: { id: string; at: number }[] = [];
      q.start(async (item) => {
        fired.push({ id: item.deliveryId, at: Date.now() });
      });
      const enqueuedAt = Date.now();
      const delays: Record<string, number> = { 'a-60': 60, 'b-20': 20, 'c-40': 40, 'a-0': 0 };
      await q.enqueue(job('a', 60), 60);
      await q.enqueue(job('b', 20), 20);
      await q.enqueue(job('c', 40), 40);
      await q.enqueue(job('a', 0), 0);
      expect(q.pending).toBe(3);
      await until(() => fired.length === 4, 'every delayed job to fire');

      expect(fired.map((item) => item.id)).toEqual(['a-0', 'b-20', 'c-40', 'a-60']);
      for (const { id, at } of fired) expect(at).toBeGreaterThanOrEqual(enqueuedAt + delays[id]);
      expect(q.pending).toBe(0);
    });

    it('keeps jobs enqueued before start and runs them once started', async () => {
      const q = queue(10, 10);
      await q.enqueue(job('a', 'now'), 0);
      await q.enqueue(job('a', 'soon'), 10);
      expect(q.pending).toBe(2);
      const ran: string[] = [];
      q.start(async (item) => {
        ran.push(item.deliveryId);
      });
      await until(() => ran.length === 2, 'both jobs to run');
      expect(ran).toEqual(['a-now', 'a-soon']);
    });

    it('re-arms for an earlier job enqueued after a later one', async () => {
      const q = queue(10, 10);
      const ran: string[] = [];
      q.start(async (item) => {
        ran.push(item.deliveryId);
      });
      await q.enqueue(job('a', 'late'), 10_000);
      await q.enqueue(job('b', 'early'), 10);
      await until(() => ran.length === 1, 'the early job to run');
      expect(ran).toEqual(['b-early']);
      expect(q.pending).toBe(1);
    });
  });

  describe('stop', () => {
    it('waits for running jobs, then reports none running and the pending ones', async () => {
      const q = queue(1, 1);
      const gate = deferred();
      const probe = instrumentedHandler(() => gate.promise);
      q.start(probe.handler);
      await q.enqueue(job('a', 1), 0);
      await q.enqueue(job('a', 2), 0);
      await q.enqueue(job('b', 1), 0);
      await q.enqueue(job('b', 2), 60_000);
      expect(probe.started).toEqual(['a-1']);

      let stopped = false;
      const stopping = q.stop(5_000).then((result) => {
        stopped = true;
        return result;
      });
      await sleep(5);
      expect(stopped).toBe(false);
      gate.resolve();

      expect(await stopping).toEqual({ running: 0, pending: 3 });
      expect(probe.finished).toEqual(['a-1']);
      // Nothing else starts after stop, even though a slot became free.
      await sleep(5);
      expect(probe.started).toEqual(['a-1']);
    });

    it('gives up waiting after the timeout and reports the attempts still running', async () => {
      const q = queue(2, 2);
      const never = deferred();
      q.start(() => never.promise);
      await q.enqueue(job('a', 1), 0);
      await q.enqueue(job('a', 2), 0);
      await q.enqueue(job('a', 3), 0);

      expect(await q.stop(20)).toEqual({ running: 2, pending: 1 });
      never.resolve();
    });

    it('returns at once when nothing runs', async () => {
      const q = queue(2, 2);
      q.start(async () => undefined);
      await q.enqueue(job('a', 1), 60_000);
      expect(await q.stop(60_000)).toEqual({ running: 0, pending: 1 });
    });

    it('ends every overlapping stop() as soon as the last job is done', async () => {
      const q = queue(2, 2);
      const gate = deferred();
      q.start(() => gate.promise);
      await q.enqueue(job('a', 1), 0);
      const stops = [q.stop(60_000), q.stop(60_000)];
      await sleep(5);
      const started = Date.now();
      gate.resolve();

      expect(await Promise.all(stops)).toEqual([
        { running: 0, pending: 0 },
        { running: 0, pending: 0 },
      ]);
      // Neither waited for its timeout.
      expect(Date.now() - started).toBeLessThan(10_000);
    });

    it('frees the slot of a handler that throws instead of rejecting', async () => {
      const q = queue(1, 1);
      const ran: string[] = [];
      q.start((item) => {
        ran.push(item.deliveryId);
        if (item.deliveryId === 'a-1') throw new Error('thrown, not rejected');
        return Promise.resolve();
      });
      await q.enqueue(job('a', 1), 0);
      await q.enqueue(job('a', 2), 0);
      await until(() => ran.length === 2, 'the second job');
      expect(ran).toEqual(['a-1', 'a-2']);
      expect(await q.stop(60_000)).toEqual({ running: 0, pending: 0 });
    });

    it('ignores jobs enqueued after stop', async () => {
      const q = queue(2, 2);
      const ran: string[] = [];
      q.start(async (item) => {
        ran.push(item.deliveryId);
      });
      await q.stop(100);
      await q.enqueue(job('a', 'late'), 0);
      await q.enqueue(job('a', 'later'), 5);
      await q.enqueueAll(jobsOf('late', ['b', 'c']));
      await sleep(20);

      expect(ran).toEqual([]);
      expect(q.pending).toBe(0);
      // Reported as dropped by a second stop, as the in-memory queue loses them.
      expect(await q.stop(0)).toEqual({ running: 0, pending: 4 });
    });
  });

  describe('timers', () => {
    it('unrefs every timer it arms, so pending retries never keep the process alive', async () => {
      const timers: NodeJS.Timeout[] = [];
      const real = globalThis.setTimeout;
      vi.spyOn(globalThis, 'setTimeout').mockImplementation(((
        callback: () => void,
        ms?: number,
      ) => {
        const timer = real(callback, ms);
        timers.push(timer);
        return timer;
      }) as typeof setTimeout);

      const q = queue(1, 1);
      const gate = deferred();
      q.start(() => gate.promise);
      await q.enqueue(job('a', 1), 0);
      await q.enqueue(job('a', 2), 60_000);
      await q.enqueue(job('a', 3), 30_000);
      // Checked while armed: Node drops the ref of a timer once it is cleared anyway.
      expect(timers.length).toBeGreaterThan(0);
      const armed = timers.at(-1)!;
      expect(armed.hasRef()).toBe(false);

      const stopping = q.stop(60_000);
      const stopTimeout = timers.at(-1)!;
      expect(stopTimeout).not.toBe(armed);
      expect(stopTimeout.hasRef()).toBe(false);
      gate.resolve();
      await stopping;
    });

    it('does not fire a delay longer than setTimeout can hold early', async () => {
      const q = queue(1, 1);
      const ran: string[] = [];
      q.start(async (item) => {
        ran.push(item.deliveryId);
      });
      await q.enqueue(job('a', 'far'), 2 ** 31 + 1_000);
      await q.enqueue(job('a', 'near'), 5);
      await until(() => ran.length === 1, 'the near job');
      await sleep(10);
      expect(ran).toEqual(['a-near']);
      expect(q.pending).toBe(1);
    });
  });
});
