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
 * What an update may change of a delivery: its state, never what it is (ids, event, tenant). A
 * field left out or `undefined` stays as it is; `null` is stored as `null`.
 */
export type WebhookDeliveryPatch = Partial<
  Pick<
    WebhookDelivery,
    'status' | 'attempts' | 'scheduleAttempts' | 'nextAttemptAt' | 'lastError' | 'updatedAt'
  >
>;

/**
 * What an attempt needs of its delivery: which it is, and how far it got. The log's dates stay
 * in the store; an attempt would make three Date objects only to drop them.
 */
export type WebhookDeliveryProgress = Pick<
  WebhookDelivery,
  'id' | 'messageId' | 'endpointId' | 'status' | 'attempts' | 'scheduleAttempts'
>;

/** What an attempt sends of its message. */
export type WebhookMessageContent = Pick<WebhookMessage, 'id' | 'method' | 'body'>;

/** What an attempt starts from: its delivery, with the message and endpoint it names. */
export interface WebhookAttemptContext {
  delivery: WebhookDeliveryProgress;
  /** `undefined` once the message is gone (a durable store may have pruned it). */
  message: WebhookMessageContent | undefined;
  /** `undefined` once the endpoint is removed. */
  endpoint: StoredWebhookEndpoint | undefined;
}

/** What `recordAttempt` left behind: the delivery and its endpoint as stored now. */
export interface RecordedAttempt {
  delivery: WebhookDelivery | undefined;
  endpoint: StoredWebhookEndpoint | undefined;
}

/**
 * What `insertMessage` did: stored the message, or found one with its idempotency key (its id
 * and event at least: the store may have forgotten the rest of it from the log).
 */
export type InsertedMessage =
  | { inserted: true }
  | { inserted: false; existing: Pick<WebhookMessage, 'id' | 'event'>; deliveries: number };

/**
 * Where endpoints, messages, deliveries and attempts live. The in-memory store is the default;
 * a durable store (PostgreSQL) implements the same contract. Every method may be async.
 *
 * Endpoints and messages are read-only on both sides. What a store returns of them, its caller
 * must not change (the library copies what it hands to application code), and a store may
 * return the very records it keeps, so it must never change one once stored or returned: an
 * update stores a new record. An inserted endpoint or message the store takes over as it is,
 * and the caller must not change it afterwards.
 *
 * Deliveries and attempts, read and written on every attempt, are the other way round: every
 * delivery or attempt record a store returns is made for that call (from its compact state, or
 * from a row), so the library hands it to application code as it is; and an attempt or a patch
 * passed in is read during the call and never kept by reference.
 */
export interface WebhookStore {
  insertEndpoint(endpoint: StoredWebhookEndpoint): Promise<void>;
  getEndpoint(id: string): Promise<StoredWebhookEndpoint | undefined>;
  listEndpoints(filter?: WebhookEndpointFilter): Promise<StoredWebhookEndpoint[]>;
  /**
   * The ids of the enabled endpoints subscribed to `event` for exactly this tenant (`null`: no
   * tenant). Every emit asks this.
   */
  findSubscribedEndpointIds(event: string, tenant: string | null): Promise<readonly string[]>;
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
   * Stores the message with one pending delivery per endpoint (due now; `endpointIds` are
   * distinct), atomically; each is known from then on by its message and endpoint (a job of
   * the queue) and by its id. When `message.idempotencyKey` was already used by the same
   * tenant (no tenant and every tenant name, `''` included, are key spaces of their own) since
   * `idempotentSince`, stores nothing and returns that message. Rejects, storing nothing, when
   * the store has no room for it. This is the hot path of every emit.
   */
  insertMessage(
    message: WebhookMessage,
    endpointIds: readonly string[],
    idempotentSince: Date,
  ): Promise<InsertedMessage>;
  getMessage(id: string): Promise<WebhookMessage | undefined>;

  /** One delivery, for inspection (the library's attempts read `getAttemptContext`). */
  getDelivery(id: string): Promise<WebhookDelivery | undefined>;
  /**
   * The delivery of `messageId` to `endpointId` with its message and endpoint, read together
   * (one round trip for a durable store); `undefined` when there is no such delivery. Every
   * attempt begins with it. The message may be any object whose `WebhookMessageContent`
   * fields never change (the memory store's own record).
   */
  getAttemptContext(
    messageId: string,
    endpointId: string,
  ): Promise<WebhookAttemptContext | undefined>;
  /**
   * Applies `patch` and returns the delivery as stored now; `undefined` when there is no such
   * delivery, or when `expected` is given and the stored delivery does not match it (compare and
   * set, atomically: of two concurrent callers expecting `{ status: 'failed' }`, one wins).
   */
  updateDelivery(
    id: string,
    patch: WebhookDeliveryPatch,
    expected?: { status?: WebhookDeliveryStatus },
  ): Promise<WebhookDelivery | undefined>;
  listDeliveries(filter?: WebhookDeliveryFilter): Promise<WebhookDelivery[]>;

  /**
   * Adds the attempt to its delivery's log and, given a `patch`, applies it to the delivery in
   * the same step (atomically, as `updateDelivery` without `expected`); returns the delivery and
   * its endpoint as stored now. Every attempt that was sent is logged with it: one round trip for
   * a durable store, where a log entry, an update and a read of the endpoint would each be one.
   * A delivered attempt needs nothing more; a failed one then updates its delivery (with the
   * status check of `updateDelivery`) once it knows whether to retry. An attempt's id is always
   * `attemptId(deliveryId, attempt)` (`storage/ids.ts`): a store may remake it on reads rather
   * than keep it.
   */
  recordAttempt(attempt: WebhookAttempt, patch?: WebhookDeliveryPatch): Promise<RecordedAttempt>;
  listAttempts(deliveryId: string): Promise<WebhookAttempt[]>;

  /** Releases what the store holds (timers, connections) as the application shuts down, last. */
  close(): Promise<void>;
}
