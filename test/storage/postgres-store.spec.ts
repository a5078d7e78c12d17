import { Logger } from '@nestjs/common';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { StoredWebhookEndpoint } from '../../lib/interfaces/webhook-endpoint.interface.js';
import type {
  WebhookAttempt,
  WebhookDelivery,
  WebhookMessage,
} from '../../lib/interfaces/webhook-message.interface.js';
import type {
  WebhookDeliveryOutcome,
  WebhookStore,
} from '../../lib/interfaces/webhook-store.interface.js';
import { attemptId, createId } from '../../lib/storage/ids.js';
import { WebhookStoreError } from '../../lib/webhooks.errors.js';
import { PostgresNotifier } from '../../lib/storage/postgres/postgres-notifier.js';
import {
  migrationLockKey,
  storeStatements,
} from '../../lib/storage/postgres/postgres-statements.js';
import {
  PostgresWebhookStore,
  webhookMigrations,
} from '../../lib/storage/postgres/postgres-webhook.store.js';
import { rejection, waitUntil } from '../support/delivery-app.js';
import {
  startDatabase,
  startPostgresProxy,
  TEST_DATABASE_URL,
  type TestDatabase,
} from '../support/postgres.js';
import { storedEndpoint, storedMessage } from '../support/stored-records.js';
import { compileFixtures, OPEN_STORE_SCRIPT, runNode } from '../support/worker-process.js';

const HOUR = 3_600_000;

let db: TestDatabase;
/** Schemas made by tests beside the file's own, dropped with it. */
const extraSchemas: string[] = [];
let schemaCount = 0;
/** A fresh schema name of this file's, never migrated yet. */
const freshSchema = () => {
  const schema = `${db.schema}_${++schemaCount}`;
  extraSchemas.push(schema);
  return schema;
};

beforeAll(async () => {
  db = await startDatabase();
});

afterEach(() => {
  vi.restoreAllMocks();
});

