import type { StoredWebhookEndpoint } from '../../lib/interfaces/webhook-endpoint.interface.js';

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
