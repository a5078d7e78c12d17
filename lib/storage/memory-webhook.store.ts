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
  InsertedMessage,
  RecordedAttempt,
  WebhookAttemptContext,
  WebhookDeliveryFilter,
  WebhookDeliveryPatch,
  WebhookDeliveryProgress,
  WebhookStore,
} from '../interfaces/webhook-store.interface.js';
import { WebhookStoreFullError } from '../webhooks.errors.js';
import { messageTooLarge, storeFull } from '../webhooks.messages.js';
import { attemptId } from './ids.js';
import { copyEndpoint } from './record-copies.js';

const DEFAULT_LIMIT = 100;
const SUBSCRIPTION_CACHE_LIMIT = 10_000;
/** Up to this many endpoints per message, finding one's delivery is a scan. */
const SCANNED_FAN_OUT = 16;

/** How long the memory store keeps what it no longer needs for delivery, and how much. */
export interface MemoryWebhookStoreOptions {
  /** Milliseconds finished messages stay in the delivery log. Default 24 h. */
  retention?: number;
  /**
   * Milliseconds a message with an `idempotencyKey` is kept regardless of `retention`, so the
   * key keeps deduplicating for as long as `emit` promises it does. Default 24 h.
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
  /** A message: its record, id and map entries. */
  message: 400,
  /** Each delivery of a message: its state once it has one. */
  delivery: 150,
  /** Each attempt in the log. */
  attempt: 200,
  /** The idempotency key of a message forgotten early, kept for its `idempotencyTtl`. */
  key: 200,
} as const;

/** The default of `maxStoreBytes`. */
export const DEFAULT_MAX_STORE_BYTES = 128 * 1024 * 1024;

/** Under pressure, room is made down to this share of `maxStoreBytes`, not just for one message. */
const EVICTION_TARGET = 0.9;
/** The pruning timer's period: the retention, within these bounds. */
const PRUNE_PERIOD_MIN_MS = 1_000;
const PRUNE_PERIOD_MAX_MS = 60_000;

/**
 * The default store: everything in this process's memory, lost on restart.
 *
 * Endpoints and messages are never changed once stored (an update stores a new one), so reads
 * hand out the stored endpoints themselves, and an attempt reads its message's record as it
 * is, without copying, as the `WebhookStore` contract allows. A message is kept as one flat
 * record with its deliveries (its time as a number) and made into a `WebhookMessage` when read
 * for the log. Deliveries and attempts, of which there are many more, are kept compact (their
 * state and times as numbers, nothing repeated from their message) and made into records on
 * each read: a logged attempt holds about a third less memory than as a record.
 *
 * Finished messages (every delivery delivered or failed) are forgotten after `retention`, on a
 * timer and every thousand messages; pending ones are always kept, and so are messages whose
 * idempotency key is younger than `idempotencyTtl`. What the store holds is bounded as well: it
 * keeps an estimate of its size (`MEMORY_COSTS`), and when that would pass `maxStoreBytes` it
 * forgets the finished messages that finished first, their retention notwithstanding (the key
 * of one that has it stays behind, small, until its `idempotencyTtl`), and then those keys,
 * oldest first. When what is left is all pending, it refuses new messages
 * (`WebhookStoreFullError`) rather than drop one it has accepted.
 */
export class MemoryWebhookStore implements WebhookStore {
  private readonly endpoints = new Map<string, StoredWebhookEndpoint>();
  private readonly messages = new Map<string, MessageRecord>();
  /** Ids of stored messages by idempotency key (`idempotencyKey` below: one space per tenant). */
  private readonly idempotency = new Map<string, string>();
  /** Keys of messages forgotten before their `idempotencyTtl`, in the order forgotten. */
  private readonly forgottenKeys = new Map<string, KeyMarker>();
  /** Messages without a pending delivery, in the order they finished: the first to forget. */
  private readonly finished = new Map<string, MessageRecord>();
  /** Estimated heap held, in bytes (see `MEMORY_COSTS`). */
  private bytes = 0;
  /** What of `bytes` may be forgotten under pressure: finished messages and forgotten keys. */
  private evictableBytes = 0;
  private pruneTimer?: NodeJS.Timeout;
  private closed = false;
  /** Enabled endpoints by tenant, then event; built on demand, dropped by any endpoint change. */
  private readonly subscriptions = new Map<string | null, Map<string, readonly string[]>>();
  private subscriptionEntries = 0;
  /** Endpoint positions of the long endpoint lists of messages (see `indexOf`). */
  private readonly endpointPositions = new WeakMap<readonly string[], Map<string, number>>();
  private insertsSincePrune = 0;

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

