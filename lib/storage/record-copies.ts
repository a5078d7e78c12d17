import type { StoredWebhookEndpoint } from '../interfaces/webhook-endpoint.interface.js';
import type { WebhookAttempt, WebhookMessage } from '../interfaces/webhook-message.interface.js';

// A store hands out records made for the call and keeps none it was given (see `WebhookStore`):
// these copies take every mutable part apart, Dates and arrays included, so that nothing the
// caller does to its record reaches the store, nor the other way round.

const copyDate = <T>(date: T): T => (date instanceof Date ? new Date(date.getTime()) : date) as T;

export const copyEndpoint = (endpoint: StoredWebhookEndpoint): StoredWebhookEndpoint => ({
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

export const copyMessage = (message: WebhookMessage): WebhookMessage => ({
  ...message,
  createdAt: copyDate(message.createdAt),
});

export const copyAttempt = (attempt: WebhookAttempt): WebhookAttempt => ({
  ...attempt,
  startedAt: copyDate(attempt.startedAt),
});
