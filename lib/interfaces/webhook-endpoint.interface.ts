import type { WebhookEncryptionKeyError } from '../webhooks.errors.js';
/** A destination registered for one or more webhooks. */
export interface WebhookEndpoint {
  id: string;
  url: string;
  events: string[];
  /** `whsec_` + base64 key; requests are signed with it. */
  secret: string;
  /** The tenant (customer) it belongs to; `null` for endpoints without one. */
  tenant: string | null;
  description: string | null;
  disabled: boolean;
  /** Why it was disabled (`410 Gone`, failing for too long, or by hand), if it is. */
  disabledReason: string | null;
  createdAt: Date;
  updatedAt: Date;
}

/** What `WebhookEndpoints.add()` takes. */
export interface CreateWebhookEndpoint {
  url: string;
  events: string[];
  secret?: string;
  tenant?: string | null;
  description?: string | null;
}

/** What `WebhookEndpoints.update()` takes; `disabled: false` re-enables an endpoint. */
export interface UpdateWebhookEndpoint {
  url?: string;
  events?: string[];
  description?: string | null;
  disabled?: boolean;
}

/** Filter of `WebhookEndpoints.list()`. */
export interface WebhookEndpointFilter {
  tenant?: string | null;
  event?: string;
  disabled?: boolean;
}

/** A secret replaced by `rotateSecret` that still signs until `expiresAt`. */
export interface RetiredSecret {
  secret: string;
  expiresAt: Date;
}

/** The stored form of an endpoint: what the store keeps beyond the public view. */
export interface StoredWebhookEndpoint extends WebhookEndpoint {
  retiredSecrets: RetiredSecret[];
  /** Start of the current run of failed deliveries; `null` once one succeeds. */
  failingSince: Date | null;
  /**
   * Set by a store that encrypts secrets at rest when a secret of the endpoint (the current
   * one, or a retired one still in its grace period) does not open under its keys: `secret` is
   * then empty and such retired ones are left out, so that reading the endpoint never fails
   * for the others read with it. Nothing may be signed with it.
   */
  unreadableSecret?: WebhookEncryptionKeyError;
}
