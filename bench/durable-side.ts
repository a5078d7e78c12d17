import 'reflect-metadata';
import { createHmac, randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { PoolClient } from 'pg';
import { Pool as UndiciPool } from 'undici';
import { createId } from '../lib/storage/ids.js';
import type { WebhooksModuleOptions } from '../lib/index.js';
import { countingPool } from './durable-db.js';
import { serve, stopwatch, type Sample } from './durable-process.js';
import {
  addEndpoints,
  countDeliveries,
  createBenchApp,
  EVENT,
  PAYLOAD,
  withTimeout,
  type BenchApp,
} from './delivery-app.js';

// One side of parts 1 and 2 of `npm run bench:durable`, in a process of its own, run by run as
// the parent asks (see `durable.bench.ts`). BENCH_DURABLE_SIDE says which:
// - `ours-emit`: an app with `worker: false` on the PostgreSQL store, kept for the whole bench:
//   adds the endpoints, emits the measured runs of part 1 and the backlogs of parts 2 and 3;
// - `raw-emit`: the same rows (a message and its deliveries) with one statement per message;
// - `ours-deliver`: per run, a worker app made beforehand and started on the clock, which finds
//   the stored backlog and delivers it;
// - `raw-deliver`: per delivery, an undici POST to the same receiver and one attempt row.
// Each side in its own process, as in `bench:delivery`: sides that share a module (undici, pg)
// in one process make V8 optimize it for both at once, which no app does.

const SIDE = process.env.BENCH_DURABLE_SIDE!;
const SCHEMA = process.env.BENCH_DURABLE_SCHEMA!;
const POOL_SIZE = Number(process.env.BENCH_DURABLE_POOL);
const CONCURRENCY = Number(process.env.BENCH_DURABLE_CONCURRENCY);
const ENDPOINTS = Number(process.env.BENCH_DURABLE_ENDPOINTS);
const RUN_TIMEOUT_MS = 240_000;
const BODY = JSON.stringify(PAYLOAD);
const USER_AGENT = 'nestjs-webhooks/0.1.0 (+https://www.standardwebhooks.com)';

const { pool, take } = countingPool(POOL_SIZE, `bench_durable_${SIDE}`);

/** Options every app of the bench shares: the store on the bench's own pool and schema. */
const appOptions = (more: WebhooksModuleOptions): WebhooksModuleOptions => ({
  store: { type: 'postgres', pool, schema: SCHEMA },
  transport: 'undici',
  allowedNetworks: ['127.0.0.0/8'],
  ...more,
});

/** `count` calls of `run`, `inFlight` at a time. */
async function inParallel(count: number, inFlight: number, run: (i: number) => Promise<void>) {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(inFlight, count) }, async () => {
      while (next < count) await run(next++);
    }),
  );
}

const finish = (stop: ReturnType<typeof stopwatch>): Sample => stop(take());

// ---------------------------------------------------------------------------------------------
// ours-emit

let emitterApp: Promise<BenchApp> | undefined;
const emitter = () => (emitterApp ??= createBenchApp(appOptions({ worker: false })));

async function oursAddEndpoints(baseUrl: string): Promise<string[]> {
  const { endpoints } = await emitter();
  return (await addEndpoints(endpoints, baseUrl, ENDPOINTS)).map((endpoint) => endpoint.id);
}

async function oursEmit(count: number, inFlight: number): Promise<Sample> {
  const app = await emitter();
  take();
  const stop = stopwatch(count);
  await inParallel(count, inFlight, async () => {
    const result = await app.emitter.emit(EVENT, PAYLOAD);
    if (result.endpoints !== ENDPOINTS) throw new Error(`emitted to ${result.endpoints} endpoints`);
  });
  return finish(stop);
}

/**
 * `count` business transactions, `inFlight` at once, each on a client of the pool: BEGIN, the
 * INSERT of one row of the app's own, with `emit` also the emit of a webhook through that
 * client, COMMIT. The statements are counted on the clients (the pool's `query` sees none).
 */
