import { Logger } from '@nestjs/common';
import pg from 'pg';
import type { Pool } from 'pg';
import type {
  RetiredSecret,
  StoredWebhookEndpoint,
  WebhookEndpointFilter,
} from '../../interfaces/webhook-endpoint.interface.js';
import type {
  WebhookAttempt,
  WebhookDelivery,
  WebhookMessage,
} from '../../interfaces/webhook-message.interface.js';
import type {
  ClaimedDelivery,
  EmittedMessage,
  RecordedOutcome,
  Redelivered,
  RemovedEndpoint,
  WebhookDeliveryFilter,
  WebhookDeliveryOutcome,
  WebhookEmitRequest,
  WebhookTransactionRunner,
  WebhookLease,
  WebhookMessageFilter,
  WebhookPage,
  WebhookPageRequest,
  WebhookRedeliverRequest,
  WebhookStore,
  WebhookSweepFairness,
} from '../../interfaces/webhook-store.interface.js';
import { WEBHOOKS_LOGGER_CONTEXT } from '../../webhooks.constants.js';
import {
  WebhookArgumentError,
  WebhookEncryptionKeyError,
  WebhookStoreError,
} from '../../webhooks.errors.js';
import { createId } from '../ids.js';
import { checkSchemaName, quotedSchema } from './migrations.js';
import { PostgresListener } from './postgres-listener.js';
import { withPoolClient } from './pool-client.js';
import { PostgresNotifier } from './postgres-notifier.js';
import { StatementBatcher } from './statement-batcher.js';
import { checkMigrated, migrate, PostgresSchemaError } from './postgres-migrator.js';
import {
  DELIVERY_COLUMNS,
  ENDPOINT_COLUMNS,
  MESSAGE_COLUMNS,
  storeStatements,
  type Statement,
  type StoreStatements,
} from './postgres-statements.js';
import {
  retiredSecretsJson,
  toAttempt,
  toRecordedDelivery,
  toClaimed,
  toClaimedBatch,
  toDelivery,
  toEndpoint,
  toMessage,
} from './postgres-rows.js';
import {
  clockSkewed,
  invalidPostgresConnectionString,
  invalidPostgresPool,
  invalidPostgresStoreOption,
  invalidPostgresStoreOptions,
  listenLost,
  postgresOpenFailed,
  postgresPoolError,
  postgresPoolOrConnectionString,
  postgresQueryFailed,
  postgresStoreClosed,
  pruneFailed,
  reencryptNeedsKey,
  reencryptSkipped,
} from '../../webhooks.messages.js';
import { SecretSealer } from './secret-sealer.js';

export { webhookMigrations, type WebhookMigration } from './migrations.js';

/** How to reach PostgreSQL, where the tables are, and how long finished work stays. */
export interface PostgresWebhookStoreOptions {
  /** The app's own `pg` Pool; the store never ends it. */
  pool?: Pool;
  /** Or a connection string: the store makes a Pool of its own and ends it in `close()`. */
  connectionString?: string;
  /** The schema of the store's tables, a plain lower-case identifier. Default `webhooks`. */
  schema?: string;
  /**
   * Create and upgrade the tables at `open()` (default `true`); `false`: only check that the
   * SQL of `webhookMigrations(schema)` has been applied.
   */
  migrate?: boolean;
  /** Milliseconds finished messages stay in the delivery log. Default 24 h. */
  retention?: number;
  /** Milliseconds an idempotency key keeps deduplicating, its message kept or not. Default 24 h. */
  idempotencyTtl?: number;
  /** Milliseconds between runs of the retention batches. Default 60 s. */
  pruneInterval?: number;
  /** `application_name` of the connections of a pool the store makes (not of `pool`). */
  applicationName?: string;
  /**
   * Keys that encrypt endpoint secrets at rest, 32 bytes each, newest first (the module's
   * `store.encryptionKey`, decoded); none to store secrets as given.
   */
  encryptionKeys?: readonly Buffer[];
}

const DAY = 24 * 60 * 60 * 1000;
const DEFAULT_PRUNE_INTERVAL = 60_000;
const DEFAULT_PAGE_LIMIT = 100;
/** Endpoints `reencryptSecrets` reads (and rewrites) per round trip. */
const REENCRYPT_BATCH = 500;
/** Pending deliveries of a removed endpoint failed per statement. */
const REMOVE_BATCH = 1000;
/** Record statements running at once; records that come meanwhile wait and go as one. */
const RECORDS_IN_FLIGHT = 2;
/** Most records in one statement. */
const RECORD_BATCH = 100;
/** Old messages one retention statement reads (and most expired keys it deletes). */
const PRUNE_BATCH = 1_000;

/** Where a walk of the old messages has got to: the last message of its last window. */
interface WalkPosition {
  /** As PostgreSQL writes a timestamptz, to the microsecond. */
  createdAt: string;
  id: string;
}

