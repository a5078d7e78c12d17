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
import type { ClaimedDelivery } from '../../interfaces/webhook-store.interface.js';
import { attemptId } from '../ids.js';

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

export function toEndpoint(row: Row, prefix = ''): StoredWebhookEndpoint {
  const at = (column: string) => row[prefix + column];
  return {
    id: at('id') as string,
    url: at('url') as string,
    events: at('events') as string[],
    secret: at('secret') as string,
    tenant: at('tenant') as string | null,
    description: at('description') as string | null,
    disabled: at('disabled') as boolean,
    disabledReason: at('disabled_reason') as string | null,
    createdAt: at('created_at') as Date,
    updatedAt: at('updated_at') as Date,
    retiredSecrets: (at('retired_secrets') as StoredRetiredSecret[]).map(
      ({ secret, expiresAt }) => ({ secret, expiresAt: new Date(expiresAt) }),
    ),
    failingSince: at('failing_since') as Date | null,
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

/** A row of a claim or sweep: the delivery, its message (`m_`) and endpoint (`e_`) if any. */
export const toClaimed = (row: Row): ClaimedDelivery => ({
  delivery: toDelivery(row),
  message:
    row.m_id === null
      ? undefined
      : {
          id: row.m_id as string,
          method: row.m_method as WebhookMethod,
          body: row.m_body as string,
        },
  endpoint: row.e_id === null ? undefined : toEndpoint(row, 'e_'),
});
