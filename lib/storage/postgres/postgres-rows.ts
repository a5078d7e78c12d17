import type {
  RetiredSecret,
  StoredWebhookEndpoint,
} from '../../interfaces/webhook-endpoint.interface.js';
import type {
  WebhookAttempt,
  WebhookDelivery,
  WebhookDeliveryStatus,
  WebhookMessage,
} from '../../interfaces/webhook-message.interface.js';
import type { WebhookMethod } from '../../interfaces/webhook-options.interface.js';
import type {
  ClaimedDelivery,
  WebhookDeliveryOutcome,
  WebhookMessageContent,
} from '../../interfaces/webhook-store.interface.js';
import { attemptId } from '../ids.js';
import { copyEndpoint } from '../record-copies.js';
import type { SecretSealer } from './secret-sealer.js';

// Rows as `pg` returns them (timestamptz as Date, text[] as arrays, jsonb parsed, int4 and
// float8 as numbers), mapped to the record types. `pg` makes new objects for every row, so the
// records are the caller's own without copying.

type Row = Record<string, unknown>;

/** How retired secrets are kept in jsonb: dates as ISO text. */
interface StoredRetiredSecret {
  secret: string;
  expiresAt: string;
}

export const retiredSecretsJson = (retired: readonly RetiredSecret[]) =>
  JSON.stringify(
    retired.map(({ secret, expiresAt }): StoredRetiredSecret => ({
      secret,
      expiresAt: expiresAt.toISOString(),
    })),
  );

/**
 * The endpoint of a row (its columns named `<prefix>id`...), its secrets opened by `secrets`;
 * one that does not open is reported in `unreadableSecret` rather than thrown.
 */
export function toEndpoint(row: Row, secrets: SecretSealer, prefix = ''): StoredWebhookEndpoint {
  const at = (column: string) => row[prefix + column];
  const id = at('id') as string;
  const opened = secrets.openEndpoint(
    id,
    at('secret') as string,
    (at('retired_secrets') as StoredRetiredSecret[]).map(({ secret, expiresAt }) => ({
      secret,
      expiresAt: new Date(expiresAt),
    })),
    Date.now(),
  );
  return {
    id,
    url: at('url') as string,
    events: at('events') as string[],
    secret: opened.secret,
    tenant: at('tenant') as string | null,
    description: at('description') as string | null,
    disabled: at('disabled') as boolean,
    disabledReason: at('disabled_reason') as string | null,
    createdAt: at('created_at') as Date,
    updatedAt: at('updated_at') as Date,
    retiredSecrets: opened.retired,
    failingSince: at('failing_since') as Date | null,
    ...(opened.unreadable && { unreadableSecret: opened.unreadable }),
  };
}

export const toMessage = (row: Row): WebhookMessage => ({
  id: row.id as string,
  event: row.event as string,
  method: row.method as WebhookMethod,
  tenant: row.tenant as string | null,
  body: row.body as string,
  idempotencyKey: row.idempotency_key as string | null,
  createdAt: row.created_at as Date,
  ...(row.test === true && { test: true }),
});

export const toDelivery = (row: Row): WebhookDelivery => ({
  id: row.id as string,
  messageId: row.message_id as string,
  endpointId: row.endpoint_id as string,
  tenant: row.tenant as string | null,
  event: row.event as string,
  status: row.status as WebhookDeliveryStatus,
  attempts: row.attempts as number,
  scheduleAttempts: row.schedule_attempts as number,
  nextAttemptAt: row.next_attempt_at as Date | null,
  lastError: row.last_error as string | null,
  createdAt: row.created_at as Date,
  updatedAt: row.updated_at as Date,
});

/**
 * A delivery `record` applied `outcome` to: the row gives what the outcome does not (the
 * outcome's dates are copied, the record being the caller's own).
 */
export const toRecordedDelivery = (row: Row, outcome: WebhookDeliveryOutcome): WebhookDelivery => ({
  id: row.id as string,
  messageId: row.message_id as string,
  endpointId: row.endpoint_id as string,
  tenant: row.tenant as string | null,
  event: row.event as string,
  status: outcome.status,
  attempts: row.attempts as number,
  scheduleAttempts: outcome.scheduleAttempts,
  nextAttemptAt: outcome.nextAttemptAt === null ? null : new Date(outcome.nextAttemptAt.getTime()),
  lastError: outcome.lastError,
  createdAt: row.created_at as Date,
  updatedAt: new Date(outcome.updatedAt.getTime()),
});

export const toAttempt = (row: Row): WebhookAttempt => ({
  id: attemptId(row.delivery_id as string, row.attempt as number),
  deliveryId: row.delivery_id as string,
  messageId: row.message_id as string,
  endpointId: row.endpoint_id as string,
  attempt: row.attempt as number,
  startedAt: row.started_at as Date,
  durationMs: row.duration_ms as number,
  statusCode: row.status_code as number | null,
  error: row.error as string | null,
  responseBody: row.response_body as string | null,
  outcome: row.outcome as WebhookAttempt['outcome'],
});

/** A row of a claim: the delivery, its message (`m_`) and endpoint (`e_`) if any. */
export const toClaimed = (row: Row, secrets: SecretSealer): ClaimedDelivery => ({
  delivery: toDelivery(row),
  message: toMessageContent(row),
  endpoint: row.e_id === null ? undefined : toEndpoint(row, secrets, 'e_'),
});

/**
 * The rows of a sweep, where an endpoint comes with one of its deliveries only: the others get
 * copies of it, so that every record is still the caller's own.
 */
export function toClaimedBatch(rows: Row[], secrets: SecretSealer): ClaimedDelivery[] {
  const endpoints = new Map<string, StoredWebhookEndpoint>();
  for (const row of rows) {
    if (row.e_id !== null) endpoints.set(row.e_id as string, toEndpoint(row, secrets, 'e_'));
  }
  return rows.map((row) => {
    const endpoint = endpoints.get(row.endpoint_id as string);
    return {
      delivery: toDelivery(row),
      message: toMessageContent(row),
      endpoint: endpoint && (row.e_id === null ? copyEndpoint(endpoint) : endpoint),
    };
  });
}

const toMessageContent = (row: Row): WebhookMessageContent | undefined =>
  row.m_method === null
    ? undefined
    : {
        id: row.message_id as string,
        method: row.m_method as WebhookMethod,
        body: row.m_body as string,
      };