/** What one retention statement reads and deletes. */
interface PruneWindow {
  /** Old messages it reads. */
  size: number;
  /** Most of them it deletes (the finished ones, oldest first). */
  victims: number;
  /** Most expired idempotency keys it deletes. */
  keyLimit: number;
  /** Where the window before ended; none for the first. */
  from: WalkPosition | undefined;
}

/** How long a pool the store makes waits for a connection: a database that is down rejects. */
const CONNECT_TIMEOUT_MS = 10_000;
/**
 * How far this process's clock may be from PostgreSQL's before opening warns. Processes on one
 * schema compare due times and leases with their own clocks, and a worker's lease runs a few
 * seconds past its attempt's timeout (the dispatcher's margin): clocks further apart than that
 * let one process claim a delivery whose attempt another is still sending. A second leaves room
 * under the margin for two processes skewed in opposite directions.
 */
const CLOCK_SKEW_WARNING_MS = 1_000;
/** SQLSTATE classes and error codes that mean the connection, not the statement, failed. */
const CONNECTION_FAILURE = /^(08|57P0|53300|ECONN|ETIMEDOUT|ENOTFOUND|EAI_AGAIN|EPIPE)/;
/** What `pg` itself says, without a code, when a connection goes or cannot be had. */
const CONNECTION_LOST =
  /^(Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error)/;

type Row = Record<string, unknown>;

/**
 * The durable store: endpoints, messages, deliveries and attempts in PostgreSQL, shared by
 * every process on the same schema. Each method is one statement (or, for pruning, one short
 * transaction), so a call stores all of its writes or none, and a delivery's row decides who
 * attempts it: `claim` leases it in the statement that checks it is due.
 */
export class PostgresWebhookStore implements WebhookStore {
  readonly shared = true;

  private readonly sql: StoreStatements;
  private readonly logger = new Logger(WEBHOOKS_LOGGER_CONTEXT);
  private readonly listener: PostgresListener;
  private readonly notifier: PostgresNotifier;
  private pruneTimer: NodeJS.Timeout | undefined;
  private pruning: Promise<void> | undefined;
  private closed = false;
  private closing: Promise<void> | undefined;
  /** Concurrent records go as one statement (see StatementBatcher). */
  private readonly records = new StatementBatcher<PendingRecord, RecordedOutcome>(
    (records) => this.recordBatch(records),
    { maxInFlight: RECORDS_IN_FLIGHT, maxBatch: RECORD_BATCH, key: (record) => record.deliveryId },
  );

  private constructor(
    private readonly pool: Pool,
    private readonly ownsPool: boolean,
    /** The schema the store's tables are in. */
    readonly schema: string,
    private readonly retentionMs: number,
    private readonly idempotencyTtlMs: number,
    private readonly onPoolError: (error: Error) => void,
    private readonly secrets: SecretSealer,
  ) {
    this.sql = storeStatements(schema);
    this.listener = new PostgresListener(pool, this.sql.channel, (reason, delay) =>
      this.logger.warn(listenLost(schema, reason, delay)),
    );
    this.notifier = new PostgresNotifier(pool, this.sql.notify);
  }

  /**
   * Checks the options, takes the app's pool or makes one, creates or upgrades the tables (or,
   * with `migrate: false`, checks they are up to date), warns when this process's clock is far
   * from the database's, and starts the retention timer.
   */
  static async open(options: PostgresWebhookStoreOptions): Promise<PostgresWebhookStore> {
    const checked = checkOptions(options);
    const { schema } = checked;
    const ownsPool = checked.pool === undefined;
    const pool =
      checked.pool ??
      new pg.Pool({
        connectionString: checked.connectionString,
        application_name: checked.applicationName,
        connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
      });
    // A connection that dies while idle in the pool is an 'error' event of the pool: without a
    // listener it would end the process. The pool drops that connection on its own.
    const logger = new Logger(WEBHOOKS_LOGGER_CONTEXT);
    const onPoolError = (error: Error) => logger.warn(postgresPoolError(schema, error.message));
    pool.on('error', onPoolError);
    try {
      if (checked.migrate) await migrate(pool, schema);
      else await checkMigrated(pool, schema);
      const skew = await clockSkew(pool);
      if (Math.abs(skew) > CLOCK_SKEW_WARNING_MS) logger.warn(clockSkewed(schema, skew));
    } catch (error) {
      pool.off('error', onPoolError);
      if (ownsPool) await pool.end().catch(() => undefined);
      // Errors about the tables already say what to do.
      if (error instanceof PostgresSchemaError) throw error;
      throw new Error(postgresOpenFailed(schema, describeError(error)), { cause: error });
    }
    const store = new PostgresWebhookStore(
      pool,
      ownsPool,
      schema,
      checked.retention,
      checked.idempotencyTtl,
      onPoolError,
      new SecretSealer(checked.encryptionKeys),
    );
    store.startPruning(checked.pruneInterval);
    return store;
  }

  /**
   * Ends the timer, sends the notify still due, ends the listener, then the pool if the store
   * made it; once.
   */
  close(): Promise<void> {
    return (this.closing ??= this.shutDown());
  }

