import type { StoredWebhookEndpoint, WebhookEndpointFilter } from './webhook-endpoint.interface.js';
import type {
  WebhookAttempt,
  WebhookDelivery,
  WebhookDeliveryStatus,
  WebhookMessage,
} from './webhook-message.interface.js';

/** One page of a listing, and the cursor of the next one (`null`: this was the last). */
export interface WebhookPage<T> {
  items: T[];
  next: string | null;
}

/**
 * Where a listing starts and how much it returns. `after` is the `next` of the page before;
 * what it holds is the store's own business (callers pass it back as they got it).
 */
export interface WebhookPageRequest {
  /** At most this many items; default 100. */
  limit?: number;
  after?: string | null;
}

/** Filter of delivery log queries. */
export interface WebhookDeliveryFilter {
  messageId?: string;
  endpointId?: string;
  tenant?: string | null;
  event?: string;
  status?: WebhookDeliveryStatus;
}

/** Filter of message log queries. */
export interface WebhookMessageFilter {
  tenant?: string | null;
  event?: string;
}

/** What `emit` is asked to store: the message, and how far back its idempotency key looks. */
export interface WebhookEmitRequest {
  message: WebhookMessage;
  /**
   * A message with the same `idempotencyKey` and tenant stored since then wins (no tenant and
   * every tenant name, `''` included, are key spaces of their own).
   */
  idempotentSince: Date;
  /**
   * Wake the workers watching the store (`watch`) once this is stored: set when this process
   * will not run the deliveries itself. In the same transaction as the write, for a database.
   */
  notify: boolean;
  /**
   * The caller's open transaction, for a database store: the message and its deliveries are
   * written through it, and the workers woken from inside it (so at its commit, and never on a
   * rollback), whatever `notify` says. A store without transactions refuses it, storing nothing.
   */
  transaction?: WebhookTransactionRunner;
  /**
   * Fans out to this one endpoint only, subscribed to the event or not, if it is enabled and of
   * the message's tenant: a test event (the message says `test: true`). No idempotency key.
   */
  endpointId?: string;
}

/**
 * Runs one statement (`$1`-style placeholders) in the caller's open transaction and resolves to
 * the rows it returned; made from what `emit(..., { transaction })` was given (see
 * `transactionRunner`).
 */
export type WebhookTransactionRunner = (
  sql: string,
  values: readonly unknown[],
) => Promise<Record<string, unknown>[]>;

/** A delivery as emitted: which endpoint it goes to. */
export interface EmittedDelivery {
  id: string;
  endpointId: string;
}

/**
 * What `emit` did: stored the message with one pending delivery (due now) per enabled endpoint
 * of its tenant subscribed to its event, or found the message its idempotency key already names
 * (its id and event at least: the store may have forgotten the rest of it from the log).
 */
export type EmittedMessage =
  | { inserted: true; deliveries: EmittedDelivery[] }
  | { inserted: false; existing: Pick<WebhookMessage, 'id' | 'event'>; deliveries: number };

/** What an attempt sends of its message. */
export type WebhookMessageContent = Pick<WebhookMessage, 'id' | 'method' | 'body'>;

/**
 * A delivery claimed for one attempt: due, pending, and leased to the claimer until the lease's
 * `until`, read with its message and endpoint.
 */
export interface ClaimedDelivery {
  delivery: WebhookDelivery;
  /**
   * `undefined` if the message is gone. Stores never prune a message with a pending delivery,
   * so only a store that breaks that rule (or a hand-edited database) gives one; the attempt
   * then fails the delivery rather than send nothing forever.
   */
  message: WebhookMessageContent | undefined;
  /**
   * `undefined` once the endpoint is removed: its deliveries fail with it, but one redelivered
   * afterwards, or emitted while it was being removed, is claimed without one.
   */
  endpoint: StoredWebhookEndpoint | undefined;
}

/** Who claims, and until when. */
export interface WebhookLease {
  /**
   * The claimer: one per dispatcher (process). A lease it holds already does not stop its own
   * claim (a delivery it swept, then started); a lease of another owner does, until it ends.
   */
  owner: string;
  /** The claim's time: the delivery must be due by then (`nextAttemptAt <= now`). */
  now: Date;
  /** When the lease ends: a claim at `until` or later may take it over. */
  until: Date;
}

/** How a sweep shares its batch between endpoints. */
export interface WebhookSweepFairness {
  /** At most this many deliveries of one endpoint. */
  perEndpoint?: number;
  /** Endpoints to take nothing of. */
  skipEndpoints?: readonly string[];
}

