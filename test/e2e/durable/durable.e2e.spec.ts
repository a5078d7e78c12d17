import 'reflect-metadata';
import {
  Injectable,
  Module,
  type OnApplicationShutdown,
  type OnModuleDestroy,
} from '@nestjs/common';
import { Test } from '@nestjs/testing';
import type { Pool } from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { MemoryWebhookQueue } from '../../../lib/delivery/memory-webhook.queue.js';
import { PostgresWebhookStore } from '../../../lib/storage/postgres/postgres-webhook.store.js';
import { CaptureLogger } from '../../fixtures/retry/capture-logger.js';
import { PingWebhook } from '../../fixtures/retry/ping.webhook.js';
import {
  bootDeliveryApp,
  rejection,
  waitUntil,
  type DeliveryApp,
} from '../../support/delivery-app.js';
import {
  postgresModuleOptions,
  startDatabase,
  startPostgresProxy,
  type TestDatabase,
} from '../../support/postgres.js';
import { startReceiver, type Receiver } from '../../support/receiver.js';
import {
  WebhookEmitter,
  WebhookEndpoints,
  WebhooksModule,
  WebhookStoreError,
  type WebhooksModuleOptions,
} from '../../../lib/index.js';

// The PostgreSQL store as an app uses it: real apps on one database (a schema of this file's
// own), a real receiver on loopback.

const APP_POOL = Symbol('APP_POOL');