  private async shutDown() {
    // Records already taken are written: their attempts were sent.
    await this.records.drain();
    this.closed = true;
    clearInterval(this.pruneTimer);
    this.pruneTimer = undefined;
    await this.pruning;
    await this.notifier.close();
    await this.listener.close();
    if (this.ownsPool) await this.pool.end();
    this.pool.off('error', this.onPoolError);
  }

  async watch(onWrite: () => void): Promise<void> {
    this.checkOpen('listen for writes');
    try {
      await this.listener.add(onWrite);
    } catch (error) {
      throw this.failure('listen for writes', error);
    }
  }

  // Endpoints.

  async insertEndpoint(endpoint: StoredWebhookEndpoint): Promise<void> {
    await this.run(`insert endpoint ${endpoint.id}`, this.sql.insertEndpoint, [
      endpoint.id,
      endpoint.url,
      endpoint.events,
      this.secrets.seal(endpoint.secret, endpoint.id),
      retiredSecretsJson(this.sealRetired(endpoint.id, endpoint.retiredSecrets)),
      endpoint.tenant,
      endpoint.description,
      endpoint.disabled,
      endpoint.disabledReason,
      endpoint.failingSince,
      endpoint.createdAt,
      endpoint.updatedAt,
    ]);
  }

  async getEndpoint(id: string): Promise<StoredWebhookEndpoint | undefined> {
    const rows = await this.run(`read endpoint ${id}`, this.sql.getEndpoint, [id]);
    return rows.length === 0 ? undefined : toEndpoint(rows[0], this.secrets);
  }

  async listEndpoints(
    filter: WebhookEndpointFilter = {},
    page: WebhookPageRequest = {},
  ): Promise<WebhookPage<StoredWebhookEndpoint>> {
    const where = new Conditions();
    where.equalOrNull('tenant', filter.tenant);
    if (filter.event !== undefined) where.add('events @> ARRAY[$?::text]', filter.event);
    if (filter.disabled !== undefined) where.add('disabled = $?::boolean', filter.disabled);
    return this.page('list endpoints', 'endpoints', ENDPOINT_COLUMNS, where, page, 'asc', (row) =>
      toEndpoint(row, this.secrets),
    );
  }

  async updateEndpoint(
    id: string,
    patch: Partial<StoredWebhookEndpoint>,
    expected: { disabled?: boolean; failingSince?: null } = {},
  ): Promise<StoredWebhookEndpoint | undefined> {
    const where = new Conditions();
    where.add('id = $?::text', id);
    if (expected.disabled !== undefined) where.add('disabled = $?::boolean', expected.disabled);
    if (expected.failingSince === null) where.add('failing_since IS NULL');
    const sets: string[] = [];
    // A secret written is sealed under the newest key, as are the retired ones beside it.
    const stored: Partial<StoredWebhookEndpoint> = {
      ...patch,
      ...(patch.secret !== undefined && { secret: this.secrets.seal(patch.secret, id) }),
      ...(patch.retiredSecrets && { retiredSecrets: this.sealRetired(id, patch.retiredSecrets) }),
    };
    for (const [field, [column, type, encode]] of Object.entries(ENDPOINT_FIELDS)) {
      const value = stored[field as keyof StoredWebhookEndpoint];
      // A field given as `undefined` is one the caller does not change.
      if (value === undefined) continue;
      sets.push(`${column} = ${where.param(encode ? encode(value as never) : value)}::${type}`);
    }
    const text =
      sets.length === 0
        ? `SELECT ${ENDPOINT_COLUMNS} FROM ${quotedSchema(this.schema)}.endpoints WHERE ${where.sql()}`
        : `UPDATE ${quotedSchema(this.schema)}.endpoints SET ${sets.join(', ')} WHERE ${where.sql()} ` +
          `RETURNING ${ENDPOINT_COLUMNS}`;
    const rows = await this.query(`update endpoint ${id}`, text, where.values);
    return rows.length === 0 ? undefined : toEndpoint(rows[0], this.secrets);
  }

  async removeEndpoint(id: string, lastError: string, now: Date): Promise<RemovedEndpoint> {
    const operation = `remove endpoint ${id}`;
    const values = [id, lastError, now, REMOVE_BATCH];
    const rows = await this.run(operation, this.sql.removeEndpoint, values);
    const removed = (rows[0].removed as number) > 0;
    const failed = rows.filter((row) => row.id !== null).map(toDelivery);
    // A short batch was the last: nothing can become pending for an endpoint that is gone, but
    // a redelivery (whose claim fails it without the endpoint).
    // Each batch goes on from the largest id of the one before.
    let after = failed.at(-1)?.id ?? '';
    let batch = failed.length;
    while (removed && batch === REMOVE_BATCH) {
      const rows = await this.run(operation, this.sql.failRemoved, [...values, after]);
      for (const row of rows) {
        const delivery = toDelivery(row);
        if (delivery.id > after) after = delivery.id;
        failed.push(delivery);
      }
      batch = rows.length;
    }
    return { removed, failed };
  }