  async insertEndpoint(endpoint: StoredWebhookEndpoint): Promise<void> {
    // Not the emit hot path: a copy, so the caller may go on using its object.
    this.endpoints.set(endpoint.id, copyEndpoint(endpoint));
    this.dropSubscriptions();
  }

  async getEndpoint(id: string): Promise<StoredWebhookEndpoint | undefined> {
    return this.endpoints.get(id);
  }

  async listEndpoints(filter: WebhookEndpointFilter = {}): Promise<StoredWebhookEndpoint[]> {
    return this.filterEndpoints(filter);
  }

  async findSubscribedEndpointIds(
    event: string,
    tenant: string | null,
  ): Promise<readonly string[]> {
    // Every emit asks this; endpoints change rarely. Read and cached with no await in between,
    // so an endpoint change cannot slip between the two and leave a stale entry.
    let subscribed = this.subscriptions.get(tenant)?.get(event);
    if (!subscribed) {
      subscribed = this.filterEndpoints({ event, tenant, disabled: false }).map(
        (endpoint) => endpoint.id,
      );
      // Bounded like the other caches: every tenant an app emits for gets an entry, even one
      // without endpoints.
      if (++this.subscriptionEntries > SUBSCRIPTION_CACHE_LIMIT) this.dropSubscriptions();
      let byEvent = this.subscriptions.get(tenant);
      if (!byEvent) {
        byEvent = new Map();
        this.subscriptions.set(tenant, byEvent);
      }
      byEvent.set(event, subscribed);
    }
    return subscribed;
  }

  private filterEndpoints(filter: WebhookEndpointFilter): StoredWebhookEndpoint[] {
    return [...this.endpoints.values()].filter(
      (endpoint) =>
        (filter.tenant === undefined || endpoint.tenant === filter.tenant) &&
        (filter.event === undefined || endpoint.events.includes(filter.event)) &&
        (filter.disabled === undefined || endpoint.disabled === filter.disabled),
    );
  }

  async updateEndpoint(
    id: string,
    patch: Partial<StoredWebhookEndpoint>,
    expected: { disabled?: boolean } = {},
  ): Promise<StoredWebhookEndpoint | undefined> {
    // No await from the check to the set: that is what makes this compare-and-set atomic.
    const endpoint = this.endpoints.get(id);
    if (!endpoint) return undefined;
    if (expected.disabled !== undefined && endpoint.disabled !== expected.disabled) {
      return undefined;
    }
    const updated = copyEndpoint({ ...endpoint, ...patch, id });
    this.endpoints.set(id, updated);
    this.dropSubscriptions();
    return updated;
  }

  async deleteEndpoint(id: string): Promise<boolean> {
    this.dropSubscriptions();
    return this.endpoints.delete(id);
  }