afterAll(async () => {
  for (const schema of extraSchemas) await db?.admin(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await db?.drop();
});

const endpoint = (overrides: Partial<StoredWebhookEndpoint> = {}) =>
  storedEndpoint({ id: createId('ep'), ...overrides });

const message = (overrides: Partial<WebhookMessage> = {}) =>
  storedMessage({ id: createId('msg'), ...overrides });

const emitRequest = (of: WebhookMessage, notify = false) => ({
  message: of,
  idempotentSince: new Date(Date.now() - HOUR),
  notify,
});

const lease = (owner: string, now = new Date()) => ({
  owner,
  now,
  until: new Date(now.getTime() + 30_000),
});

/** Emits one message to `to` and returns its delivery id. */
async function emitTo(store: WebhookStore, to: StoredWebhookEndpoint, overrides = {}) {
  const emitted = message({ event: to.events[0], tenant: to.tenant, ...overrides });
  const result = await store.emit(emitRequest(emitted));
  if (!result.inserted) throw new Error('expected the message to be stored');
  return { message: emitted, deliveryId: result.deliveries[0].id };
}

/** A delivery's state once delivered at `now`, its first schedule used. */
const deliveredOutcome = (now: Date): WebhookDeliveryOutcome => ({
  status: 'delivered',
  scheduleAttempts: 1,
  nextAttemptAt: null,
  lastError: null,
  updatedAt: now,
});

/** Claims the delivery and records it delivered (attempt 1). */
async function deliver(store: WebhookStore, deliveryId: string, owner = 'finisher') {
  const claim = await store.claim(deliveryId, lease(owner));
  if (!claim) throw new Error(`expected to claim ${deliveryId}`);
  const now = new Date();
  const recorded = await store.record(
    deliveryId,
    owner,
    {
      id: attemptId(deliveryId, claim.delivery.attempts + 1),
      deliveryId,
      messageId: claim.delivery.messageId,
      endpointId: claim.delivery.endpointId,
      attempt: claim.delivery.attempts + 1,
      startedAt: now,
      durationMs: 3.5,
      statusCode: 200,
      error: null,
      responseBody: 'ok',
      outcome: 'delivered',
    },
    deliveredOutcome(now),
  );
  expect(recorded.applied).toBe(true);
}

const count = async (sql: string, values: unknown[] = []) =>
  Number((await db.admin<{ n: string }>(`SELECT count(*) AS n FROM ${sql}`, values))[0].n);

/** Connections open with this application_name. */
const connectionsNamed = (applicationName: string) =>
  count(`pg_stat_activity WHERE application_name = $1`, [applicationName]);

describe('webhookMigrations', () => {
  it('is the SQL of every migration for the schema, numbered from 1, recording itself', () => {
    const migrations = webhookMigrations('billing_hooks');

    expect(migrations.map(({ version }) => version)).toEqual(
      migrations.map((_, index) => index + 1),
    );
    expect(migrations[0].name).toBe('initial');
    const sql = migrations.map((migration) => migration.sql).join('\n');
    expect(sql).toContain('CREATE TABLE "billing_hooks".deliveries');
    expect(sql).toContain(
      `INSERT INTO "billing_hooks".schema_migrations (version, name) VALUES (1, 'initial')`,
    );
    // Byte order for ids, which is the order the cursors page by.
    expect(sql).toMatch(/id text COLLATE "C" PRIMARY KEY/);
    expect(sql).toMatch(/deliveries_due_idx[^;]*WHERE status = 'pending'/);
    expect(sql).not.toMatch(/\bwebhooks"?\./);
  });

  it("defaults to the schema 'webhooks'", () => {
    expect(webhookMigrations()[0].sql).toContain('CREATE TABLE "webhooks".endpoints');
  });

  it('refuses a schema that is not a plain identifier, naming it', () => {
    for (const schema of [
      'Webhooks',
      'web-hooks',
      '1hooks',
      'a;DROP TABLE x',
      '',
      'x'.repeat(64),
      'pg_hooks',
    ]) {
      expect(() => webhookMigrations(schema)).toThrow(/option 'schema' must be a lower-case/);
    }
    expect(() => webhookMigrations('web-hooks')).toThrow('"web-hooks"');
  });
});

describe('migrations at open()', () => {
  it('creates the tables, the indexes and schema_migrations in a fresh schema', async () => {
    const schema = freshSchema();
    const store = await PostgresWebhookStore.open({ pool: db.pool, schema });
    await store.close();

    const tables = await db.admin<{ name: string }>(
      `SELECT tablename AS name FROM pg_tables WHERE schemaname = $1 ORDER BY 1`,
      [schema],
    );
    expect(tables.map(({ name }) => name)).toEqual([
      'attempts',
      'deliveries',
      'endpoints',
      'idempotency_keys',
      'messages',
      'portal_tenants',
      'schema_migrations',
    ]);
    const applied = await db.admin(
      `SELECT version, name FROM ${schema}.schema_migrations ORDER BY version`,
    );
    expect(applied).toEqual([
      { version: 1, name: 'initial' },
      { version: 2, name: 'lighter_delivery_updates' },
      { version: 3, name: 'portal' },
      { version: 4, name: 'prune_cursor' },
      { version: 5, name: 'endpoint_due' },
    ]);
    const collations = await db.admin<{ table: string; collation: string }>(
      `SELECT c.relname AS table, co.collname AS collation
       FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
       JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_collation co ON co.oid = a.attcollation
       WHERE n.nspname = $1 AND a.attname = 'id' AND c.relkind = 'r' ORDER BY 1`,
      [schema],
    );
    expect(collations.map(({ collation }) => collation)).toEqual(['C', 'C', 'C']);
    const portalKey = await db.admin<{ collation: string }>(
      `SELECT co.collname AS collation FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
       JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_collation co ON co.oid = a.attcollation
       WHERE n.nspname = $1 AND c.relname = 'portal_tenants' AND a.attname = 'tenant'`,
      [schema],
    );
    expect(portalKey).toEqual([{ collation: 'C' }]);
    const due = await db.admin<{ definition: string }>(
      `SELECT indexdef AS definition FROM pg_indexes
       WHERE schemaname = $1 AND indexname = 'deliveries_due_idx'`,
      [schema],
    );
    expect(due[0].definition).toMatch(/\(next_attempt_at, id\) WHERE \(status = 'pending'::text\)/);
    const indexesOf = async (table: string) =>
      (
        await db.admin<{ name: string }>(
          `SELECT indexname AS name FROM pg_indexes WHERE schemaname = $1 AND tablename = $2
           ORDER BY 1`,
          [schema, table],
        )
      ).map(({ name }) => name);
    // A delivered delivery is in all but the due ones and the unfinished one.
    expect(await indexesOf('deliveries')).toEqual([
      'deliveries_due_idx',
      'deliveries_endpoint_due_idx',
      'deliveries_endpoint_idx',
      'deliveries_event_idx',
      'deliveries_message_idx',
      'deliveries_pkey',
      'deliveries_tenant_idx',
      'deliveries_unfinished_idx',
    ]);
    // Retention walks the old messages by (created_at, id).
    expect(await indexesOf('messages')).toEqual([
      'messages_created_id_idx',
      'messages_event_idx',
      'messages_pkey',
      'messages_tenant_idx',
    ]);
  });

  it('upgrades a schema at version 1, keeping its rows and listing them by status', async () => {
    const schema = freshSchema();
    await db.admin(webhookMigrations(schema)[0].sql);
    const ep = endpoint();
    await db.admin(
      `INSERT INTO ${schema}.endpoints (id, url, events, secret, created_at, updated_at)
       VALUES ($1, $2, $3, $4, now(), now())`,
      [ep.id, ep.url, ep.events, ep.secret],
    );
    await expect(
      PostgresWebhookStore.open({ pool: db.pool, schema, migrate: false }),
    ).rejects.toThrow(
      'missing migration(s): 2 (lighter_delivery_updates), 3 (portal), 4 (prune_cursor), ' +
        '5 (endpoint_due)',
    );

    const store = await PostgresWebhookStore.open({ pool: db.pool, schema });
    const pending = await emitTo(store, ep);
    const { deliveryId } = await emitTo(store, ep);
    await deliver(store, deliveryId);

    expect(await count(`${schema}.schema_migrations`)).toBe(webhookMigrations().length);
    expect((await store.getMessage(pending.message.id))?.test).toBeUndefined();
    const ids = async (status: 'pending' | 'delivered' | 'failed') =>
      (await store.listDeliveries({ status })).items.map(({ id }) => id);
    expect(await ids('pending')).toEqual([pending.deliveryId]);
    expect(await ids('delivered')).toEqual([deliveryId]);
    expect(await ids('failed')).toEqual([]);
    await store.close();
  });

  it('works in a schema whose name is a keyword of SQL (user)', async () => {
    // Not a schema of this file's own name: the name is the point. Dropped before and after.
    const drop = () => db.admin('DROP SCHEMA IF EXISTS "user" CASCADE');
    await drop();
    try {
      const store = await PostgresWebhookStore.open({ pool: db.pool, schema: 'user' });
      const ep = endpoint({ tenant: 'keyword' });
      await store.insertEndpoint(ep);
      expect(await store.updateEndpoint(ep.id, { description: 'renamed' })).toMatchObject({
        description: 'renamed',
      });
      const old = await emitTo(store, ep, { createdAt: new Date(Date.now() - 2 * HOUR) });
      await deliver(store, old.deliveryId);
      expect((await store.listDeliveries({ tenant: 'keyword' })).items).toHaveLength(1);
      expect((await store.listEndpoints({ tenant: 'keyword' })).items).toHaveLength(1);
      expect(await store.sweep(lease('sweeper'), 10)).toEqual([]);
      expect(await store.prune(new Date(Date.now() - HOUR), Infinity)).toBe(1);
      await store.close();
      // Up to date, as migrate: false sees it.
      await (
        await PostgresWebhookStore.open({ pool: db.pool, schema: 'user', migrate: false })
      ).close();
    } finally {
      await drop();
    }
  });

  it('does nothing more when opened again', async () => {
    const schema = freshSchema();
    await (await PostgresWebhookStore.open({ pool: db.pool, schema })).close();
    await (await PostgresWebhookStore.open({ pool: db.pool, schema })).close();

    expect(await count(`${schema}.schema_migrations`)).toBe(webhookMigrations().length);
  });

  it("warns when this process's clock is seconds from PostgreSQL's, saying by how much and which way", async () => {
    const warnings = vi.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    const skewWarnings = () =>
      warnings.mock.calls.map(([text]) => String(text)).filter((text) => /clock is/.test(text));
    const schema = freshSchema();
    // In step with the database: nothing said.
    await (await PostgresWebhookStore.open({ pool: db.pool, schema })).close();
    expect(skewWarnings()).toEqual([]);

    // Only Date is faked, and it stands still where it is set: pg's timers and sockets run as
    // ever. Each time is set from the real one, read where Date is not faked.
    const realNow = () => performance.timeOrigin + performance.now();
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      vi.setSystemTime(realNow() + 30_000);
      await (await PostgresWebhookStore.open({ pool: db.pool, schema })).close();
      vi.setSystemTime(realNow() - 45_000);
      await (await PostgresWebhookStore.open({ pool: db.pool, schema })).close();
    } finally {
      vi.useRealTimers();
    }
    const [ahead, behind, ...more] = skewWarnings();
    expect(more).toEqual([]);
    // Off by the time open() took before it read the database's clock: well under 5 s.
    const seconds = (text: string, direction: string) =>
      Number(new RegExp(`clock is ([\\d.]+) s ${direction} PostgreSQL's`).exec(text)?.[1]);
    expect(seconds(ahead, 'ahead of')).toBeGreaterThan(25);
    expect(seconds(ahead, 'ahead of')).toBeLessThanOrEqual(30);
    expect(seconds(behind, 'behind')).toBeGreaterThanOrEqual(45);
    expect(seconds(behind, 'behind')).toBeLessThan(50);
    expect(ahead).toContain(`schema '${schema}'`);
    expect(ahead).toMatch(/NTP/);
  });

  it('migrates under an advisory lock of the schema: it waits while another holds it', async () => {
    const schema = freshSchema();
    const holder = new pg.Client({ connectionString: TEST_DATABASE_URL });
    await holder.connect();
    try {
      await holder.query('SELECT pg_advisory_lock($1::bigint)', [migrationLockKey(schema)]);
      let opened = false;
      const opening = PostgresWebhookStore.open({ pool: db.pool, schema }).then((store) => {
        opened = true;
        return store;
      });
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(opened).toBe(false);

      await holder.query('SELECT pg_advisory_unlock($1::bigint)', [migrationLockKey(schema)]);
      await (await opening).close();
      expect(opened).toBe(true);
    } finally {
      await holder.end();
    }
  });

  it('brings up 5 stores opened at once on an empty schema, migrating once', async () => {
    const schema = freshSchema();
    const pools = Array.from({ length: 5 }, () => db.newPool({ max: 2 }));

    const stores = await Promise.all(
      pools.map((pool) => PostgresWebhookStore.open({ pool, schema })),
    );

    expect(await count(`${schema}.schema_migrations`)).toBe(webhookMigrations().length);
    const ep = endpoint();
    await stores[0].insertEndpoint(ep);
    expect(await stores[4].getEndpoint(ep.id)).toEqual(ep);
    await Promise.all(stores.map((store) => store.close()));
  });

  it('brings up 3 processes started at once on an empty schema', async () => {
    compileFixtures();
    const script = OPEN_STORE_SCRIPT;
    const schema = freshSchema();
    const options = { connectionString: TEST_DATABASE_URL, schema };

    const runs = await Promise.all([1, 2, 3].map(() => runNode(script, options)));

    for (const run of runs) expect(run).toEqual({ code: 0, output: '' });
    expect(await count(`${schema}.schema_migrations`)).toBe(webhookMigrations().length);
  }, 60_000);

  it('rolls a failing migration back and says which one failed', async () => {
    const schema = freshSchema();
    // A table of the same name, made by someone else: the migration cannot create its own.
    await db.admin(`CREATE SCHEMA ${schema}; CREATE TABLE ${schema}.endpoints (x int)`);

    const error = await rejection(PostgresWebhookStore.open({ pool: db.pool, schema }));

    expect(error.message).toContain(`schema '${schema}' failed at migration 1 (initial)`);
    expect(error.message).toContain('relation "endpoints" already exists');
    expect(error.message).toContain('rolled back');
    expect(await count(`pg_tables WHERE schemaname = $1`, [schema])).toBe(1);
  });

  describe('with migrate: false', () => {
    it('rejects on an empty schema, saying what is missing and where its SQL is', async () => {
      const schema = freshSchema();

      const error = await rejection(
        PostgresWebhookStore.open({ pool: db.pool, schema, migrate: false }),
      );

      expect(error.message).toContain(`schema '${schema}' are not there`);
      expect(error.message).toContain('missing migration(s): 1 (initial)');
      expect(error.message).toContain(`webhookMigrations('${schema}')`);
      expect(error.message).toContain('migrate: true');
      expect(await count(`pg_namespace WHERE nspname = $1`, [schema])).toBe(0);
    });

    it('rejects on an outdated schema, naming its version and the missing migrations', async () => {
      const schema = freshSchema();
      // As a schema migrated by an earlier version of the library would be.
      await db.admin(webhookMigrations(schema)[0].sql);

      const error = await rejection(
        PostgresWebhookStore.open({ pool: db.pool, schema, migrate: false }),
      );

      expect(error.message).toContain('at version 1, older than this version');
      expect(error.message).toContain('missing migration(s): 2 (lighter_delivery_updates)');
      expect(error.message).toContain(`webhookMigrations('${schema}')`);
    });

    it("opens on a schema made by running webhookMigrations' SQL with another tool", async () => {
      const schema = freshSchema();
      const tool = new pg.Client({ connectionString: TEST_DATABASE_URL });
      await tool.connect();
      try {
        for (const { sql } of webhookMigrations(schema)) {
          await tool.query('BEGIN');
          await tool.query(sql);
          await tool.query('COMMIT');
        }
      } finally {
        await tool.end();
      }

      const store = await PostgresWebhookStore.open({ pool: db.pool, schema, migrate: false });
      const ep = endpoint();
      await store.insertEndpoint(ep);
      const { deliveryId } = await emitTo(store, ep);
      await deliver(store, deliveryId);
      expect((await store.getDelivery(deliveryId))?.status).toBe('delivered');
      await store.close();
    });
  });
});

describe('options', () => {
  it('refuses a schema that is not a plain identifier, naming it', async () => {
    const error = await rejection(PostgresWebhookStore.open({ pool: db.pool, schema: 'My Hooks' }));

    expect(error).toBeInstanceOf(TypeError);
    expect(error.message).toContain(`option 'schema' must be a lower-case PostgreSQL identifier`);
    expect(error.message).toContain('"My Hooks"');
  });

  it('needs exactly one of pool and connectionString', async () => {
    expect((await rejection(PostgresWebhookStore.open({}))).message).toContain(
      "needs 'pool' (the app's own pg Pool) or 'connectionString'",
    );
    const both = await rejection(
      PostgresWebhookStore.open({ pool: db.pool, connectionString: TEST_DATABASE_URL }),
    );
    expect(both.message).toContain("both 'pool' and 'connectionString'");
    expect(both.message).not.toContain(TEST_DATABASE_URL);
  });

  it('refuses a pool that is not one, and durations that are not milliseconds', async () => {
    const notPool = { query: 1 } as unknown as pg.Pool;
    expect((await rejection(PostgresWebhookStore.open({ pool: notPool }))).message).toContain(
      "option 'pool' must be a pg Pool",
    );
    for (const name of ['retention', 'idempotencyTtl', 'pruneInterval'] as const) {
      const error = await rejection(PostgresWebhookStore.open({ pool: db.pool, [name]: -1 }));
      expect(error.message).toContain(`option '${name}' must be a number of milliseconds`);
      expect(error.message).toContain('(got -1)');
    }
  });

  it('rejects open() with a clear message when PostgreSQL cannot be reached', async () => {
    const proxy = await startPostgresProxy();
    await proxy.cut();

    const error = await rejection(
      PostgresWebhookStore.open({ connectionString: proxy.url, schema: freshSchema() }),
    );

    expect(error.message).toContain('could not start');
    expect(error.message).toContain('ECONNREFUSED');
    expect(error.message).toContain('Check that PostgreSQL is reachable');
    expect(error.cause).toBeInstanceOf(Error);
    await proxy.close();
  });
});

describe('round trips', () => {
  let store: PostgresWebhookStore;
  let pool: pg.Pool;

  beforeAll(async () => {
    pool = db.newPool();
    store = await PostgresWebhookStore.open({ pool, schema: db.schema });
  });

  afterAll(async () => {
    await store.close();
  });

  it('takes one query each for emit (keyed or not), claim, record and sweep; a notify follows', async () => {
    const ep = endpoint({ tenant: 'acme' });
    await store.insertEndpoint(ep);
    await store.insertEndpoint(endpoint({ tenant: 'acme' }));
    const queries = vi.spyOn(pool, 'query');
    const connects = vi.spyOn(pool, 'connect');
    const notifies = () =>
      queries.mock.calls.filter(([config]) => /pg_notify/.test(JSON.stringify(config))).length;
    const one = async <T>(call: () => Promise<T>, notified = 0): Promise<T> => {
      queries.mockClear();
      connects.mockClear();
      const result = await call();
      expect(queries).toHaveBeenCalledTimes(1);
      expect(notifies()).toBe(0);
      // pool.query's own checkout of a client; a transaction would take one more.
      expect(connects.mock.calls.length).toBeLessThanOrEqual(1);
      // A notifying write wakes the watchers after it has committed, in a statement of its own.
      await new Promise((resolve) => setImmediate(resolve));
      expect(notifies()).toBe(notified);
      return result;
    };

    const plain = await one(() => store.emit(emitRequest(message({ tenant: 'acme' }), true)), 1);
    const keyed = await one(() =>
      store.emit(emitRequest(message({ tenant: 'acme', idempotencyKey: 'k1' }))),
    );
    const repeated = await one(() =>
      store.emit(emitRequest(message({ tenant: 'acme', idempotencyKey: 'k1' }))),
    );
    expect(plain.inserted && plain.deliveries).toHaveLength(2);
    expect(keyed.inserted && keyed.deliveries).toHaveLength(2);
    expect(repeated).toMatchObject({ inserted: false, deliveries: 2 });
    const deliveryId = plain.inserted ? plain.deliveries[0].id : '';
    const claim = await one(() => store.claim(deliveryId, lease('w')));
    await one(() =>
      store.record(deliveryId, 'w', null, {
        status: 'failed',
        scheduleAttempts: 0,
        nextAttemptAt: null,
        lastError: 'given up',
        updatedAt: new Date(),
      }),
    );
    await one(() => store.sweep(lease('s'), 10));
    await one(
      () =>
        store.redeliver({ messageId: claim!.delivery.messageId, now: new Date(), notify: true }),
      1,
    );
    await one(() => store.removeEndpoint(ep.id, 'endpoint removed', new Date()));
  });

  it('makes delivery ids in SQL that sort by emit, then by endpoint, as text', async () => {
    const eps = [
      endpoint({ tenant: 'ids' }),
      endpoint({ tenant: 'ids' }),
      endpoint({ tenant: 'ids' }),
    ];
    for (const ep of eps) await store.insertEndpoint(ep);
    const emitted: string[][] = [];
    for (let i = 0; i < 3; i++) {
      const result = await store.emit(emitRequest(message({ tenant: 'ids' })));
      emitted.push(result.inserted ? result.deliveries.map(({ id }) => id) : []);
    }

    const all = emitted.flat();
    expect(all.every((id) => /^dlv_[0-9a-z]{13}[0-9a-f]{16}[0-9a-f]{6}$/.test(id))).toBe(true);
    expect([...all].sort()).toEqual(all);
    expect(emitted.map((ids) => ids.length)).toEqual([3, 3, 3]);
    const listed = await store.listDeliveries({ tenant: 'ids' });
    expect(listed.items.map(({ id }) => id)).toEqual([...all].reverse());
  });
});

describe('sweep', () => {
  it('gives every delivery of a batch its own copy of its endpoint, or none once removed', async () => {
    const store = await PostgresWebhookStore.open({ pool: db.pool, schema: freshSchema() });
    const [a, b, gone] = [endpoint(), endpoint(), endpoint()];
    await store.insertEndpoint(gone);
    const orphan = await emitTo(store, gone);
    await deliver(store, orphan.deliveryId);
    await store.removeEndpoint(gone.id, 'endpoint removed', new Date());
    await store.redeliver({ messageId: orphan.message.id, now: new Date(), notify: false });
    for (const ep of [a, b]) await store.insertEndpoint(ep);
    for (let i = 0; i < 3; i++) await store.emit(emitRequest(message({ event: a.events[0] })));

    const swept = await store.sweep(lease('s', new Date(Date.now() + 1000)), 10);

    expect(swept).toHaveLength(7);
    const to = (ep: StoredWebhookEndpoint) => swept.filter((c) => c.delivery.endpointId === ep.id);
    expect(to(gone).map(({ endpoint }) => endpoint)).toEqual([undefined]);
    for (const ep of [a, b]) {
      const claims = to(ep);
      expect(claims).toHaveLength(3);
      for (const claim of claims) expect(claim.endpoint).toEqual(ep);
      expect(new Set(claims.map((claim) => claim.endpoint)).size).toBe(3);
      claims[0].endpoint!.events.push('changed');
      claims[0].endpoint!.createdAt.setTime(0);
      expect(claims[1].endpoint).toEqual(ep);
    }
    await store.close();
  });

  it.each(['force_custom_plan', 'force_generic_plan'])(
    'reads a few rows, not a skipped endpoint’s backlog of due deliveries, to fill a batch (%s)',
    async (planCacheMode) => {
      const schema = freshSchema();
      const store = await PostgresWebhookStore.open({ pool: db.pool, schema });
      const [busy, ...others] = ['busy', 'a', 'b', 'c'].map((event) =>
        endpoint({ events: [event] }),
      );
      for (const ep of [busy, ...others]) await store.insertEndpoint(ep);
      const first = await emitTo(store, busy);
      // 5,000 due deliveries of the busy endpoint, older than the others'.
      await db.admin(
        `INSERT INTO ${schema}.deliveries
           (id, message_id, endpoint_id, event, status, next_attempt_at, created_at, updated_at)
         SELECT 'dlv_backlog_' || lpad(g::text, 6, '0'), d.message_id, d.endpoint_id, d.event,
                'pending', now() - interval '1 hour' + g * interval '1 ms', now(), now()
         FROM ${schema}.deliveries d, generate_series(1, 5000) g WHERE d.id = $1`,
        [first.deliveryId],
      );
      const toOthers = [];
      for (const ep of others) toOthers.push((await emitTo(store, ep)).deliveryId);
      await db.admin(`ANALYZE ${schema}.deliveries`);

      const client = await db.pool.connect();
      try {
        await client.query('BEGIN');
        await client.query(`SET LOCAL plan_cache_mode = ${planCacheMode}`);
        const { text } = storeStatements(schema).sweep;
        await client.query(
          `PREPARE probe_sweep (text, timestamptz, timestamptz, int, text[], int) AS ${text}`,
        );
        const now = new Date(Date.now() + 1000);
        const until = new Date(now.getTime() + 30_000);
        const args = ['s', now.toISOString(), until.toISOString(), 10, `{${busy.id}}`, 10]
          .map((arg) => client.escapeLiteral(String(arg)))
          .join(', ');
        const { rows } = await client.query(
          `EXPLAIN (ANALYZE, FORMAT JSON) EXECUTE probe_sweep (${args})`,
        );
        // Every row a scan of deliveries produced or filtered out, over all its loops.
        const read = (node: PlanNode): number =>
          (node['Relation Name'] === 'deliveries'
            ? (node['Actual Rows'] + (node['Rows Removed by Filter'] ?? 0)) * node['Actual Loops']
            : 0) + (node.Plans ?? []).reduce((sum, child) => sum + read(child), 0);
        expect(read(rows[0]['QUERY PLAN'][0].Plan)).toBeLessThan(200);
      } finally {
        await client.query('ROLLBACK');
        await client.query('DEALLOCATE probe_sweep');
        client.release();
      }
      const swept = await store.sweep(lease('s', new Date(Date.now() + 1000)), 10, {
        perEndpoint: 10,
        skipEndpoints: [busy.id],
      });
      expect(swept.map(({ delivery }) => delivery.id).sort()).toEqual(toOthers.sort());
      await store.close();
    },
  );
});

interface PlanNode {
  'Relation Name'?: string;
  'Actual Rows': number;
  'Actual Loops': number;
  'Rows Removed by Filter'?: number;
  Plans?: PlanNode[];
}

describe('record', () => {
  /** `count` deliveries to a new endpoint, claimed by `owner`. */
  async function claimedDeliveries(store: WebhookStore, count: number, owner = 'w') {
    const ep = endpoint();
    await store.insertEndpoint(ep);
    const claims = [];
    for (let i = 0; i < count; i++) {
      const { deliveryId } = await emitTo(store, ep);
      const claim = await store.claim(deliveryId, lease(owner));
      if (!claim) throw new Error(`expected to claim ${deliveryId}`);
      claims.push(claim.delivery);
    }
    return claims;
  }

  const attemptOf = (delivery: WebhookDelivery, responseBody = 'ok'): WebhookAttempt => ({
    id: attemptId(delivery.id, 1),
    deliveryId: delivery.id,
    messageId: delivery.messageId,
    endpointId: delivery.endpointId,
    attempt: 1,
    startedAt: new Date(),
    durationMs: 2,
    statusCode: 200,
    error: null,
    responseBody,
    outcome: 'delivered',
  });

  it('writes the records made while none is being written as one statement', async () => {
    const pool = db.newPool();
    const store = await PostgresWebhookStore.open({ pool, schema: freshSchema() });
    const claims = await claimedDeliveries(store, 60);
    const queries = vi.spyOn(pool, 'query');

    const recorded = await Promise.all(
      claims.map((delivery) =>
        store.record(delivery.id, 'w', attemptOf(delivery), deliveredOutcome(new Date())),
      ),
    );

    expect(queries).toHaveBeenCalledTimes(1);
    expect(recorded.map((one) => [one.applied, one.delivery?.id])).toEqual(
      claims.map(({ id }) => [true, id]),
    );
    await store.close();
  });

  it('fails only the record PostgreSQL refuses; the others written with it are stored', async () => {
    const store = await PostgresWebhookStore.open({ pool: db.pool, schema: freshSchema() });
    const claims = await claimedDeliveries(store, 12);
    // PostgreSQL's text cannot hold a NUL character.
    const bad = claims[5];

    const recorded = await Promise.allSettled(
      claims.map((delivery) =>
        store.record(
          delivery.id,
          'w',
          attemptOf(delivery, delivery === bad ? 'a\u0000b' : 'ok'),
          deliveredOutcome(new Date()),
        ),
      ),
    );

    const refused = recorded[5];
    expect(refused.status).toBe('rejected');
    const error = (refused as PromiseRejectedResult).reason as Error;
    expect(error).toBeInstanceOf(WebhookStoreError);
    expect(error.message).toContain(`record the attempt of delivery ${bad.id}`);
    for (const [i, one] of recorded.entries()) {
      if (i !== 5) expect(one).toMatchObject({ status: 'fulfilled', value: { applied: true } });
    }
    expect(await store.getDelivery(bad.id)).toMatchObject({ status: 'pending', attempts: 0 });
    const logged = await store.listAttempts(claims.map(({ id }) => id));
    expect([...logged.keys()].sort()).toEqual(
      claims
        .filter((delivery) => delivery !== bad)
        .map(({ id }) => id)
        .sort(),
    );
    await store.close();
  });

  it('finds its deliveries by primary key even when a generic plan thinks none are pending', async () => {
    const schema = freshSchema();
    const store = await PostgresWebhookStore.open({ pool: db.pool, schema });
    const claims = await claimedDeliveries(store, 1);
    // A log of delivered ones too large to scan, and statistics that say that none is pending,
    // as after a quiet spell.
    await db.admin(
      `INSERT INTO ${schema}.deliveries (id, message_id, endpoint_id, event, status, created_at,
         updated_at)
       SELECT 'dlv_old' || lpad(n::text, 6, '0'), 'msg_old', 'ep_old', 'ping', 'delivered', now(),
         now()
       FROM generate_series(1, 20000) AS n`,
    );
    await db.admin(`ANALYZE ${schema}.deliveries`);
    const { text } = storeStatements(schema).record;
    const client = await db.pool.connect();
    try {
      await client.query('SET plan_cache_mode = force_generic_plan');
      await client.query(`PREPARE generic_record AS ${text}`);
      const arrays = Array.from({ length: 14 }, () => 'NULL');
      arrays[0] = `ARRAY['${claims[0].id}']`;
      const { rows } = await client.query(
        `EXPLAIN (FORMAT JSON) EXECUTE generic_record(${arrays.join(', ')})`,
      );
      const scans: { relation: string; type: string; index?: string }[] = [];
      const walk = (node: Record<string, unknown>) => {
        if (node['Relation Name'] === 'deliveries' && node['Node Type'] !== 'ModifyTable') {
          scans.push({
            relation: node['Relation Name'] as string,
            type: node['Node Type'] as string,
            index: node['Index Name'] as string | undefined,
          });
        }
        for (const child of (node.Plans as Record<string, unknown>[] | undefined) ?? []) {
          walk(child);
        }
      };
      walk(rows[0]['QUERY PLAN'][0].Plan);
      // Both updates, each through the primary key.
      expect(scans).toEqual([
        { relation: 'deliveries', type: 'Index Scan', index: 'deliveries_pkey' },
        { relation: 'deliveries', type: 'Index Scan', index: 'deliveries_pkey' },
      ]);
    } finally {
      await client.query('DEALLOCATE ALL').catch(() => undefined);
      await client.query('RESET plan_cache_mode').catch(() => undefined);
      client.release();
    }
    await store.close();
  });
});

describe('concurrency between processes', () => {
  let a: PostgresWebhookStore;
  let b: PostgresWebhookStore;

  beforeAll(async () => {
    // Two pools: two processes as far as PostgreSQL can tell.
    a = await PostgresWebhookStore.open({ pool: db.newPool(), schema: db.schema });
    b = await PostgresWebhookStore.open({ pool: db.newPool(), schema: db.schema });
  });

  afterAll(async () => {
    await Promise.all([a.close(), b.close()]);
  });

  it('lets exactly one of many concurrent claims from two processes win', async () => {
    const ep = endpoint();
    await a.insertEndpoint(ep);
    for (let round = 0; round < 10; round++) {
      const { deliveryId } = await emitTo(a, ep);
      const claims = await Promise.all(
        Array.from({ length: 8 }, (_, i) => (i % 2 ? a : b).claim(deliveryId, lease(`w${i}`))),
      );
      expect(claims.filter(Boolean)).toHaveLength(1);
    }
  });

  it('stores exactly one of concurrent emits with the same key from two processes', async () => {
    const ep = endpoint({ tenant: 'race' });
    await a.insertEndpoint(ep);
    const messages = Array.from({ length: 10 }, () =>
      message({ tenant: 'race', idempotencyKey: 'same' }),
    );

    const results = await Promise.all(messages.map((m, i) => (i % 2 ? a : b).emit(emitRequest(m))));

    const inserted = messages.filter((_, i) => results[i].inserted);
    expect(inserted).toHaveLength(1);
    expect(await count(`${db.schema}.messages WHERE tenant = 'race'`)).toBe(1);
    expect(await count(`${db.schema}.deliveries WHERE tenant = 'race'`)).toBe(1);
  });

  it('never sweeps a delivery whose retry another process scheduled while the sweep ran', async () => {
    // A backlog of due deliveries, and one of them that b claims, tries and reschedules an
    // hour out while a sweeps: a sees it due in its snapshot, and locks it once b committed.
    const ep = endpoint({ tenant: 'sweep-race' });
    await a.insertEndpoint(ep);
    const { message: emitted } = await emitTo(a, ep);
    await db.admin(
      `INSERT INTO ${db.schema}.deliveries
         (id, message_id, endpoint_id, tenant, event, status, next_attempt_at, created_at, updated_at)
       SELECT 'dlv_race_' || lpad(i::text, 4, '0'), $1, $2, $3, $4, 'pending', now(), now(), now()
       FROM generate_series(1, 2000) i`,
      [emitted.id, ep.id, ep.tenant, ep.events[0]],
    );
    const contested = 'dlv_race_0400';
    let rescheduled = 0;
    for (let round = 0; round < 15; round++) {
      // All due again, in id order, so that the contested one is in a's batch.
      await db.admin(
        `UPDATE ${db.schema}.deliveries
         SET status = 'pending', lease_owner = NULL, lease_until = NULL,
           next_attempt_at = timestamptz '2020-01-01' + right(id, 4)::int * interval '1 ms'
         WHERE id LIKE 'dlv_race_%'`,
      );
      const sweepLease = lease('a');
      const [swept] = await Promise.all([
        a.sweep(sweepLease, 500),
        (async () => {
          await new Promise((resolve) => setImmediate(resolve));
          const now = new Date();
          const claim = await b.claim(contested, lease('b', now));
          if (!claim) return;
          const recorded = await b.record(
            contested,
            'b',
            {
              id: attemptId(contested, claim.delivery.attempts + 1),
              deliveryId: contested,
              messageId: emitted.id,
              endpointId: ep.id,
              attempt: claim.delivery.attempts + 1,
              startedAt: now,
              durationMs: 1,
              statusCode: 500,
              error: null,
              responseBody: null,
              outcome: 'failed',
            },
            {
              status: 'pending',
              scheduleAttempts: 1,
              nextAttemptAt: new Date(now.getTime() + HOUR),
              lastError: 'HTTP 500',
              updatedAt: now,
            },
          );
          if (recorded.applied) rescheduled++;
        })(),
      ]);
      for (const { delivery } of swept) {
        expect(delivery.nextAttemptAt!.getTime()).toBeLessThanOrEqual(sweepLease.now.getTime());
      }
    }
    // The race was run: b took the contested delivery in some rounds.
    expect(rescheduled).toBeGreaterThan(0);
  });

  it('never prunes a message while it is redelivered: all of it stays, or all of it goes', async () => {
    const ep = endpoint({ tenant: 'prune-race' });
    await a.insertEndpoint(ep);
    for (let round = 0; round < 15; round++) {
      const { message: emitted, deliveryId } = await emitTo(a, ep, {
        createdAt: new Date(Date.now() - HOUR),
      });
      await deliver(a, deliveryId);

      const [pruned, redelivered] = await Promise.all([
        a.prune(new Date(), 1000),
        b.redeliver({ messageId: emitted.id, now: new Date(), notify: false }),
      ]);

      const kept = await a.getMessage(emitted.id);
      const delivery = await a.getDelivery(deliveryId);
      if (kept) {
        expect(redelivered.redelivered.map(({ id }) => id)).toEqual([deliveryId]);
        expect(delivery?.status).toBe('pending');
        // Finished again, for the next rounds' prunes.
        await deliver(a, deliveryId);
      } else {
        expect(pruned).toBeGreaterThanOrEqual(1);
        expect(redelivered.found).toBe(false);
        expect(delivery).toBeUndefined();
      }
    }
  });

  it('leaves no attempt behind its pruned delivery when a late record races the prune', async () => {
    const ep = endpoint({ tenant: 'record-race' });
    await a.insertEndpoint(ep);
    for (let round = 0; round < 15; round++) {
      const { deliveryId } = await emitTo(a, ep, { createdAt: new Date(Date.now() - HOUR) });
      const claim = (await a.claim(deliveryId, lease('late')))!;
      await deliver(a, deliveryId, 'late');
      const now = new Date();

      await Promise.all([
        a.prune(new Date(), 1000),
        // A second worker's answer arriving late: not applied, logged all the same.
        b.record(
          deliveryId,
          'other',
          {
            id: attemptId(deliveryId, 2),
            deliveryId,
            messageId: claim.delivery.messageId,
            endpointId: ep.id,
            attempt: 2,
            startedAt: now,
            durationMs: 1,
            statusCode: 200,
            error: null,
            responseBody: null,
            outcome: 'delivered',
          },
          deliveredOutcome(now),
        ),
      ]);
    }

    expect(
      await count(
        `${db.schema}.attempts a WHERE NOT EXISTS
         (SELECT 1 FROM ${db.schema}.deliveries d WHERE d.id = a.delivery_id)`,
      ),
    ).toBe(0);
  });
});

describe('retention', () => {
  it('prunes a backlog on its timer, batch after batch, keeping pending and young messages', async () => {
    const schema = freshSchema();
    // Made by hand: more finished messages than one batch takes, from two hours ago.
    const setup = await PostgresWebhookStore.open({ pool: db.pool, schema });
    await setup.close();
    const backlog = 2_500;
    await db.admin(
      `INSERT INTO ${schema}.messages (id, event, method, tenant, body, idempotency_key, created_at)
       SELECT 'msg_old_' || lpad(i::text, 6, '0'), 'ping', 'post', NULL, '{}', NULL,
              now() - interval '2 hours'
       FROM generate_series(1, ${backlog}) i`,
    );
    await db.admin(
      `INSERT INTO ${schema}.deliveries
         (id, message_id, endpoint_id, tenant, event, status, attempts, created_at, updated_at)
       SELECT 'dlv_old_' || lpad(i::text, 6, '0'), 'msg_old_' || lpad(i::text, 6, '0'), 'ep_x',
              NULL, 'ping', 'delivered', 1, now() - interval '2 hours', now()
       FROM generate_series(1, ${backlog}) i`,
    );
    await db.admin(
      `INSERT INTO ${schema}.attempts
         (delivery_id, attempt, started_at, duration_ms, status_code, outcome)
       SELECT 'dlv_old_' || lpad(i::text, 6, '0'), 1, now(), 5, 200, 'delivered'
       FROM generate_series(1, ${backlog}) i`,
    );
    const store = await PostgresWebhookStore.open({
      pool: db.pool,
      schema,
      retention: HOUR,
      pruneInterval: 50,
    });
    const ep = endpoint();
    await store.insertEndpoint(ep);
    const old = new Date(Date.now() - 2 * HOUR);
    const pending = await emitTo(store, ep, { createdAt: old });
    const young = await emitTo(store, ep);
    await deliver(store, young.deliveryId);

    await waitUntil(async () => (await count(`${schema}.messages`)) === 2, 'the backlog pruned', {
      timeoutMs: 20_000,
      intervalMs: 50,
    });

    expect(await count(`${schema}.deliveries`)).toBe(2);
    expect(await count(`${schema}.attempts`)).toBe(1);
    expect(await store.getMessage(pending.message.id)).toBeDefined();
    expect(await store.getMessage(young.message.id)).toBeDefined();
    await store.close();
  });

  it('walks old messages kept for their pending deliveries in bounded windows, deleting the finished ones after them', async () => {
    const schema = freshSchema();
    const store = await PostgresWebhookStore.open({ pool: db.pool, schema });
    // 2,500 messages from three hours ago, each still pending, before 10 finished ones from two
    // hours ago: a statement that looked for finished messages among all the old ones would
    // read every pending one, every time.
    const kept = 2_500;
    await db.admin(
      `INSERT INTO ${schema}.messages (id, event, method, tenant, body, idempotency_key, created_at)
       SELECT 'msg_kept_' || lpad(i::text, 6, '0'), 'ping', 'post', NULL, '{}', NULL,
              now() - interval '3 hours'
       FROM generate_series(1, ${kept}) i
       UNION ALL
       SELECT 'msg_done_' || lpad(i::text, 6, '0'), 'ping', 'post', NULL, '{}', NULL,
              now() - interval '2 hours'
       FROM generate_series(1, 10) i`,
    );
    await db.admin(
      `INSERT INTO ${schema}.deliveries
         (id, message_id, endpoint_id, tenant, event, status, attempts, next_attempt_at,
          created_at, updated_at)
       SELECT 'dlv_kept_' || lpad(i::text, 6, '0'), 'msg_kept_' || lpad(i::text, 6, '0'), 'ep_x',
              NULL, 'ping', 'pending', 1, now() + interval '1 hour', now(), now()
       FROM generate_series(1, ${kept}) i
       UNION ALL
       SELECT 'dlv_done_' || lpad(i::text, 6, '0'), 'msg_done_' || lpad(i::text, 6, '0'), 'ep_x',
              NULL, 'ping', 'failed', 1, NULL, now(), now()
       FROM generate_series(1, 10) i`,
    );
    const statements = vi.spyOn(pg.Client.prototype, 'query');
    const windows = () =>
      statements.mock.calls.filter(([config]) => /prune_lock/.test(JSON.stringify(config))).length;
    const before = new Date(Date.now() - HOUR);

    // At most 4 a call: the walk stops where it has deleted them.
    expect(await store.prune(before, 4)).toBe(4);
    expect(windows()).toBe(3);
    expect(await store.prune(before, 1_000)).toBe(6);
    expect(windows()).toBe(6);
    expect(await store.prune(before, 1_000)).toBe(0);
    statements.mockRestore();

    expect(await count(`${schema}.messages`)).toBe(kept);
    expect(await count(`${schema}.deliveries WHERE status = 'pending'`)).toBe(kept);
    await store.close();
  });

  it('deletes expired idempotency keys in bounded batches, and keeps young ones', async () => {
    const schema = freshSchema();
    const store = await PostgresWebhookStore.open({ pool: db.pool, schema, idempotencyTtl: HOUR });
    await db.admin(
      `INSERT INTO ${schema}.idempotency_keys (tenant_key, key, message_id, event, deliveries, created_at)
       SELECT '', 'k' || i, 'msg_gone_' || i, 'ping', 0, now() - interval '2 hours'
       FROM generate_series(1, 5) i`,
    );
    await store.emit(emitRequest(message({ idempotencyKey: 'young' })));
    const keys = () => count(`${schema}.idempotency_keys`);

    expect(await store.prune(new Date(0), 2)).toBe(0);
    expect(await keys()).toBe(4);
    await store.prune(new Date(0), 2);
    expect(await keys()).toBe(2);
    await store.prune(new Date(0), 2);
    await store.prune(new Date(0), 2);
    expect(await keys()).toBe(1);
    await store.close();
  });

  it('keeps the key space of no tenant apart from the tenant "" in the keys table', async () => {
    const schema = freshSchema();
    const store = await PostgresWebhookStore.open({ pool: db.pool, schema });
    for (const tenant of [null, '', ':', 'a']) {
      const result = await store.emit(emitRequest(message({ tenant, idempotencyKey: 'k' })));
      expect(result.inserted).toBe(true);
    }
    expect(await count(`${schema}.idempotency_keys`)).toBe(4);
    await store.close();
  });
});

describe('a database that fails', () => {
  it('survives its idle connections being terminated, and the next call works', async () => {
    const warnings = vi.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    // A pool the store makes, with no listener of anyone else's on it, under a name of its own:
    // its connections alone are ended, and the test knows how many.
    const applicationName = `${db.applicationName}-idle`;
    const store = await PostgresWebhookStore.open(
      db.storeOptions({ schema: db.schema, applicationName }),
    );
    const ep = endpoint();
    await store.insertEndpoint(ep);
    await Promise.all([store.getEndpoint(ep.id), store.getEndpoint(ep.id)]);

    const ended = await db.admin(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1`,
      [applicationName],
    );
    expect(ended.length).toBeGreaterThan(0);

    // Every ended connection noticed by the pool: none is left idle to be handed out dead.
    await waitUntil(
      () =>
        warnings.mock.calls.filter(([text]) => /failed while idle/.test(String(text))).length >=
        ended.length,
      "the pool's error events, handled",
    );
    expect(await store.getEndpoint(ep.id)).toEqual(ep);
    await store.close();
  });

  it('rejects a prune whose connection is terminated while it waits for a lock, without crashing', async () => {
    vi.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    const applicationName = `${db.applicationName}-prune`;
    const store = await PostgresWebhookStore.open(
      db.storeOptions({ schema: db.schema, applicationName }),
    );
    // A tenant of its own: the message has this one delivery.
    const ep = endpoint({ tenant: 'pruned' });
    await store.insertEndpoint(ep);
    const old = await emitTo(store, ep, { createdAt: new Date(Date.now() - 2 * HOUR) });
    await deliver(store, old.deliveryId);
    // The prune takes the finished message, then waits for its delivery's row.
    const locker = new pg.Client({ connectionString: TEST_DATABASE_URL });
    await locker.connect();
    await locker.query('BEGIN');
    await locker.query(`SELECT 1 FROM ${db.schema}.deliveries WHERE id = $1 FOR UPDATE`, [
      old.deliveryId,
    ]);
    const pruning = rejection(store.prune(new Date(Date.now() - HOUR), Infinity));
    const waiting = () =>
      db.admin<{ pid: number }>(
        `SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'`,
        [applicationName],
      );
    await waitUntil(async () => (await waiting()).length === 1, 'the prune waiting for the lock');
    await db.admin(`SELECT pg_terminate_backend($1)`, [(await waiting())[0].pid]);

    // Not an uncaught 'error' event of the connection, which would end the process.
    const error = await pruning;
    expect(error).toBeInstanceOf(WebhookStoreError);
    expect(error.message).toContain('could not delete finished messages');
    await locker.query('ROLLBACK');
    await locker.end();
    expect(await store.prune(new Date(Date.now() - HOUR), Infinity)).toBe(1);
    expect(await store.getMessage(old.message.id)).toBeUndefined();
    await store.close();
  });

  it('rejects calls with a clear message while PostgreSQL is away, storing nothing, then works again', async () => {
    vi.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    const proxy = await startPostgresProxy();
    const store = await PostgresWebhookStore.open({
      connectionString: proxy.url,
      schema: db.schema,
    });
    const ep = endpoint({ tenant: 'away' });
    await store.insertEndpoint(ep);

    await proxy.cut();
    const lost = message({ tenant: 'away' });
    const error = await rejection(store.emit(emitRequest(lost)));

    expect(error.message).toContain(`schema '${db.schema}'`);
    expect(error.message).toContain(`could not emit message ${lost.id}`);
    expect(error.message).toContain('The connection to PostgreSQL failed');
    expect(error).toBeInstanceOf(WebhookStoreError);
    expect(error).toMatchObject({ code: 'ERR_WEBHOOK_STORE', transient: true });
    expect(error.cause).toBeInstanceOf(Error);
    expect((await rejection(store.claim(createId('dlv'), lease('w')))).message).toContain(
      'could not claim delivery',
    );

    await proxy.restore();
    await waitUntil(
      () => store.getEndpoint(ep.id).then(Boolean, () => false),
      'the store working again',
    );
    expect(await store.getMessage(lost.id)).toBeUndefined();
    expect((await store.listDeliveries({ tenant: 'away' })).items).toEqual([]);
    await store.close();
    await proxy.close();
  });

  it('rejects a statement that the database cancels (statement_timeout), storing nothing', async () => {
    const pool = db.newPool({ options: '-c statement_timeout=300' });
    const store = await PostgresWebhookStore.open({ pool, schema: db.schema });
    const locker = new pg.Client({ connectionString: TEST_DATABASE_URL });
    await locker.connect();
    const slow = message();
    try {
      await locker.query('BEGIN');
      await locker.query(`LOCK TABLE ${db.schema}.messages IN ACCESS EXCLUSIVE MODE`);

      const error = await rejection(store.emit(emitRequest(slow)));

      expect(error.message).toContain(`could not emit message ${slow.id}`);
      expect(error.message).toContain('canceling statement due to statement timeout [57014]');
      expect(error.message).toContain('Nothing of this call was stored');
      expect(error).toMatchObject({ name: 'WebhookStoreError', transient: false });
    } finally {
      await locker.query('ROLLBACK');
      await locker.end();
    }
    expect(await store.getMessage(slow.id)).toBeUndefined();
    await store.close();
  });
});

describe('notify after writes', () => {
  /** A pool whose queries stay on their way until the test answers them, one by one. */
  function heldPool() {
    const answers: { resolve: () => void; reject: (error: Error) => void }[] = [];
    const query = vi.fn(
      () => new Promise<void>((resolve, reject) => answers.push({ resolve, reject })),
    );
    return { pool: { query } as unknown as pg.Pool, query, answers };
  }
  const statement = { name: 'nwh_test_notify', text: "SELECT pg_notify('test_webhooks', '')" };
  const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

  it('sends one pg_notify for the notifying writes of one turn, in the next', async () => {
    const { pool, query } = heldPool();
    const notifier = new PostgresNotifier(pool, statement);

    notifier.notify();
    notifier.notify();
    notifier.notify();
    expect(query).not.toHaveBeenCalled();
    await nextTurn();

    expect(query).toHaveBeenCalledTimes(1);
    expect(query).toHaveBeenCalledWith(statement);
  });

  it('sends the writes stored while a notify is on its way in one more, once it is back', async () => {
    const { pool, query, answers } = heldPool();
    const notifier = new PostgresNotifier(pool, statement);
    notifier.notify();
    await nextTurn();

    notifier.notify();
    notifier.notify();
    await nextTurn();
    expect(query).toHaveBeenCalledTimes(1);
    answers[0].resolve();
    await nextTurn();
    expect(query).toHaveBeenCalledTimes(2);
    answers[1].resolve();
    await nextTurn();
    expect(query).toHaveBeenCalledTimes(2);
  });

  it('shrugs off a notify that fails: the next write notifies again', async () => {
    const { pool, query, answers } = heldPool();
    const notifier = new PostgresNotifier(pool, statement);
    notifier.notify();
    await nextTurn();

    answers[0].reject(new Error('connection lost'));
    await nextTurn();
    notifier.notify();
    await nextTurn();

    expect(query).toHaveBeenCalledTimes(2);
  });

  it('on close, sends the notify still due and waits for it; nothing after', async () => {
    const { pool, query, answers } = heldPool();
    const notifier = new PostgresNotifier(pool, statement);
    notifier.notify();

    let closed = false;
    const closing = notifier.close().then(() => (closed = true));
    expect(query).toHaveBeenCalledTimes(1);
    await nextTurn();
    expect(closed).toBe(false);
    answers[0].resolve();
    await closing;
    notifier.notify();
    await nextTurn();

    expect(query).toHaveBeenCalledTimes(1);
  });
});

describe('watch', () => {
  it('hears emits and redelivers with notify made by another process, and nothing else', async () => {
    const watcher = await PostgresWebhookStore.open({ pool: db.newPool(), schema: db.schema });
    const writer = await PostgresWebhookStore.open({ pool: db.newPool(), schema: db.schema });
    const ep = endpoint({ tenant: 'watched' });
    await writer.insertEndpoint(ep);
    let writes = 0;
    await watcher.watch(() => writes++);

    const { message: emitted, deliveryId } = await emitTo(writer, ep);
    await writer.claim(deliveryId, lease('w'));
    await writer.record(deliveryId, 'w', null, {
      status: 'failed',
      scheduleAttempts: 0,
      nextAttemptAt: null,
      lastError: 'given up',
      updatedAt: new Date(),
    });
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(writes).toBe(0);

    await writer.emit(emitRequest(message({ tenant: 'watched' }), true));
    await waitUntil(() => writes === 1, 'the notification of an emit');
    await writer.redeliver({ messageId: emitted.id, now: new Date(), notify: true });
    await waitUntil(() => writes === 2, 'the notification of a redeliver');

    await Promise.all([watcher.close(), writer.close()]);
  });

  it('listens again after its connection is terminated, and says so', async () => {
    const warnings = vi.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    const watcher = await PostgresWebhookStore.open(db.storeOptions({ schema: db.schema }));
    const writer = await PostgresWebhookStore.open({ pool: db.newPool(), schema: db.schema });
    let writes = 0;
    await watcher.watch(() => writes++);

    await db.terminate();
    await waitUntil(
      () => warnings.mock.calls.some(([text]) => /lost its LISTEN connection/.test(String(text))),
      'the lost connection, told',
    );
    // Once listening again, the watcher is called: writes made meanwhile went unheard.
    await waitUntil(() => writes >= 1, 'the watcher called on listening again');
    const before = writes;
    await writer.emit(emitRequest(message(), true));
    await waitUntil(() => writes > before, 'a notification on the new connection');

    await Promise.all([watcher.close(), writer.close()]);
  });

  it('keeps trying through an outage, and hears writes once PostgreSQL is back', async () => {
    vi.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    const proxy = await startPostgresProxy();
    const watcher = await PostgresWebhookStore.open({
      connectionString: proxy.url,
      schema: db.schema,
    });
    let writes = 0;
    await watcher.watch(() => writes++);

    await proxy.cut();
    await new Promise((resolve) => setTimeout(resolve, 500));
    await proxy.restore();
    await waitUntil(() => writes >= 1, 'listening again after the outage');
    const before = writes;
    await db.store().then(async (writer) => {
      await writer.emit(emitRequest(message(), true));
      await writer.close();
    });
    await waitUntil(() => writes > before, 'a notification after the outage');

    await watcher.close();
    await proxy.close();
  });
});

describe('close', () => {
  it('ends its own pool, its listener and its timer; later calls reject saying it is closed', async () => {
    // A name of its own: the file's pool, named as the file, stays open meanwhile.
    const applicationName = `${db.applicationName}-closing`;
    const store = await PostgresWebhookStore.open(
      db.storeOptions({ schema: db.schema, pruneInterval: 10, applicationName }),
    );
    await store.watch(() => undefined);
    await Promise.all([store.getEndpoint(createId('ep')), store.getEndpoint(createId('ep'))]);
    expect(await connectionsNamed(applicationName)).toBeGreaterThanOrEqual(2);

    await store.close();

    await waitUntil(
      async () => (await connectionsNamed(applicationName)) === 0,
      'every connection of its pool ended',
      { timeoutMs: 2_000 },
    );
    const error = await rejection(store.getEndpoint(createId('ep')));
    expect(error.message).toContain(`store (schema '${db.schema}') is closed`);
    expect((await rejection(store.watch(() => undefined))).message).toContain('is closed');
    await store.close();
  });

  it("listens on a connection of its own, not one of the app's pool, gone at close", async () => {
    const applicationName = `${db.applicationName}-listen`;
    const pool = db.newPool({ application_name: applicationName });
    const store = await PostgresWebhookStore.open({ pool, schema: db.schema });
    const listening = () =>
      count(`pg_stat_activity WHERE application_name = $1 AND query LIKE 'LISTEN %'`, [
        applicationName,
      ]);
    await store.watch(() => undefined);
    // Out of the pool, it would keep an app's own pool.end() waiting.
    expect(pool.totalCount - pool.idleCount).toBe(0);
    expect(await listening()).toBe(1);

    await store.close();

    await waitUntil(async () => (await listening()) === 0, "the listener's connection to end");
    expect((await pool.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    expect(pool.listenerCount('error')).toBe(1);
  });
});
