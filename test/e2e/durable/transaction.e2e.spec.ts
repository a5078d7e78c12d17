import 'reflect-metadata';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { DataSource } from 'typeorm';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WebhookArgumentError, WebhookStoreError } from '../../../lib/index.js';
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
  TEST_DATABASE_URL,
  type TestDatabase,
} from '../../support/postgres.js';
import { startReceiver, type Receiver } from '../../support/receiver.js';
import type { WebhooksModuleOptions } from '../../../lib/index.js';

// emit(..., { transaction }): the message and its deliveries written through the caller's own
// open transaction on a real PostgreSQL, sent once it commits and never when it rolls back.
// The sweep runs once a minute here: what goes out at a commit was woken by the pg_notify
// sent in that transaction.

describe('emit inside the caller’s transaction (PostgreSQL)', () => {
  let db: TestDatabase;
  let receiver: Receiver;
  let typeorm: DataSource;
  const apps: DeliveryApp[] = [];
  const clients: pg.PoolClient[] = [];
  const boot = async (options?: WebhooksModuleOptions) => {
    const app = await bootDeliveryApp({
      options: postgresModuleOptions(db.schema, db.applicationName, {
        retryDelays: [50],
        sweepInterval: 60_000,
        ...options,
      }),
      providers: [PingWebhook],
    });
    apps.push(app);
    await app.endpoints.add({ url: `${receiver.url}/hook`, events: ['ping'] });
    return app;
  };
  /** A connection of the test's pool inside BEGIN. */
  const begin = async () => {
    const client = await db.pool.connect();
    clients.push(client);
    await client.query('BEGIN');
    return client;
  };
  const stored = async () => {
    const [row] = await db.admin<{ messages: number; deliveries: number }>(
      `SELECT (SELECT count(*) FROM ${db.schema}.messages)::int AS messages,
              (SELECT count(*) FROM ${db.schema}.deliveries)::int AS deliveries`,
    );
    return row;
  };
  const sentIds = () => receiver.requests.map((request) => request.headers['webhook-id']);
  const deliveredOnce = async (app: DeliveryApp, messageId: string) => {
    await waitUntil(
      async () => (await app.deliveries.list({ messageId }))[0]?.status === 'delivered',
      `message ${messageId} to be delivered`,
    );
    // A second send would come right after the first: give it the time to.
    await sleep(200);
    expect(sentIds().filter((id) => id === messageId)).toHaveLength(1);
  };

  beforeAll(async () => {
    db = await startDatabase();
    receiver = await startReceiver();
    typeorm = new DataSource({
      type: 'postgres',
      url: TEST_DATABASE_URL,
      extra: { application_name: db.applicationName },
    });
    await typeorm.initialize();
  });
  afterEach(async () => {
    for (const client of clients.splice(0)) {
      await client.query('ROLLBACK').catch(() => undefined);
      client.release();
    }
    await Promise.all(apps.splice(0).map((app) => app.close()));
    receiver.requests.length = 0;
    await db.truncate();
  });
  afterAll(async () => {
    await typeorm.destroy();
    await receiver.close();
    await db.drop();
  });

  it('sends nothing before COMMIT, and once at it, woken by the transaction’s own notify', async () => {
    const app = await boot();
    const client = await begin();

    const sent = await app.emitter.emit(PingWebhook, { seq: 1 }, { transaction: client });

    expect(sent.endpoints).toBe(1);
    // Only the transaction sees it.
    expect(await stored()).toEqual({ messages: 0, deliveries: 0 });
    const [inside] = (await client.query(`SELECT count(*)::int AS n FROM ${db.schema}.deliveries`))
      .rows;
    expect(inside.n).toBe(1);
    await sleep(300);
    expect(receiver.requests).toHaveLength(0);

    await client.query('COMMIT');
    await receiver.waitFor(1);
    expect(sentIds()).toEqual([sent.id]);
    await deliveredOnce(app, sent.id);
  });

  it('leaves no trace after ROLLBACK: nothing sent, nothing in the log', async () => {
    const app = await boot({ sweepInterval: 100 });
    const client = await begin();
    const sent = await app.emitter.emit(PingWebhook, { seq: 1 }, { transaction: client });
    await client.query('ROLLBACK');

    // Several sweeps come and go.
    await sleep(500);
    expect(receiver.requests).toHaveLength(0);
    expect(await stored()).toEqual({ messages: 0, deliveries: 0 });
    expect(await app.deliveries.list({ messageId: sent.id })).toEqual([]);
  });

  it('drops what a rolled-back savepoint wrote, and sends the rest of the committed transaction', async () => {
    const app = await boot();
    const client = await begin();
    await client.query('SAVEPOINT before_ping');
    const dropped = await app.emitter.emit(PingWebhook, { seq: 1 }, { transaction: client });
    await client.query('ROLLBACK TO SAVEPOINT before_ping');
    const kept = await app.emitter.emit(PingWebhook, { seq: 2 }, { transaction: client });
    await client.query('COMMIT');

    await receiver.waitFor(1);
    await deliveredOnce(app, kept.id);
    expect(sentIds()).toEqual([kept.id]);
    expect(await app.deliveries.list({ messageId: dropped.id })).toEqual([]);
    expect(await stored()).toEqual({ messages: 1, deliveries: 1 });
  });

  it('takes a pg Client of its own (not from a pool) inside BEGIN', async () => {
    const app = await boot();
    const client = new pg.Client({ connectionString: TEST_DATABASE_URL });
    await client.connect();
    try {
      await client.query('BEGIN');
      const sent = await app.emitter.emit(PingWebhook, { seq: 1 }, { transaction: client });
      await client.query('COMMIT');
      await receiver.waitFor(1);
      await deliveredOnce(app, sent.id);
    } finally {
      await client.end();
    }
  });

  it('takes a TypeORM EntityManager inside transaction(): sent after it commits, never after a throw', async () => {
    const app = await boot();
    let sent = { id: '' };
    await typeorm.transaction(async (manager) => {
      sent = await app.emitter.emit(PingWebhook, { seq: 1 }, { transaction: manager });
      expect(await stored()).toEqual({ messages: 0, deliveries: 0 });
    });
    await receiver.waitFor(1);
    await deliveredOnce(app, sent.id);

    const failure = typeorm.transaction(async (manager) => {
      await app.emitter.emit(PingWebhook, { seq: 2 }, { transaction: manager });
      throw new Error('the order could not be saved');
    });
    await expect(failure).rejects.toThrow('the order could not be saved');
    await sleep(300);
    expect(sentIds()).toEqual([sent.id]);
    expect(await stored()).toEqual({ messages: 1, deliveries: 1 });
  });

  it('takes a TypeORM QueryRunner in a transaction it started', async () => {
    const app = await boot();
    const runner = typeorm.createQueryRunner();
    await runner.connect();
    try {
      await runner.startTransaction();
      const rolledBack = await app.emitter.emit(PingWebhook, { seq: 1 }, { transaction: runner });
      await runner.rollbackTransaction();
      await runner.startTransaction();
      const sent = await app.emitter.emit(PingWebhook, { seq: 2 }, { transaction: runner });
      await runner.commitTransaction();
      await receiver.waitFor(1);
      await deliveredOnce(app, sent.id);
      expect(sentIds()).toEqual([sent.id]);
      expect(await app.deliveries.list({ messageId: rolledBack.id })).toEqual([]);
    } finally {
      await runner.release();
    }
  });

  it.each([
    [
      'a function (sql, params) resolving to pg’s result, as for Drizzle, Kysely or Knex',
      (client: pg.PoolClient) => (sql: string, params: unknown[]) => client.query(sql, params),
    ],
    [
      'a function (sql, params) resolving to the rows',
      (client: pg.PoolClient) => async (sql: string, params: unknown[]) =>
        (await client.query(sql, params)).rows,
    ],
    [
      // Prisma's tx has $queryRawUnsafe(sql, ...values), resolving to the rows, and no
      // $transaction; here over a pg connection (prisma generate cannot run on CI).
      'the client of a Prisma interactive transaction, through $queryRawUnsafe',
      (client: pg.PoolClient) => ({
        $queryRawUnsafe: async (sql: string, ...values: unknown[]) =>
          (await client.query(sql, values)).rows,
        $executeRawUnsafe: async (sql: string, ...values: unknown[]) =>
          (await client.query(sql, values)).rowCount,
      }),
    ],
  ])('takes %s inside BEGIN', async (_, runner) => {
    const app = await boot();
    const client = await begin();
    const sent = await app.emitter.emit(PingWebhook, { seq: 1 }, { transaction: runner(client) });
    expect(await stored()).toEqual({ messages: 0, deliveries: 0 });
    await client.query('COMMIT');
    await receiver.waitFor(1);
    await deliveredOnce(app, sent.id);
  });

  it('refuses a PrismaClient itself (outside $transaction), storing nothing', async () => {
    const app = await boot();
    class PrismaClient {
      $transaction() {}
      async $queryRawUnsafe(): Promise<unknown> {
        throw new Error('not to be called');
      }
    }
    const error = await rejection(
      app.emitter.emit(PingWebhook, { seq: 1 }, { transaction: new PrismaClient() }),
    );
    expect(error).toBeInstanceOf(WebhookArgumentError);
    expect(error.message).toContain(
      'options.transaction is a PrismaClient, a Prisma client outside any transaction',
    );
    expect(error.message).toContain('prisma.$transaction(async (tx) =>');
    expect(await stored()).toEqual({ messages: 0, deliveries: 0 });
  });

  it('reads back no column of type void in the caller’s transaction', async () => {
    // Prisma's pg adapter refuses a result with a void column (UnsupportedNativeDataType), as
    // pg_notify() answers one: what the emit runs there must answer readable types only.
    const app = await boot();
    const client = await begin();
    const types: number[] = [];
    const transaction = async (sql: string, params: unknown[]) => {
      const result = await client.query(sql, params);
      types.push(...result.fields.map((field) => field.dataTypeID));
      return result.rows;
    };
    await app.emitter.emit(PingWebhook, { seq: 1 }, { transaction });
    await app.emitter.emit(PingWebhook, { seq: 2 }, { transaction, idempotencyKey: 'k' });
    const VOID = 2278;
    expect(types.length).toBeGreaterThan(0);
    expect(types).not.toContain(VOID);
  });

  it('deduplicates by idempotency key in the same transaction and in a later one', async () => {
    const app = await boot();
    const first = await begin();
    const key = { idempotencyKey: 'order-1' };
    const sent = await app.emitter.emit(PingWebhook, { seq: 1 }, { ...key, transaction: first });
    const again = await app.emitter.emit(PingWebhook, { seq: 2 }, { ...key, transaction: first });
    expect(again).toEqual(sent);
    await first.query('COMMIT');

    const later = await begin();
    const repeat = await app.emitter.emit(PingWebhook, { seq: 3 }, { ...key, transaction: later });
    expect(repeat).toEqual(sent);
    await later.query('COMMIT');

    await receiver.waitFor(1);
    await deliveredOnce(app, sent.id);
    expect(await stored()).toEqual({ messages: 1, deliveries: 1 });
  });

  it('makes an emit with the same key elsewhere wait for the transaction that holds it', async () => {
    const app = await boot();
    const key = { idempotencyKey: 'order-2' };
    const holder = await begin();
    const sent = await app.emitter.emit(PingWebhook, { seq: 1 }, { ...key, transaction: holder });
    const waiter = await begin();
    let settled = false;
    const waiting = app.emitter
      .emit(PingWebhook, { seq: 2 }, { ...key, transaction: waiter })
      .finally(() => (settled = true));
    await sleep(300);
    expect(settled).toBe(false);
    await holder.query('COMMIT');
    expect(await waiting).toEqual(sent);
    await waiter.query('COMMIT');

    // Under REPEATABLE READ the waiter cannot see the holder's commit: it fails, to be retried.
    const second = await begin();
    await app.emitter.emit(
      PingWebhook,
      { seq: 3 },
      { idempotencyKey: 'order-3', transaction: second },
    );
    const strict = await db.pool.connect();
    clients.push(strict);
    await strict.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
    const failing = rejection(
      app.emitter.emit(PingWebhook, { seq: 4 }, { idempotencyKey: 'order-3', transaction: strict }),
    );
    await sleep(100);
    await second.query('COMMIT');
    const error = await failing;
    expect(error).toBeInstanceOf(WebhookStoreError);
    expect((error.cause as { code?: string }).code).toBe('40001');
    await strict.query('ROLLBACK');
    expect(await stored()).toEqual({ messages: 2, deliveries: 2 });
  });

  it.each([
    [{}, 'options.transaction is a plain object, which is no transaction'],
    [42, 'options.transaction is 42, which is no transaction'],
    ['BEGIN', 'options.transaction is "BEGIN", which is no transaction'],
    [new (class Connection {})(), 'options.transaction is a Connection, which is no transaction'],
  ])('refuses %j as a transaction, naming it, storing nothing', async (transaction, text) => {
    const app = await boot();
    const error = await rejection(app.emitter.emit(PingWebhook, { seq: 1 }, { transaction }));
    expect(error).toBeInstanceOf(WebhookArgumentError);
    expect((error as WebhookArgumentError).argument).toBe('options.transaction');
    expect(error.message).toContain(text);
    expect(error.message).toContain('a pg Client or PoolClient inside BEGIN');
    expect(await stored()).toEqual({ messages: 0, deliveries: 0 });
  });

  it('says so when a function given as transaction resolves to something other than rows', async () => {
    const app = await boot();
    const client = await begin();
    const runner = async function runInKnex(sql: string, params: unknown[]) {
      await client.query(sql, params);
      return 1;
    };
    const error = await rejection(
      app.emitter.emit(PingWebhook, { seq: 1 }, { transaction: runner }),
    );
    expect(error).toBeInstanceOf(WebhookArgumentError);
    expect(error.message).toContain('(the function runInKnex) resolved to 1, not to rows');
    expect(error.message).toContain('roll that transaction back');
    await client.query('ROLLBACK');
    expect(await stored()).toEqual({ messages: 0, deliveries: 0 });
  });

  // Each of these would run the emit as a transaction of its own, committed at once.
  const outside = (given: string) => `options.transaction (${given}) is not inside a transaction`;
  it.each([
    [
      'the test’s pg Pool',
      'options.transaction is a BoundPool, which runs each statement on whichever connection',
      () => db.pool,
    ],
    ['a TypeORM DataSource', outside('a DataSource'), () => typeorm],
    ['dataSource.manager', outside('an EntityManager'), () => typeorm.manager],
    [
      'a QueryRunner before startTransaction()',
      outside('a PostgresQueryRunner'),
      () => typeorm.createQueryRunner(),
    ],
  ])('refuses %s as a transaction, storing nothing', async (_, text, handle) => {
    const app = await boot();
    const transaction = handle();
    const error = await rejection(app.emitter.emit(PingWebhook, { seq: 1 }, { transaction }));
    expect(error).toBeInstanceOf(WebhookArgumentError);
    expect(error.message).toContain(text);
    expect(error.message).toContain('nothing was stored');
    expect(await stored()).toEqual({ messages: 0, deliveries: 0 });
  });

  it.each([
    ['before BEGIN', 'a Client', async (client: pg.PoolClient) => client],
    [
      'after COMMIT',
      'a Client',
      async (client: pg.PoolClient) => (await client.query('BEGIN; COMMIT'), client),
    ],
    [
      'behind a function (asked of PostgreSQL)',
      'the function runOutside',
      async (client: pg.PoolClient) =>
        async function runOutside(sql: string, params: unknown[]) {
          return client.query(sql, params);
        },
    ],
    [
      'behind a function speaking the extended protocol',
      'the function runExtended',
      async (client: pg.PoolClient) =>
        async function runExtended(sql: string, params: unknown[]) {
          return client.query({
            text: sql,
            values: params,
            queryMode: 'extended',
          } as pg.QueryConfig);
        },
    ],
  ])('refuses a client %s, storing nothing', async (_, given, handle) => {
    const app = await boot();
    const client = await db.pool.connect();
    clients.push(client);
    const transaction = await handle(client);
    const error = await rejection(app.emitter.emit(PingWebhook, { seq: 1 }, { transaction }));
    expect(error).toBeInstanceOf(WebhookArgumentError);
    expect(error.message).toContain(outside(given));
    expect(await stored()).toEqual({ messages: 0, deliveries: 0 });
  });

  it('takes a function speaking the extended protocol inside BEGIN', async () => {
    const app = await boot();
    const client = await begin();
    const transaction = (sql: string, params: unknown[]) =>
      client.query({ text: sql, values: params, queryMode: 'extended' } as pg.QueryConfig);
    const sent = await app.emitter.emit(PingWebhook, { seq: 1 }, { transaction });
    expect(await stored()).toEqual({ messages: 0, deliveries: 0 });
    await client.query('COMMIT');
    await receiver.waitFor(1);
    await deliveredOnce(app, sent.id);
  });

  it('goes by the pg client beneath a TypeORM QueryRunner: a BEGIN of its own, a failed statement', async () => {
    const app = await boot();
    const runner = typeorm.createQueryRunner();
    try {
      await runner.query('BEGIN');
      const sent = await app.emitter.emit(PingWebhook, { seq: 1 }, { transaction: runner });
      await runner.query('COMMIT');
      await receiver.waitFor(1);
      await deliveredOnce(app, sent.id);

      await runner.startTransaction();
      await runner.query('SELECT 1/0').catch(() => undefined);
      const client = (await runner.connect()) as pg.PoolClient;
      await waitUntil(() => client.getTransactionStatus() === 'E', 'pg to see the failed state');
      const error = await rejection(
        app.emitter.emit(PingWebhook, { seq: 2 }, { transaction: runner }),
      );
      expect(error.message).toContain(
        'options.transaction (a PostgresQueryRunner) is in a transaction that has already failed',
      );
      await runner.rollbackTransaction();
    } finally {
      await runner.release();
    }
    expect(await stored()).toEqual({ messages: 1, deliveries: 1 });
  });

  it('costs two statements in the transaction (four behind a function), one with no endpoint', async () => {
    const app = await boot();
    await app.endpoints.add({ url: `${receiver.url}/hook`, events: ['ping'], tenant: 'acme' });
    const client = await begin();
    const statements: string[] = [];
    const counted = new Proxy(client, {
      get: (target, name, receiver_) =>
        name === 'query'
          ? (sql: string, params: unknown[]) => (statements.push(sql), target.query(sql, params))
          : Reflect.get(target, name, receiver_),
    });
    const count = async (transaction: unknown, tenant?: string) => {
      statements.length = 0;
      await app.emitter.emit(PingWebhook, { seq: 1 }, { transaction, tenant });
      return statements.length;
    };
    const viaFunction = (sql: string, params: unknown[]) => counted.query(sql, params);
    expect(await count(counted, 'acme')).toBe(2);
    expect(await count(viaFunction, 'acme')).toBe(4);
    // No endpoint of this tenant: the message is kept for the log, and nobody is woken.
    expect(await count(counted, 'nobody')).toBe(1);
    await client.query('COMMIT');
    expect(await stored()).toEqual({ messages: 3, deliveries: 2 });
  });

  it('refuses a pg client whose transaction has already failed, storing nothing', async () => {
    const app = await boot();
    const client = await begin();
    await client.query('SELECT 1/0').catch(() => undefined);
    // pg rejects the query at the error, and hears the transaction's state just after (until
    // then, the emit's own statement fails with 25P02, as the next test shows).
    await waitUntil(() => client.getTransactionStatus() === 'E', 'pg to see the failed state');
    const error = await rejection(
      app.emitter.emit(PingWebhook, { seq: 1 }, { transaction: client }),
    );
    expect(error).toBeInstanceOf(WebhookArgumentError);
    expect(error.message).toContain('is in a transaction that has already failed');
    await client.query('ROLLBACK');
    expect(await stored()).toEqual({ messages: 0, deliveries: 0 });
  });

  it('rejects with a WebhookStoreError when a function runs it in a transaction that has already failed', async () => {
    const app = await boot();
    const client = await begin();
    await client.query('SELECT 1/0').catch(() => undefined);
    const transaction = (sql: string, params: unknown[]) => client.query(sql, params);
    const error = await rejection(app.emitter.emit(PingWebhook, { seq: 1 }, { transaction }));
    expect(error).toBeInstanceOf(WebhookStoreError);
    expect(error.message).toContain('emit message');
    expect((error.cause as { code?: string }).code).toBe('25P02');
    await client.query('ROLLBACK');
    expect(await stored()).toEqual({ messages: 0, deliveries: 0 });
  });
});
