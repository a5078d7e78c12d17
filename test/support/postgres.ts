import { randomBytes } from 'node:crypto';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import pg from 'pg';
import type { Pool, PoolConfig } from 'pg';
import type { WebhooksModuleOptions, WebhooksPostgresStoreOptions } from '../../lib/index.js';
import {
  PostgresWebhookStore,
  type PostgresWebhookStoreOptions,
} from '../../lib/storage/postgres/postgres-webhook.store.js';

/** The test database: trust auth on loopback; override with WEBHOOKS_TEST_DATABASE_URL. */
export const TEST_DATABASE_URL =
  process.env.WEBHOOKS_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/**
 * `WebhooksModule` options for an app on the test database and `schema`, its connections named
 * `applicationName` (so that a test can find and cut them, and no one else's).
 */
export function postgresModuleOptions(
  schema: string,
  applicationName: string,
  options: WebhooksModuleOptions = {},
  store: Omit<WebhooksPostgresStoreOptions, 'type'> = {},
): WebhooksModuleOptions {
  const url = new URL(TEST_DATABASE_URL);
  url.searchParams.set('application_name', applicationName);
  return {
    allowedNetworks: ['127.0.0.0/8'],
    transport: 'undici',
    ...options,
    store: { type: 'postgres', connectionString: url.toString(), schema, ...store },
  };
}

/**
 * A schema of its own for one test file, and the connections that use it. Every connection it
 * makes (its pool, and stores that make their own through `storeOptions`) carries
 * `applicationName`, so that `terminate` ends those and no one else's.
 */
export interface TestDatabase {
  /** `wh_<random>`. */
  readonly schema: string;
  /** `nestjs-webhooks-test-<schema>`. */
  readonly applicationName: string;
  /** A pool of the file's own, as an app would pass it in `store.pool`. */
  readonly pool: Pool;
  /** A store on `pool` and the file's schema; closed by `drop` if the test has not. */
  store(options?: Partial<PostgresWebhookStoreOptions>): Promise<PostgresWebhookStore>;
  /** Options for a store that makes its own pool, with the file's application name. */
  storeOptions(options?: Partial<PostgresWebhookStoreOptions>): PostgresWebhookStoreOptions;
  /** A pool of the file's own beside `pool` (ended by `drop`). */
  newPool(config?: PoolConfig): Pool;
  /** Empties the store's tables, keeping the schema and its migrations. */
  truncate(): Promise<void>;
  /**
   * Ends every connection of this file's (its `application_name`) with `pg_terminate_backend`,
   * as a database restart would; resolves to how many it ended.
   */
  terminate(): Promise<number>;
  /** One query on a connection of its own (not named as the file's, so `terminate` spares it). */
  admin<R extends pg.QueryResultRow = pg.QueryResultRow>(
    text: string,
    values?: unknown[],
  ): Promise<R[]>;
  /** Closes what is left open, drops the schema (`CASCADE`) and ends the pools. */
  drop(): Promise<void>;
}

export async function startDatabase(): Promise<TestDatabase> {
  const schema = `wh_${randomBytes(6).toString('hex')}`;
  const applicationName = `nestjs-webhooks-test-${schema}`;
  const pools: Pool[] = [];
  const stores = new Set<PostgresWebhookStore>();
  const newPool = (config: PoolConfig = {}) => {
    const made = new pg.Pool({
      connectionString: TEST_DATABASE_URL,
      application_name: applicationName,
      ...config,
    });
    // Terminated connections of a test must not end the test run.
    made.on('error', () => undefined);
    pools.push(made);
    return made;
  };
  const pool = newPool({ max: 20 });

  async function admin<R extends pg.QueryResultRow>(text: string, values: unknown[] = []) {
    const client = new pg.Client({
      connectionString: TEST_DATABASE_URL,
      application_name: `nestjs-webhooks-test-admin`,
    });
    await client.connect();
    try {
      return (await client.query<R>(text, values)).rows;
    } finally {
      await client.end();
    }
  }

  const storeOptions = (options: Partial<PostgresWebhookStoreOptions> = {}) => ({
    connectionString: TEST_DATABASE_URL,
    applicationName,
    schema,
    ...options,
  });

  return {
    schema,
    applicationName,
    pool,
    newPool,
    storeOptions,
    admin,
    async store(options = {}) {
      const store = await PostgresWebhookStore.open({ pool, schema, ...options });
      stores.add(store);
      return store;
    },
    async truncate() {
      const tables = await admin<{ name: string }>(
        `SELECT tablename AS name FROM pg_tables
         WHERE schemaname = $1 AND tablename <> 'schema_migrations'`,
        [schema],
      );
      if (tables.length === 0) return;
      await admin(`TRUNCATE ${tables.map(({ name }) => `${schema}.${name}`).join(', ')}`);
    },
    async terminate() {
      const rows = await admin<{ ended: boolean }>(
        `SELECT pg_terminate_backend(pid) AS ended FROM pg_stat_activity
         WHERE application_name = $1 AND pid <> pg_backend_pid()`,
        [applicationName],
      );
      return rows.filter(({ ended }) => ended).length;
    },
    async drop() {
      await Promise.allSettled([...stores].map((store) => store.close()));
      await admin(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await Promise.allSettled(pools.map((made) => made.end()));
    },
  };
}

/**
 * A TCP proxy in front of the test database, for a database that goes away and comes back:
 * `cut` closes the port and drops every connection through it (as a crash or a network cut
 * would), `restore` opens the same port again.
 */
export interface PostgresProxy {
  /** The test database's URL, through the proxy. */
  readonly url: string;
  cut(): Promise<void>;
  restore(): Promise<void>;
  close(): Promise<void>;
}

export async function startPostgresProxy(): Promise<PostgresProxy> {
  const target = new URL(TEST_DATABASE_URL);
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(Number(target.port || 5432), target.hostname);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => socket.destroy());
    }
    client.pipe(upstream).pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  const listen = (port: number) =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
  await listen(0);
  const { port } = server.address() as AddressInfo;
  const url = new URL(TEST_DATABASE_URL);
  url.hostname = '127.0.0.1';
  url.port = String(port);
  const cut = async () => {
    if (!server.listening) return;
    const closed = new Promise((resolve) => server.close(resolve));
    for (const socket of sockets) socket.destroy();
    await closed;
  };
  return {
    url: url.toString(),
    cut,
    restore: () => (server.listening ? Promise.resolve() : listen(port)),
    close: cut,
  };
}