  async insertMessage(
    message: WebhookMessage,
    endpointIds: readonly string[],
    idempotentSince: Date,
  ): Promise<InsertedMessage> {
    const key = message.idempotencyKey === null ? undefined : idempotencyKey(message);
    if (key !== undefined) {
      const since = idempotentSince.getTime();
      const existing = this.messages.get(this.idempotency.get(key) ?? '');
      if (existing && existing.createdAt >= since) {
        return {
          inserted: false,
          existing: messageOf(existing),
          deliveries: existing.endpointIds.length,
        };
      }
      const forgotten = this.forgottenKeys.get(key);
      if (forgotten && forgotten.createdAt >= since) {
        return { inserted: false, existing: forgotten, deliveries: forgotten.deliveries };
      }
    }
    const bytes =
      MEMORY_COSTS.message +
      message.body.length +
      (message.idempotencyKey?.length ?? 0) +
      endpointIds.length * MEMORY_COSTS.delivery;
    if (bytes > this.maxBytes) {
      throw new WebhookStoreFullError(messageTooLarge(bytes, this.maxBytes, message.event));
    }
    if (!this.makeRoom(bytes)) {
      throw new WebhookStoreFullError(storeFull(this.bytes, this.maxBytes, message.event));
    }
    if (key !== undefined) {
      // An older use of the key, past its TTL, gives way.
      this.dropForgottenKey(key);
      this.idempotency.set(key, message.id);
    }
    // One object per message, whatever its fan-out, and no Date: a pending message is what a
    // backlog is made of (see `npm run bench:delivery`'s memory part). Each delivery is found
    // through its message and endpoint, and has no state of its own until its first update
    // (until then it is pending, as emitted). The hot path of every emit.
    const record: MessageRecord = {
      id: message.id,
      event: message.event,
      method: message.method,
      tenant: message.tenant,
      body: message.body,
      idempotencyKey: message.idempotencyKey,
      createdAt: message.createdAt.getTime(),
      endpointIds,
      states: undefined,
      attempts: undefined,
      pending: endpointIds.length,
      bytes,
    };
    this.messages.set(message.id, record);
    this.bytes += bytes;
    if (record.pending === 0) this.finish(record);
    if (!this.closed) this.pruneTimer ??= this.startPruning();
    if (++this.insertsSincePrune >= 1000) this.prune();
    return INSERTED;
  }

  async getMessage(id: string): Promise<WebhookMessage | undefined> {
    const record = this.messages.get(id);
    return record && messageOf(record);
  }

  async getDelivery(id: string): Promise<WebhookDelivery | undefined> {
    const found = this.locate(id);
    return found && deliveryAt(found.record, found.index);
  }

  async getAttemptContext(
    messageId: string,
    endpointId: string,
  ): Promise<WebhookAttemptContext | undefined> {
    const found = this.locateJob(messageId, endpointId);
    if (!found) return undefined;
    const { record, index } = found;
    return {
      delivery: progressAt(record, index),
      // The record itself, seen through the fields an attempt reads: nothing is copied.
      message: record,
      endpoint: this.endpoints.get(endpointId),
    };
  }

  async updateDelivery(
    id: string,
    patch: WebhookDeliveryPatch,
    expected: { status?: WebhookDeliveryStatus } = {},
  ): Promise<WebhookDelivery | undefined> {
    // No await from the check to the set: that is what makes this compare-and-set atomic.
    const found = this.locate(id);
    if (!found) return undefined;
    const { record, index } = found;
    if (expected.status !== undefined && statusAt(record, index) !== expected.status) {
      return undefined;
    }
    this.patchState(record, index, patch);
    return deliveryAt(record, index);
  }

  async listDeliveries(filter: WebhookDeliveryFilter = {}): Promise<WebhookDelivery[]> {
    const limit = filter.limit ?? DEFAULT_LIMIT;
    const records =
      filter.messageId !== undefined
        ? [this.messages.get(filter.messageId)].filter((record) => record !== undefined)
        : [...this.messages.values()];
    const found: WebhookDelivery[] = [];
    // Newest first: messages are kept in emit order, and a message's deliveries in id order.
    for (let r = records.length - 1; r >= 0 && found.length < limit; r--) {
      const record = records[r];
      if (filter.tenant !== undefined && record.tenant !== filter.tenant) continue;
      if (filter.event !== undefined && record.event !== filter.event) continue;
      for (let i = record.endpointIds.length - 1; i >= 0 && found.length < limit; i--) {
        if (filter.endpointId !== undefined && record.endpointIds[i] !== filter.endpointId) {
          continue;
        }
        if (filter.status === undefined || statusAt(record, i) === filter.status) {
          found.push(deliveryAt(record, i));
        }
      }
    }
    return found;
  }