/** A delivery's state after an attempt (or after it is given up without one). */
export interface WebhookDeliveryOutcome {
  status: WebhookDeliveryStatus;
  /** Attempts in the current retry schedule. */
  scheduleAttempts: number;
  nextAttemptAt: Date | null;
  lastError: string | null;
  updatedAt: Date;
}

/**
 * What `record` did: the delivery and its endpoint's failing clock as stored now (read in the
 * same step), and whether the outcome was applied.
 */
export interface RecordedOutcome {
  /** `undefined` when the delivery is gone. */
  delivery: WebhookDelivery | undefined;
  /**
   * The endpoint's `failingSince` as stored after the step, not as claimed: another attempt may
   * have started or ended a run of failures meanwhile. `null` when it is not failing, or gone.
   */
  endpointFailingSince: Date | null;
  /**
   * `false` when the delivery was no longer the claimer's to change: finished meanwhile (its
   * endpoint removed), or claimed by another owner after the lease ran out. The attempt, if
   * any, is logged all the same, and the delivery's attempt count kept in step with it.
   */
  applied: boolean;
}

/** What `removeEndpoint` did. */
export interface RemovedEndpoint {
  removed: boolean;
  /** The endpoint's deliveries that were pending, now failed with the given error. */
  failed: WebhookDelivery[];
}

/** What `redeliver` is asked to turn back to pending. */
export interface WebhookRedeliverRequest {
  messageId: string;
  /** Only the delivery to this endpoint; every delivery of the message when left out. */
  endpointId?: string;
  now: Date;
  /** As `WebhookEmitRequest.notify`. */
  notify: boolean;
}

/** What `redeliver` did. */
export interface Redelivered {
  /** Whether the message is in the store. */
  found: boolean;
  /** How many deliveries the message has (to that endpoint, when one is named). */
  matched: number;
  /** The finished deliveries turned back to pending (due now, with a new schedule). */
  redelivered: WebhookDelivery[];
}

/**
 * Where endpoints, messages, deliveries and attempts live, and the one owner of whether a
 * delivery is due and who runs it. The in-memory store is the embedded default; the PostgreSQL
 * store implements the same contract (and the same specs run against both).
 *
 * Every record a store returns is made for that call: callers may keep or change it. Every
 * record passed in is read during the call and never kept by reference.
 *
 * A delivery is `pending` until it ends `delivered` or `failed`. An attempt of it begins with
 * `claim` (it must be pending, due and not leased to another owner) and ends with `record`. A
 * job of any queue that runs twice, late or after a crash therefore does no harm: its claim
 * finds the delivery finished, not yet due, or leased.
 */
export interface WebhookStore {
  /**
   * Whether other processes may write to this store (a database), so a worker must look for
   * work it was not handed (`sweep`) and listen for writes (`watch`).
   */
  readonly shared: boolean;

  insertEndpoint(endpoint: StoredWebhookEndpoint): Promise<void>;
  getEndpoint(id: string): Promise<StoredWebhookEndpoint | undefined>;
  /** Endpoints in the order they were added (by id, time-sortable). */
  listEndpoints(
    filter?: WebhookEndpointFilter,
    page?: WebhookPageRequest,
  ): Promise<WebhookPage<StoredWebhookEndpoint>>;
  /**
   * Applies `patch` and returns the endpoint as stored now; `undefined` when there is no such
   * endpoint, or when `expected` is given and the stored endpoint does not match it (compare and
   * set, atomically: of two concurrent callers expecting `{ disabled: false }`, one wins;
   * `failingSince: null` expects the field to be unset).
   */
  updateEndpoint(
    id: string,
    patch: Partial<StoredWebhookEndpoint>,
    expected?: { disabled?: boolean; failingSince?: null },
  ): Promise<StoredWebhookEndpoint | undefined>;
  /**
   * Deletes the endpoint, then fails its pending deliveries with `lastError` (their queued jobs
   * will find them finished and send nothing), in bounded steps for a database: the first batch
   * goes with the deletion, and every one is failed by the time the call resolves. One left
   * pending meanwhile (or by a crash) is claimed without its endpoint, and fails then.
   */
  removeEndpoint(id: string, lastError: string, now: Date): Promise<RemovedEndpoint>;
  /**
   * For a store that encrypts endpoint secrets at rest: rewrites every secret not sealed under
   * its newest key (older keys, or stored as given before a key was set), in batches, and
   * resolves to the number of endpoints rewritten and the ids of those it could not decrypt
   * (left as they are). A store that keeps nothing at rest has none.
   */
  reencryptSecrets?(): Promise<{ reencrypted: number; unreadable: string[] }>;