describe('durable delivery on PostgreSQL', () => {
  let db: TestDatabase;
  let receiver: Receiver;
  const apps: DeliveryApp[] = [];
  const boot = async (options?: WebhooksModuleOptions, logger?: CaptureLogger) => {
    const app = await bootDeliveryApp({
      options: postgresModuleOptions(db.schema, db.applicationName, {
        retryDelays: [50, 100],
        timeout: 2_000,
        sweepInterval: 200,
        ...options,
      }),
      providers: [PingWebhook],
      logger,
    });
    apps.push(app);
    return app;
  };
  const received = (webhookId?: string) =>
    receiver.requests.filter(
      (request) => webhookId === undefined || request.headers['webhook-id'] === webhookId,
    );

  beforeAll(async () => {
    db = await startDatabase();
    receiver = await startReceiver();
  });
  afterEach(async () => {
    vi.restoreAllMocks();
    await Promise.all(apps.splice(0).map((app) => app.close()));
    receiver.behave(() => undefined);
    receiver.requests.length = 0;
    await db.truncate();
  });
  afterAll(async () => {
    await receiver.close();
    await db.drop();
  });

  it('shares endpoints between two app instances: one added on A receives what B emits', async () => {
    const a = await boot();
    const b = await boot();
    await a.endpoints.add({ url: `${receiver.url}/hook`, events: ['ping'] });

    const sent = await b.emitter.emit(PingWebhook, { seq: 1 });

    expect(sent.endpoints).toBe(1);
    await receiver.waitFor(1);
    expect(received()[0].headers['webhook-id']).toBe(sent.id);
    const [delivery] = await a.deliveries.list({ messageId: sent.id });
    await waitUntil(
      async () => (await a.deliveries.list({ messageId: sent.id }))[0]?.status === 'delivered',
      'the delivery to be recorded',
    );
    expect(delivery.messageId).toBe(sent.id);
  });

  it('resumes after a restart: deliveries waiting for a retry go out on schedule, same webhook-id', async () => {
    const first = await boot({ retryDelays: [1_500] });
    let calls = 0;
    receiver.behave((_request, res) => {
      res.statusCode = calls++ === 0 ? 503 : 204;
      res.end();
    });
    await first.endpoints.add({ url: `${receiver.url}/hook`, events: ['ping'] });
    const sent = await first.emitter.emit(PingWebhook, { seq: 1 });
    await receiver.waitFor(1);
    const failedAt = received()[0].receivedAt;
    await waitUntil(
      async () => (await first.deliveries.list())[0]?.scheduleAttempts === 1,
      'the retry to be scheduled',
    );
    await first.close();
    apps.splice(apps.indexOf(first), 1);

    const second = await boot({ retryDelays: [1_500] });
    await receiver.waitFor(2, 10_000);
    const [, retried] = received();
    expect(retried.headers['webhook-id']).toBe(sent.id);
    // On schedule: not before the retry delay (less its jitter), and not long after it.
    expect(retried.receivedAt - failedAt).toBeGreaterThanOrEqual(0.8 * 1_500 - 20);
    expect(retried.receivedAt - failedAt).toBeLessThan(1_500 * 1.2 + 2_000);
    await waitUntil(
      async () => (await second.deliveries.list())[0]?.status === 'delivered',
      'the delivery to be recorded',
    );
    const [log] = await second.deliveries.list();
    expect(log.attemptLog.map((attempt) => attempt.statusCode)).toEqual([503, 204]);
  });

  it('wakes a worker at once when a process without one emits (LISTEN), long before a sweep', async () => {
    const api = await boot({ worker: false });
    await boot({ sweepInterval: 60_000 });
    await api.endpoints.add({ url: `${receiver.url}/hook`, events: ['ping'] });

    const started = Date.now();
    const sent = await api.emitter.emit(PingWebhook, { seq: 1 });
    await receiver.waitFor(1, 5_000);

    expect(received()[0].headers['webhook-id']).toBe(sent.id);
    expect(received()[0].receivedAt - started).toBeLessThan(5_000);
  });

  it('queues a retry due before the next sweep, and leaves a later one to the sweep', async () => {
    const delays: number[] = [];
    const { enqueue } = MemoryWebhookQueue.prototype;
    vi.spyOn(MemoryWebhookQueue.prototype, 'enqueue').mockImplementation(function (
      this: MemoryWebhookQueue,
      ...args: Parameters<MemoryWebhookQueue['enqueue']>
    ) {
      delays.push(args[1]);
      return enqueue.apply(this, args);
    });
    // The first retry is due before the next sweep, 300 ms away; the second after it.
    const app = await boot({ retryDelays: [100, 600], sweepInterval: 300 });
    let calls = 0;
    receiver.behave((_request, res) => {
      res.statusCode = calls++ < 2 ? 503 : 204;
      res.end();
    });
    const retriesAt: number[] = [];
    app.deliveries.events.subscribe((event) => {
      if (event.type === 'attempt-failed') retriesAt.push(event.nextAttemptAt.getTime());
    });
    await app.endpoints.add({ url: `${receiver.url}/hook`, events: ['ping'] });
    const sent = await app.emitter.emit(PingWebhook, { seq: 1 });

    await receiver.waitFor(3);
    // Only the first retry (100 ms, give or take its jitter) waited in memory as a job; a sweep
    // claimed the second once due, not before.
    const queued = delays.filter((delay) => delay > 0);
    expect(queued).toHaveLength(1);
    expect(queued[0]).toBeLessThanOrEqual(300);
    expect(retriesAt).toHaveLength(2);
    expect(received(sent.id)[2].receivedAt).toBeGreaterThanOrEqual(retriesAt[1]);
    await waitUntil(
      async () => (await app.deliveries.list({ messageId: sent.id }))[0]?.status === 'delivered',
      'the delivery to be recorded',
    );
  });

  it('runs what a sweep claimed on that claim, without claiming it again', async () => {
    const api = await boot({ worker: false });
    await api.endpoints.add({ url: `${receiver.url}/hook`, events: ['ping'] });
    for (let seq = 0; seq < 5; seq++) await api.emitter.emit(PingWebhook, { seq });
    const claim = vi.spyOn(PostgresWebhookStore.prototype, 'claim');
    const sweep = vi.spyOn(PostgresWebhookStore.prototype, 'sweep');

    const worker = await boot();
    await receiver.waitFor(5);
    await waitUntil(
      async () =>
        (await worker.deliveries.list()).every((delivery) => delivery.status === 'delivered'),
      'the deliveries to be recorded',
    );

    expect(sweep).toHaveBeenCalled();
    expect(claim).not.toHaveBeenCalled();
  });

  it('does not let one slow endpoint fill every sweep while another waits', async () => {
    const api = await boot({ worker: false });
    receiver.behave(async (request, res) => {
      if (request.url === '/slow') await new Promise((resolve) => setTimeout(resolve, 1_000));
      res.statusCode = 204;
      res.end();
    });
    await api.endpoints.add({ url: `${receiver.url}/slow`, events: ['ping'], tenant: 'slow' });
    await api.endpoints.add({ url: `${receiver.url}/fast`, events: ['ping'], tenant: 'fast' });
    for (let seq = 0; seq < 40; seq++)
      await api.emitter.emit(PingWebhook, { seq }, { tenant: 'slow' });
    // The slow endpoint's deliveries are the oldest due when the worker starts sweeping.
    await boot({ concurrency: 10, endpointConcurrency: 2, sweepInterval: 100 });
    await receiver.waitFor(2);
    const started = Date.now();
    for (let seq = 0; seq < 3; seq++)
      await api.emitter.emit(PingWebhook, { seq }, { tenant: 'fast' });

    await waitUntil(
      () => receiver.requests.filter((request) => request.url === '/fast').length === 3,
      'the fast endpoint to get its 3 deliveries',
    );
    // Swept within a few sweeps, while the slow endpoint (2 at a time, 1 s each) has most of its
    // 40 still to go.
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(receiver.requests.filter((request) => request.url === '/slow').length).toBeLessThan(20);
  });

  it('sweeps again when a busy endpoint has room, not only at the next sweepInterval', async () => {
    const api = await boot({ worker: false });
    await api.endpoints.add({ url: `${receiver.url}/hook`, events: ['ping'] });
    for (let seq = 0; seq < 6; seq++) await api.emitter.emit(PingWebhook, { seq });

    // One at a time to the endpoint: every sweep after the first skips it while it is busy.
    const started = Date.now();
    await boot({ concurrency: 4, endpointConcurrency: 1, sweepInterval: 60_000 });

    await receiver.waitFor(6, 10_000);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('sweeps again when an attempt ends while a sweep that skipped its busy endpoint runs', async () => {
    const api = await boot({ worker: false });
    await api.endpoints.add({ url: `${receiver.url}/hook`, events: ['ping'] });
    for (let seq = 0; seq < 4; seq++) await api.emitter.emit(PingWebhook, { seq });
    // Every sweep that skips the busy endpoint ends only after the attempt there was recorded:
    // the attempt ends while a sweep runs, so it asks for no sweep of its own.
    const { record, sweep } = PostgresWebhookStore.prototype;
    const whenRecorded: (() => void)[] = [];
    vi.spyOn(PostgresWebhookStore.prototype, 'record').mockImplementation(async function (
      this: PostgresWebhookStore,
      ...args: Parameters<PostgresWebhookStore['record']>
    ) {
      const outcome = await record.apply(this, args);
      for (const resolve of whenRecorded.splice(0)) setImmediate(resolve);
      return outcome;
    });
    vi.spyOn(PostgresWebhookStore.prototype, 'sweep').mockImplementation(async function (
      this: PostgresWebhookStore,
      ...args: Parameters<PostgresWebhookStore['sweep']>
    ) {
      const skipped = (args[2]?.skipEndpoints?.length ?? 0) > 0;
      const recorded = skipped
        ? new Promise<void>((resolve) => whenRecorded.push(resolve))
        : undefined;
      const claimed = await sweep.apply(this, args);
      await recorded;
      return claimed;
    });

    await boot({ concurrency: 4, endpointConcurrency: 1, sweepInterval: 60_000 });

    await receiver.waitFor(4, 10_000);
    // Recorded while the spies are on: a sweep waiting for a record ends.
    await waitUntil(
      async () => (await api.deliveries.list()).every((one) => one.status === 'delivered'),
      'the deliveries to be recorded',
    );
  });

  /**
   * A worker that has swept a delivery and not started it: two attempts of the endpoint at a
   * time, both held by the receiver, the third swept with the second and waiting for room. On
   * leases that outlast the test; `answer` lets the receiver answer.
   */
  const leaveOneSwept = async (logger?: CaptureLogger) => {
    const api = await boot({ worker: false });
    await api.endpoints.add({ url: `${receiver.url}/hook`, events: ['ping'] });
    let answer!: () => void;
    const answered = new Promise<void>((resolve) => (answer = resolve));
    receiver.behave(() => answered);
    const worker = await boot(
      {
        concurrency: 4,
        endpointConcurrency: 2,
        timeout: 30_000,
        sweepInterval: 60_000,
        shutdownTimeout: 0,
      },
      logger,
    );
    await api.emitter.emit(PingWebhook, { seq: 0 });
    await receiver.waitFor(1);
    // Two more in one commit, so that one sweep claims both.
    const client = await db.pool.connect();
    try {
      await client.query('BEGIN');
      await api.emitter.emit(PingWebhook, { seq: 1 }, { transaction: client });
      await api.emitter.emit(PingWebhook, { seq: 2 }, { transaction: client });
      await client.query('COMMIT');
    } finally {
      client.release();
    }
    await receiver.waitFor(2);
    await waitUntil(
      async () => (await deliveryRows()).every((row) => row.lease_owner !== null),
      'the three deliveries to be leased',
    );
    const sent = new Set(received().map((request) => request.headers['webhook-id']));
    const [waiting] = (await deliveryRows()).filter((row) => !sent.has(row.message_id));
    expect(waiting).toBeDefined();
    const waitingNow = async () =>
      (await deliveryRows()).find((row) => row.message_id === waiting.message_id);
    return { worker, waitingNow, answer };
  };
  const deliveryRows = () =>
    db.admin<{ message_id: string; lease_owner: string | null; attempts: number }>(
      `SELECT message_id, lease_owner, attempts FROM ${db.schema}.deliveries`,
    );

  it('hands back at shutdown the leases of swept deliveries it had not started', async () => {
    const { worker, waitingNow, answer } = await leaveOneSwept();

    await worker.close();
    answer();

    const waiting = await waitingNow();
    expect(waiting).toMatchObject({ lease_owner: null, attempts: 0 });
    // Another worker sends it at once, not once the lease (35 s) would have run out.
    await boot();
    await waitUntil(
      () => received().some((request) => request.headers['webhook-id'] === waiting?.message_id),
      'the released delivery to be sent',
    );
  });

  it('shuts down all the same when handing back the leases fails, and says so', async () => {
    const logger = new CaptureLogger();
    const { worker, waitingNow, answer } = await leaveOneSwept(logger);
    vi.spyOn(PostgresWebhookStore.prototype, 'release').mockRejectedValue(
      new Error('connection terminated'),
    );

    await worker.close();
    answer();

    expect((await waitingNow())?.lease_owner).not.toBeNull();
    const warnings = logger.at('warn').map((line) => line.message);
    expect(warnings).toContainEqual(
      expect.stringMatching(/^Handing back 1 swept webhook delivery\(ies\).*connection terminated/),
    );
  });

  it('logs an answer body with NUL characters and does not send the message again', async () => {
    const app = await boot();
    receiver.behave((_request, res) => {
      res.statusCode = 200;
      res.end('ok\0done');
    });
    await app.endpoints.add({ url: `${receiver.url}/hook`, events: ['ping'] });

    const sent = await app.emitter.emit(PingWebhook, { seq: 1 });

    await waitUntil(
      async () => (await app.deliveries.list({ messageId: sent.id }))[0]?.status === 'delivered',
      'the delivery to be recorded',
    );
    const [delivery] = await app.deliveries.list({ messageId: sent.id });
    expect(delivery.attemptLog.map((attempt) => attempt.responseBody)).toEqual(['ok\uFFFDdone']);
    // Past the first retry delay: nothing more was sent.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(received(sent.id)).toHaveLength(1);
  });

  it('rides out PostgreSQL going away mid-delivery: emits reject, retries resume once it is back', async () => {
    const proxy = await startPostgresProxy();
    const url = new URL(proxy.url);
    url.searchParams.set('application_name', db.applicationName);
    const logger = new CaptureLogger();
    const app = await bootDeliveryApp({
      options: postgresModuleOptions(
        db.schema,
        db.applicationName,
        { retryDelays: [100, 200, 400, 800, 1_600], timeout: 2_000, sweepInterval: 200 },
        { connectionString: url.toString() },
      ),
      providers: [PingWebhook],
      logger,
    });
    apps.push(app);
    let answer = 503;
    receiver.behave((_request, res) => {
      res.statusCode = answer;
      res.end();
    });
    for (const path of ['/x', '/y']) {
      await app.endpoints.add({ url: `${receiver.url}${path}`, events: ['ping'] });
    }
    const MESSAGES = 20;
    const emitted = await Promise.all(
      Array.from({ length: MESSAGES }, (_, seq) => app.emitter.emit(PingWebhook, { seq })),
    );
    // Every first attempt failed, so every delivery waits for a retry when the database goes.
    await receiver.waitFor(MESSAGES * 2);

    await proxy.cut();
    const error = await rejection(app.emitter.emit(PingWebhook, { seq: MESSAGES }));
    expect(error).toBeInstanceOf(WebhookStoreError);
    expect(error).toMatchObject({ code: 'ERR_WEBHOOK_STORE', transient: true });
    // Longer than the first retries' delays and a recovery's wait: deliveries come due, and
    // fail to be claimed, again and again while nothing can be claimed.
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    answer = 204;
    await proxy.restore();

    const all = await waitUntil(
      async () => {
        const log = await app.deliveries.list({ limit: Infinity }).catch(() => []);
        return (
          log.length === MESSAGES * 2 &&
          log.every((delivery) => delivery.status === 'delivered') &&
          log
        );
      },
      'every delivery to be delivered after the outage',
      { timeoutMs: 30_000, intervalMs: 100 },
    );
    // Exactly the messages emitted before the outage: the one refused during it stored nothing.
    expect(new Set(all.map((delivery) => delivery.messageId))).toEqual(
      new Set(emitted.map((sent) => sent.id)),
    );
    // Said once, however many attempts and sweeps failed on it, and said again when it is back.
    const dispatcher = logger.lines.filter((line) => line.context === 'Webhooks');
    expect(
      dispatcher.filter((line) => /hit an unexpected error|Could not record/.test(line.message)),
    ).toEqual([]);
    expect(
      dispatcher.filter((line) => line.message.startsWith('The webhook store cannot be reached')),
    ).toEqual([
      expect.objectContaining({
        level: 'error',
        message: expect.stringContaining('The connection to PostgreSQL failed'),
      }),
    ]);
    const [back, ...again] = dispatcher.filter((line) =>
      line.message.startsWith('The webhook store answers again'),
    );
    expect(again).toEqual([]);
    expect(back).toMatchObject({ level: 'log' });
    const [, quiet] = /; (\d+) more call/.exec(back.message) ?? [];
    expect(Number(quiet)).toBeGreaterThan(MESSAGES);
    await app.close();
    apps.splice(apps.indexOf(app), 1);
    await proxy.close();
  });

  it('claims nothing with worker: false', async () => {
    const api = await boot({ worker: false, sweepInterval: 50 });
    await api.endpoints.add({ url: `${receiver.url}/hook`, events: ['ping'] });
    await api.emitter.emit(PingWebhook, { seq: 1 });
    await new Promise((resolve) => setTimeout(resolve, 500));

    expect(received()).toHaveLength(0);
    const [delivery] = await api.deliveries.list();
    expect(delivery).toMatchObject({ status: 'pending', attempts: 0 });
  });

  it.each(['onModuleDestroy', 'onApplicationShutdown'] as const)(
    'delivers through a pool of one connection, and closes an app that ends it in %s',
    async (hook) => {
      // One connection is enough for a worker: it listens on one of its own, beside the pool.
      const pool = db.newPool({ application_name: `${db.applicationName}-${hook}`, max: 1 });
      @Injectable()
      class PoolCloser implements OnModuleDestroy, OnApplicationShutdown {
        async onModuleDestroy() {
          if (hook === 'onModuleDestroy') await pool.end();
        }
        async onApplicationShutdown() {
          if (hook === 'onApplicationShutdown') await pool.end();
        }
      }
      @Module({
        providers: [{ provide: APP_POOL, useValue: pool }, PoolCloser],
        exports: [APP_POOL],
      })
      class DatabaseModule {}
      const moduleRef = await Test.createTestingModule({
        imports: [
          DatabaseModule,
          WebhooksModule.forRootAsync({
            imports: [DatabaseModule],
            inject: [APP_POOL],
            useFactory: (appPool: Pool) => ({
              allowedNetworks: ['127.0.0.0/8'],
              store: { type: 'postgres', pool: appPool, schema: db.schema },
            }),
          }),
        ],
        providers: [PingWebhook],
      }).compile();
      const app = moduleRef.createNestApplication({ logger: false });
      await app.init();
      await app.get(WebhookEndpoints).add({ url: `${receiver.url}/hook`, events: ['ping'] });
      await app.get(WebhookEmitter).emit(PingWebhook, { seq: 1 });
      await receiver.waitFor(1);

      // pool.end() waits for every client out of the pool: a worker's LISTEN connection is
      // none of them, so the app's hook, which runs before this global module's, returns.
      const closing = app.close().then(() => 'closed');
      // Unref'd: once closed, nothing of this test's is left waiting.
      const late = new Promise((resolve) =>
        setTimeout(resolve, 10_000, 'still closing after 10 s').unref(),
      );
      expect(await Promise.race([closing, late])).toBe('closed');
      expect(pool.ended).toBe(true);
    },
  );
});
