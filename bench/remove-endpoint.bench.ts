import { performance } from 'node:perf_hooks';
import pg from 'pg';
import type { Pool } from 'pg';
import { PostgresWebhookStore } from '../lib/storage/postgres/postgres-webhook.store.js';
import { DATABASE_URL } from './durable-db.js';

// `npm run bench:remove-endpoint`: removing an endpoint with many pending deliveries (a receiver
// down for days) on the PostgreSQL store. `removeEndpoint` fails them in batches; the baseline,
// in the same run and on the same rows, is the single statement that fails all of them at once.
// What matters is the longest statement (how long claims of those rows wait on its locks), and
// what the batches cost in all. `BENCH_PENDING` (default 50,000) and `BENCH_ROUNDS` (3) override.
// It only prints.

const PENDING = Number(process.env.BENCH_PENDING ?? 50_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SCHEMA = 'wh_bench_remove';

/** An endpoint with `PENDING` pending deliveries, written by SQL rather than by emits. */
async function seed(pool: Pool, endpointId: string) {
  const s = SCHEMA;
  await pool.query(
    `INSERT INTO ${s}.endpoints (id, url, events, secret, created_at, updated_at)
     VALUES ($1, 'https://example.com/hook', '{e}', 'whsec_unused', now(), now())`,
    [endpointId],
  );
  await pool.query(
    `INSERT INTO ${s}.messages (id, event, method, body, created_at)
     SELECT 'msg_' || $1 || lpad(i::text, 8, '0'), 'e', 'post', '{}', now()
     FROM generate_series(1, $2::int) i`,
    [endpointId, PENDING],
  );
  await pool.query(
    `INSERT INTO ${s}.deliveries
       (id, message_id, endpoint_id, event, status, next_attempt_at, created_at, updated_at)
     SELECT 'dlv_' || $1 || lpad(i::text, 8, '0'), 'msg_' || $1 || lpad(i::text, 8, '0'), $1,
            'e', 'pending', now() + interval '1 hour', now(), now()
     FROM generate_series(1, $2::int) i`,
    [endpointId, PENDING],
  );
}

/** The one statement the store used before it batched: the endpoint and all of them at once. */
async function oneStatement(pool: Pool, endpointId: string): Promise<number> {
  const s = SCHEMA;
  const start = performance.now();
  await pool.query(
    `WITH gone AS (DELETE FROM ${s}.endpoints WHERE id = $1 RETURNING id),
     failed AS (
       UPDATE ${s}.deliveries d SET status = 'failed', next_attempt_at = NULL, last_error = 'x',
         updated_at = now(), lease_owner = NULL, lease_until = NULL
       FROM gone WHERE d.endpoint_id = gone.id AND d.status = 'pending' RETURNING d.*
     )
     SELECT (SELECT count(*) FROM gone) AS removed, f.*
     FROM (SELECT 1) one LEFT JOIN failed f ON true ORDER BY f.id`,
    [endpointId],
  );
  return performance.now() - start;
}

/** The store's way, timing each statement it sends. */
async function batched(pool: Pool, store: PostgresWebhookStore, endpointId: string) {
  const statements: number[] = [];
  const query = pool.query.bind(pool) as (...args: unknown[]) => Promise<unknown>;
  (pool as { query: unknown }).query = async (...args: unknown[]) => {
    const start = performance.now();
    try {
      return await query(...args);
    } finally {
      statements.push(performance.now() - start);
    }
  };
  const start = performance.now();
  const { failed } = await store.removeEndpoint(endpointId, 'x', new Date());
  const total = performance.now() - start;
  (pool as { query: unknown }).query = query;
  if (failed.length !== PENDING) throw new Error(`failed ${failed.length} of ${PENDING}`);
  return { total, statements: statements.length, longest: Math.max(...statements) };
}

async function main() {
  const pool = new pg.Pool({ connectionString: DATABASE_URL, max: 2 });
  await pool.query(`DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE`);
  const store = await PostgresWebhookStore.open({ pool, schema: SCHEMA });
  console.log(`removeEndpoint with ${PENDING} pending deliveries, ${ROUNDS} rounds`);
  try {
    for (let round = 1; round <= ROUNDS; round++) {
      await seed(pool, `ep_one${round}`);
      const one = await oneStatement(pool, `ep_one${round}`);
      await seed(pool, `ep_batched${round}`);
      const ours = await batched(pool, store, `ep_batched${round}`);
      console.log(
        `  round ${round}: one statement ${one.toFixed(0)} ms; batched ${ours.total.toFixed(0)} ms ` +
          `in ${ours.statements} statements, the longest ${ours.longest.toFixed(0)} ms; ` +
          `longest statement ratio ${(ours.longest / one).toFixed(3)}, ` +
          `total ratio ${(ours.total / one).toFixed(2)}`,
      );
    }
  } finally {
    await store.close();
    await pool.query(`DROP SCHEMA ${SCHEMA} CASCADE`);
    await pool.end();
  }
}

await main();