async function oursTransaction(count: number, inFlight: number, emit: boolean): Promise<Sample> {
  const app = await emitter();
  const counts: Record<string, number> = {};
  const counted = (client: PoolClient) =>
    new Proxy(client, {
      get: (target, name, receiver) =>
        name === 'query'
          ? (config: string, values?: unknown[]) => {
              const statement = config.trim().split(/\s+/, 1)[0].toLowerCase();
              counts[statement] = (counts[statement] ?? 0) + 1;
              return target.query(config, values);
            }
          : Reflect.get(target, name, receiver),
    });
  take();
  const stop = stopwatch(count);
  await inParallel(count, inFlight, async () => {
    const client = counted(await pool.connect());
    try {
      await client.query('BEGIN');
      await client.query(
        `INSERT INTO ${SCHEMA}.app_orders (id, body, created_at) VALUES ($1, $2, now())`,
        [createId('ord'), BODY],
      );
      if (emit) {
        const result = await app.emitter.emit(EVENT, PAYLOAD, { transaction: client });
        if (result.endpoints !== ENDPOINTS) {
          throw new Error(`emitted to ${result.endpoints} endpoints`);
        }
      }
      await client.query('COMMIT');
    } finally {
      client.release();
    }
  });
  take();
  return stop(counts);
}

// ---------------------------------------------------------------------------------------------
// raw-emit

/**
 * The message and its deliveries in one statement, prepared once per connection, for endpoints
 * read once per run: what a hand-written emitter that knows its endpoints can do at best.
 */
const RAW_EMIT = {
  name: 'raw_emit',
  text: `WITH msg AS (
      INSERT INTO ${SCHEMA}.raw_messages (id, event, method, tenant, body, idempotency_key, created_at)
      VALUES ($1::text, $2::text, 'post', NULL, $3::text, NULL, $4::timestamptz)
      RETURNING id
    )
    INSERT INTO ${SCHEMA}.raw_deliveries
      (id, message_id, endpoint_id, tenant, event, status, next_attempt_at, created_at, updated_at)
    SELECT $5::text || lpad(to_hex(e.n), 6, '0'), msg.id, e.id, NULL, $2::text, 'pending',
           $4::timestamptz, $4::timestamptz, $4::timestamptz
    FROM msg, unnest($6::text[]) WITH ORDINALITY AS e(id, n)`,
};

async function rawEmit(count: number, inFlight: number): Promise<Sample> {
  take();
  const stop = stopwatch(count);
  const { rows } = await pool.query<{ id: string }>(
    `SELECT id FROM ${SCHEMA}.endpoints
     WHERE NOT disabled AND tenant IS NULL AND events @> ARRAY[$1::text] ORDER BY id`,
    [EVENT],
  );
  const endpointIds = rows.map((row) => row.id);
  if (endpointIds.length !== ENDPOINTS) throw new Error(`found ${endpointIds.length} endpoints`);
  await inParallel(count, inFlight, async () => {
    const now = new Date();
    const result = await pool.query({
      ...RAW_EMIT,
      values: [createId('msg'), EVENT, BODY, now, createId('dlv'), endpointIds],
    });
    if (result.rowCount !== ENDPOINTS) throw new Error(`inserted ${result.rowCount} deliveries`);
  });
  return finish(stop);
}

// ---------------------------------------------------------------------------------------------
// ours-deliver

/**
 * Delivers the backlog already stored: a worker app, made (store opened, tables checked) off
 * the clock, is started on it; its first sweep finds the backlog. Timed until it has published
 * `delivered` for `expected` deliveries, each published once its outcome is stored.
 */
