import type { StoredWebhookEndpoint } from '../interfaces/webhook-endpoint.interface.js';
import type { WebhookMessage } from '../interfaces/webhook-message.interface.js';

// Stores may hand out the endpoint and message records they keep (see `WebhookStore`); what
// reaches application code is a copy, Dates included (they are mutable), so nothing the app
// does to it reaches the store.

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