  async reencryptSecrets(): Promise<{ reencrypted: number; unreadable: string[] }> {
    if (!this.secrets.encrypts) throw new Error(reencryptNeedsKey());
    const operation = 're-encrypt endpoint secrets';
    let reencrypted = 0;
    const unreadable: string[] = [];
    let after = '';
    for (;;) {
      const rows = await this.run(operation, this.sql.endpointSecrets, [after, REENCRYPT_BATCH]);
      if (rows.length === 0) break;
      after = rows[rows.length - 1].id as string;
      const resealed = this.resealed(rows, unreadable);
      if (resealed.length > 0) {
        const updated = await this.run(operation, this.sql.rewriteSecrets, [
          resealed.map(({ row }) => row.id),
          resealed.map(({ row }) => row.secret),
          resealed.map(({ row }) => JSON.stringify(row.retired_secrets)),
          resealed.map(({ secret }) => secret),
          resealed.map(({ retired }) => retired),
        ]);
        reencrypted += updated.length;
      }
      if (rows.length < REENCRYPT_BATCH) break;
    }
    if (unreadable.length > 0) this.logger.warn(reencryptSkipped(unreadable));
    return { reencrypted, unreadable };
  }

  /**
   * The endpoint rows not all under the newest key, their secrets opened and sealed again
   * under it; the ids of rows that do not open go to `unreadable`, and the rows are left be.
   */
  private resealed(rows: Row[], unreadable: string[]) {
    const resealed: { row: Row; secret: string; retired: string }[] = [];
    for (const row of rows) {
      const id = row.id as string;
      const retired = row.retired_secrets as { secret: string; expiresAt: string }[];
      const values = [row.secret as string, ...retired.map((entry) => entry.secret)];
      if (values.every((value) => this.secrets.isCurrent(value))) continue;
      try {
        const reseal = (value: string) => this.secrets.seal(this.secrets.open(value, id), id);
        resealed.push({
          row,
          secret: reseal(row.secret as string),
          retired: JSON.stringify(
            retired.map((entry) => ({ ...entry, secret: reseal(entry.secret) })),
          ),
        });
      } catch (error) {
        if (!(error instanceof WebhookEncryptionKeyError)) throw error;
        unreadable.push(id);
      }
    }
    return resealed;
  }

  private sealRetired(endpointId: string, retired: readonly RetiredSecret[]): RetiredSecret[] {
    return retired.map((entry) => ({
      ...entry,
      secret: this.secrets.seal(entry.secret, endpointId),
    }));
  }

  // Messages and their deliveries.

  async emit({
    message,
    idempotentSince,
    notify,
    transaction,
    endpointId,
  }: WebhookEmitRequest): Promise<EmittedMessage> {
    const tenantIsNull = message.tenant === null;
    const values: unknown[] = [
      message.id,
      message.event,
      message.method,
      message.tenant,
      message.body,
      message.createdAt,
      createId('dlv'),
    ];
    const operation = `emit message ${message.id} ('${message.event}')`;
    const write = (statement: Statement, parameters: unknown[]) =>
      transaction
        ? this.runIn(transaction, operation, statement, parameters)
        : this.run(operation, statement, parameters);
    // In the caller's transaction, PostgreSQL sends the notification at its commit, and none on
    // a rollback; otherwise one coalesced notification follows the commit of the write. A
    // message no endpoint subscribes to wakes nobody.
    const inserted = async (rows: Row[]): Promise<EmittedMessage> => {
      const deliveries = emittedDeliveries(rows);
      if (deliveries.length > 0) {
        if (transaction) await this.runIn(transaction, operation, this.sql.notify, []);
        else if (notify) this.notifier.notify();
      }
      return { inserted: true, deliveries };
    };
    if (endpointId !== undefined) {
      return inserted(await write(this.sql.emitTest, [...values, endpointId]));
    }
    if (message.idempotencyKey === null) {
      const statement = tenantIsNull ? this.sql.emitNull : this.sql.emitTenant;
      return inserted(await write(statement, values));
    }
    const statement = tenantIsNull ? this.sql.emitNullKeyed : this.sql.emitTenantKeyed;
    const rows = await write(statement, [
      ...values,
      message.idempotencyKey,
      // No tenant and the tenant '' are two key spaces (see the idempotency_keys table).
      tenantIsNull ? '' : `:${message.tenant}`,
      idempotentSince,
    ]);
    const winner = rows[0];
    if (winner.message_id === message.id) return inserted(rows);
    return {
      inserted: false,
      existing: { id: winner.message_id as string, event: winner.event as string },
      deliveries: winner.deliveries as number,
    };
  }

  async getMessage(id: string): Promise<WebhookMessage | undefined> {
    const rows = await this.run(`read message ${id}`, this.sql.getMessage, [id]);
    return rows.length === 0 ? undefined : toMessage(rows[0]);
  }