async function oursDeliver(expected: number): Promise<Sample & { initMs: number }> {
  const { app, deliveries } = await createBenchApp(
    appOptions({
      concurrency: CONCURRENCY,
      endpointConcurrency: Math.ceil(CONCURRENCY / ENDPOINTS),
      shutdownTimeout: 0,
    }),
    { init: false },
  );
  const counted = countDeliveries(deliveries, expected);
  try {
    take();
    const stop = stopwatch(expected);
    const initStart = performance.now();
    await app.init();
    const initMs = performance.now() - initStart;
    await withTimeout(counted.done, RUN_TIMEOUT_MS, counted.describe);
    const sample = finish(stop);
    const failures = counted.failures();
    if (failures) console.log(`    (ours deliver: ${failures})`);
    return { ...sample, initMs };
  } finally {
    counted.unsubscribe();
    await app.close();
  }
}

// ---------------------------------------------------------------------------------------------
// raw-deliver

/** The attempt row a delivery's attempt leaves, prepared once per connection. */
const RAW_ATTEMPT = {
  name: 'raw_attempt',
  text: `INSERT INTO ${SCHEMA}.raw_attempts
      (delivery_id, attempt, started_at, duration_ms, status_code, error, response_body, outcome)
    VALUES ($1::text, 1, $2::timestamptz, $3::float8, $4::int, NULL, $5::text, $6::text)`,
};

/**
 * `count` deliveries, `CONCURRENCY` at a time: each an undici POST of the same body with the
 * same Standard Webhooks headers (signed per request) to one of the receiver's endpoint paths,
 * then one INSERT of its attempt row.
 */
async function rawDeliver(baseUrl: string, count: number): Promise<Sample> {
  const client = new UndiciPool(baseUrl, { connections: CONCURRENCY });
  const keys = Array.from({ length: ENDPOINTS }, () => randomBytes(32));
  const paths = Array.from({ length: ENDPOINTS }, (_, i) => `/hooks/${i}`);
  const batch = createId('dlv');
  let non2xx = 0;
  try {
    take();
    const stop = stopwatch(count);
    let messageId = '';
    await inParallel(count, CONCURRENCY, async (i) => {
      // Every ENDPOINTS deliveries share a message, as a message's fan-out does.
      if (i % ENDPOINTS === 0 || !messageId) messageId = createId('msg');
      const startedAt = new Date();
      const timestamp = Math.floor(startedAt.getTime() / 1000);
      const signature = createHmac('sha256', keys[i % ENDPOINTS])
        .update(`${messageId}.${timestamp}.${BODY}`)
        .digest('base64');
      const started = performance.now();
      const response = await client.request({
        path: paths[i % ENDPOINTS],
        method: 'POST',
        headers: {
          'webhook-id': messageId,
          'webhook-timestamp': String(timestamp),
          'webhook-signature': `v1,${signature}`,
          'content-type': 'application/json',
          'user-agent': USER_AGENT,
        },
        body: BODY,
      });
      const responseBody = await response.body.text();
      const durationMs = Math.round((performance.now() - started) * 100) / 100;
      const ok = response.statusCode >= 200 && response.statusCode < 300;
      if (!ok) non2xx++;
      await pool.query({
        ...RAW_ATTEMPT,
        values: [
          `${batch}${i.toString(16).padStart(6, '0')}`,
          startedAt,
          durationMs,
          response.statusCode,
          responseBody,
          ok ? 'delivered' : 'failed',
        ],
      });
    });
    const sample = finish(stop);
    if (non2xx > 0) throw new Error(`raw deliver: ${non2xx} answers were not 2xx`);
    return sample;
  } finally {
    await client.close();
  }
}

// ---------------------------------------------------------------------------------------------

const handlers: Record<string, Record<string, (...args: never[]) => Promise<unknown>>> = {
  'ours-emit': {
    addEndpoints: oursAddEndpoints,
    emit: oursEmit,
    transaction: oursTransaction,
    open: async () => void (await emitter()),
  },
  'raw-emit': { emit: rawEmit },
  'ours-deliver': { deliver: oursDeliver },
  'raw-deliver': { deliver: rawDeliver },
};
if (!handlers[SIDE]) throw new Error(`BENCH_DURABLE_SIDE: unknown side "${SIDE}"`);
serve(handlers[SIDE]);
