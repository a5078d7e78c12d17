import { createId } from '../storage/ids.js';
import { WebhooksShutdownError } from '../webhooks.errors.js';
import { emitAfterShutdown } from '../webhooks.messages.js';
import type { WebhookMethod } from '../interfaces/webhook-options.interface.js';
import type { WebhookQueue } from '../interfaces/webhook-queue.interface.js';
import type { WebhookStore } from '../interfaces/webhook-store.interface.js';

/** What a test event is: a body for one operation of a webhook, for one endpoint of a tenant. */
export interface WebhookTestEvent {
  event: string;
  method: WebhookMethod;
  tenant: string;
  endpointId: string;
  /** The JSON body, as it is sent: the operation's documented example. */
  body: string;
}

/**
 * Sends test events (the portal's "send a test event"): a message marked `test`, delivered to
 * one endpoint only, signed and retried like any other. The body is the documented example of
 * the operation rather than an app payload, so it is not validated against the DTO.
 */
export class WebhookTestSender {
  private closed = false;

  constructor(
    private readonly store: WebhookStore,
    private readonly queue: WebhookQueue,
    /** Whether this process runs the deliveries it makes (`worker`). */
    private readonly worker: boolean,
  ) {}

  /** Refuses every later test event: called as the application shuts down. */
  close() {
    this.closed = true;
  }

  /** Resolves to the message id and its delivery (`null`: the endpoint is disabled or gone). */
  async send(test: WebhookTestEvent): Promise<{ messageId: string; deliveryId: string | null }> {
    if (this.closed) throw new WebhooksShutdownError(emitAfterShutdown(test.event));
    const now = new Date();
    const messageId = createId('msg');
    const stored = await this.store.emit({
      message: {
        id: messageId,
        event: test.event,
        method: test.method,
        tenant: test.tenant,
        body: test.body,
        idempotencyKey: null,
        createdAt: now,
        test: true,
      },
      idempotentSince: now,
      notify: !this.worker,
      endpointId: test.endpointId,
    });
    // Without an idempotency key, the message is always a new one.
    const deliveries = stored.inserted ? stored.deliveries : [];
    if (this.worker && deliveries.length > 0) {
      await this.queue.enqueueAll(
        deliveries.map(({ id, endpointId }) => ({ deliveryId: id, endpointId })),
      );
    }
    return { messageId, deliveryId: deliveries[0]?.id ?? null };
  }
}