  async listMessages(
    filter: WebhookMessageFilter = {},
    page: WebhookPageRequest = {},
  ): Promise<WebhookPage<WebhookMessage>> {
    const where = new Conditions();
    where.equalOrNull('tenant', filter.tenant);
    if (filter.event !== undefined) where.add('event = $?::text', filter.event);
    return this.page('list messages', 'messages', MESSAGE_COLUMNS, where, page, 'desc', toMessage);
  }

  async getDelivery(id: string): Promise<WebhookDelivery | undefined> {
    const rows = await this.run(`read delivery ${id}`, this.sql.getDelivery, [id]);
    return rows.length === 0 ? undefined : toDelivery(rows[0]);
  }

  async listDeliveries(
    filter: WebhookDeliveryFilter = {},
    page: WebhookPageRequest = {},
  ): Promise<WebhookPage<WebhookDelivery>> {
    const where = new Conditions();
    if (filter.messageId !== undefined) where.add('message_id = $?::text', filter.messageId);
    if (filter.endpointId !== undefined) where.add('endpoint_id = $?::text', filter.endpointId);
    where.equalOrNull('tenant', filter.tenant);
    if (filter.event !== undefined) where.add('event = $?::text', filter.event);
    if (filter.status !== undefined) where.add('status = $?::text', filter.status);
    return this.page(
      'list deliveries',
      'deliveries',
      DELIVERY_COLUMNS,
      where,
      page,
      'desc',
      toDelivery,
    );
  }

  async listAttempts(deliveryIds: readonly string[]): Promise<Map<string, WebhookAttempt[]>> {
    const found = new Map<string, WebhookAttempt[]>();
    if (deliveryIds.length === 0) return found;
    const rows = await this.run('list attempts', this.sql.listAttempts, [[...deliveryIds]]);
    const byDelivery = new Map<string, WebhookAttempt[]>();
    for (const row of rows) {
      const attempt = toAttempt(row);
      const list = byDelivery.get(attempt.deliveryId);
      if (list) list.push(attempt);
      else byDelivery.set(attempt.deliveryId, [attempt]);
    }
    // In the order asked for, as the caller lists its deliveries.
    for (const id of deliveryIds) {
      const attempts = byDelivery.get(id);
      if (attempts && !found.has(id)) found.set(id, attempts);
    }
    return found;
  }

  // Attempts: claim, then record.

  async claim(deliveryId: string, lease: WebhookLease): Promise<ClaimedDelivery | undefined> {
    const rows = await this.run(`claim delivery ${deliveryId}`, this.sql.claim, [
      deliveryId,
      lease.owner,
      lease.now,
      lease.until,
    ]);
    return rows.length === 0 ? undefined : toClaimed(rows[0], this.secrets);
  }

  async record(
    deliveryId: string,
    owner: string,
    attempt: WebhookAttempt | null,
    outcome: WebhookDeliveryOutcome,
  ): Promise<RecordedOutcome> {
    this.checkOpen(`record the attempt of delivery ${deliveryId}`);
    return this.records.run({ deliveryId, owner, attempt, outcome });
  }

  /** Records as one statement: each record's row, or none when its delivery is gone. */
  private async recordBatch(records: PendingRecord[]): Promise<RecordedOutcome[]> {
    const operation =
      records.length === 1
        ? `record the attempt of delivery ${records[0].deliveryId}`
        : `record the attempts of ${records.length} deliveries`;
    const rows = await this.run(operation, this.sql.record, recordColumns(records));
    const byId = new Map(rows.map((row) => [row.id as string, row]));
    return records.map(({ deliveryId, outcome }): RecordedOutcome => {
      const row = byId.get(deliveryId);
      if (!row) return { delivery: undefined, endpointFailingSince: null, applied: false };
      const applied = row.applied as boolean;
      return {
        delivery: applied ? toRecordedDelivery(row, outcome) : toDelivery(row),
        endpointFailingSince: row.e_failing_since as Date | null,
        applied,
      };
    });
  }

  async sweep(
    lease: WebhookLease,
    limit: number,
    { perEndpoint, skipEndpoints = [] }: WebhookSweepFairness = {},
  ): Promise<ClaimedDelivery[]> {
    if (!(limit > 0)) return [];
    // No cap: as many as an int holds.
    const most =
      perEndpoint === undefined || !Number.isFinite(perEndpoint) ? 2 ** 31 - 1 : perEndpoint;
    const rows = await this.run('sweep for due deliveries', this.sql.sweep, [
      lease.owner,
      lease.now,
      lease.until,
      Math.floor(limit),
      skipEndpoints,
      Math.floor(most),
    ]);
    return toClaimedBatch(rows, this.secrets);
  }

  async release(deliveryIds: readonly string[], owner: string): Promise<number> {
    if (deliveryIds.length === 0) return 0;
    const operation = `release the leases of ${deliveryIds.length} deliveries`;
    const rows = await this.run(operation, this.sql.release, [deliveryIds, owner]);
    return rows.length;
  }

