import type {
  StoredWebhookEndpoint,
  WebhookEndpointFilter,
} from '../interfaces/webhook-endpoint.interface.js';
import type {
  WebhookAttempt,
  WebhookDelivery,
  WebhookMessage,
} from '../interfaces/webhook-message.interface.js';
import type { WebhookDeliveryFilter, WebhookStore } from '../interfaces/webhook-store.interface.js';

const DEFAULT_LIMIT = 100;

/**
 * The default store: everything in this process's memory, lost on restart. Finished messages
 * (every delivery delivered or failed) are forgotten after `retentionMs` so a long-running
 * process does not grow without bound; pending ones are always kept.
 */
export class MemoryWebhookStore implements WebhookStore {
  private readonly endpoints = new Map<string, StoredWebhookEndpoint>();
  private readonly messages = new Map<string, WebhookMessage>();
  private readonly deliveries = new Map<string, WebhookDelivery>();
  private readonly deliveriesByMessage = new Map<string, string[]>();
  private readonly attempts = new Map<string, WebhookAttempt[]>();
  private readonly idempotency = new Map<string, string>();
  private insertsSincePrune = 0;

  constructor(private readonly retentionMs = 24 * 60 * 60 * 1000) {}

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
  ): Promise<StoredWebhookEndpoint | undefined> {
    const endpoint = this.endpoints.get(id);
    if (!endpoint) return undefined;
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
        return { inserted: false as const, existing: { ...existing }, deliveries: count };
      }
      this.idempotency.set(key, message.id);
    }
    this.messages.set(message.id, { ...message });
    this.deliveriesByMessage.set(
      message.id,
      deliveries.map((delivery) => delivery.id),
    );
    for (const delivery of deliveries) this.deliveries.set(delivery.id, { ...delivery });
    if (++this.insertsSincePrune >= 1000) this.prune();
    return { inserted: true as const };
  }

  async getMessage(id: string): Promise<WebhookMessage | undefined> {
    const message = this.messages.get(id);
    return message && { ...message };
  }

  async getDelivery(id: string): Promise<WebhookDelivery | undefined> {
    const delivery = this.deliveries.get(id);
    return delivery && { ...delivery };
  }

  async updateDelivery(
    id: string,
    patch: Partial<WebhookDelivery>,
  ): Promise<WebhookDelivery | undefined> {
    const delivery = this.deliveries.get(id);
    if (!delivery) return undefined;
    Object.assign(delivery, patch, { id });
    return { ...delivery };
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
        found.push({ ...delivery });
      }
    }
    return found;
  }

  async insertAttempt(attempt: WebhookAttempt): Promise<void> {
    const list = this.attempts.get(attempt.deliveryId);
    if (list) list.push({ ...attempt });
    else this.attempts.set(attempt.deliveryId, [{ ...attempt }]);
  }

  async listAttempts(deliveryId: string): Promise<WebhookAttempt[]> {
    return (this.attempts.get(deliveryId) ?? []).map((attempt) => ({ ...attempt }));
  }

  private prune() {
    this.insertsSincePrune = 0;
    const cutoff = Date.now() - this.retentionMs;
    for (const [id, message] of this.messages) {
      // Map order is insertion order: the first young message ends the scan.
      if (message.createdAt.getTime() >= cutoff) break;
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

const copyEndpoint = (endpoint: StoredWebhookEndpoint): StoredWebhookEndpoint => ({
  ...endpoint,
  events: [...endpoint.events],
  retiredSecrets: endpoint.retiredSecrets.map((retired) => ({ ...retired })),
});
