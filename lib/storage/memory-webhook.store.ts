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
import type { WebhookDeliveryFilter, WebhookStore } from '../interfaces/webhook-store.interface.js';

const DEFAULT_LIMIT = 100;

/** How long the memory store keeps what it no longer needs for delivery. */
export interface MemoryWebhookStoreOptions {
  /** Milliseconds finished messages stay in the delivery log. Default 24 h. */
  retention?: number;
  /**
   * Milliseconds a message with an `idempotencyKey` is kept regardless of `retention`, so the
   * key keeps deduplicating for as long as `emit` promises it does. Default 24 h.
   */
  idempotencyTtl?: number;
}

const DAY = 24 * 60 * 60 * 1000;

/**
 * The default store: everything in this process's memory, lost on restart. Finished messages
 * (every delivery delivered or failed) are forgotten after `retention` so a long-running
 * process does not grow without bound; pending ones are always kept, and so are messages whose
 * idempotency key is younger than `idempotencyTtl`.
 */
export class MemoryWebhookStore implements WebhookStore {
  private readonly endpoints = new Map<string, StoredWebhookEndpoint>();
  private readonly messages = new Map<string, WebhookMessage>();
  private readonly deliveries = new Map<string, WebhookDelivery>();
  private readonly deliveriesByMessage = new Map<string, string[]>();
  private readonly attempts = new Map<string, WebhookAttempt[]>();
  private readonly idempotency = new Map<string, string>();
  private insertsSincePrune = 0;

  private readonly retentionMs: number;
  private readonly idempotencyTtlMs: number;

  constructor(options: MemoryWebhookStoreOptions = {}) {
    this.retentionMs = options.retention ?? DAY;
    this.idempotencyTtlMs = options.idempotencyTtl ?? DAY;
  }

  async insertEndpoint(endpoint: StoredWebhookEndpoint): Promise<void> {
    this.endpoints.set(endpoint.id, copyEndpoint(endpoint));
  }

  async getEndpoint(id: string): Promise<StoredWebhookEndpoint | undefined> {
    const endpoint = this.endpoints.get(id);
    return endpoint && copyEndpoint(endpoint);
  }

  async listEndpoints(filter: WebhookEndpointFilter = {}): Promise<StoredWebhookEndpoint[]> {
    return [...this.endpoints.values()]
      .filter(
        (endpoint) =>
          (filter.tenant === undefined || endpoint.tenant === filter.tenant) &&
          (filter.event === undefined || endpoint.events.includes(filter.event)) &&
          (filter.disabled === undefined || endpoint.disabled === filter.disabled),
      )
      .map(copyEndpoint);
  }

  async findSubscribedEndpoints(
    event: string,
    tenant: string | null,
  ): Promise<StoredWebhookEndpoint[]> {
    return this.listEndpoints({ event, tenant, disabled: false });
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
    return copyEndpoint(updated);
  }

  async deleteEndpoint(id: string): Promise<boolean> {
    return this.endpoints.delete(id);
  }

  async insertMessage(
    message: WebhookMessage,
    deliveries: WebhookDelivery[],
    idempotentSince: Date,
  ) {
    if (message.idempotencyKey !== null) {
      const key = idempotencyKey(message);
      const existing = this.messages.get(this.idempotency.get(key) ?? '');
      if (existing && existing.createdAt >= idempotentSince) {
        const count = this.deliveriesByMessage.get(existing.id)?.length ?? 0;
        return { inserted: false as const, existing: copyMessage(existing), deliveries: count };
      }
      this.idempotency.set(key, message.id);
    }
    // Kept as given (the contract hands them over): no copy on the hot path of every emit.
    // The deliveries of a message may share their Date objects; reads and updates copy them.
    this.messages.set(message.id, message);
    const ids: string[] = [];
    for (const delivery of deliveries) {
      ids.push(delivery.id);
      this.deliveries.set(delivery.id, delivery);
    }
    this.deliveriesByMessage.set(message.id, ids);
    if (++this.insertsSincePrune >= 1000) this.prune();
    return { inserted: true as const };
  }

  async getMessage(id: string): Promise<WebhookMessage | undefined> {
    const message = this.messages.get(id);
    return message && copyMessage(message);
  }

  async getDelivery(id: string): Promise<WebhookDelivery | undefined> {
    const delivery = this.deliveries.get(id);
    return delivery && copyDelivery(delivery);
  }

  async updateDelivery(
    id: string,
    patch: Partial<WebhookDelivery>,
    expected: { status?: WebhookDeliveryStatus } = {},
  ): Promise<WebhookDelivery | undefined> {
    // No await from the check to the set: that is what makes this compare-and-set atomic.
    const delivery = this.deliveries.get(id);
    if (!delivery) return undefined;
    if (expected.status !== undefined && delivery.status !== expected.status) return undefined;
    const clone = dateCloner();
    // In place, so the delivery keeps its position in the newest-first order.
    for (const [key, value] of Object.entries(patch)) {
      (delivery as unknown as Record<string, unknown>)[key] = clone(value);
    }
    delivery.id = id;
    return copyDelivery(delivery);
  }

