import { setImmediate as nextTurn } from 'node:timers/promises';
import type {
  StoredWebhookEndpoint,
  WebhookEndpointFilter,
} from '../interfaces/webhook-endpoint.interface.js';
import type {
  WebhookAttempt,
  WebhookDelivery,
  WebhookDeliveryStatus,
  WebhookMessage,
} from '../interfaces/webhook-message.interface.js';
import type {
  ClaimedDelivery,
  EmittedMessage,
  RecordedOutcome,
  Redelivered,
  RemovedEndpoint,
  WebhookDeliveryFilter,
  WebhookDeliveryOutcome,
  WebhookEmitRequest,
  WebhookLease,
  WebhookMessageFilter,
  WebhookPage,
  WebhookPageRequest,
  WebhookRedeliverRequest,
  WebhookStore,
  WebhookSweepFairness,
} from '../interfaces/webhook-store.interface.js';
import { WebhookArgumentError, WebhookStoreFullError } from '../webhooks.errors.js';
import {
  duplicateMessageId,
  messageTooLarge,
  storeFull,
  transactionNeedsPostgres,
} from '../webhooks.messages.js';
import { numberedIds } from './ids.js';
import { copyAttempt, copyEndpoint, copyMessage } from './record-copies.js';

/** How long the memory store keeps what it no longer needs for delivery, and how much. */
export interface MemoryWebhookStoreOptions {
  /** Milliseconds finished messages stay in the delivery log. Default 24 h. */
  retention?: number;
  /**
   * Milliseconds an `idempotencyKey` keeps deduplicating, whether or not its message is still in
   * the log: a message forgotten sooner leaves its key behind until then. Default 24 h.
   */
  idempotencyTtl?: number;
  /** Estimated bytes the store may hold (see `MEMORY_COSTS`). Default 128 MiB. */
  maxStoreBytes?: number;
}

const DAY = 24 * 60 * 60 * 1000;

/**
 * What the store estimates each part of the log to hold in the heap, in bytes, beside the
 * strings it keeps (a message's body and idempotency key, an attempt's response body and
 * error), which count one byte per character. Measured with `npm run bench:store`; the README
 * gives the same figures.
 */
export const MEMORY_COSTS = {
  /** A message: its record and Date, its id and its map entries. */
  message: 450,
  /** Each delivery of a message: its record, its id and its place in its message's list. */
  delivery: 200,
  /** Each attempt in the log: its record and Date, its id, and its list. */
  attempt: 500,
  /** The idempotency key of a message forgotten early, kept for its `idempotencyTtl`. */
  key: 250,
} as const;

/** The default of `maxStoreBytes`. */
export const DEFAULT_MAX_STORE_BYTES = 128 * 1024 * 1024;

const DEFAULT_PAGE_LIMIT = 100;
/** Under pressure, room is made down to this share of `maxStoreBytes`, not just for one message. */
const EVICTION_TARGET = 0.9;
/** The pruning timer's period: the retention, within these bounds. */
const PRUNE_PERIOD_MIN_MS = 1_000;
const PRUNE_PERIOD_MAX_MS = 60_000;
/** Messages the timer prunes per batch, letting I/O run between batches. */
const PRUNE_BATCH = 1_000;

/** A stored message, with its deliveries and what the size bound needs to know. */
interface MessageEntry {
  message: WebhookMessage;
  /** In the order they were made: each one's place is in its id (see `deliveryIds`). */
  deliveries: DeliveryEntry[];
  /** How many of its deliveries are pending: none, and it may be forgotten. */
  pending: number;
  /** Its estimated size with its deliveries and attempts (see `MEMORY_COSTS`). */
  bytes: number;
}

/**
 * A stored delivery, kept by its message: what `WebhookDelivery` says, with times as epoch
 * milliseconds and what its message says (id, tenant, event, creation) read from the message,
 * with its attempts and its lease. A pending backlog is mostly deliveries: three Dates each, or
 * an entry each in maps of every delivery, would cost an emit more than all its other work
 * (`npm run bench:delivery`) and make up most of the backlog's heap (`npm run bench:store`).
 */
