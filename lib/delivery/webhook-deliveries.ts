import type { Observable } from 'rxjs';
import { messageNotFound, noDeliveryToRedeliver } from '../webhooks.messages.js';
import type { WebhookLifecycle } from './webhook-lifecycle.js';
import { copyMessage } from '../storage/record-copies.js';
import type { WebhookLifecycleEvent } from '../interfaces/webhook-events.interface.js';
import type {
  WebhookAttempt,
  WebhookDelivery,
  WebhookMessage,
} from '../interfaces/webhook-message.interface.js';
import type { WebhookQueue } from '../interfaces/webhook-queue.interface.js';
import type { WebhookDeliveryFilter, WebhookStore } from '../interfaces/webhook-store.interface.js';

/** A delivery with every attempt made for it, oldest first. */
export interface WebhookDeliveryLog extends WebhookDelivery {
  attemptLog: WebhookAttempt[];
}

/** A message with its per-endpoint deliveries and their attempts. */
export interface WebhookMessageLog extends WebhookMessage {
  deliveries: WebhookDeliveryLog[];
}

/** The delivery log: what was sent where, every attempt, and replays. */
export class WebhookDeliveries {
  /**
   * Lifecycle events (`delivered`, `attempt-failed`, `delivery-exhausted`, `endpoint-disabled`)
   * as an RxJS stream; subscribe in `onModuleInit` to react to them.
   */
  readonly events: Observable<WebhookLifecycleEvent>;

  constructor(
    private readonly store: WebhookStore,
    private readonly queue: WebhookQueue,
    lifecycle: WebhookLifecycle,
  ) {
    this.events = lifecycle.events;
  }

  /** Deliveries (newest first) with their attempts, filtered by message, endpoint, tenant, status. */
  async list(filter: WebhookDeliveryFilter = {}): Promise<WebhookDeliveryLog[]> {
    const deliveries = await this.store.listDeliveries(filter);
    return Promise.all(deliveries.map((delivery) => this.withAttempts(delivery)));
  }

  /** One message with all its deliveries and attempts, or `undefined`. */
  async getMessage(messageId: string): Promise<WebhookMessageLog | undefined> {
    const message = await this.store.getMessage(messageId);
    if (!message) return undefined;
    return { ...copyMessage(message), deliveries: await this.list({ messageId, limit: Infinity }) };
  }

  /**
   * Sends a message again, to one endpoint or to every endpoint it was meant for, with a fresh
   * retry schedule and the same `webhook-id`. Deliveries still pending are left to their own
   * schedule. Resolves to how many deliveries were queued.
   */
  async redeliver(
    messageId: string,
    endpointId?: string,
  ): Promise<{ id: string; deliveries: number }> {
    const message = await this.store.getMessage(messageId);
    if (!message) throw new Error(messageNotFound(messageId));
    const deliveries = await this.store.listDeliveries({ messageId, endpointId, limit: Infinity });
    if (deliveries.length === 0) throw new Error(noDeliveryToRedeliver(messageId, endpointId));
    const now = new Date();
    let queued = 0;
    for (const delivery of deliveries) {
      // A pending delivery has its next attempt queued or in flight already: a second job
      // would start a parallel retry chain, sending the message twice at once.
      if (delivery.status === 'pending') continue;
      // Claim it: of two concurrent replays, only the one that turns it back to pending queues
      // it; the other finds it pending already and leaves it.
      const claimed = await this.store.updateDelivery(
        delivery.id,
        { status: 'pending', scheduleAttempts: 0, nextAttemptAt: now, updatedAt: now },
        { status: delivery.status },
      );
      if (!claimed) continue;
      queued++;
      await this.queue.enqueue({ messageId, endpointId: delivery.endpointId }, 0);
    }
    return { id: messageId, deliveries: queued };
  }

  private async withAttempts(delivery: WebhookDelivery): Promise<WebhookDeliveryLog> {
    // Both are records the store made for this read (see `WebhookStore`): nothing to copy.
    return { ...delivery, attemptLog: await this.store.listAttempts(delivery.id) };
  }
}