  /**
   * Stores the message and fans it out to the subscribed, enabled endpoints of its tenant, in
   * one step: all of it or nothing. Rejects, storing nothing, when the store cannot take it
   * (full, down). The hot path of every emit.
   */
  emit(request: WebhookEmitRequest): Promise<EmittedMessage>;
  getMessage(id: string): Promise<WebhookMessage | undefined>;
  /** Messages, newest first (by id, time-sortable). */
  listMessages(
    filter?: WebhookMessageFilter,
    page?: WebhookPageRequest,
  ): Promise<WebhookPage<WebhookMessage>>;

  getDelivery(id: string): Promise<WebhookDelivery | undefined>;
  /** Deliveries, newest first (by id: delivery ids are time-sortable, made at emit). */
  listDeliveries(
    filter?: WebhookDeliveryFilter,
    page?: WebhookPageRequest,
  ): Promise<WebhookPage<WebhookDelivery>>;
  /** The attempts of each delivery, oldest first, in one call; a delivery without any is absent. */
  listAttempts(deliveryIds: readonly string[]): Promise<Map<string, WebhookAttempt[]>>;

  /**
   * Takes the delivery for one attempt, in one step: only if it is still pending, due by
   * `lease.now`, and not leased to another owner; then leased to `lease.owner` until
   * `lease.until`, and returned with its message and endpoint. `undefined` otherwise.
   */
  claim(deliveryId: string, lease: WebhookLease): Promise<ClaimedDelivery | undefined>;
  /**
   * Ends a claim, in one step: logs `attempt` (when one was sent; its number is the delivery's
   * `attempts + 1` as claimed), and applies `outcome` to the delivery if it is still pending and
   * leased to `owner` (even if the lease ran out, as long as no one took it over), releasing
   * the lease. The delivery's `attempts` becomes the larger of itself and the attempt's number.
   * An attempt whose number is logged already (two owners sent it after a lease ran out) is not
   * logged again: the first stays. Calls of one store may run at once, for different
   * deliveries or the same one; a store may group concurrent calls into one write, as long as
   * each call's outcome is stored (or fails) as if it ran alone.
   */
  record(
    deliveryId: string,
    owner: string,
    attempt: WebhookAttempt | null,
    outcome: WebhookDeliveryOutcome,
  ): Promise<RecordedOutcome>;
  /**
   * Claims up to `limit` due deliveries not leased to anyone (oldest due first), as `claim`
   * would, skipping those another sweep is taking at the same moment. Workers run it for what no
   * queue handed them: deliveries left by a crash, or written by another process. At most
   * `perEndpoint` of one endpoint, and none of `skipEndpoints`: the endpoints the sweeper has no
   * room for, whose oldest due deliveries would otherwise fill every sweep.
   */
  sweep(
    lease: WebhookLease,
    limit: number,
    fairness?: WebhookSweepFairness,
  ): Promise<ClaimedDelivery[]>;

  /**
   * Ends `owner`'s leases of the deliveries without an attempt, in one step, leaving them as
   * they were otherwise: claims their owner will not use (a worker shutting down with swept
   * deliveries it did not start), so another worker may claim them at once rather than when
   * the leases run out. Leases of other owners are left alone. Resolves to how many it ended.
   */
  release(deliveryIds: readonly string[], owner: string): Promise<number>;

  /**
   * Turns the message's finished deliveries (to `endpointId` only, when given) back to pending,
   * due at `now` with a new retry schedule, in one step; pending ones are left to their own.
   */
  redeliver(request: WebhookRedeliverRequest): Promise<Redelivered>;

  /**
   * Calls `onWrite` whenever a write made with `notify` is stored (by any process), for as long
   * as the store is open; resolves once listening. A store that loses its listening connection
   * listens again on its own. A store only one process writes to may never call it.
   */
  watch(onWrite: () => void): Promise<void>;

  /**
   * Deletes up to `limit` finished messages (every delivery delivered or failed) created before
   * `before`, with their deliveries and attempts, and idempotency keys older than the store's
   * `idempotencyTtl`; resolves to how many messages it deleted. The store runs it on its own, in
   * batches, for its `retention`; callable for tests and manual clean-ups.
   */
  prune(before: Date, limit: number): Promise<number>;

  /**
   * The tenant's portal link generation: a link carries the one it was issued under, and is
   * refused once the tenant's has moved on. Before the first `revokePortalLinks`, a value of the
   * store's choosing (a store that forgets revocations on restart starts from a new one).
   */
  portalLinkGeneration(tenant: string): Promise<number>;
  /** Moves the tenant's portal link generation on, in one step; resolves to the new one. */
  revokePortalLinks(tenant: string): Promise<number>;

  /** Releases what the store holds (timers, connections) as the application shuts down, last. */
  close(): Promise<void>;
}
