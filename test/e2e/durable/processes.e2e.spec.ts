import 'reflect-metadata';
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { PingWebhook } from '../../fixtures/retry/ping.webhook.js';
import { startChaosReceiver, type ChaosReceiver } from '../../support/chaos-receiver.js';
import { bootDeliveryApp, waitUntil, type DeliveryApp } from '../../support/delivery-app.js';
import {
  postgresModuleOptions,
  startDatabase,
  TEST_DATABASE_URL,
  type TestDatabase,
} from '../../support/postgres.js';
import { startReceiver, type Receiver } from '../../support/receiver.js';
import { compileFixtures, startWorker, type WorkerProcess } from '../../support/worker-process.js';
import type { WebhookDeliveryLog, WebhooksModuleOptions } from '../../../lib/index.js';

// Several processes on one PostgreSQL database, as production runs them: real child processes
// (killed with SIGKILL where the test says so), a real receiver on loopback, and connections
// cut under load. Each test has a schema of its own, dropped afterwards.

let db: TestDatabase;

/** Module options for a process on this test's schema, its connections named for it. */
const durable = (options: WebhooksModuleOptions = {}): WebhooksModuleOptions =>
  postgresModuleOptions(db.schema, db.applicationName, {
    timeout: 1_000,
    sweepInterval: 200,
    shutdownTimeout: 2_000,
    ...options,
  });

/** Every delivery of the schema with its attempts, read through a process that claims nothing. */
async function allDeliveries(manager: DeliveryApp): Promise<WebhookDeliveryLog[]> {
  return manager.deliveries.list({ limit: Infinity });
}

