import type { StoredWebhookEndpoint } from '../../lib/interfaces/webhook-endpoint.interface.js';
import type { WebhookMessage } from '../../lib/interfaces/webhook-message.interface.js';

/** An enabled endpoint as a store keeps it, subscribed to `ping`; `overrides` change any field. */
export function storedEndpoint(
  overrides: Partial<StoredWebhookEndpoint> = {},
): StoredWebhookEndpoint {
  const now = new Date();
  return {
    id: 'ep_test',
    url: 'https://example.com/hooks',
    events: ['ping'],
    secret: 'whsec_c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0',
    tenant: null,
    description: null,
    disabled: false,
    disabledReason: null,
    createdAt: now,
    updatedAt: now,
    retiredSecrets: [],
    failingSince: null,
    ...overrides,
  };
}

/** A message of the `ping` webhook as emitted now, without a tenant or key; `overrides` change any field. */
export function storedMessage(overrides: Partial<WebhookMessage> = {}): WebhookMessage {
  return {
    id: 'msg_test',
    event: 'ping',
    method: 'post',
    tenant: null,
    body: '{"message":"ping"}',
    idempotencyKey: null,
    createdAt: new Date(),
    ...overrides,
  };
}
