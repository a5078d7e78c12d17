export { WebhooksModule } from './webhooks.module.js';
export { Webhook } from './catalog/decorators/webhook.decorator.js';
export {
  WebhookDelete,
  WebhookPatch,
  WebhookPost,
  WebhookPut,
} from './catalog/decorators/webhook-operation.decorator.js';
export { withWebhooks } from './openapi/with-webhooks.js';
export { WebhookEmitter, type EmitOptions } from './delivery/webhook-emitter.js';
export { WebhookEndpoints } from './endpoints/webhook-endpoints.js';
export {
  WebhookDeliveries,
  type WebhookDeliveryListFilter as WebhookDeliveryFilter,
  type WebhookDeliveryLog,
  type WebhookMessageLog,
} from './delivery/webhook-deliveries.js';
export {
  UnknownWebhookError,
  WebhookArgumentError,
  WebhookEncryptionKeyError,
  WebhookEndpointUrlError,
  WebhookNotFoundError,
  WebhookPayloadValidationError,
  WebhooksShutdownError,
  WebhookStoreError,
  WebhookStoreFullError,
} from './webhooks.errors.js';
export type {
  WebhooksMemoryStoreOptions,
  WebhooksModuleOptions,
  WebhooksPgPool,
  WebhooksPostgresStoreOptions,
} from './interfaces/webhooks-module-options.interface.js';
export { webhookMigrations } from './storage/postgres/migrations.js';
export type {
  WebhookBody,
  WebhookMethod,
  WebhookOperationOptions,
  WebhookOptions,
} from './interfaces/webhook-options.interface.js';
export type {
  CreateWebhookEndpoint,
  UpdateWebhookEndpoint,
  WebhookEndpoint,
  WebhookEndpointFilter,
} from './interfaces/webhook-endpoint.interface.js';
export type {
  EmitResult,
  WebhookAttempt,
  WebhookDelivery,
  WebhookDeliveryStatus,
  WebhookMessage,
} from './interfaces/webhook-message.interface.js';
export type {
  WebhookEndpointRef,
  WebhookLifecycleEvent,
} from './interfaces/webhook-events.interface.js';
export { VerifyWebhook, WebhookHeaders } from './receiving/verify-webhook.decorator.js';
export type {
  ResolvedWebhookSecrets,
  VerifyWebhookOptions,
} from './receiving/verify-webhook.options.js';
export type { VerifiedWebhookHeaders } from './receiving/webhook-verifier.js';
export {
  MemoryWebhookDedupeStore,
  RedisWebhookDedupeStore,
  type WebhookDedupeRedis,
  type WebhookDedupeState,
  type WebhookDedupeStore,
} from './receiving/webhook-dedupe.js';
export { signWebhook, type SignWebhookOptions } from './receiving/sign-webhook.js';
export { WebhooksPortalModule } from './portal/webhooks-portal.module.js';
export {
  WebhookPortal,
  type CreatePortalLinkOptions,
  type WebhookPortalLink,
} from './portal/webhook-portal.js';
export type { WebhookPortalAuthorization, WebhooksPortalOptions } from './portal/portal.options.js';