  async recordAttempt(
    attempt: WebhookAttempt,
    patch?: WebhookDeliveryPatch,
  ): Promise<RecordedAttempt> {
    const found = this.locateJob(attempt.messageId, attempt.endpointId);
    const endpoint = this.endpoints.get(attempt.endpointId);
    if (!found) return { delivery: undefined, endpoint };
    const { record, index } = found;
    // Kept with its message, like the delivery: no map entry per attempt, and forgotten with it.
    const entry: AttemptEntry = {
      attempt: attempt.attempt,
      startedAt: attempt.startedAt.getTime(),
      durationMs: attempt.durationMs,
      statusCode: attempt.statusCode,
      error: attempt.error,
      responseBody: attempt.responseBody,
      outcome: attempt.outcome,
    };
    const attempts = (record.attempts ??= []);
    const list = attempts[index];
    if (list) list.push(entry);
    else attempts[index] = [entry];
    const bytes =
      MEMORY_COSTS.attempt + (attempt.responseBody?.length ?? 0) + (attempt.error?.length ?? 0);
    record.bytes += bytes;
    this.bytes += bytes;
    // The attempt of a delivery that ended while it ran (its endpoint removed, say).
    if (record.pending === 0) this.evictableBytes += bytes;
    if (patch) this.patchState(record, index, patch);
    // Never refused: the attempt was made, and its delivery is accepted. Room is made for it
    // from what has finished; a store of only pending messages goes over until they finish.
    if (this.bytes > this.maxBytes) this.makeRoom(0);
    return { delivery: deliveryAt(record, index), endpoint };
  }

  async listAttempts(id: string): Promise<WebhookAttempt[]> {
    const found = this.locate(id);
    if (!found) return [];
    const { record, index } = found;
    const endpointId = record.endpointIds[index];
    return (record.attempts?.[index] ?? []).map((entry) => ({
      id: attemptId(id, entry.attempt),
      deliveryId: id,
      messageId: record.id,
      endpointId,
      attempt: entry.attempt,
      startedAt: new Date(entry.startedAt),
      durationMs: entry.durationMs,
      statusCode: entry.statusCode,
      error: entry.error,
      responseBody: entry.responseBody,
      outcome: entry.outcome,
    }));
  }

  /** Where the delivery of `messageId` to `endpointId` is kept (a job of the queue names it so). */
  private locateJob(messageId: string, endpointId: string): Located | undefined {
    const record = this.messages.get(messageId);
    const index = record ? this.indexOf(record, endpointId) : -1;
    return record && index >= 0 ? { record, index } : undefined;
  }

  /**
   * Where `endpointId`'s delivery stands in a message, `-1` if it has none. Messages of one event
   * share their endpoint list (the subscription index hands out one array until an endpoint
   * changes), so a long list is indexed once for all of them rather than scanned per attempt.
   */
  private indexOf(record: MessageRecord, endpointId: string): number {
    const { endpointIds } = record;
    if (endpointIds.length <= SCANNED_FAN_OUT) return endpointIds.indexOf(endpointId);
    let positions = this.endpointPositions.get(endpointIds);
    if (!positions) {
      positions = new Map(endpointIds.map((id, index) => [id, index]));
      this.endpointPositions.set(endpointIds, positions);
    }
    return positions.get(endpointId) ?? -1;
  }

  private dropSubscriptions() {
    this.subscriptions.clear();
    this.subscriptionEntries = 0;
  }

  private locate(id: string): Located | undefined {
    const parsed = parseDeliveryId(id);
    const record = parsed && this.messages.get(parsed.messageId);
    if (!record || parsed.index >= record.endpointIds.length) return undefined;
    return { record, index: parsed.index };
  }

  /** A new state in the delivery's place: `patch` over the current one (`undefined`: unchanged). */
  private patchState(record: MessageRecord, index: number, patch: WebhookDeliveryPatch): void {
    const states = (record.states ??= record.endpointIds.map(() => undefined));
    const current = states[index] ?? emittedState(record);
    const status = patch.status ?? current.status;
    states[index] = {
      status,
      attempts: patch.attempts ?? current.attempts,
      scheduleAttempts: patch.scheduleAttempts ?? current.scheduleAttempts,
      nextAttemptAt:
        patch.nextAttemptAt === undefined
          ? current.nextAttemptAt
          : (patch.nextAttemptAt?.getTime() ?? null),
      lastError: patch.lastError === undefined ? current.lastError : patch.lastError,
      updatedAt: patch.updatedAt?.getTime() ?? current.updatedAt,
    };
    if (current.status === 'pending' && status !== 'pending') {
      if (--record.pending === 0) this.finish(record);
    } else if (current.status !== 'pending' && status === 'pending') {
      // Redelivered: no longer one to forget.
      if (record.pending++ === 0) {
        this.finished.delete(record.id);
        this.evictableBytes -= record.bytes;
      }
    }
  }