  async redeliver({
    messageId,
    endpointId,
    now,
    notify,
  }: WebhookRedeliverRequest): Promise<Redelivered> {
    const rows = await this.run(`redeliver message ${messageId}`, this.sql.redeliver, [
      messageId,
      endpointId ?? null,
      now,
    ]);
    const redelivered = rows.filter((row) => row.id !== null).map(toDelivery);
    if (notify && redelivered.length > 0) this.notifier.notify();
    return {
      found: (rows[0].found as number) > 0,
      matched: rows[0].matched as number,
      redelivered,
    };
  }

  // The portal's links.

  async portalLinkGeneration(tenant: string): Promise<number> {
    const rows = await this.run(
      `read the portal link generation of tenant '${tenant}'`,
      this.sql.portalLinkGeneration,
      [tenant],
    );
    return rows.length === 0 ? 0 : (rows[0].link_generation as number);
  }

  async revokePortalLinks(tenant: string): Promise<number> {
    const rows = await this.run(
      `revoke the portal links of tenant '${tenant}'`,
      this.sql.revokePortalLinks,
      [tenant],
    );
    return rows[0].link_generation as number;
  }

  // Retention.

  async prune(before: Date, limit: number): Promise<number> {
    const most = Math.max(0, Math.floor(limit));
    let messages = 0;
    let keys = 0;
    let from: WalkPosition | undefined;
    // Window after window until `limit` messages are deleted or every old one was read, and
    // `limit` expired keys or every one: each statement bounded, whatever the backlog.
    let moreMessages = most > 0;
    let moreKeys = most > 0;
    while (moreMessages || moreKeys) {
      const victims = moreMessages ? Math.min(most - messages, PRUNE_BATCH) : 0;
      const size = victims > 0 ? PRUNE_BATCH : 0;
      const keyLimit = moreKeys ? Math.min(most - keys, PRUNE_BATCH) : 0;
      const window = await this.pruneWindow(before, { size, victims, keyLimit, from });
      messages += window.messages;
      keys += window.keys;
      moreMessages = size > 0 && window.scanned === size && messages < most;
      moreKeys = keyLimit > 0 && window.keys === keyLimit && keys < most;
      from = window.last ?? from;
    }
    return messages;
  }

  /**
   * One window, in one transaction: of the next `size` messages created before `before`
   * (oldest first, after `from`, or from the first), the oldest `victims` finished ones; and at
   * most `keyLimit` expired keys.
   */
  private async pruneWindow(before: Date, window: PruneWindow) {
    this.checkOpen('delete finished messages');
    const keysBefore = new Date(Date.now() - this.idempotencyTtlMs);
    try {
      return await withPoolClient(this.pool, async (client) => {
        await client.query('BEGIN');
        try {
          const { rows } = await client.query(
            statementConfig(this.sql.pruneLock, [
              before,
              window.size,
              window.from?.createdAt ?? null,
              window.from?.id ?? null,
              window.victims,
            ]),
          );
          const walked = rows.find((row: Row) => row.scanned !== null) as Row;
          const ids = rows
            .filter((row: Row) => row.id !== null)
            .map((row: Row) => row.id as string);
          const deleted = await client.query(
            statementConfig(this.sql.pruneDelete, [ids, keysBefore, window.keyLimit]),
          );
          await client.query('COMMIT');
          const { messages, keys } = deleted.rows[0] as { messages: number; keys: number };
          const last: WalkPosition | undefined =
            walked.last_id === null
              ? undefined
              : { createdAt: walked.last_created_at as string, id: walked.last_id as string };
          return { messages, keys, scanned: walked.scanned as number, last };
        } catch (error) {
          await client.query('ROLLBACK').catch(() => undefined);
          throw error;
        }
      });
    } catch (error) {
      throw this.failure('delete finished messages', error);
    }
  }

  private startPruning(interval: number) {
    this.pruneTimer = setInterval(() => {
      this.pruning ??= this.pruneExpired().finally(() => (this.pruning = undefined));
    }, interval);
    // Pruning never needs to keep a process alive.
    this.pruneTimer.unref();
  }

  /** All that is past `retention`, in bounded windows (see `prune`), whatever the backlog. */
  private async pruneExpired() {
    try {
      await this.prune(new Date(Date.now() - this.retentionMs), Infinity);
    } catch (error) {
      if (!this.closed) this.logger.warn(pruneFailed(this.schema, (error as Error).message));
    }
  }

  // Running statements.

  private checkOpen(operation: string) {
    if (this.closed) {
      throw new WebhookStoreError(postgresStoreClosed(this.schema, operation), false);
    }
  }

  /** Runs a prepared hot-path statement: one round trip. */
  private async run(operation: string, statement: Statement, values: unknown[]): Promise<Row[]> {
    this.checkOpen(operation);
    try {
      return (await this.pool.query(statementConfig(statement, values))).rows;
    } catch (error) {
      throw this.failure(operation, error);
    }
  }

