import type { WebhookMethod } from './webhook-options.interface.js';

/** One emitted event: the serialized payload every endpoint receives. */
export interface WebhookMessage {
  /** The `webhook-id` header value, the same for every endpoint and every retry. */
  id: string;
  event: string;
  method: WebhookMethod;
  tenant: string | null;
  /** The JSON body exactly as sent. */
  body: string;
  idempotencyKey: string | null;
  createdAt: Date;
  /** Set on a test event sent to one endpoint from the tenant portal; absent otherwise. */
  test?: true;
}

/** `pending` while attempts remain, then `delivered` or `failed`. */
export type WebhookDeliveryStatus = 'pending' | 'delivered' | 'failed';

/** One message on its way to one endpoint. */
export interface WebhookDelivery {
  id: string;
  messageId: string;
  endpointId: string;
  tenant: string | null;
  event: string;
  status: WebhookDeliveryStatus;
  /** Attempts made so far (across redeliveries). */
  attempts: number;
  /** Attempts made in the current retry schedule; a redelivery starts a new one. */
  scheduleAttempts: number;
  nextAttemptAt: Date | null;
  lastError: string | null;
  createdAt: Date;
  updatedAt: Date;
}

/** One HTTP attempt of a delivery, as the log keeps it. */
export interface WebhookAttempt {
  id: string;
  deliveryId: string;
  messageId: string;
  endpointId: string;
  /** 1-based, across the delivery's whole life. */
  attempt: number;
  startedAt: Date;
  durationMs: number;
  statusCode: number | null;
  /**
   * Network error, timeout or refusal when no HTTP answer came (`statusCode` is `null`); beside
   * a status, why reading the response body failed; otherwise `null`.
   */
  error: string | null;
  /**
   * The response body, cut to `maxResponseBodyBytes` (to 1024 bytes for a 2xx); one sent with a
   * content-encoding is not decoded: a marker naming the encoding, then its bytes in base64.
   */
  responseBody: string | null;
  outcome: 'delivered' | 'failed';
}

/** What `emit` resolves to. */
export interface EmitResult {
  /** The `webhook-id` header value. */
  id: string;
  event: string;
  /** How many endpoints the message was queued for. */
  endpoints: number;
}
