import type { Observable } from 'rxjs';
import {
  ANY_STRING,
  checkChoiceField,
  checkFields,
  checkId,
  checkLimitField,
  checkStringField,
  NON_EMPTY,
  NULLABLE,
} from '../webhooks.arguments.js';
import { WebhookNotFoundError, WebhooksShutdownError } from '../webhooks.errors.js';
import {
  messageNotFound,
  noDeliveryToRedeliver,
  redeliverAfterShutdown,
} from '../webhooks.messages.js';
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
  private closed = false;

  constructor(
    private readonly store: WebhookStore,
    private readonly queue: WebhookQueue,
    lifecycle: WebhookLifecycle,
  ) {
    this.events = lifecycle.events;
  }

  /** Refuses every later `redeliver()`: called as the application shuts down. */
  close() {
    this.closed = true;
  }

  /** Deliveries (newest first) with their attempts, filtered by message, endpoint, tenant, status. */
  async list(filter: WebhookDeliveryFilter = {}): Promise<WebhookDeliveryLog[]> {
    checkDeliveryFilter(filter);
    const deliveries = await this.store.listDeliveries(filter);
    return Promise.all(deliveries.map((delivery) => this.withAttempts(delivery)));
  }

  /** One message with all its deliveries and attempts, or `undefined`. */
  async getMessage(messageId: string): Promise<WebhookMessageLog | undefined> {
    checkId(messageId, { call: 'WebhookDeliveries.getMessage', argument: 'messageId' });
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
    checkId(messageId, { call: 'WebhookDeliveries.redeliver', argument: 'messageId' });
    if (endpointId !== undefined) {
      checkId(endpointId, { call: 'WebhookDeliveries.redeliver', argument: 'endpointId' });
    }
    this.assertOpen(messageId);
    const message = await this.store.getMessage(messageId);
    if (!message) {
      throw new WebhookNotFoundError('message', messageId, messageNotFound(messageId));
    }
    const deliveries = await this.store.listDeliveries({ messageId, endpointId, limit: Infinity });
    if (deliveries.length === 0) {
      throw new WebhookNotFoundError(
        'delivery',
        endpointId ?? messageId,
        noDeliveryToRedeliver(messageId, endpointId),
      );
    }
    // Again: the shutdown may have begun while the log was read.
    this.assertOpen(messageId);
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

  private assertOpen(messageId: string) {
    if (this.closed) throw new WebhooksShutdownError(redeliverAfterShutdown(messageId));
  }

  private async withAttempts(delivery: WebhookDelivery): Promise<WebhookDeliveryLog> {
    // Both are records the store made for this read (see `WebhookStore`): nothing to copy.
    return { ...delivery, attemptLog: await this.store.listAttempts(delivery.id) };
  }
}

const FILTER_FIELDS = ['messageId', 'endpointId', 'tenant', 'event', 'status', 'limit'] as const;
const STATUSES = ['pending', 'delivered', 'failed'] as const;

function checkDeliveryFilter(filter: unknown): void {
  const site = { call: 'WebhookDeliveries.list', argument: 'filter' };
  const fields = checkFields(filter, site, FILTER_FIELDS);
  checkStringField(fields, 'messageId', site, NON_EMPTY);
  checkStringField(fields, 'endpointId', site, NON_EMPTY);
  checkStringField(fields, 'tenant', site, NULLABLE);
  checkStringField(fields, 'event', site, ANY_STRING);
  checkChoiceField(fields, 'status', site, STATUSES);
  checkLimitField(fields, 'limit', site, 1);
}