  /**
   * Runs a statement in the caller's transaction, unprepared (the connection is the caller's).
   * A failure there aborts that transaction, as any failed statement in it would.
   */
  private async runIn(
    transaction: WebhookTransactionRunner,
    operation: string,
    statement: Statement,
    values: unknown[],
  ): Promise<Row[]> {
    this.checkOpen(operation);
    try {
      return await transaction(statement.text, values);
    } catch (error) {
      // What the caller's runner gave back was not rows: its own error says so.
      if (error instanceof WebhookArgumentError) throw error;
      throw this.failure(operation, error);
    }
  }

  /** Runs a statement made for this call (filters, patches), unprepared. */
  private async query(operation: string, text: string, values: unknown[]): Promise<Row[]> {
    this.checkOpen(operation);
    try {
      return (await this.pool.query(text, values)).rows;
    } catch (error) {
      throw this.failure(operation, error);
    }
  }

  /** The pg error, named with what failed, as the cause of one that says it. */
  private failure(operation: string, error: unknown): Error {
    // A call still running as the store closed ends with the pool's own error.
    if (this.closed) {
      return new WebhookStoreError(postgresStoreClosed(this.schema, operation), false, {
        cause: error,
      });
    }
    const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
    const transient =
      (typeof code === 'string' && CONNECTION_FAILURE.test(code)) ||
      (typeof message === 'string' && CONNECTION_LOST.test(message));
    return new WebhookStoreError(
      postgresQueryFailed(this.schema, operation, describeError(error), transient),
      transient,
      { cause: error },
    );
  }

  /** One page of a listing, by id ascending or descending; the cursor is the last id. */
  private async page<T>(
    operation: string,
    table: string,
    columns: string,
    where: Conditions,
    { limit = DEFAULT_PAGE_LIMIT, after = null }: WebhookPageRequest,
    order: 'asc' | 'desc',
    map: (row: Row) => T & { id: string },
  ): Promise<WebhookPage<T>> {
    const size = Math.max(0, Math.floor(limit));
    if (size === 0) return { items: [], next: null };
    if (after !== null) where.add(order === 'asc' ? 'id > $?::text' : 'id < $?::text', after);
    // One more than a page, to tell whether there is a next one.
    const text =
      `SELECT ${columns} FROM ${quotedSchema(this.schema)}.${table} WHERE ${where.sql()} ` +
      `ORDER BY id ${order.toUpperCase()} LIMIT ${size + 1}`;
    const rows = await this.query(operation, text, where.values);
    const items = rows.slice(0, size).map((row) => map(row));
    const next = rows.length > size ? items[items.length - 1].id : null;
    return { items, next };
  }
}

/** The pg error's text with its SQLSTATE or system code, which the documentation indexes. */
function describeError(error: unknown): string {
  const { message, code } = (error ?? {}) as { message?: unknown; code?: unknown };
  const text = typeof message === 'string' && message ? message : String(error);
  return typeof code === 'string' ? `${text} [${code}]` : text;
}

/** One call of `record`, waiting for its statement. */
interface PendingRecord {
  deliveryId: string;
  owner: string;
  attempt: WebhookAttempt | null;
  outcome: WebhookDeliveryOutcome;
}

/** The parameters of the `record` statement: a column per field, a row per record. */
function recordColumns(records: readonly PendingRecord[]): unknown[][] {
  const columns: unknown[][] = Array.from({ length: 14 }, () => []);
  for (const { deliveryId, owner, attempt, outcome } of records) {
    const values = [
      deliveryId,
      owner,
      attempt?.attempt ?? null,
      outcome.status,
      outcome.scheduleAttempts,
      outcome.nextAttemptAt,
      outcome.lastError,
      outcome.updatedAt,
      attempt?.startedAt ?? null,
      attempt?.durationMs ?? null,
      attempt?.statusCode ?? null,
      attempt?.error ?? null,
      attempt?.responseBody ?? null,
      attempt?.outcome ?? null,
    ];
    values.forEach((value, column) => columns[column].push(value));
  }
  return columns;
}

const statementConfig = (statement: Statement, values: unknown[]) => ({
  name: statement.name,
  text: statement.text,
  values,
});

/** The deliveries of an emit's rows; a message without any comes back as one row of nulls. */
const emittedDeliveries = (rows: Row[]) =>
  rows
    .filter((row) => row.id !== null)
    .map((row) => ({ id: row.id as string, endpointId: row.endpoint_id as string }));

/** Endpoint fields an update may set: column, SQL type, and how the value is written. */
const ENDPOINT_FIELDS: Record<string, [string, string, ((value: never) => unknown)?]> = {
  url: ['url', 'text'],
  events: ['events', 'text[]'],
  secret: ['secret', 'text'],
  retiredSecrets: ['retired_secrets', 'jsonb', retiredSecretsJson],
  tenant: ['tenant', 'text'],
  description: ['description', 'text'],
  disabled: ['disabled', 'boolean'],
  disabledReason: ['disabled_reason', 'text'],
  failingSince: ['failing_since', 'timestamptz'],
  createdAt: ['created_at', 'timestamptz'],
  updatedAt: ['updated_at', 'timestamptz'],
};

