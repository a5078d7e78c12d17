import type { ValidationError } from 'class-validator';
import {
  payloadValidationFailed,
  unknownWebhook,
  endpointUrlRejected,
} from './webhooks.messages.js';

/**
 * `emit` rejects with it when the payload fails the DTO's class-validator rules, or holds a cycle
 * in what the DTO documents (which JSON cannot write); nothing is sent. Its errors carry no
 * values of the payload.
 */
export class WebhookPayloadValidationError extends Error {
  override readonly name = 'WebhookPayloadValidationError';

  constructor(
    readonly event: string,
    readonly errors: ValidationError[],
  ) {
    super(payloadValidationFailed(event, errors));
    withoutPayload(errors);
  }
}

/**
 * Drops what class-validator may keep of the payload in its errors, at every depth: the object
 * validated (`target`) and the value found (`value`, a whole nested object where a nested DTO
 * failed, undeclared fields included), so that logging or serializing the error leaks neither.
 */
function withoutPayload(errors: readonly ValidationError[]): void {
  for (const error of errors) {
    delete error.target;
    delete error.value;
    withoutPayload(error.children ?? []);
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

/**
 * A public method was given an argument of the wrong type or shape (`argument` names it, e.g.
 * `options.tenant`); nothing was stored or changed.
 */
export class WebhookArgumentError extends TypeError {
  override readonly name = 'WebhookArgumentError';
  readonly code = 'ERR_WEBHOOK_INVALID_ARGUMENT';

  constructor(
    readonly argument: string,
    message: string,
  ) {
    super(message);
  }
}

/** No endpoint, message or delivery has the id given; nothing was changed. */
export class WebhookNotFoundError extends Error {
  override readonly name = 'WebhookNotFoundError';
  readonly code = 'ERR_WEBHOOK_NOT_FOUND';

  constructor(
    readonly kind: 'endpoint' | 'message' | 'delivery',
    readonly id: string,
    message: string,
  ) {
    super(message);
  }
}

/** `emit` and `redeliver` reject with it once the application is shutting down; nothing is stored. */
export class WebhooksShutdownError extends Error {
  override readonly name = 'WebhooksShutdownError';
  readonly code = 'ERR_WEBHOOKS_SHUTTING_DOWN';
}

/**
 * `emit` rejects with it when the in-memory store has no room left (`maxStoreBytes`) that it may
 * free: everything it holds is pending. Nothing was stored or sent.
 */
export class WebhookStoreFullError extends Error {
  override readonly name = 'WebhookStoreFullError';
  readonly code = 'ERR_WEBHOOK_STORE_FULL';
}

/**
 * A call to a database store failed (the PostgreSQL store: the connection, or the statement);
 * nothing of that call was stored, since each is one statement or transaction. `transient`
 * says the connection failed rather than the statement, so the same call may succeed later
 * (an `emit` with an `idempotencyKey` can be retried safely). The driver's error is the `cause`.
 */
export class WebhookStoreError extends Error {
  override readonly name = 'WebhookStoreError';
  readonly code = 'ERR_WEBHOOK_STORE';

  constructor(
    message: string,
    readonly transient: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * An endpoint secret stored encrypted (`store.encryptionKey`) could not be read: the key it was
 * sealed with (`keyId`) is not in the configured list, or the value does not open under it
 * (altered, or copied from another endpoint's row). The message names the endpoint and the key
 * id, never a secret or a key.
 */
export class WebhookEncryptionKeyError extends Error {
  override readonly name = 'WebhookEncryptionKeyError';
  readonly code = 'ERR_WEBHOOK_ENCRYPTION_KEY';

  constructor(
    message: string,
    readonly keyId: string,
  ) {
    super(message);
  }
}
