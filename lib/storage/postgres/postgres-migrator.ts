import type { Pool, PoolClient } from 'pg';
import { quotedSchema, webhookMigrations, type WebhookMigration } from './migrations.js';
import { withPoolClient } from './pool-client.js';
import { migrationLockKey } from './postgres-statements.js';
import { migrationFailed, migrationsMissing } from '../../webhooks.messages.js';

/** The tables are missing, outdated or could not be migrated: its message says what to do. */
export class PostgresSchemaError extends Error {
  override readonly name = 'PostgresSchemaError';
}

/** The versions recorded in `<schema>.schema_migrations`, or `undefined` without that table. */
async function appliedVersions(client: Pool | PoolClient, schema: string) {
  const table = `${quotedSchema(schema)}.schema_migrations`;
  const { rows } = await client.query<{ table: string | null }>(`SELECT to_regclass($1) AS table`, [
    table,
  ]);
  if (rows[0].table === null) return undefined;
  const applied = await client.query<{ version: number }>(`SELECT version FROM ${table}`);
  return new Set(applied.rows.map(({ version }) => version));
}

/**
 * Applies the migrations `schema` lacks, in order, each in its own transaction, on one client
 * holding a session advisory lock on a key of the schema: processes starting at once wait for
 * each other, and the later ones find nothing left to do. The lock goes with the session,
 * should the connection die midway.
 */
export async function migrate(pool: Pool, schema: string): Promise<void> {
  const key = migrationLockKey(schema);
  await withPoolClient(pool, async (client, lost) => {
    await client.query('SELECT pg_advisory_lock($1::bigint)', [key]);
    try {
      const applied = (await appliedVersions(client, schema)) ?? new Set<number>();
      for (const migration of webhookMigrations(schema)) {
        if (!applied.has(migration.version)) await apply(client, schema, migration);
      }
    } finally {
      // A lock of a session that died went with it.
      if (!lost()) await client.query('SELECT pg_advisory_unlock($1::bigint)', [key]);
    }
  });
}

async function apply(client: PoolClient, schema: string, migration: WebhookMigration) {
  try {
    await client.query('BEGIN');
    await client.query(migration.sql);
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw new PostgresSchemaError(
      migrationFailed(schema, migration.version, migration.name, (error as Error).message),
      { cause: error },
    );
  }
}

/**
 * For `migrate: false`: rejects, naming what is missing and where to get its SQL, unless every
 * migration of this version is recorded as applied. A schema newer than this version (another
 * process already upgraded) is accepted: migrations only add.
 */
export async function checkMigrated(pool: Pool, schema: string): Promise<void> {
  const applied = await appliedVersions(pool, schema);
  const missing = webhookMigrations(schema)
    .filter(({ version }) => !applied?.has(version))
    .map(({ version, name }) => ({ version, name }));
  if (missing.length === 0) return;
  const found = applied === undefined ? 'none' : Math.max(0, ...applied);
  throw new PostgresSchemaError(migrationsMissing(schema, missing, found));
}