  private finish(record: MessageRecord) {
    this.finished.set(record.id, record);
    this.evictableBytes += record.bytes;
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
    for (const record of this.finished.values()) {
      if (this.bytes <= target) break;
      this.forget(record, keyCutoff);
    }
    for (const key of this.forgottenKeys.keys()) {
      if (this.bytes <= target) break;
      this.dropForgottenKey(key);
    }
    return this.bytes + bytes <= this.maxBytes;
  }

  /** Whether forgetting the message would free its idempotency key before `idempotencyTtl`. */
  private keepsKey(record: MessageRecord, keyCutoff: number): boolean {
    return record.idempotencyKey !== null && record.createdAt >= keyCutoff;
  }

  /** Forgets a finished message; its key, if younger than `keyCutoff`, stays behind. */
  private forget(record: MessageRecord, keyCutoff: number) {
    this.messages.delete(record.id);
    this.finished.delete(record.id);
    this.bytes -= record.bytes;
    this.evictableBytes -= record.bytes;
    if (record.idempotencyKey === null) return;
    const key = idempotencyKey(record);
    if (this.idempotency.get(key) !== record.id) return;
    this.idempotency.delete(key);
    if (record.createdAt < keyCutoff) return;
    const bytes = MEMORY_COSTS.key + key.length;
    this.forgottenKeys.set(key, {
      id: record.id,
      event: record.event,
      createdAt: record.createdAt,
      deliveries: record.endpointIds.length,
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

  /** Prunes on a timer too, so that a process which stops emitting still forgets. */
  private startPruning(): NodeJS.Timeout {
    const period = Math.min(Math.max(this.retentionMs, PRUNE_PERIOD_MIN_MS), PRUNE_PERIOD_MAX_MS);
    const timer = setInterval(() => this.prune(), period);
    // Pruning never needs to keep a process alive.
    timer.unref();
    return timer;
  }

  private prune() {
    this.insertsSincePrune = 0;
    const now = Date.now();
    const cutoff = now - this.retentionMs;
    const keyCutoff = now - this.idempotencyTtlMs;
    for (const record of this.messages.values()) {
      // Map order is insertion order: the first young message ends the scan.
      if (record.createdAt >= cutoff) break;
      if (record.pending > 0 || this.keepsKey(record, keyCutoff)) continue;
      this.forget(record, keyCutoff);
    }
    // In the order forgotten, which is about the order of their messages.
    for (const [key, marker] of this.forgottenKeys) {
      if (marker.createdAt >= keyCutoff) break;
      this.dropForgottenKey(key);
    }
  }
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

/** Where a delivery is kept: its message's record, and its place there. */
interface Located {
  record: MessageRecord;
  index: number;
}

/**
 * A message (its time in epoch milliseconds) with its deliveries, one per endpoint, in the
 * order of `endpointIds`.
 */
interface MessageRecord extends Omit<WebhookMessage, 'createdAt'> {
  createdAt: number;
  endpointIds: readonly string[];
  /**
   * The deliveries' states, in the order of `endpointIds`; made on the first update. Until then
   * (and for each place until its first update) a delivery is pending, as emitted.
   */
  states: (DeliveryState | undefined)[] | undefined;
  /** Attempts per delivery, oldest first, in the same places; made on the first attempt. */
  attempts: (AttemptEntry[] | undefined)[] | undefined;
  /** How many of its deliveries are pending. */
  pending: number;
  /** Its estimated size with its deliveries and attempts (see `MEMORY_COSTS`). */
  bytes: number;
}

/** What changes of a delivery, its times in epoch milliseconds: a Date costs ~100 bytes. */
interface DeliveryState {
  status: WebhookDeliveryStatus;
  attempts: number;
  scheduleAttempts: number;
  nextAttemptAt: number | null;
  lastError: string | null;
  updatedAt: number;
}

/**
 * An attempt without what its delivery already says (nor its id, made from the delivery's),
 * its start in epoch milliseconds.
 */
interface AttemptEntry {
  attempt: number;
  startedAt: number;
  durationMs: number;
  statusCode: number | null;
  error: string | null;
  responseBody: string | null;
  outcome: WebhookAttempt['outcome'];
}

const statusAt = (record: MessageRecord, index: number): WebhookDeliveryStatus =>
  record.states?.[index]?.status ?? 'pending';

/** The state of a delivery as emitted: pending, due at once. */
function emittedState(record: MessageRecord): DeliveryState {
  const { createdAt } = record;
  return {
    status: 'pending',
    attempts: 0,
    scheduleAttempts: 0,
    nextAttemptAt: createdAt,
    lastError: null,
    updatedAt: createdAt,
  };
}

/** What an attempt reads of a delivery: no Dates, and no state object for one not yet updated. */
function progressAt(record: MessageRecord, index: number): WebhookDeliveryProgress {
  const state = record.states?.[index];
  return {
    id: deliveryId(record.id, index),
    messageId: record.id,
    endpointId: record.endpointIds[index],
    status: statusAt(record, index),
    attempts: state?.attempts ?? 0,
    scheduleAttempts: state?.scheduleAttempts ?? 0,
  };
}

/** The delivery as a record, made anew on every read: nothing read shares a mutable part. */
function deliveryAt(record: MessageRecord, index: number): WebhookDelivery {
  const state = record.states?.[index] ?? emittedState(record);
  return {
    id: deliveryId(record.id, index),
    messageId: record.id,
    endpointId: record.endpointIds[index],
    tenant: record.tenant,
    event: record.event,
    status: state.status,
    attempts: state.attempts,
    scheduleAttempts: state.scheduleAttempts,
    nextAttemptAt: state.nextAttemptAt === null ? null : new Date(state.nextAttemptAt),
    lastError: state.lastError,
    createdAt: new Date(record.createdAt),
    updatedAt: new Date(state.updatedAt),
  };
}

// `dlv_<index in base 36>_<message id>`: unique, and names where the delivery is kept. The
// prefixes of the first few hundred indexes are made once: every emit makes an id per endpoint.
const DELIVERY_ID_PREFIXES = Array.from(
  { length: 256 },
  (_, index) => `dlv_${index.toString(36)}_`,
);
const deliveryId = (messageId: string, index: number) =>
  (DELIVERY_ID_PREFIXES[index] ?? `dlv_${index.toString(36)}_`) + messageId;

function parseDeliveryId(id: string): { messageId: string; index: number } | undefined {
  if (!id.startsWith('dlv_')) return undefined;
  // Base-36 digits read in place: no substring for them on a path every attempt takes two or
  // three times.
  let index = 0;
  let position = 4;
  for (; position < id.length; position++) {
    const code = id.charCodeAt(position);
    const digit = code >= 48 && code <= 57 ? code - 48 : code >= 97 && code <= 122 ? code - 87 : -1;
    if (digit < 0) break;
    index = index * 36 + digit;
  }
  const digits = position - 4;
  // One canonical spelling per index: no leading zero, at least one digit, then `_`.
  if (digits === 0 || id.charCodeAt(position) !== 95 /* _ */) return undefined;
  if (digits > 1 && id.charCodeAt(4) === 48 /* 0 */) return undefined;
  if (!Number.isSafeInteger(index)) return undefined;
  return { messageId: id.slice(position + 1), index };
}

// JSON, so that no tenant (`null`) and the tenant `''` are two key spaces, and no tenant name can
// run into its key.
const idempotencyKey = (message: Pick<WebhookMessage, 'tenant' | 'idempotencyKey'>) =>
  JSON.stringify([message.tenant, message.idempotencyKey]);

/** What `insertMessage` answers for every message it stores: one object for all of them. */
const INSERTED: InsertedMessage = Object.freeze({ inserted: true });

/** The message of a record, as a new record of its own. */
function messageOf(record: MessageRecord): WebhookMessage {
  return {
    id: record.id,
    event: record.event,
    method: record.method,
    tenant: record.tenant,
    body: record.body,
    idempotencyKey: record.idempotencyKey,
    createdAt: new Date(record.createdAt),
  };
}
