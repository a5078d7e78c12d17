import { readdirSync, readFileSync } from 'node:fs';
import pg from 'pg';
import type { Pool, QueryConfig } from 'pg';
import { webhookMigrations } from '../lib/index.js';

// The database side of `npm run bench:durable`: the bench's own schema, the raw loops' tables
// beside the store's, and pools that count the statements sent through them.

export const DATABASE_URL =
  process.env.BENCH_DURABLE_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** The store's tables the raw loops mirror, each as `raw_<name>` in the same schema. */
const MIRRORED = ['messages', 'deliveries', 'attempts'] as const;

/** Statements sent through a pool's `query`, by name (a prepared statement's, else its verb). */
export type QueryCounts = Record<string, number>;

/**
 * A pool of `max` connections whose `query` counts what it sends: the store sends its hot-path
 * statements through `pool.query`, so the counts are its round trips. What goes through a
 * client checked out with `connect()` (the store's LISTEN, migrations, pruning) is not counted.
 */
export function countingPool(max: number, applicationName: string) {
  const pool = new pg.Pool({
    connectionString: DATABASE_URL,
    max,
    application_name: applicationName,
  });
  pool.on('error', () => undefined);
  let counts: QueryCounts = {};
  const query = pool.query.bind(pool) as (...args: unknown[]) => unknown;
  (pool as { query: unknown }).query = (...args: unknown[]) => {
    const name = statementName(args[0] as string | QueryConfig);
    counts[name] = (counts[name] ?? 0) + 1;
    return query(...args);
  };
  return {
    pool: pool as Pool,
    /** The counts since the last call, then starts again from zero. */
    take(): QueryCounts {
      const taken = counts;
      counts = {};
      return taken;
    },
  };
}

function statementName(config: string | QueryConfig): string {
  const named = typeof config === 'object' && config.name;
  // The store's statements are `nwh_<schema tag>_<name>`.
  if (named) return named.replace(/^nwh_[0-9a-f]+_/, '');
  const text = typeof config === 'string' ? config : config.text;
  return text.trim().split(/\s+/, 2).join(' ').toLowerCase();
}

/**
 * Makes `schema` with the store's tables (the SQL of `webhookMigrations`, as a migration tool
 * would run it) and, beside them, `raw_messages`, `raw_deliveries` and `raw_attempts`, copies of
 * the store's tables with their defaults, constraints, indexes and storage parameters. Returns
 * how many indexes each copy has.
 */
export async function createSchema(pool: Pool, schema: string): Promise<Record<string, number>> {
  for (const migration of webhookMigrations(schema)) {
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      await client.query(migration.sql);
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }
  const { rows } = await pool.query<{ relname: string; reloptions: string[] | null }>(
    `SELECT c.relname, c.reloptions FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = $1 AND c.relname = ANY($2::text[])`,
    [schema, MIRRORED],
  );
  const indexes: Record<string, number> = {};
  for (const table of MIRRORED) {
    const options = rows.find((row) => row.relname === table)?.reloptions ?? [];
    await pool.query(
      `CREATE TABLE ${schema}.raw_${table} (LIKE ${schema}.${table} INCLUDING ALL)` +
        (options.length > 0 ? ` WITH (${options.join(', ')})` : ''),
    );
    const counted = await pool.query<{ table: string; n: number }>(
      `SELECT tablename AS table, count(*)::int AS n FROM pg_indexes WHERE schemaname = $1
       AND tablename = ANY($2::text[]) GROUP BY tablename`,
      [schema, [table, `raw_${table}`]],
    );
    const ours = counted.rows.find((row) => row.table === table)?.n ?? 0;
    const raw = counted.rows.find((row) => row.table === `raw_${table}`)?.n ?? 0;
    if (ours !== raw) throw new Error(`raw_${table} has ${raw} indexes, ${table} ${ours}`);
    indexes[table] = raw;
  }
  // The app's own table for part 4: the row a business transaction writes beside its emit.
  await pool.query(
    `CREATE TABLE ${schema}.app_orders (id text PRIMARY KEY, body jsonb NOT NULL,
       created_at timestamptz NOT NULL)`,
  );
  return indexes;
}

/** Empties the messages, deliveries and attempts of both sides (and endpoints, if asked). */
export async function truncate(pool: Pool, schema: string, { endpoints = false } = {}) {
  const tables = [
    ...MIRRORED.flatMap((table) => [`${schema}.${table}`, `${schema}.raw_${table}`]),
    `${schema}.idempotency_keys`,
    `${schema}.app_orders`,
    ...(endpoints ? [`${schema}.endpoints`] : []),
  ];
  await pool.query(`TRUNCATE ${tables.join(', ')}`);
}

export async function dropSchema(pool: Pool, schema: string) {
  await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
}

/** Rows of a table of the bench schema, by the value of `column` (all of them without one). */
export async function countRows(
  pool: Pool,
  schema: string,
  table: string,
  column?: string,
): Promise<Record<string, number>> {
  const text = column
    ? `SELECT ${column}::text AS key, count(*)::int AS n FROM ${schema}.${table} GROUP BY 1`
    : `SELECT 'all' AS key, count(*)::int AS n FROM ${schema}.${table}`;
  const { rows } = await pool.query<{ key: string; n: number }>(text);
  return Object.fromEntries(rows.map((row) => [row.key, row.n]));
}

/**
 * CPU milliseconds of every PostgreSQL process on this machine so far, backends that have
 * exited included (the postmaster counts its reaped children), from /proc; `undefined` where
 * that is not readable. The server runs on the same two cores as the bench: its share of a run
 * is part of what a statement costs.
 */
export function postgresCpuMs(): number | undefined {
  let ticks = 0;
  let found = false;
  try {
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      let stat: string;
      try {
        stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      } catch {
        continue;
      }
      const close = stat.lastIndexOf(')');
      if (!stat.slice(stat.indexOf('(') + 1, close).startsWith('postgres')) continue;
      // After the name: state is field 3, utime..cstime are fields 14-17.
      const fields = stat.slice(close + 2).split(' ');
      ticks += Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]);
      found = true;
    }
  } catch {
    return undefined;
  }
  return found ? (ticks * 1000) / CLOCK_TICKS : undefined;
}

/** USER_HZ, the unit of /proc's CPU times: 100 on Linux. */
const CLOCK_TICKS = 100;