interface DeliveryEntry {
  readonly id: string;
  readonly message: MessageEntry;
  readonly endpointId: string;
  status: WebhookDeliveryStatus;
  attempts: number;
  scheduleAttempts: number;
  nextAttemptAt: number | null;
  lastError: string | null;
  updatedAt: number;
  /** Oldest first; `null` until the first. */
  log: WebhookAttempt[] | null;
  /** Who holds it for an attempt, and until when (epoch milliseconds). */
  lease: { owner: string; until: number } | null;
}

/** What is left of a message forgotten before its idempotency key expired. */
interface KeyMarker {
  id: string;
  event: string;
  createdAt: number;
  /** How many deliveries it had: what a repeated emit reports. */
  deliveries: number;
  /** Its estimated size (see `MEMORY_COSTS`). */
  bytes: number;
}

/**
 * The default store: everything in this process's memory, lost on restart. Only this process
 * writes to it (`shared` is `false`), so the process that emits runs the deliveries itself and
 * `watch` has nothing to listen for.
 *
 * Records are kept as the contract's own types, copied on the way in and on the way out, but for
 * deliveries: each is a `DeliveryEntry` in its message's, found by its id, which names the
 * message and the delivery's place among its deliveries (`deliveryIds`). Every method does its
 * work without an `await` between reading and writing, which is what makes each one a single
 * step (claims and compare-and-set included) in one event loop.
 *
 * Finished messages (every delivery delivered or failed) are pruned after `retention` on a
 * timer; pending ones are always kept. What the store holds is bounded as well: it keeps an
 * estimate of its size (`MEMORY_COSTS`), and when a new message would take it past
 * `maxStoreBytes` it forgets the finished messages that finished first, their retention
 * notwithstanding, and then the keys they left behind, oldest first. When what is left is all
 * pending, it refuses new messages (`WebhookStoreFullError`) rather than drop one it accepted.
 * A forgotten message's idempotency key stays behind, small, until its `idempotencyTtl`.
 */
export class MemoryWebhookStore implements WebhookStore {
  readonly shared = false;

  private readonly endpoints = new Map<string, StoredWebhookEndpoint>();
  /** Portal link generations by tenant, once revoked (see `revokePortalLinks`). */
  private readonly linkGenerations = new Map<string, number>();
  /**
   * The generation of every tenant until its first revocation: the time the store was made, so
   * that a link revoked before a restart, which forgot the revocation, is not valid again (no
   * link of an earlier process is).
   */
  private readonly firstLinkGeneration = Date.now();
  /** About in id order: ids are made before the emit that stores them, and emits overlap. */
  private readonly messages = new Map<string, MessageEntry>();
  /**
   * The messages in id order, for the listings to page through without sorting every time;
   * kept while emits arrive in id order (most do), made again after one that does not, or a
   * message forgotten.
   */
  private byId: MessageEntry[] | undefined;
  /** Ids of stored messages by idempotency key (see `idempotencyKey`). */
  private readonly idempotency = new Map<string, string>();
  /** Keys of messages forgotten before their `idempotencyTtl`, in the order forgotten. */
  private readonly forgottenKeys = new Map<string, KeyMarker>();
  /** Messages without a pending delivery, in the order they finished: the first to forget. */
  private readonly finished = new Map<string, MessageEntry>();
  /** Estimated heap held, in bytes (see `MEMORY_COSTS`). */
  private bytes = 0;
  /** What of `bytes` may be forgotten under pressure: finished messages and forgotten keys. */
  private evictableBytes = 0;
  private pruneTimer?: NodeJS.Timeout;
  private pruning = false;
  private closed = false;

  private readonly retentionMs: number;
  private readonly idempotencyTtlMs: number;
  private readonly maxBytes: number;

  constructor(options: MemoryWebhookStoreOptions = {}) {
    this.retentionMs = options.retention ?? DAY;
    this.idempotencyTtlMs = options.idempotencyTtl ?? DAY;
    this.maxBytes = options.maxStoreBytes ?? DEFAULT_MAX_STORE_BYTES;
  }

