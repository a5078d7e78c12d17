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
import type { WebhookLifecycleEvent } from '../interfaces/webhook-events.interface.js';
import type {
  WebhookAttempt,
  WebhookDelivery,
  WebhookMessage,
} from '../interfaces/webhook-message.interface.js';
import type { WebhookQueue } from '../interfaces/webhook-queue.interface.js';
import type { WebhookDeliveryFilter, WebhookStore } from '../interfaces/webhook-store.interface.js';

/** Filter of `WebhookDeliveries.list()`. */
export interface WebhookDeliveryListFilter extends WebhookDeliveryFilter {
  /** Newest first; default 100. */
  limit?: number;
}

/** Deliveries read from the store per round trip when a listing asks for more. */
const PAGE_SIZE = 1000;

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
    /** Whether this process runs the deliveries it makes pending (`worker`). */
    private readonly worker: boolean,
  ) {
    this.events = lifecycle.events;
  }

  /** Refuses every later `redeliver()`: called as the application shuts down. */
  close() {
    this.closed = true;
  }

  /** Deliveries (newest first) with their attempts, filtered by message, endpoint, tenant, status. */
  async list(filter: WebhookDeliveryListFilter = {}): Promise<WebhookDeliveryLog[]> {
    checkDeliveryFilter(filter);
    const { limit = 100, ...where } = filter;
    return this.withAttempts(await this.readDeliveries(where, limit));
  }

  /** One message with all its deliveries and attempts, or `undefined`. */
  async getMessage(messageId: string): Promise<WebhookMessageLog | undefined> {
    checkId(messageId, { call: 'WebhookDeliveries.getMessage', argument: 'messageId' });
    const message = await this.store.getMessage(messageId);
    if (!message) return undefined;
    const deliveries = await this.readDeliveries({ messageId }, Infinity);
    return { ...message, deliveries: await this.withAttempts(deliveries) };
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
    // Pending deliveries are left to their own schedule (a second job would only find them
    // claimed or not due); of two concurrent replays, only the one that turns a delivery back to
    // pending queues it.
    const { found, matched, redelivered } = await this.store.redeliver({
      messageId,
      endpointId,
      now: new Date(),
      notify: !this.worker,
    });
    if (!found) {
      throw new WebhookNotFoundError('message', messageId, messageNotFound(messageId));
    }
    if (matched === 0) {
      throw new WebhookNotFoundError(
        'delivery',
        endpointId ?? messageId,
        noDeliveryToRedeliver(messageId, endpointId),
      );
    }
    if (this.worker && redelivered.length > 0) {
      await this.queue.enqueueAll(
        redelivered.map(({ id, endpointId: to }) => ({ deliveryId: id, endpointId: to })),
      );
    }
    return { id: messageId, deliveries: redelivered.length };
  }

  private assertOpen(messageId: string) {
    if (this.closed) throw new WebhooksShutdownError(redeliverAfterShutdown(messageId));
  }

  /** Up to `limit` deliveries, newest first, read page by page. */
  private async readDeliveries(
    filter: WebhookDeliveryFilter,
    limit: number,
  ): Promise<WebhookDelivery[]> {
    const found: WebhookDelivery[] = [];
    let after: string | null = null;
    do {
      const page = await this.store.listDeliveries(filter, {
        limit: Math.min(PAGE_SIZE, limit - found.length),
        after,
      });
      found.push(...page.items);
      after = page.next;
    } while (after !== null && found.length < limit);
    return found;
  }

  /** The deliveries with their attempts, read in one call. */
  private async withAttempts(deliveries: WebhookDelivery[]): Promise<WebhookDeliveryLog[]> {
    if (deliveries.length === 0) return [];
    // Records the store made for this read (see `WebhookStore`): nothing to copy.
    const attempts = await this.store.listAttempts(deliveries.map((delivery) => delivery.id));
    return deliveries.map((delivery) => ({
      ...delivery,
      attemptLog: attempts.get(delivery.id) ?? [],
    }));
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
