import { createHash } from 'node:crypto';
import { quotedSchema } from './migrations.js';

/** The columns of a delivery as its record needs them (the lease stays in the table). */
export const DELIVERY_COLUMNS =
  'id, message_id, endpoint_id, tenant, event, status, attempts, schedule_attempts, ' +
  'next_attempt_at, last_error, created_at, updated_at';

/** What `record` reads of a delivery it applied the outcome to: what the outcome does not give. */
const RECORDED_COLUMNS = 'id, message_id, endpoint_id, tenant, event, attempts, created_at';

export const ENDPOINT_COLUMNS =
  'id, url, events, secret, retired_secrets, tenant, description, disabled, disabled_reason, ' +
  'failing_since, created_at, updated_at';

export const MESSAGE_COLUMNS = 'id, event, method, tenant, body, idempotency_key, created_at, test';

export const ATTEMPT_COLUMNS =
  'a.delivery_id, a.attempt, a.started_at, a.duration_ms, a.status_code, a.error, ' +
  'a.response_body, a.outcome, d.message_id, d.endpoint_id';

/** `d.`-qualified delivery columns, for statements that join. */
const qualified = (alias: string, columns: string) =>
  columns
    .split(', ')
    .map((column) => `${alias}.${column}`)
    .join(', ');

/** An endpoint joined beside a delivery, its columns prefixed `e_`. */
const ENDPOINT_JOINED = ENDPOINT_COLUMNS.split(', ')
  .map((column) => `e.${column} AS e_${column}`)
  .join(', ');

/**
 * A claim's message content and endpoint beside its delivery, prefixed `m_` and `e_`; the
 * message's id is the delivery's `message_id`, and `m_method` (never null in the table) is null
 * when the message is gone.
 */
const CLAIM_JOINED = `m.method AS m_method, m.body AS m_body, ${ENDPOINT_JOINED}`;

/** A short tag of the schema for names PostgreSQL caps at 63 bytes. */
const schemaTag = (schema: string) =>
  createHash('sha256').update(schema).digest('hex').slice(0, 10);

/** The channel that `pg_notify` wakes the watchers of this schema's store on. */
export function notifyChannel(schema: string): string {
  const channel = `${schema}_webhooks`;
  return channel.length <= 63 ? channel : `${schema.slice(0, 40)}_webhooks_${schemaTag(schema)}`;
}

/**
 * The key of the advisory lock that migrations of `schema` hold, as int8 text: every process
 * that migrates the same schema waits for the same lock, whatever else uses advisory locks.
 */
export function migrationLockKey(schema: string): string {
  const digest = createHash('sha256').update(`nestjs-webhooks:migrate:${schema}`).digest();
  return digest.readBigInt64BE(0).toString();
}

/** A statement prepared once per connection under `name`. */
export interface Statement {
  name: string;
  text: string;
}

/**
 * The hot-path statements of one schema, each sent as a named prepared statement (parsed and
 * planned once per connection; the first use is still a single round trip).
 */
