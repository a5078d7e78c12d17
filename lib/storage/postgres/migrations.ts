import { invalidPostgresSchema } from '../../webhooks.messages.js';

/** One versioned step of the store's tables, as SQL text for one schema. */
export interface WebhookMigration {
  version: number;
  name: string;
  /**
   * Statements to run in one transaction, once, after the migrations before it. They record
   * themselves in `<schema>.schema_migrations`, so a migration tool that runs them as they are
   * leaves the schema as `migrate: true` would.
   */
  sql: string;
}

/**
 * A plain lower-case identifier, which names the same schema quoted or not, and needs no
 * escaping to be quoted; `pg_` names are PostgreSQL's own.
 */
const SCHEMA_NAME = /^(?!pg_)[a-z_][a-z0-9_]{0,62}$/;

/** Whether `schema` is a plain lower-case identifier, not one of PostgreSQL's `pg_` names. */
export const isSchemaName = (schema: unknown): schema is string =>
  typeof schema === 'string' && SCHEMA_NAME.test(schema);

/** Throws, naming the value, unless `schema` is a plain lower-case identifier. */
export function checkSchemaName(schema: unknown): asserts schema is string {
  if (!isSchemaName(schema)) {
    throw new TypeError(invalidPostgresSchema(schema));
  }
}

/**
 * `schema` (checked) as the SQL writes it: quoted, so that a name that is also a keyword
 * (`user`, `order`) names the schema, as it does unquoted everywhere else.
 */
export const quotedSchema = (schema: string) => `"${schema}"`;

