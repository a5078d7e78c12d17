import type { StoredWebhookEndpoint, WebhookEndpointFilter } from './webhook-endpoint.interface.js';
import type {
  WebhookAttempt,
  WebhookDelivery,
  WebhookDeliveryStatus,
  WebhookMessage,
} from './webhook-message.interface.js';

/** Filter of delivery log queries. */
export interface WebhookDeliveryFilter {
  messageId?: string;
  endpointId?: string;
  tenant?: string | null;
  event?: string;
  status?: WebhookDeliveryStatus;
  /** Newest first; default 100. */
  limit?: number;
}

/**
 * Where endpoints, messages, deliveries and attempts live. The in-memory store is the default;
 * a durable store (PostgreSQL) implements the same contract. Every method may be async.
 */
export interface WebhookStore {
  insertEndpoint(endpoint: StoredWebhookEndpoint): Promise<void>;
  getEndpoint(id: string): Promise<StoredWebhookEndpoint | undefined>;
  listEndpoints(filter?: WebhookEndpointFilter): Promise<StoredWebhookEndpoint[]>;
  /** Enabled endpoints subscribed to `event` for exactly this tenant (`null`: no tenant). */
  findSubscribedEndpoints(event: string, tenant: string | null): Promise<StoredWebhookEndpoint[]>;
  /**
   * Applies `patch` and returns the endpoint as stored now; `undefined` when there is no such
   * endpoint, or when `expected` is given and the stored endpoint does not match it (compare and
   * set, atomically: of two concurrent callers expecting `{ disabled: false }`, one wins).
   */
  updateEndpoint(
    id: string,
    patch: Partial<StoredWebhookEndpoint>,
    expected?: { disabled?: boolean },
  ): Promise<StoredWebhookEndpoint | undefined>;
  deleteEndpoint(id: string): Promise<boolean>;

  /**
   * Stores the message with its deliveries atomically. When `message.idempotencyKey` was already
   * used by the same tenant since `idempotentSince`, stores nothing and returns that message.
   * The store takes ownership of the objects it is given (it may keep them as they are): the
   * caller must not change them afterwards. This is the hot path of every emit.
   */
  insertMessage(
    message: WebhookMessage,
    deliveries: WebhookDelivery[],
    idempotentSince: Date,
  ): Promise<
    { inserted: true } | { inserted: false; existing: WebhookMessage; deliveries: number }
  >;
  getMessage(id: string): Promise<WebhookMessage | undefined>;

  getDelivery(id: string): Promise<WebhookDelivery | undefined>;
  /**
   * Applies `patch` and returns the delivery as stored now; `undefined` when there is no such
   * delivery, or when `expected` is given and the stored delivery does not match it (compare and
   * set, atomically: of two concurrent callers expecting `{ status: 'failed' }`, one wins).
   */
  updateDelivery(
    id: string,
    patch: Partial<WebhookDelivery>,
    expected?: { status?: WebhookDeliveryStatus },
  ): Promise<WebhookDelivery | undefined>;
  listDeliveries(filter?: WebhookDeliveryFilter): Promise<WebhookDelivery[]>;

  insertAttempt(attempt: WebhookAttempt): Promise<void>;
  listAttempts(deliveryId: string): Promise<WebhookAttempt[]>;
}