  /** Estimated bytes held now (see `MEMORY_COSTS`). */
  get estimatedBytes(): number {
    return this.bytes;
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.pruneTimer);
    this.pruneTimer = undefined;
  }

  async watch(_onWrite: () => void): Promise<void> {
    // Nothing to listen for: no other process writes here, and this one runs its own deliveries.
  }

  // Endpoints.

  async insertEndpoint(endpoint: StoredWebhookEndpoint): Promise<void> {
    this.endpoints.set(endpoint.id, copyEndpoint(endpoint));
  }

  async getEndpoint(id: string): Promise<StoredWebhookEndpoint | undefined> {
    const endpoint = this.endpoints.get(id);
    return endpoint && copyEndpoint(endpoint);
  }

  async listEndpoints(
    filter: WebhookEndpointFilter = {},
    page: WebhookPageRequest = {},
  ): Promise<WebhookPage<StoredWebhookEndpoint>> {
    const after = page.after ?? null;
    const matching = [...this.endpoints.values()]
      .filter(
        (endpoint) =>
          (after === null || endpoint.id > after) &&
          (filter.tenant === undefined || endpoint.tenant === filter.tenant) &&
          (filter.event === undefined || endpoint.events.includes(filter.event)) &&
          (filter.disabled === undefined || endpoint.disabled === filter.disabled),
      )
      .sort((a, b) => compareIds(a.id, b.id));
    return pageOf(matching, page.limit, copyEndpoint);
  }

  async updateEndpoint(
    id: string,
    patch: Partial<StoredWebhookEndpoint>,
    expected: { disabled?: boolean; failingSince?: null } = {},
  ): Promise<StoredWebhookEndpoint | undefined> {
    const endpoint = this.endpoints.get(id);
    if (!endpoint) return undefined;
    if (expected.disabled !== undefined && endpoint.disabled !== expected.disabled) {
      return undefined;
    }
    if (expected.failingSince === null && endpoint.failingSince !== null) return undefined;
    // A field given as `undefined` is one the caller does not change.
    const changes = Object.fromEntries(
      Object.entries(patch).filter(([, value]) => value !== undefined),
    );
    const updated = copyEndpoint({ ...endpoint, ...changes, id });
    this.endpoints.set(id, updated);
    return copyEndpoint(updated);
  }

  async removeEndpoint(id: string, lastError: string, now: Date): Promise<RemovedEndpoint> {
    if (!this.endpoints.delete(id)) return { removed: false, failed: [] };
    const failed: WebhookDelivery[] = [];
    for (const delivery of this.pendingDeliveries()) {
      if (delivery.endpointId !== id) continue;
      delivery.nextAttemptAt = null;
      delivery.lastError = lastError;
      delivery.updatedAt = now.getTime();
      this.setStatus(delivery, 'failed');
      failed.push(toDelivery(delivery));
    }
    return { removed: true, failed };
  }

  // Messages and their deliveries.

  async emit({
    message,
    idempotentSince,
    transaction,
    endpointId,
  }: WebhookEmitRequest): Promise<EmittedMessage> {
    if (transaction) {
      throw new WebhookArgumentError(
        'options.transaction',
        transactionNeedsPostgres('a transaction'),
      );
    }
    // Its deliveries are named after it (see `deliveryIds`): a second message of the same id
    // would take the first one's place and names.
    if (this.messages.has(message.id)) throw new Error(duplicateMessageId(message.id));
    const key = message.idempotencyKey === null ? undefined : idempotencyKey(message);
    if (key !== undefined) {
      const since = idempotentSince.getTime();
      const existing = this.messages.get(this.idempotency.get(key) ?? '');
      if (existing && existing.message.createdAt.getTime() >= since) {
        const { id, event } = existing.message;
        return {
          inserted: false,
          existing: { id, event },
          deliveries: existing.deliveries.length,
        };
      }
      const forgotten = this.forgottenKeys.get(key);
      if (forgotten && forgotten.createdAt >= since) {
        const { id, event, deliveries } = forgotten;
        return { inserted: false, existing: { id, event }, deliveries };
      }
    }

    const subscribed =
      endpointId === undefined
        ? this.subscribed(message)
        : [this.endpoints.get(endpointId)].filter(
            (endpoint): endpoint is StoredWebhookEndpoint =>
              endpoint !== undefined && !endpoint.disabled && endpoint.tenant === message.tenant,
          );
    const bytes =
      MEMORY_COSTS.message +
      message.body.length +
      (message.idempotencyKey?.length ?? 0) +
      subscribed.length * MEMORY_COSTS.delivery;
    if (bytes > this.maxBytes) {
      throw new WebhookStoreFullError(messageTooLarge(bytes, this.maxBytes, message.event));
    }
    if (!this.makeRoom(bytes)) {
      throw new WebhookStoreFullError(storeFull(this.bytes, this.maxBytes, message.event));
    }

    if (key !== undefined) {
      // An older use of the key, past `idempotentSince`, gives way.
      this.dropForgottenKey(key);
      this.idempotency.set(key, message.id);
    }
    const entry: MessageEntry = {
      message: copyMessage(message),
      deliveries: [],
      pending: subscribed.length,
      bytes,
    };
    const createdAt = message.createdAt.getTime();
    const ids = deliveryIds(message.id, subscribed.length);
    const emitted = subscribed.map((endpoint, index) => {
      const delivery: DeliveryEntry = {
        id: ids[index],
        message: entry,
        endpointId: endpoint.id,
        status: 'pending',
        attempts: 0,
        scheduleAttempts: 0,
        nextAttemptAt: createdAt,
        lastError: null,
        updatedAt: createdAt,
        log: null,
        lease: null,
      };
      entry.deliveries.push(delivery);
      return { id: delivery.id, endpointId: endpoint.id };
    });
    this.messages.set(message.id, entry);
    const last = this.byId?.[this.byId.length - 1];
    if (last === undefined || last.message.id < message.id) this.byId?.push(entry);
    else this.byId = undefined;
    this.bytes += bytes;
    if (entry.pending === 0) this.finish(entry);
    if (!this.closed) this.pruneTimer ??= this.startPruning();
    return { inserted: true, deliveries: emitted };
  }

  /** The enabled endpoints of the message's tenant subscribed to its event. */
  private subscribed(message: WebhookMessage): StoredWebhookEndpoint[] {
    const subscribed: StoredWebhookEndpoint[] = [];
    for (const endpoint of this.endpoints.values()) {
      if (
        !endpoint.disabled &&
        endpoint.tenant === message.tenant &&
        endpoint.events.includes(message.event)
      ) {
        subscribed.push(endpoint);
      }
    }
    return subscribed;
  }

  async getMessage(id: string): Promise<WebhookMessage | undefined> {
    const entry = this.messages.get(id);
    return entry && copyMessage(entry.message);
  }

  async listMessages(
    filter: WebhookMessageFilter = {},
    page: WebhookPageRequest = {},
  ): Promise<WebhookPage<WebhookMessage>> {
    const after = page.after ?? undefined;
    const limit = page.limit ?? DEFAULT_PAGE_LIMIT;
    const matching: WebhookMessage[] = [];
    // One more than a page, to tell whether there is a next one.
    for (const entry of this.newestMessages(filter, after)) {
      if (entry.message.id === after) continue;
      if (matching.length > limit) break;
      matching.push(entry.message);
    }
    return pageOf(matching, limit, copyMessage);
  }

  async getDelivery(id: string): Promise<WebhookDelivery | undefined> {
    const delivery = this.delivery(id);
    return delivery && toDelivery(delivery);
  }

  async listDeliveries(
    filter: WebhookDeliveryFilter = {},
    page: WebhookPageRequest = {},
  ): Promise<WebhookPage<WebhookDelivery>> {
    const after = page.after ?? null;
    const limit = page.limit ?? DEFAULT_PAGE_LIMIT;
    const one = filter.messageId === undefined ? undefined : this.messages.get(filter.messageId);
    // A delivery's id starts with its message's: the cursor's message is where to go on from.
    const from = after === null ? undefined : deliveryPlace(after)?.messageId;
    const entries =
      filter.messageId === undefined ? this.newestMessages(filter, from) : one ? [one] : [];
    const matching: DeliveryEntry[] = [];
    // Newest first, message by message (see `deliveryIds`); one more than a page, to tell whether
    // there is a next one.
    for (const entry of entries) {
      const { tenant, event } = entry.message;
      if (filter.tenant !== undefined && tenant !== filter.tenant) continue;
      if (filter.event !== undefined && event !== filter.event) continue;
      for (let i = entry.deliveries.length - 1; i >= 0 && matching.length <= limit; i--) {
        const delivery = entry.deliveries[i];
        if (after !== null && delivery.id >= after) continue;
        if (filter.endpointId !== undefined && delivery.endpointId !== filter.endpointId) continue;
        if (filter.status !== undefined && delivery.status !== filter.status) continue;
        matching.push(delivery);
      }
      if (matching.length > limit) break;
    }
    return pageOf(matching, limit, toDelivery);
  }

  async listAttempts(deliveryIds: readonly string[]): Promise<Map<string, WebhookAttempt[]>> {
    const found = new Map<string, WebhookAttempt[]>();
    for (const id of deliveryIds) {
      const log = this.delivery(id)?.log;
      if (log) found.set(id, log.map(copyAttempt));
    }
    return found;
  }

  // Attempts: claim, then record.

  async claim(deliveryId: string, lease: WebhookLease): Promise<ClaimedDelivery | undefined> {
    const delivery = this.delivery(deliveryId);
    const now = lease.now.getTime();
    if (!delivery || !isDue(delivery, now)) return undefined;
    const held = delivery.lease;
    if (held && held.owner !== lease.owner && held.until > now) return undefined;
    return this.lease(delivery, lease);
  }

  async record(
    deliveryId: string,
    owner: string,
    attempt: WebhookAttempt | null,
    outcome: WebhookDeliveryOutcome,
  ): Promise<RecordedOutcome> {
    const delivery = this.delivery(deliveryId);
    if (!delivery) return { delivery: undefined, applied: false, endpointFailingSince: null };
    const entry = delivery.message;
    if (attempt && !delivery.log?.some((logged) => logged.attempt === attempt.attempt)) {
      // A first attempt makes a list of one: most deliveries never need a second.
      if (delivery.log) delivery.log.push(copyAttempt(attempt));
      else delivery.log = [copyAttempt(attempt)];
      delivery.attempts = Math.max(delivery.attempts, attempt.attempt);
      const bytes =
        MEMORY_COSTS.attempt + (attempt.responseBody?.length ?? 0) + (attempt.error?.length ?? 0);
      entry.bytes += bytes;
      this.bytes += bytes;
      // The attempt of a delivery that ended while it ran (its endpoint removed, say).
      if (entry.pending === 0) this.evictableBytes += bytes;
    }
    const applied = delivery.status === 'pending' && delivery.lease?.owner === owner;
    if (applied) {
      delivery.lease = null;
      delivery.scheduleAttempts = outcome.scheduleAttempts;
      delivery.nextAttemptAt = outcome.nextAttemptAt?.getTime() ?? null;
      delivery.lastError = outcome.lastError;
      delivery.updatedAt = outcome.updatedAt.getTime();
      this.setStatus(delivery, outcome.status);
    }
    const stored = toDelivery(delivery);
    // Never refused: the attempt was made, for a delivery the store accepted. Room is made for it
    // from what has finished; a store of only pending messages goes over until they finish.
    if (this.bytes > this.maxBytes) this.makeRoom(0);
    const failingSince = this.endpoints.get(delivery.endpointId)?.failingSince;
    return {
      delivery: stored,
      applied,
      endpointFailingSince: failingSince ? new Date(failingSince.getTime()) : null,
    };
  }

  async sweep(
    lease: WebhookLease,
    limit: number,
    { perEndpoint = Infinity, skipEndpoints = [] }: WebhookSweepFairness = {},
  ): Promise<ClaimedDelivery[]> {
    const now = lease.now.getTime();
    const skipped = new Set(skipEndpoints);
    const due = [...this.pendingDeliveries()]
      .filter(
        (delivery) =>
          isDue(delivery, now) &&
          !(delivery.lease !== null && delivery.lease.until > now) &&
          !skipped.has(delivery.endpointId),
      )
      .sort((a, b) => a.nextAttemptAt! - b.nextAttemptAt! || compareIds(a.id, b.id));
    const taken = new Map<string, number>();
    const chosen: DeliveryEntry[] = [];
    for (const delivery of due) {
      if (chosen.length >= limit) break;
      const count = taken.get(delivery.endpointId) ?? 0;
      if (count >= perEndpoint) continue;
      taken.set(delivery.endpointId, count + 1);
      chosen.push(delivery);
    }
    return chosen.map((delivery) => this.lease(delivery, lease));
  }

  async release(deliveryIds: readonly string[], owner: string): Promise<number> {
    let released = 0;
    for (const id of deliveryIds) {
      const delivery = this.delivery(id);
      if (delivery?.lease?.owner !== owner) continue;
      delivery.lease = null;
      released++;
    }
    return released;
  }

  async redeliver({ messageId, endpointId, now }: WebhookRedeliverRequest): Promise<Redelivered> {
    const entry = this.messages.get(messageId);
    if (!entry) return { found: false, matched: 0, redelivered: [] };
    const matched = entry.deliveries.filter(
      (delivery) => endpointId === undefined || delivery.endpointId === endpointId,
    );
    const redelivered: WebhookDelivery[] = [];
    for (const delivery of matched) {
      if (delivery.status === 'pending') continue;
      // A lease left from before it finished must not let that claimer change the new schedule.
      delivery.lease = null;
      delivery.scheduleAttempts = 0;
      delivery.nextAttemptAt = now.getTime();
      delivery.updatedAt = now.getTime();
      this.setStatus(delivery, 'pending');
      redelivered.push(toDelivery(delivery));
    }
    return { found: true, matched: matched.length, redelivered };
  }

  // Keeping the store to its retention and size.

  async prune(before: Date, limit: number): Promise<number> {
    const cutoff = before.getTime();
    const keyCutoff = Date.now() - this.idempotencyTtlMs;
    let deleted = 0;
    for (const entry of this.finished.values()) {
      if (deleted >= limit) break;
      if (entry.message.createdAt.getTime() >= cutoff) continue;
      this.forget(entry, keyCutoff);
      deleted++;
    }
    // In the order forgotten, which is about the order of their messages: the first young key
    // ends the batch, and an older one behind it waits for a later batch.
    let keys = 0;
    for (const [key, marker] of this.forgottenKeys) {
      if (keys >= limit || marker.createdAt >= keyCutoff) break;
      this.dropForgottenKey(key);
      keys++;
    }
    return deleted;
  }

  // The portal's links.

  async portalLinkGeneration(tenant: string): Promise<number> {
    return this.linkGenerations.get(tenant) ?? this.firstLinkGeneration;
  }

  async revokePortalLinks(tenant: string): Promise<number> {
    // No await between the read and the write: one step.
    const generation = (this.linkGenerations.get(tenant) ?? this.firstLinkGeneration) + 1;
    this.linkGenerations.set(tenant, generation);
    return generation;
  }

  private lease(delivery: DeliveryEntry, lease: WebhookLease): ClaimedDelivery {
    delivery.lease = { owner: lease.owner, until: lease.until.getTime() };
    const { message } = delivery.message;
    const endpoint = this.endpoints.get(delivery.endpointId);
    return {
      delivery: toDelivery(delivery),
      message: message && { id: message.id, method: message.method, body: message.body },
      endpoint: endpoint && copyEndpoint(endpoint),
    };
  }

  /** The delivery of that id, found through its message (see `deliveryIds`). */
  private delivery(id: string): DeliveryEntry | undefined {
    const place = deliveryPlace(id);
    const delivery = place && this.messages.get(place.messageId)?.deliveries[place.index];
    // Another spelling of the same place is not the same id.
    return delivery?.id === id ? delivery : undefined;
  }

  /** The pending deliveries of every message that has any. */
  private *pendingDeliveries(): Generator<DeliveryEntry> {
    for (const entry of this.messages.values()) {
      if (entry.pending === 0) continue;
      for (const delivery of entry.deliveries) if (delivery.status === 'pending') yield delivery;
    }
  }

  /**
   * The messages that `filter` may match, newest (highest id) first, from the one of id `from`
   * (included) or the newest below it.
   */
  private *newestMessages(
    filter: { tenant?: string | null; event?: string },
    from?: string,
  ): Generator<MessageEntry> {
    const byId = (this.byId ??= [...this.messages.values()].sort((a, b) =>
      compareIds(a.message.id, b.message.id),
    ));
    for (let i = from === undefined ? byId.length - 1 : lastAtOrBelow(byId, from); i >= 0; i--) {
      const entry = byId[i];
      const { tenant, event } = entry.message;
      if (filter.tenant !== undefined && tenant !== filter.tenant) continue;
      if (filter.event !== undefined && event !== filter.event) continue;
      yield entry;
    }
  }

  /** Changes a delivery's status, keeping its message's count of pending deliveries. */
  private setStatus(delivery: DeliveryEntry, status: WebhookDeliveryStatus) {
    const entry = delivery.message;
    const was = delivery.status;
    delivery.status = status;
    if (was === 'pending' && status !== 'pending') {
      // A lease is a claim on a pending delivery: a finished one has none.
      delivery.lease = null;
      if (--entry.pending === 0) this.finish(entry);
    } else if (was !== 'pending' && status === 'pending') {
      if (entry.pending++ === 0) {
        // Pending again (redelivered): no longer one to forget.
        this.finished.delete(entry.message.id);
        this.evictableBytes -= entry.bytes;
      }
    }
  }

  private finish(entry: MessageEntry) {
    this.finished.set(entry.message.id, entry);
    this.evictableBytes += entry.bytes;
  }

  /**
   * Whether `bytes` more fit, after forgetting (when they would not, and forgetting can make
   * them fit) the finished messages that finished first, then the keys of forgotten messages,
   * down to `EVICTION_TARGET` of the limit, so that a full store makes room once per many
   * messages rather than once per message. Nothing is forgotten when it would not be enough.
   */
  private makeRoom(bytes: number): boolean {
    if (this.bytes + bytes <= this.maxBytes) return true;
    if (this.bytes - this.evictableBytes + bytes > this.maxBytes) return false;
    const target = this.maxBytes * EVICTION_TARGET - bytes;
    const keyCutoff = Date.now() - this.idempotencyTtlMs;
    for (const entry of this.finished.values()) {
      if (this.bytes <= target) break;
      this.forget(entry, keyCutoff);
    }
    for (const key of this.forgottenKeys.keys()) {
      if (this.bytes <= target) break;
      this.dropForgottenKey(key);
    }
    return this.bytes + bytes <= this.maxBytes;
  }

  /**
   * Forgets a finished message with its deliveries and attempts; its idempotency key, unless
   * created before `keyCutoff` or taken over by a newer message, stays behind as a marker.
   */
  private forget(entry: MessageEntry, keyCutoff: number) {
    const { message } = entry;
    this.messages.delete(message.id);
    this.byId = undefined;
    this.finished.delete(message.id);
    this.bytes -= entry.bytes;
    this.evictableBytes -= entry.bytes;
    if (message.idempotencyKey === null) return;
    const key = idempotencyKey(message);
    if (this.idempotency.get(key) !== message.id) return;
    this.idempotency.delete(key);
    const createdAt = message.createdAt.getTime();
    if (createdAt < keyCutoff) return;
    const bytes = MEMORY_COSTS.key + key.length;
    this.forgottenKeys.set(key, {
      id: message.id,
      event: message.event,
      createdAt,
      deliveries: entry.deliveries.length,
      bytes,
    });
    this.bytes += bytes;
    this.evictableBytes += bytes;
  }

  private dropForgottenKey(key: string) {
    const marker = this.forgottenKeys.get(key);
    if (!marker) return;
    this.forgottenKeys.delete(key);
    this.bytes -= marker.bytes;
    this.evictableBytes -= marker.bytes;
  }

  /** Prunes on a timer, so that a process which stops emitting still forgets. */
  private startPruning(): NodeJS.Timeout {
    const period = Math.min(Math.max(this.retentionMs, PRUNE_PERIOD_MIN_MS), PRUNE_PERIOD_MAX_MS);
    const timer = setInterval(() => void this.pruneExpired(), period);
    // Pruning never needs to keep a process alive.
    timer.unref();
    return timer;
  }

  /** What the timer runs: batches of `prune` until one comes back short, I/O between them. */
  private async pruneExpired() {
    if (this.pruning) return;
    this.pruning = true;
    try {
      const before = new Date(Date.now() - this.retentionMs);
      while ((await this.prune(before, PRUNE_BATCH)) === PRUNE_BATCH && !this.closed) {
        await nextTurn();
      }
    } finally {
      this.pruning = false;
    }
  }
}

