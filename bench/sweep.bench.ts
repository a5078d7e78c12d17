import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import type { Pool } from 'pg';
import type { WebhookSweepFairness } from '../lib/interfaces/webhook-store.interface.js';
import { PostgresWebhookStore } from '../lib/storage/postgres/postgres-webhook.store.js';
import { DATABASE_URL } from './durable-db.js';

// `npm run bench:sweep`: one sweep of the PostgreSQL store behind a busy endpoint's backlog. The
// busy endpoint has BENCH_SWEEP_BACKLOG (default 1,000,000) due deliveries, older than those of
// the BENCH_SWEEP_ENDPOINTS (200) others, which have 5 due each; a worker whose queue is full for
// the busy endpoint sweeps for a batch of BENCH_SWEEP_LIMIT (100), at most 10 per endpoint:
// - skipped: the busy endpoint is in `skipEndpoints` (no room for it in this process);
// - capped: not skipped, its 10 oldest taken and the rest of the batch from the others.
// The baseline, in the same run, is the same sweep on a schema with the same endpoints and
// deliveries but no backlog. Each figure is the median of BENCH_SWEEP_TRIES (51) sweeps, the
// leases handed back between them (off the clock). Rows are written by SQL rather than by
// emits, and nothing is sent. Everything lives in two schemas of its own, dropped at the end. It
// only prints.

const BACKLOG = Number(process.env.BENCH_SWEEP_BACKLOG ?? 1_000_000);
const ENDPOINTS = Number(process.env.BENCH_SWEEP_ENDPOINTS ?? 200);
const LIMIT = Number(process.env.BENCH_SWEEP_LIMIT ?? 100);
const TRIES = Number(process.env.BENCH_SWEEP_TRIES ?? 51);
const PER_ENDPOINT = 10;
const SCHEMA = `bench_sweep_${process.pid}`;
const BUSY = 'ep_busy';

/** Endpoints `ep_0001`.., 5 due deliveries each, and with `backlog` the busy one's, older. */
async function seed(pool: Pool, schema: string, backlog: number) {
  const secret = `whsec_${randomBytes(24).toString('base64')}`;
  await pool.query(
    `INSERT INTO ${schema}.endpoints (id, url, events, secret, created_at, updated_at)
     SELECT id, 'http://127.0.0.1:9/hook', '{e}', $1, now(), now()
     FROM (SELECT 'ep_' || lpad(i::text, 4, '0') AS id FROM generate_series(1, $2::int) i
           UNION ALL SELECT $3) ids`,
    [secret, ENDPOINTS, BUSY],
  );
  await pool.query(
    `INSERT INTO ${schema}.messages (id, event, method, body, created_at)
     VALUES ('msg_1', 'e', 'post', '{}', now())`,
  );
  await pool.query(
    `INSERT INTO ${schema}.deliveries
       (id, message_id, endpoint_id, event, status, next_attempt_at, created_at, updated_at)
     SELECT 'dlv_o_' || lpad(i::text, 8, '0'), 'msg_1', 'ep_' || lpad((1 + i % $1)::text, 4, '0'),
            'e', 'pending', now() - interval '1 minute' + i * interval '1 ms', now(), now()
     FROM generate_series(1, $1::int * 5) i`,
    [ENDPOINTS],
  );
  if (backlog > 0) {
    await pool.query(
      `INSERT INTO ${schema}.deliveries
         (id, message_id, endpoint_id, event, status, next_attempt_at, created_at, updated_at)
       SELECT 'dlv_b_' || lpad(i::text, 8, '0'), 'msg_1', $2, 'e', 'pending',
              now() - interval '1 day' + i * interval '1 ms', now(), now()
       FROM generate_series(1, $1::int) i`,
      [backlog, BUSY],
    );
  }
  await pool.query(`VACUUM ANALYZE ${schema}.deliveries`);
}

/** The median time of a sweep, each sweep's leases handed back before the next. */
async function sweepTime(store: PostgresWebhookStore, fairness: WebhookSweepFairness) {
  const times: number[] = [];
  let claimed = 0;
  for (let i = 0; i < TRIES; i++) {
    const now = new Date();
    const start = performance.now();
    const swept = await store.sweep(
      { owner: 'bench', now, until: new Date(now.getTime() + 30_000) },
      LIMIT,
      fairness,
    );
    times.push(performance.now() - start);
    claimed = swept.length;
    await store.release(
      swept.map(({ delivery }) => delivery.id),
      'bench',
    );
  }
  times.sort((a, b) => a - b);
  return { ms: times[Math.floor(times.length / 2)], claimed };
}

async function main() {
  const pool = new pg.Pool({ connectionString: DATABASE_URL, max: 2 });
  const [withBacklog, without] = [`${SCHEMA}_backlog`, `${SCHEMA}_plain`];
  try {
    const stores: PostgresWebhookStore[] = [];
    for (const [schema, backlog] of [
      [withBacklog, BACKLOG],
      [without, 0],
    ] as const) {
      const store = await PostgresWebhookStore.open({ pool, schema });
      stores.push(store);
      const start = performance.now();
      await seed(pool, schema, backlog);
      console.log(`${schema}: seeded in ${((performance.now() - start) / 1000).toFixed(1)} s`);
    }
    const [busy, plain] = stores;
    console.log(
      `one sweep for ${LIMIT}, at most ${PER_ENDPOINT} per endpoint, behind ${BACKLOG} due ` +
        `deliveries of one endpoint (${ENDPOINTS} others with 5 each); median of ${TRIES}`,
    );
    const baseline = await sweepTime(plain, { perEndpoint: PER_ENDPOINT });
    console.log(`baseline ${baseline.ms.toFixed(2).padStart(8)} ms, ${baseline.claimed} claimed`);
    const cases: [string, PostgresWebhookStore, WebhookSweepFairness][] = [
      ['skipped', busy, { perEndpoint: PER_ENDPOINT, skipEndpoints: [BUSY] }],
      ['capped', busy, { perEndpoint: PER_ENDPOINT }],
    ];
    for (const [name, store, fairness] of cases) {
      const { ms, claimed } = await sweepTime(store, fairness);
      console.log(
        `${name.padEnd(8)} ${ms.toFixed(2).padStart(8)} ms, ${claimed} claimed: ` +
          `ratio ${(ms / baseline.ms).toFixed(2)}`,
      );
    }
    for (const store of stores) await store.close();
  } finally {
    for (const schema of [withBacklog, without]) {
      await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    }
    await pool.end();
  }
}

await main();