  async listDeliveries(filter: WebhookDeliveryFilter = {}): Promise<WebhookDelivery[]> {
    const limit = filter.limit ?? DEFAULT_LIMIT;
    const candidates =
      filter.messageId !== undefined
        ? (this.deliveriesByMessage.get(filter.messageId) ?? []).map((id) =>
            this.deliveries.get(id)!,
          )
        : [...this.deliveries.values()];
    const found: WebhookDelivery[] = [];
    // Newest first: ids and insertion order are both chronological.
    for (let i = candidates.length - 1; i >= 0 && found.length < limit; i--) {
      const delivery = candidates[i];
      if (
        (filter.endpointId === undefined || delivery.endpointId === filter.endpointId) &&
        (filter.tenant === undefined || delivery.tenant === filter.tenant) &&
        (filter.event === undefined || delivery.event === filter.event) &&
        (filter.status === undefined || delivery.status === filter.status)
      ) {
        found.push(copyDelivery(delivery));
      }
    }
    return found;
  }

  async insertAttempt(attempt: WebhookAttempt): Promise<void> {
    const list = this.attempts.get(attempt.deliveryId);
    if (list) list.push(copyAttempt(attempt));
    else this.attempts.set(attempt.deliveryId, [copyAttempt(attempt)]);
  }

  async listAttempts(deliveryId: string): Promise<WebhookAttempt[]> {
    return (this.attempts.get(deliveryId) ?? []).map(copyAttempt);
  }

  private prune() {
    this.insertsSincePrune = 0;
    const now = Date.now();
    const cutoff = now - this.retentionMs;
    const keyCutoff = now - this.idempotencyTtlMs;
    for (const [id, message] of this.messages) {
      // Map order is insertion order: the first young message ends the scan.
      if (message.createdAt.getTime() >= cutoff) break;
      // Forgetting it would free its key early: a repeated emit would then send again.
      if (message.idempotencyKey !== null && message.createdAt.getTime() >= keyCutoff) continue;
      const deliveryIds = this.deliveriesByMessage.get(id) ?? [];
      if (deliveryIds.some((deliveryId) => this.deliveries.get(deliveryId)?.status === 'pending')) {
        continue;
      }
      for (const deliveryId of deliveryIds) {
        this.deliveries.delete(deliveryId);
        this.attempts.delete(deliveryId);
      }
      this.deliveriesByMessage.delete(id);
      this.messages.delete(id);
      if (message.idempotencyKey !== null) {
        const key = idempotencyKey(message);
        if (this.idempotency.get(key) === id) this.idempotency.delete(key);
      }
    }
  }
}

const idempotencyKey = (message: WebhookMessage) =>
  `${message.tenant ?? ''}\u0000${message.idempotencyKey}`;

// Copies in and out, Dates included (they are mutable): what a caller holds never aliases
// what the store keeps.
const copyDate = <T>(date: T): T => (date instanceof Date ? new Date(date.getTime()) : date) as T;

/** Like `copyDate`, but clones each distinct Date once, so shared timestamps stay shared. */
function dateCloner(): <T>(date: T) => T {
  const clones = new Map<Date, Date>();
  return <T>(date: T): T => {
    if (!(date instanceof Date)) return date;
    let clone = clones.get(date);
    if (!clone) {
      clone = new Date(date.getTime());
      clones.set(date, clone);
    }
    return clone as T;
  };
}

const copyEndpoint = (endpoint: StoredWebhookEndpoint): StoredWebhookEndpoint => ({
  ...endpoint,
  events: [...endpoint.events],
  retiredSecrets: endpoint.retiredSecrets.map((retired) => ({
    ...retired,
    expiresAt: copyDate(retired.expiresAt),
  })),
  createdAt: copyDate(endpoint.createdAt),
  updatedAt: copyDate(endpoint.updatedAt),
  failingSince: copyDate(endpoint.failingSince),
});

const copyMessage = (message: WebhookMessage, clone = copyDate): WebhookMessage => ({
  ...message,
  createdAt: clone(message.createdAt),
});

const copyDelivery = (delivery: WebhookDelivery, clone = copyDate): WebhookDelivery => ({
  ...delivery,
  nextAttemptAt: clone(delivery.nextAttemptAt),
  createdAt: clone(delivery.createdAt),
  updatedAt: clone(delivery.updatedAt),
});

const copyAttempt = (attempt: WebhookAttempt): WebhookAttempt => ({
  ...attempt,
  startedAt: copyDate(attempt.startedAt),
});
