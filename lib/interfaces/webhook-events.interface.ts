import type { WebhookAttempt, WebhookDelivery } from './webhook-message.interface.js';

/** An endpoint as lifecycle events show it: never its secret. */
export interface WebhookEndpointRef {
  id: string;
  url: string;
  tenant: string | null;
}

/** Something that happened to a delivery or an endpoint; see `WebhookDeliveries.events`. */
export type WebhookLifecycleEvent =
  | { type: 'delivered'; delivery: WebhookDelivery; attempt: WebhookAttempt }
  | {
      type: 'attempt-failed';
      delivery: WebhookDelivery;
      attempt: WebhookAttempt;
      /** When the next attempt is due (a last failed attempt is `delivery-exhausted` instead). */
      nextAttemptAt: Date;
    }
  | { type: 'delivery-exhausted'; delivery: WebhookDelivery; attempt: WebhookAttempt | null }
  | { type: 'endpoint-disabled'; endpoint: WebhookEndpointRef; reason: string };

/** Publishes lifecycle events to `WebhookDeliveries.events`. */
export interface WebhookEventPublisher {
  publish(event: WebhookLifecycleEvent): void;
}
