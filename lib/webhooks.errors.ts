import type { ValidationError } from 'class-validator';
import {
  payloadValidationFailed,
  unknownWebhook,
  endpointUrlRejected,
} from './webhooks.messages.js';

/** `emit` rejects with it when the payload fails the DTO's class-validator rules; nothing is sent. */
export class WebhookPayloadValidationError extends Error {
  override readonly name = 'WebhookPayloadValidationError';

  constructor(
    readonly event: string,
    readonly errors: ValidationError[],
  ) {
    super(payloadValidationFailed(event, errors));
  }
}

/** `emit` and `WebhookEndpoints.add` reject with it for an event that no `@Webhook` declares. */
export class UnknownWebhookError extends Error {
  override readonly name = 'UnknownWebhookError';

  constructor(
    readonly event: string,
    readonly declared: readonly string[],
  ) {
    super(unknownWebhook(event, declared));
  }
}

/** `WebhookEndpoints.add/update` reject with it for a URL the address policy refuses. */
export class WebhookEndpointUrlError extends Error {
  override readonly name = 'WebhookEndpointUrlError';

  constructor(
    readonly url: string,
    readonly reason: string,
  ) {
    super(endpointUrlRejected(url, reason));
  }
}