export function storeStatements(schema: string) {
  const s = quotedSchema(schema);
  const tag = schemaTag(schema);
  const named = (name: string, text: string): Statement => ({ name: `nwh_${tag}_${name}`, text });
  const channel = notifyChannel(schema);

  // One statement: the message and one delivery per subscribed enabled endpoint of exactly its
  // tenant, all or nothing. The watchers are woken after it commits, by `notify` (see
  // PostgresNotifier), not from inside it.
  // Delivery ids are the emit's own time-sortable id ($7, made by createId) and a fixed-width
  // counter in endpoint order, so they sort as made without a round trip to count endpoints.
  // Tenants: `IS NULL` and `=` are two statements, so that each uses the tenant index.
  const emit = (tenantIsNull: boolean, keyed: boolean) => {
    const tenantMatch = tenantIsNull ? 'tenant IS NULL' : 'tenant = $4::text';
    const subscribed = `subscribed AS (
        SELECT id, row_number() OVER (ORDER BY id) AS n FROM ${s}.endpoints
        WHERE NOT disabled AND ${tenantMatch} AND events @> ARRAY[$2::text]
      )`;
    const deliveries = `dlv AS (
        INSERT INTO ${s}.deliveries
          (id, message_id, endpoint_id, tenant, event, status, next_attempt_at, created_at, updated_at)
        SELECT $7::text || lpad(to_hex(sub.n), 6, '0'), msg.id, sub.id, $4::text, $2::text,
               'pending', $6::timestamptz, $6::timestamptz, $6::timestamptz
        FROM msg, subscribed sub
        RETURNING id, endpoint_id
      )`;
    if (!keyed) {
      return `WITH ${subscribed},
      msg AS (
        INSERT INTO ${s}.messages (id, event, method, tenant, body, idempotency_key, created_at)
        VALUES ($1::text, $2::text, $3::text, $4::text, $5::text, NULL, $6::timestamptz)
        RETURNING id
      ),
      ${deliveries}
      SELECT id, endpoint_id FROM dlv ORDER BY id`;
    }
    // The key row decides: a new one, or one older than idempotentSince ($10), takes this
    // message; a younger one stays as it is and names the message that won. It is always
    // updated rather than left alone, so that RETURNING gives the winner in this same statement
    // even when a concurrent emit of the same key committed it after this statement began.
    const takes = `k.created_at < $10::timestamptz`;
    return `WITH ${subscribed},
      key AS (
        INSERT INTO ${s}.idempotency_keys AS k
          (tenant_key, key, message_id, event, deliveries, created_at)
        SELECT $9::text, $8::text, $1::text, $2::text, count(*)::int, $6::timestamptz
        FROM subscribed
        ON CONFLICT (tenant_key, key) DO UPDATE SET
          message_id = CASE WHEN ${takes} THEN excluded.message_id ELSE k.message_id END,
          event = CASE WHEN ${takes} THEN excluded.event ELSE k.event END,
          deliveries = CASE WHEN ${takes} THEN excluded.deliveries ELSE k.deliveries END,
          created_at = CASE WHEN ${takes} THEN excluded.created_at ELSE k.created_at END
        RETURNING message_id, event, deliveries
      ),
      msg AS (
        INSERT INTO ${s}.messages (id, event, method, tenant, body, idempotency_key, created_at)
        SELECT $1::text, $2::text, $3::text, $4::text, $5::text, $8::text, $6::timestamptz
        FROM key WHERE key.message_id = $1::text
        RETURNING id
      ),
      ${deliveries}
      SELECT k.message_id, k.event, k.deliveries, d.id, d.endpoint_id
      FROM key k LEFT JOIN dlv d ON true ORDER BY d.id`;
  };

  /** The claimed rows of `from` with their message and endpoint (when `endpointIf` holds). */
  const claimedSelect = (from: string, endpointIf = 'true') => `
      SELECT ${qualified('d', DELIVERY_COLUMNS)}, ${CLAIM_JOINED}
      FROM ${from} d
      LEFT JOIN ${s}.messages m ON m.id = d.message_id
      LEFT JOIN ${s}.endpoints e ON e.id = d.endpoint_id AND ${endpointIf}`;

  /** The `limit` oldest due unleased deliveries of one endpoint, read by its due index. */
  const oldestDueOf = (endpoint: string, limit: string) => `
          SELECT id, next_attempt_at FROM ${s}.deliveries d
          WHERE d.endpoint_id = ${endpoint} AND d.status = 'pending'
            AND d.next_attempt_at <= $2::timestamptz
            AND (d.lease_owner IS NULL OR d.lease_until <= $2::timestamptz)
          ORDER BY d.next_attempt_at, d.id
          LIMIT ${limit}`;

  return {
    channel,
    emitNull: named('emit_n', emit(true, false)),
    emitTenant: named('emit_t', emit(false, false)),
    emitNullKeyed: named('emit_nk', emit(true, true)),
    emitTenantKeyed: named('emit_tk', emit(false, true)),

    // A test event: the message, marked, and one delivery to the endpoint $8 if it is enabled
    // and of the message's tenant (subscribed or not). Parameters as `emit`'s.
    emitTest: named(
      'emit_test',
      `WITH target AS (
        SELECT id FROM ${s}.endpoints
        WHERE id = $8::text AND NOT disabled AND tenant IS NOT DISTINCT FROM $4::text
      ),
      msg AS (
        INSERT INTO ${s}.messages (id, event, method, tenant, body, idempotency_key, created_at, test)
        VALUES ($1::text, $2::text, $3::text, $4::text, $5::text, NULL, $6::timestamptz, true)
        RETURNING id
      ),
      dlv AS (
        INSERT INTO ${s}.deliveries
          (id, message_id, endpoint_id, tenant, event, status, next_attempt_at, created_at, updated_at)
        SELECT $7::text || lpad('1', 6, '0'), msg.id, target.id, $4::text, $2::text,
               'pending', $6::timestamptz, $6::timestamptz, $6::timestamptz
        FROM msg, target
        RETURNING id, endpoint_id
      )
      SELECT id, endpoint_id FROM dlv`,
    ),

    // $1 tenant.
    portalLinkGeneration: named(
      'portal_generation',
      `SELECT link_generation FROM ${s}.portal_tenants WHERE tenant = $1::text`,
    ),
    revokePortalLinks: named(
      'portal_revoke',
      `INSERT INTO ${s}.portal_tenants AS t (tenant, link_generation) VALUES ($1::text, 1)
       ON CONFLICT (tenant) DO UPDATE SET link_generation = t.link_generation + 1
       RETURNING link_generation`,
    ),

    // $1 id, $2 owner, $3 now, $4 until.
    claim: named(
      'claim',
      `WITH claimed AS (
        UPDATE ${s}.deliveries SET lease_owner = $2::text, lease_until = $4::timestamptz
        WHERE id = $1::text AND status = 'pending' AND next_attempt_at <= $3::timestamptz
          AND (lease_owner IS NULL OR lease_until <= $3::timestamptz OR lease_owner = $2::text)
        RETURNING ${DELIVERY_COLUMNS}
      )
      ${claimedSelect('claimed')}`,
    ),

    // $1 owner, $2 now, $3 until, $4 limit, $5 endpoints to skip, $6 most per endpoint.
    // Fair between endpoints: of the oldest due unleased deliveries, at most $6 per endpoint, and
    // none of an endpoint in $5 (no room for it in this process).
    // `head` is a bounded walk of the due index, a few batches' worth of the oldest rows, whatever
    // their endpoint: enough when due deliveries are spread over endpoints. When it is full and
    // yields less than a batch, its rows are crowded by a few endpoints (one busy receiver's
    // backlog) and more may be due behind them, which the walk would have to read row by row:
    // `behind` finds those endpoint by endpoint instead. It lists the endpoints that have
    // pending deliveries by a skip scan of the per-endpoint due index (one index probe each),
    // reads each one's oldest due delivery, and takes up to $6 from the $4 endpoints whose
    // oldest are the oldest: no other endpoint's delivery can be among the batch's $4 oldest,
    // since each of those endpoints has one older.
    // `due` locks the chosen rows through the primary key alone (`id = ANY`, the status test
    // out of the index conditions as in `record`), SKIP LOCKED: another sweep may be taking
    // them. It tests every condition again: a row changed since the statement's snapshot
    // (another process attempted it and set its retry) is locked in its latest version, and
    // only `due`'s own conditions are checked on that version.
    // Each endpoint comes once, with the first of its deliveries (`nth`), however many of them
    // the batch has: toClaimedBatch gives the others copies of it.
    sweep: named(
      'sweep',
      `WITH RECURSIVE head AS (
        SELECT id, endpoint_id, next_attempt_at FROM ${s}.deliveries
        WHERE status = 'pending' AND next_attempt_at <= $2::timestamptz
          AND (lease_owner IS NULL OR lease_until <= $2::timestamptz)
        ORDER BY next_attempt_at, id
        LIMIT $4::int * 4
      ),
      head_ranked AS (
        SELECT id, endpoint_id, next_attempt_at,
          row_number() OVER (PARTITION BY endpoint_id ORDER BY next_attempt_at, id) AS n
        FROM head WHERE endpoint_id <> ALL($5::text[])
      ),
      crowded AS (
        SELECT (SELECT count(*) FROM head) = $4::int * 4
           AND (SELECT count(*) FROM head_ranked WHERE n <= $6::int) < $4::int AS yes
      ),
      pending_endpoints AS (
        (SELECT endpoint_id FROM ${s}.deliveries
         WHERE status = 'pending' AND (SELECT yes FROM crowded)
         ORDER BY endpoint_id LIMIT 1)
        UNION ALL
        SELECT (SELECT d.endpoint_id FROM ${s}.deliveries d
                WHERE d.status = 'pending' AND d.endpoint_id > p.endpoint_id
                ORDER BY d.endpoint_id LIMIT 1)
        FROM pending_endpoints p WHERE p.endpoint_id IS NOT NULL
      ),
      oldest AS (
        SELECT p.endpoint_id, o.next_attempt_at, o.id FROM pending_endpoints p
        CROSS JOIN LATERAL (${oldestDueOf('p.endpoint_id', '1')}) o
        WHERE p.endpoint_id IS NOT NULL AND p.endpoint_id <> ALL($5::text[])
        ORDER BY o.next_attempt_at, o.id
        LIMIT $4::int
      ),
      behind AS (
        SELECT b.id, oldest.endpoint_id, b.next_attempt_at FROM oldest
        CROSS JOIN LATERAL (${oldestDueOf('oldest.endpoint_id', 'LEAST($6::int, $4::int)')}) b
      ),
      candidates AS (
        SELECT id, endpoint_id, next_attempt_at FROM head_ranked WHERE n <= $6::int
        UNION
        SELECT id, endpoint_id, next_attempt_at FROM behind
      ),
      chosen AS (
        SELECT id, next_attempt_at,
          row_number() OVER (PARTITION BY endpoint_id ORDER BY next_attempt_at, id) AS n
        FROM candidates
      ),
      due AS (
        SELECT x.id FROM ${s}.deliveries x
        WHERE x.id = ANY(ARRAY(
            SELECT id FROM chosen WHERE n <= $6::int ORDER BY next_attempt_at, id LIMIT $4::int * 4
          ))
          AND (x.status = 'pending') IS TRUE AND x.next_attempt_at <= $2::timestamptz
          AND (x.lease_owner IS NULL OR x.lease_until <= $2::timestamptz)
        ORDER BY x.next_attempt_at, x.id
        LIMIT $4::int
        FOR UPDATE OF x SKIP LOCKED
      ),
      claimed AS (
        UPDATE ${s}.deliveries x SET lease_owner = $1::text, lease_until = $3::timestamptz
        FROM due WHERE x.id = due.id
        RETURNING ${qualified('x', DELIVERY_COLUMNS)}
      )
      ${claimedSelect(
        '(SELECT c.*, row_number() OVER (PARTITION BY c.endpoint_id) AS nth FROM claimed c)',
        'd.nth = 1',
      )}
      ORDER BY d.next_attempt_at, d.id`,
    ),

    // A batch of records, each element of the arrays one record (see recordColumns): $1 ids
    // (each once), $2 owners, $3 attempt numbers (null: none sent), $4 statuses, $5 schedule
    // attempts, $6 next attempts, $7 last errors, $8 updated at, $9..$14 the attempts.
    // `applied` applies an outcome if its delivery is still pending and leased to its owner, as
    // the row is once locked (an UPDATE rechecks its WHERE on the latest version), so that tells
    // `applied` without a read before it; it returns only what the outcome does not give.
    // Otherwise `kept` keeps the attempt count in step and returns the delivery as it is; it
    // skips the rows `applied` took, so no row is updated twice. Either locks the row, so an
    // attempt is logged only while its delivery exists (a prune waits, or has deleted it).
    // A delivery gone has no row. Rows are found through the primary key alone (`id = ANY`),
    // and the status test is kept out of the index conditions (`IS TRUE`): statistics of how
    // many deliveries are pending go stale, and a plan that walked the pending ones would read
    // them all.
    record: named(
      'record',
      `WITH input AS (
        SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::text[], $5::int[],
          $6::timestamptz[], $7::text[], $8::timestamptz[], $9::timestamptz[], $10::float8[],
          $11::int[], $12::text[], $13::text[], $14::text[])
          AS i(id, owner, attempt, status, schedule_attempts, next_attempt_at, last_error,
               updated_at, started_at, duration_ms, status_code, error, response_body, outcome)
      ),
      applied AS (
        UPDATE ${s}.deliveries d SET
          status = i.status, schedule_attempts = i.schedule_attempts,
          next_attempt_at = i.next_attempt_at, last_error = i.last_error,
          updated_at = i.updated_at, lease_owner = NULL, lease_until = NULL,
          attempts = GREATEST(d.attempts, COALESCE(i.attempt, 0))
        FROM input i
        WHERE d.id = ANY($1::text[]) AND d.id = i.id AND (d.status = 'pending') IS TRUE
          AND d.lease_owner = i.owner
        RETURNING ${qualified('d', RECORDED_COLUMNS)}
      ),
      kept AS (
        UPDATE ${s}.deliveries d SET attempts = GREATEST(d.attempts, COALESCE(i.attempt, 0))
        FROM input i
        WHERE d.id = ANY($1::text[]) AND d.id = i.id
          AND NOT EXISTS (SELECT 1 FROM applied a WHERE a.id = i.id)
        RETURNING ${qualified('d', DELIVERY_COLUMNS)}
      ),
      done AS (
        SELECT true AS applied, ${RECORDED_COLUMNS}, NULL::text AS status,
               NULL::int AS schedule_attempts, NULL::timestamptz AS next_attempt_at,
               NULL::text AS last_error, NULL::timestamptz AS updated_at
        FROM applied
        UNION ALL
        SELECT false, ${RECORDED_COLUMNS}, status, schedule_attempts, next_attempt_at,
               last_error, updated_at
        FROM kept
      ),
      logged AS (
        INSERT INTO ${s}.attempts
          (delivery_id, attempt, started_at, duration_ms, status_code, error, response_body, outcome)
        SELECT i.id, i.attempt, i.started_at, i.duration_ms, i.status_code, i.error,
               i.response_body, i.outcome
        FROM input i JOIN done ON done.id = i.id
        WHERE i.attempt IS NOT NULL
        ON CONFLICT (delivery_id, attempt) DO NOTHING
      )
      SELECT done.*, e.failing_since AS e_failing_since
      FROM done LEFT JOIN ${s}.endpoints e ON e.id = done.endpoint_id`,
    ),

    // $1 id, $2 last error, $3 now, $4 batch: the endpoint, and the first batch of its pending
    // deliveries (the rest go by `failRemoved`, so that no statement locks all of them).
    removeEndpoint: named(
      'remove_endpoint',
      `WITH gone AS (
        DELETE FROM ${s}.endpoints WHERE id = $1::text RETURNING id
      ),
      batch AS (
        SELECT d.id FROM ${s}.deliveries d JOIN gone ON d.endpoint_id = gone.id
        WHERE d.status = 'pending' ORDER BY d.id LIMIT $4::int FOR UPDATE OF d
      ),
      failed AS (
        UPDATE ${s}.deliveries d SET status = 'failed', next_attempt_at = NULL,
          last_error = $2::text, updated_at = $3::timestamptz, lease_owner = NULL, lease_until = NULL
        FROM batch WHERE d.id = batch.id
        RETURNING ${qualified('d', DELIVERY_COLUMNS)}
      )
      SELECT (SELECT count(*) FROM gone)::int AS removed, f.*
      FROM (SELECT 1) one LEFT JOIN failed f ON true ORDER BY f.id`,
    ),
    // $1 endpoint id, $2 last error, $3 now, $4 batch, $5 the last id of the batch before (the
    // walk along the endpoint's index goes on from there, past the deliveries failed already).
    failRemoved: named(
      'fail_removed',
      `WITH batch AS (
        SELECT id FROM ${s}.deliveries
        WHERE endpoint_id = $1::text AND id > $5::text AND status = 'pending'
        ORDER BY id LIMIT $4::int FOR UPDATE
      )
      UPDATE ${s}.deliveries d SET status = 'failed', next_attempt_at = NULL,
        last_error = $2::text, updated_at = $3::timestamptz, lease_owner = NULL, lease_until = NULL
      FROM batch WHERE d.id = batch.id
      RETURNING ${qualified('d', DELIVERY_COLUMNS)}`,
    ),

    // $1 delivery ids, $2 owner. Only the owner's leases of pending deliveries: a finished one
    // has none.
    release: named(
      'release',
      `UPDATE ${s}.deliveries SET lease_owner = NULL, lease_until = NULL
      WHERE id = ANY($1::text[]) AND lease_owner = $2::text AND status = 'pending'
      RETURNING id`,
    ),

    // $1 message id, $2 endpoint id or null, $3 now.
    // The message is share-locked so that a prune running at the same moment skips it.
    redeliver: named(
      'redeliver',
      `WITH msg AS (
        SELECT id FROM ${s}.messages WHERE id = $1::text FOR SHARE
      ),
      matched AS (
        SELECT d.id, d.status FROM ${s}.deliveries d JOIN msg ON d.message_id = msg.id
        WHERE $2::text IS NULL OR d.endpoint_id = $2::text
        FOR UPDATE OF d
      ),
      again AS (
        UPDATE ${s}.deliveries d SET status = 'pending', schedule_attempts = 0,
          next_attempt_at = $3::timestamptz, updated_at = $3::timestamptz,
          lease_owner = NULL, lease_until = NULL
        FROM matched WHERE d.id = matched.id AND matched.status <> 'pending'
        RETURNING ${qualified('d', DELIVERY_COLUMNS)}
      )
      SELECT (SELECT count(*) FROM msg)::int AS found, (SELECT count(*) FROM matched)::int AS matched,
             r.*
      FROM (SELECT 1) one LEFT JOIN again r ON true ORDER BY r.id`,
    ),

    // Wakes the watchers (LISTEN on `channel`), in a transaction of its own after notifying
    // writes (PostgresNotifier). A write made in the caller's own transaction instead runs it in
    // that transaction, after the write: PostgreSQL sends it at that commit, and not at all on a
    // rollback. It answers a boolean rather than pg_notify's `void`, a type that some tools
    // reading the caller's transaction cannot read (Prisma's pg adapter refuses it).
    notify: named('notify', `SELECT true AS notified FROM pg_notify('${channel}', '')`),

    // Pruning, in one transaction: first lock the finished messages of a window of old ones
    // (skipping those a redeliver or another prune holds) and their deliveries, which waits for
    // a `record` in flight and keeps later ones out; then delete them with a snapshot taken
    // after that, so that an attempt such a `record` logged goes with its delivery.
    // A window is the next $2 messages created before $1, oldest first, after the message
    // ($3 created at, $4 id; null for the first) that ended the one before: each statement
    // reads a bounded number of messages, however many old ones are kept for their pending
    // deliveries. Of them it takes the oldest $5 finished ones. The row with a null id gives
    // how many the window read and its last message, where the next window starts (its
    // created_at as ISO 8601 text, whatever the DateStyle: a Date would drop the microseconds,
    // and the next window start again where this one did).
    pruneLock: named(
      'prune_lock',
      `WITH scanned AS (
        SELECT m.id, m.created_at FROM ${s}.messages m
        WHERE m.created_at < $1::timestamptz
          AND (m.created_at, m.id) >
            (COALESCE($3::timestamptz, '-infinity'), COALESCE($4::text, ''))
        ORDER BY m.created_at, m.id
        LIMIT $2::int
      ),
      victims AS (
        SELECT m.id FROM ${s}.messages m JOIN scanned w ON w.id = m.id
        WHERE NOT EXISTS (
            SELECT 1 FROM ${s}.deliveries d WHERE d.message_id = m.id AND d.status = 'pending'
          )
        ORDER BY m.created_at, m.id
        LIMIT $5::int
        FOR UPDATE OF m SKIP LOCKED
      ),
      locked AS (
        SELECT d.id FROM ${s}.deliveries d JOIN victims v ON d.message_id = v.id FOR UPDATE OF d
      )
      SELECT v.id, NULL::int AS scanned, NULL::text AS last_created_at, NULL::text AS last_id
      FROM victims v WHERE (SELECT count(*) FROM locked) >= 0
      UNION ALL
      SELECT NULL, (SELECT count(*) FROM scanned)::int, to_json(last.created_at) #>> '{}', last.id
      FROM (SELECT 1) one
      LEFT JOIN (SELECT * FROM scanned ORDER BY created_at DESC, id DESC LIMIT 1) last ON true`,
    ),
    // $1 message ids, $2 keys created before, $3 limit of keys.
    pruneDelete: named(
      'prune_delete',
      `WITH victims AS (
        SELECT m.id FROM ${s}.messages m
        WHERE m.id = ANY($1::text[])
          AND NOT EXISTS (
            SELECT 1 FROM ${s}.deliveries d WHERE d.message_id = m.id AND d.status = 'pending'
          )
      ),
      gone_deliveries AS (
        DELETE FROM ${s}.deliveries d USING victims v WHERE d.message_id = v.id RETURNING d.id
      ),
      gone_attempts AS (
        DELETE FROM ${s}.attempts a USING gone_deliveries g WHERE a.delivery_id = g.id
      ),
      gone_messages AS (
        DELETE FROM ${s}.messages m USING victims v WHERE m.id = v.id RETURNING 1
      ),
      expired_keys AS (
        SELECT tenant_key, key FROM ${s}.idempotency_keys
        WHERE created_at < $2::timestamptz
        ORDER BY created_at
        LIMIT $3::int
        FOR UPDATE SKIP LOCKED
      ),
      gone_keys AS (
        DELETE FROM ${s}.idempotency_keys k USING expired_keys x
        WHERE k.tenant_key = x.tenant_key AND k.key = x.key
        RETURNING 1
      )
      SELECT (SELECT count(*) FROM gone_messages)::int AS messages,
             (SELECT count(*) FROM gone_keys)::int AS keys`,
    ),

    getEndpoint: named(
      'get_endpoint',
      `SELECT ${ENDPOINT_COLUMNS} FROM ${s}.endpoints WHERE id = $1::text`,
    ),
    getMessage: named(
      'get_message',
      `SELECT ${MESSAGE_COLUMNS} FROM ${s}.messages WHERE id = $1::text`,
    ),
    getDelivery: named(
      'get_delivery',
      `SELECT ${DELIVERY_COLUMNS} FROM ${s}.deliveries WHERE id = $1::text`,
    ),
    insertEndpoint: named(
      'insert_endpoint',
      `INSERT INTO ${s}.endpoints (${ENDPOINT_COLUMNS}) VALUES ($1::text, $2::text, $3::text[],
        $4::text, $5::jsonb, $6::text, $7::text, $8::boolean, $9::text, $10::timestamptz,
        $11::timestamptz, $12::timestamptz)`,
    ),
    // Re-encryption: a page of endpoints' secrets by id, and the rewrite of those that are not
    // under the newest key, skipping any whose secrets changed since they were read.
    endpointSecrets: named(
      'endpoint_secrets',
      `SELECT id, secret, retired_secrets FROM ${s}.endpoints WHERE id > $1::text
       ORDER BY id LIMIT $2::int`,
    ),
    rewriteSecrets: named(
      'rewrite_secrets',
      `UPDATE ${s}.endpoints e SET secret = v.secret, retired_secrets = v.retired::jsonb
       FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[])
         AS v(id, old_secret, old_retired, secret, retired)
       WHERE e.id = v.id AND e.secret = v.old_secret AND e.retired_secrets = v.old_retired::jsonb
       RETURNING e.id`,
    ),
    listAttempts: named(
      'list_attempts',
      `SELECT ${ATTEMPT_COLUMNS} FROM ${s}.attempts a JOIN ${s}.deliveries d ON d.id = a.delivery_id
       WHERE a.delivery_id = ANY($1::text[]) ORDER BY a.delivery_id, a.attempt`,
    ),
  };
}

export type StoreStatements = ReturnType<typeof storeStatements>;