/** A WHERE clause and its parameters, numbered as they are added (`$?` in a condition). */
class Conditions {
  readonly values: unknown[] = [];
  private readonly parts: string[] = [];

  add(condition: string, value?: unknown) {
    this.parts.push(
      condition.includes('$?') ? condition.replace('$?', this.param(value)) : condition,
    );
  }

  /** `column IS NULL` for `null`, `column = value` for a value, nothing for `undefined`. */
  equalOrNull(column: string, value: string | null | undefined) {
    if (value === null) this.add(`${column} IS NULL`);
    else if (value !== undefined) this.add(`${column} = $?::text`, value);
  }

  param(value: unknown): string {
    this.values.push(value);
    return `$${this.values.length}`;
  }

  sql(): string {
    return this.parts.length === 0 ? 'true' : this.parts.join(' AND ');
  }
}

interface CheckedOptions {
  pool: Pool | undefined;
  connectionString: string | undefined;
  schema: string;
  migrate: boolean;
  retention: number;
  idempotencyTtl: number;
  pruneInterval: number;
  applicationName: string | undefined;
  encryptionKeys: readonly Buffer[];
}

function checkOptions(options: PostgresWebhookStoreOptions): CheckedOptions {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new TypeError(invalidPostgresStoreOptions(options));
  }
  const {
    pool,
    connectionString,
    schema = 'webhooks',
    migrate = true,
    retention = DAY,
    idempotencyTtl = DAY,
    pruneInterval = DEFAULT_PRUNE_INTERVAL,
    applicationName,
    encryptionKeys = [],
  } = options;
  if ((pool === undefined) === (connectionString === undefined)) {
    throw new TypeError(postgresPoolOrConnectionString(pool !== undefined));
  }
  if (pool !== undefined && !isPool(pool)) throw new TypeError(invalidPostgresPool(pool));
  if (
    connectionString !== undefined &&
    (typeof connectionString !== 'string' || !connectionString)
  ) {
    throw new TypeError(invalidPostgresConnectionString(connectionString));
  }
  checkSchemaName(schema);
  if (typeof migrate !== 'boolean') {
    throw new TypeError(invalidPostgresStoreOption('migrate', migrate, 'true or false'));
  }
  for (const [name, value, least] of [
    ['retention', retention, 0],
    ['idempotencyTtl', idempotencyTtl, 0],
    ['pruneInterval', pruneInterval, 1],
  ] as const) {
    if (typeof value !== 'number' || !Number.isFinite(value) || value < least) {
      throw new TypeError(
        invalidPostgresStoreOption(name, value, `a number of milliseconds, at least ${least}`),
      );
    }
  }
  // setInterval takes at most 2^31 - 1 ms; longer would run at once, over and over.
  if (pruneInterval > 2 ** 31 - 1) {
    throw new TypeError(
      invalidPostgresStoreOption('pruneInterval', pruneInterval, 'at most 2147483647 ms'),
    );
  }
  if (applicationName !== undefined && typeof applicationName !== 'string') {
    throw new TypeError(invalidPostgresStoreOption('applicationName', applicationName, 'a string'));
  }
  if (
    !Array.isArray(encryptionKeys) ||
    !encryptionKeys.every((key) => Buffer.isBuffer(key) && key.length === 32)
  ) {
    throw new TypeError(
      invalidPostgresStoreOption('encryptionKeys', '(not shown)', 'a list of 32-byte Buffers'),
    );
  }
  return {
    pool,
    connectionString,
    schema,
    migrate,
    retention,
    idempotencyTtl,
    pruneInterval,
    applicationName,
    encryptionKeys,
  };
}

const isPool = (value: unknown): value is Pool =>
  typeof value === 'object' &&
  value !== null &&
  typeof (value as { query?: unknown }).query === 'function' &&
  typeof (value as { connect?: unknown }).connect === 'function' &&
  typeof (value as { on?: unknown }).on === 'function';

/**
 * How far this process's clock is ahead of PostgreSQL's (negative: behind), in milliseconds,
 * less the round trip's uncertainty: the database's reading is taken somewhere between the
 * two local ones, so only what lies beyond half the round trip is certainly skew.
 */
async function clockSkew(pool: Pool): Promise<number> {
  const sent = Date.now();
  const { rows } = await pool.query<{ now: number }>(
    'SELECT extract(epoch FROM clock_timestamp())::float8 * 1000 AS now',
  );
  const received = Date.now();
  const skew = (sent + received) / 2 - rows[0].now;
  const uncertainty = (received - sent) / 2;
  return Math.sign(skew) * Math.max(0, Math.abs(skew) - uncertainty);
}