// Ids are compared and sorted as bytes (`COLLATE "C"`): that is the order `createId` makes
// them in, which the listings page by; a linguistic collation would sort `_` and digits apart.
const MIGRATIONS: readonly { name: string; sql: (s: string, schema: string) => string }[] = [
  {
    name: 'initial',
    // The schema may be made beforehand by someone else (CREATE SCHEMA IF NOT EXISTS would
    // still ask for the CREATE privilege on the database).
    sql: (s, schema) => `
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = '${schema}') THEN
    CREATE SCHEMA ${s};
  END IF;
END $$;

CREATE TABLE IF NOT EXISTS ${s}.schema_migrations (
  version integer PRIMARY KEY,
  name text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE ${s}.endpoints (
  id text COLLATE "C" PRIMARY KEY,
  url text NOT NULL,
  events text[] NOT NULL,
  secret text NOT NULL,
  retired_secrets jsonb NOT NULL DEFAULT '[]',
  tenant text,
  description text,
  disabled boolean NOT NULL DEFAULT false,
  disabled_reason text,
  failing_since timestamptz,
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL
);
-- Fan-out at emit: the endpoints of one tenant subscribed to one event.
CREATE INDEX endpoints_events_idx ON ${s}.endpoints USING gin (events);
CREATE INDEX endpoints_tenant_idx ON ${s}.endpoints (tenant, id);

CREATE TABLE ${s}.messages (
  id text COLLATE "C" PRIMARY KEY,
  event text NOT NULL,
  method text NOT NULL,
  tenant text,
  body text NOT NULL,
  idempotency_key text,
  created_at timestamptz NOT NULL
);
CREATE INDEX messages_tenant_idx ON ${s}.messages (tenant, id);
CREATE INDEX messages_event_idx ON ${s}.messages (event, id);
CREATE INDEX messages_created_idx ON ${s}.messages (created_at);

-- Room on each page so that a claim, which changes only the lease (no indexed column), is a
-- HOT update that touches no index.
CREATE TABLE ${s}.deliveries (
  id text COLLATE "C" PRIMARY KEY,
  message_id text COLLATE "C" NOT NULL,
  endpoint_id text COLLATE "C" NOT NULL,
  tenant text,
  event text NOT NULL,
  status text NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
  attempts integer NOT NULL DEFAULT 0,
  schedule_attempts integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz,
  last_error text,
  lease_owner text,
  lease_until timestamptz,
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL
) WITH (fillfactor = 80);
-- The sweep: due pending deliveries, oldest due first; finished ones leave the index.
CREATE INDEX deliveries_due_idx ON ${s}.deliveries (next_attempt_at, id) WHERE status = 'pending';
CREATE INDEX deliveries_message_idx ON ${s}.deliveries (message_id, id);
CREATE INDEX deliveries_endpoint_idx ON ${s}.deliveries (endpoint_id, id);
CREATE INDEX deliveries_tenant_idx ON ${s}.deliveries (tenant, id);
CREATE INDEX deliveries_event_idx ON ${s}.deliveries (event, id);
CREATE INDEX deliveries_status_idx ON ${s}.deliveries (status, id);

-- The attempt's id, message and endpoint follow from its delivery (see attemptId): not kept.
CREATE TABLE ${s}.attempts (
  delivery_id text COLLATE "C" NOT NULL,
  attempt integer NOT NULL,
  started_at timestamptz NOT NULL,
  duration_ms double precision NOT NULL,
  status_code integer,
  error text,
  response_body text,
  outcome text NOT NULL CHECK (outcome IN ('delivered', 'failed')),
  PRIMARY KEY (delivery_id, attempt)
);

-- A key outlives its message (pruned sooner) until the idempotency TTL. tenant_key is '' for
-- no tenant and ':' || tenant otherwise, so that no tenant and the tenant '' stay apart.
CREATE TABLE ${s}.idempotency_keys (
  tenant_key text COLLATE "C" NOT NULL,
  key text COLLATE "C" NOT NULL,
  message_id text COLLATE "C" NOT NULL,
  event text NOT NULL,
  deliveries integer NOT NULL,
  created_at timestamptz NOT NULL,
  PRIMARY KEY (tenant_key, key)
);
CREATE INDEX idempotency_keys_created_idx ON ${s}.idempotency_keys (created_at);
`,
  },
  {
    name: 'lighter_delivery_updates',
    // The update that ends a delivery changes its status, so it is never HOT: it writes a new
    // entry into every index whose predicate its new row meets. The log by status, newest
    // first, therefore gets an index without the delivered ones: listing those (most rows) walks
    // the primary key backwards and finds them at once; the pending and failed use the index.
    // It is built while writes to deliveries wait.
    sql: (s) => `
CREATE INDEX deliveries_unfinished_idx ON ${s}.deliveries (status, id)
  WHERE status <> 'delivered';
DROP INDEX ${s}.deliveries_status_idx;
`,
  },
  {
    name: 'portal',
    // Test events sent from the tenant portal are marked in the log. A link to the portal
    // carries its tenant's generation; a revocation moves the generation on. Adding a column
    // with a constant default rewrites no rows.
    sql: (s) => `
ALTER TABLE ${s}.messages ADD COLUMN test boolean NOT NULL DEFAULT false;

CREATE TABLE ${s}.portal_tenants (
  tenant text COLLATE "C" PRIMARY KEY,
  link_generation integer NOT NULL
);
`,
  },
  {
    name: 'prune_cursor',
    // Retention walks the old messages in windows, oldest first, each window going on from the
    // last message of the one before: the index must order by id within a created_at, so that
    // a window starts where the last one ended instead of reading past every message before it
    // (old ones kept for their pending deliveries). It is built while writes to messages wait.
    sql: (s) => `
CREATE INDEX messages_created_id_idx ON ${s}.messages (created_at, id);
DROP INDEX ${s}.messages_created_idx;
`,
  },
  {
    name: 'endpoint_due',
    // The sweep skips the endpoints that have no room in its process. When one of them has a
    // backlog of due deliveries older than everyone else's, the due index would have to be read
    // through all of it to reach the others: the sweep finds those endpoint by endpoint here
    // instead (see the sweep statement). It is built while writes to deliveries wait.
    sql: (s) => `
CREATE INDEX deliveries_endpoint_due_idx ON ${s}.deliveries (endpoint_id, next_attempt_at, id)
  WHERE status = 'pending';
`,
  },
];

/**
 * The SQL that makes and upgrades the store's tables in `schema`, in order: what to run with
 * your own migration tool when the store is opened with `migrate: false`.
 */
export function webhookMigrations(schema = 'webhooks'): WebhookMigration[] {
  checkSchemaName(schema);
  const s = quotedSchema(schema);
  return MIGRATIONS.map(({ name, sql }, index) => {
    const version = index + 1;
    return {
      version,
      name,
      sql:
        `${sql(s, schema).trim()}\n\n` +
        `INSERT INTO ${s}.schema_migrations (version, name) VALUES (${version}, '${name}');\n`,
    };
  });
}