/** Pending, and due by `now`. */
const isDue = (delivery: DeliveryEntry, now: number) =>
  delivery.status === 'pending' && delivery.nextAttemptAt !== null && delivery.nextAttemptAt <= now;

/**
 * The ids of a message's `count` deliveries: `dlv_`, the message's id, `_`, then the delivery's
 * place (see `numberedIds`). They sort as text in the order made (for message ids of one
 * length, as `createId` makes them), and a delivery is found from its id without a map of
 * every delivery.
 */
const deliveryIds = (messageId: string, count: number) => numberedIds('dlv', messageId, count);

/** Which message and place `id` names, if it is an id that `deliveryIds` makes. */
function deliveryPlace(id: string): { messageId: string; index: number } | undefined {
  const end = id.lastIndexOf('_');
  if (!id.startsWith('dlv_') || end < 5) return undefined;
  const index = parseInt(id.slice(end + 2), 36);
  if (!Number.isSafeInteger(index)) return undefined;
  return { messageId: id.slice(4, end), index };
}

/** The contract's record of a stored delivery, made for the caller. */
function toDelivery(delivery: DeliveryEntry): WebhookDelivery {
  const { message } = delivery.message;
  return {
    id: delivery.id,
    messageId: message.id,
    endpointId: delivery.endpointId,
    tenant: message.tenant,
    event: message.event,
    status: delivery.status,
    attempts: delivery.attempts,
    scheduleAttempts: delivery.scheduleAttempts,
    nextAttemptAt: delivery.nextAttemptAt === null ? null : new Date(delivery.nextAttemptAt),
    lastError: delivery.lastError,
    createdAt: new Date(message.createdAt.getTime()),
    updatedAt: new Date(delivery.updatedAt),
  };
}

// Ids compare as text, code unit by code unit: the order they are made in (see `createId`).
const compareIds = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** The index of the last entry of `byId` whose id is `id` or below it; -1 if there is none. */
function lastAtOrBelow(byId: readonly MessageEntry[], id: string): number {
  let low = 0;
  let high = byId.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (byId[middle].message.id <= id) low = middle + 1;
    else high = middle;
  }
  return low - 1;
}

/**
 * The first `limit` of `items` (in page order, past the cursor), copied; the last one's id is
 * the next page's cursor when more follow.
 */
function pageOf<T extends { id: string }, R>(
  items: T[],
  limit = DEFAULT_PAGE_LIMIT,
  copy: (item: T) => R,
): WebhookPage<R> {
  const page = items.slice(0, Math.max(0, limit));
  const more = items.length > page.length && page.length > 0;
  return { items: page.map(copy), next: more ? page[page.length - 1].id : null };
}

// JSON, so that no tenant (`null`) and the tenant `''` are two key spaces, and no tenant name can
// run into its key.
const idempotencyKey = (message: Pick<WebhookMessage, 'tenant' | 'idempotencyKey'>) =>
  JSON.stringify([message.tenant, message.idempotencyKey]);