describe('several processes on one database', () => {
  const workers: WorkerProcess[] = [];
  const apps: DeliveryApp[] = [];
  let chaos: ChaosReceiver | undefined;
  let receiver: Receiver | undefined;

  const boot = async (options: WebhooksModuleOptions) => {
    const app = await bootDeliveryApp({ options, providers: [PingWebhook] });
    apps.push(app);
    return app;
  };
  const spawn = async (config: Parameters<typeof startWorker>[0]) => {
    const worker = await startWorker(config);
    workers.push(worker);
    return worker;
  };

  beforeAll(() => compileFixtures(), 120_000);
  beforeEach(async () => {
    db = await startDatabase();
  });
  afterEach(async () => {
    await Promise.all(workers.splice(0).map((worker) => worker.kill()));
    await Promise.all(apps.splice(0).map((app) => app.close()));
    await chaos?.close();
    await receiver?.close();
    chaos = receiver = undefined;
    await db.drop();
  });

  it('delivers what a process committed in its transaction right before a SIGKILL, once each', async () => {
    receiver = await startReceiver();
    const manager = await boot(durable({ worker: false }));
    await manager.endpoints.add({ url: `${receiver.url}/hook`, events: ['ping'] });
    const crashing = await spawn({
      options: durable(),
      crashAfterCommit: { count: 20, connectionString: TEST_DATABASE_URL },
    });
    const signal = await new Promise((resolve) =>
      crashing.child.once('exit', (_, sig) => resolve(sig)),
    );
    expect(signal).toBe('SIGKILL');
    const ids = (await db.admin<{ id: string }>(`SELECT id FROM ${db.schema}.messages`)).map(
      (row) => row.id,
    );
    expect(ids).toHaveLength(20);
    // It died before anything was sent.
    expect(receiver.requests).toHaveLength(0);

    await spawn({ options: durable() });
    await receiver.waitFor(20);
    await waitUntil(
      async () => (await allDeliveries(manager)).every((d) => d.status === 'delivered'),
      'every delivery to be recorded delivered',
    );
    // A second send would follow the first at once: give it the time to.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const sent = receiver.requests.map((request) => request.headers['webhook-id']);
    expect([...sent].sort()).toEqual([...ids].sort());
  });

  it('refuses to boot with migrate: false on an empty schema, saying what to run', async () => {
    const options = durable();
    (options.store as { migrate?: boolean }).migrate = false;
    const error = await bootDeliveryApp({ options, providers: [PingWebhook] }).then(
      () => undefined,
      (failure: Error) => failure,
    );
    expect(error?.message).toContain(`schema '${db.schema}'`);
    expect(error?.message).toContain(`webhookMigrations('${db.schema}')`);
  });

  it(
    'survives a SIGKILL mid-run: a new process finishes every delivery, duplicating only attempts in flight',
    { timeout: 180_000 },
    async () => {
      chaos = await startChaosReceiver({
        seed: 20_261_202,
        rates: { error: 0.05, throttle: 0.05, hang: 0.02, reset: 0.05 },
        maxFailures: 3,
        hangMs: 1_300,
        retryAfterSeconds: [0],
      });
      const options = durable({
        retryDelays: [20, 50, 100, 200, 300, 400],
        concurrency: 10,
      });
      const manager = await boot({ ...options, worker: false });
      const paths = ['/a', '/b', '/c'];
      const pathOf = new Map<string, string>();
      for (const path of paths) {
        const endpoint = await manager.endpoints.add({
          url: `${chaos.url}${path}`,
          events: ['ping'],
        });
        pathOf.set(endpoint.id, path);
      }
      const MESSAGES = 2_000;

      const first = await spawn({ options, emit: { count: MESSAGES, from: 0, parallel: 20 } });
      await first.next('emitted');
      // Mid-run: every message stored, some delivered, most not.
      await vi.waitFor(() => expect(chaos!.requests.length).toBeGreaterThan(1_000), {
        timeout: 60_000,
        interval: 5,
      });
      await first.kill();
      const killedAt = chaos.requests.length;
      const deliveredBefore = (await allDeliveries(manager)).filter(
        (delivery) => delivery.status === 'delivered',
      ).length;
      expect(deliveredBefore).toBeLessThan((MESSAGES * paths.length) / 2);

      await spawn({ options });
      const logs = await vi.waitFor(
        async () => {
          const all = await allDeliveries(manager);
          expect(all).toHaveLength(MESSAGES * paths.length);
          expect(all.filter((delivery) => delivery.status !== 'delivered')).toEqual([]);
          return all;
        },
        { timeout: 150_000, interval: 250 },
      );

      // Which requests an attempt in the log read the answer of, and how many attempts of each
      // pair got no answer at all (a timeout, a reset).
      const answered = new Set<number>();
      const unanswered = new Map<string, number>();
      for (const delivery of logs) {
        const key = `${delivery.messageId} ${pathOf.get(delivery.endpointId)}`;
        for (const attempt of delivery.attemptLog) {
          if (attempt.responseBody) {
            answered.add((JSON.parse(attempt.responseBody) as { n: number }).n);
          }
          if (attempt.statusCode === null) unanswered.set(key, (unanswered.get(key) ?? 0) + 1);
        }
      }
      // A pair the receiver accepted more than once: the sender never read the answer of any
      // acceptance but the last (a second send after a read 2xx would be a real duplicate).
      // Each was a lost answer: a hang or reset after the work was done, a 200 that a stalled
      // event loop read too late (its attempt logged without an answer), or an attempt in flight
      // at the kill (arrived before it, and never logged).
      const accepted = new Map<string, number[]>();
      for (const request of chaos.requests) {
        if (!request.accepted) continue;
        const key = `${request.webhookId} ${request.path}`;
        accepted.set(key, [...(accepted.get(key) ?? []), request.n]);
      }
      expect(accepted.size).toBe(MESSAGES * paths.length);
      let inFlightAtKill = 0;
      for (const [key, list] of accepted) {
        let lateAnswers = 0;
        for (const n of list.slice(0, -1)) {
          expect(answered.has(n)).toBe(false);
          const request = chaos.requests[n];
          if (request.kind === 'hang' || request.kind === 'reset') continue;
          if (n < killedAt) inFlightAtKill++;
          else lateAnswers++;
        }
        expect(lateAnswers).toBeLessThanOrEqual(unanswered.get(key) ?? 0);
      }
      // At most what the killed process had in flight.
      expect(inFlightAtKill).toBeLessThanOrEqual(10);
      console.log(
        `crash: ${MESSAGES} x ${paths.length} deliveries, killed after ${killedAt} requests ` +
          `(${deliveredBefore} delivered); ` +
          `${chaos.requests.length} requests in all; ${inFlightAtKill} duplicates from attempts ` +
          `in flight at the kill`,
      );
    },
  );

  it(
    'shares the work of two emitting processes: all delivered, no two attempts of one delivery at once',
    { timeout: 120_000 },
    async () => {
      receiver = await startReceiver();
      const spans = new Map<string, { start: number; end: number }[]>();
      receiver.behave(async (request, res) => {
        const key = `${request.headers['webhook-id']} ${request.url}`;
        const span = { start: Date.now(), end: Infinity };
        spans.set(key, [...(spans.get(key) ?? []), span]);
        await new Promise((resolve) => setTimeout(resolve, 10));
        span.end = Date.now();
        res.statusCode = 204;
        res.end();
      });
      const options = durable({ endpointConcurrency: 2, sweepInterval: 50 });
      const manager = await boot({ ...options, worker: false });
      for (const path of ['/x', '/y']) {
        await manager.endpoints.add({ url: `${receiver.url}${path}`, events: ['ping'] });
      }
      const MESSAGES = 300;
      const [a, b] = await Promise.all([
        spawn({ options, emit: { count: MESSAGES, from: 0 } }),
        spawn({ options, emit: { count: MESSAGES, from: MESSAGES } }),
      ]);
      await Promise.all([a.next('emitted'), b.next('emitted')]);
      const logs = await vi.waitFor(
        async () => {
          const all = await allDeliveries(manager);
          expect(all).toHaveLength(2 * MESSAGES * 2);
          expect(all.filter((delivery) => delivery.status !== 'delivered')).toEqual([]);
          return all;
        },
        { timeout: 90_000, interval: 250 },
      );

      expect(spans.size).toBe(2 * MESSAGES * 2);
      for (const [key, list] of spans) {
        const sorted = [...list].sort((x, y) => x.start - y.start);
        for (let i = 1; i < sorted.length; i++) {
          expect(sorted[i].start, key).toBeGreaterThanOrEqual(sorted[i - 1].end);
        }
      }
      expect(logs.every((delivery) => delivery.attempts >= 1)).toBe(true);
    },
  );

  it(
    'loses nothing when its database connections are cut while delivering, and does not crash',
    { timeout: 90_000 },
    async () => {
      receiver = await startReceiver();
      receiver.behave(async (_request, res) => {
        await new Promise((resolve) => setTimeout(resolve, 5));
        res.statusCode = 204;
        res.end();
      });
      const options = durable({ retryDelays: [50, 100, 200, 400, 800, 1_600] });
      const app = await boot(options);
      for (const path of ['/x', '/y']) {
        await app.endpoints.add({ url: `${receiver.url}${path}`, events: ['ping'] });
      }
      const MESSAGES = 300;
      const emitted: string[] = [];
      const cut = () => db.terminate();
      let cuts = 0;
      let refused = 0;
      for (let seq = 0; seq < MESSAGES; seq++) {
        if (seq % 100 === 50) cuts += await cut();
        // An emit on a connection being cut rejects; the caller tries again, as an app would,
        // with an idempotency key in case the first try was stored before its answer was lost.
        for (;;) {
          try {
            const sent = await app.emitter.emit(PingWebhook, { seq }, { idempotencyKey: `${seq}` });
            emitted.push(sent.id);
            break;
          } catch {
            refused++;
          }
        }
      }
      await receiver.waitFor(50);
      cuts += await cut();

      const logs = await vi.waitFor(
        async () => {
          const all = await allDeliveries(app);
          expect(all).toHaveLength(MESSAGES * 2);
          expect(all.filter((delivery) => delivery.status !== 'delivered')).toEqual([]);
          return all;
        },
        { timeout: 60_000, interval: 250 },
      );
      expect(cuts).toBeGreaterThan(0);
      console.log(`connections cut: ${cuts} connections terminated, ${refused} emits refused`);
      expect(new Set(logs.map((delivery) => delivery.messageId))).toEqual(new Set(emitted));
    },
  );
});
