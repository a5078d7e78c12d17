import { HttpException } from '@nestjs/common';
import {
  UnknownWebhookError,
  WebhookArgumentError,
  WebhookEndpointUrlError,
  WebhookNotFoundError,
  WebhooksShutdownError,
  WebhookStoreError,
} from '../webhooks.errors.js';
import { portalNotFound, portalServerError, portalUnavailable } from '../webhooks.messages.js';

/** An answer other than success, with the message the portal's user reads. */
export class PortalHttpError extends Error {
  override readonly name = 'PortalHttpError';

  constructor(
    readonly status: number,
    message: string,
    /** Extra headers of the answer (`WWW-Authenticate` of a 401). */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/** The JSON body of an error answer, in the shape Nest's own errors have. */
export interface PortalErrorBody {
  statusCode: number;
  error: string;
  message: string;
}

const REASONS: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  409: 'Conflict',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

/**
 * What the portal answers for an error: the library's own refusals of what was sent become 4xx
 * with their message (which names the offending value and what to do); anything else is a 500
 * whose cause is logged (`log: true`), never shown.
 */
export function toPortalError(error: unknown): PortalHttpError & { log?: boolean } {
  if (error instanceof PortalHttpError) return error;
  // A refusal of the app's own `authorize` (its login check), as Nest's guards throw them.
  if (error instanceof HttpException && error.getStatus() >= 400 && error.getStatus() < 500) {
    return new PortalHttpError(error.getStatus(), error.message);
  }
  if (
    error instanceof WebhookEndpointUrlError ||
    error instanceof UnknownWebhookError ||
    error instanceof WebhookArgumentError
  ) {
    return new PortalHttpError(400, error.message);
  }
  if (error instanceof WebhookNotFoundError) {
    return new PortalHttpError(404, portalNotFound(error.kind, error.id));
  }
  if (
    error instanceof WebhooksShutdownError ||
    (error instanceof WebhookStoreError && error.transient)
  ) {
    return new PortalHttpError(503, portalUnavailable(), { 'retry-after': '5' });
  }
  return Object.assign(new PortalHttpError(500, portalServerError()), { log: true });
}

export function errorBody(error: PortalHttpError): PortalErrorBody {
  return {
    statusCode: error.status,
    error: REASONS[error.status] ?? 'Error',
    message: error.message,
  };
}
