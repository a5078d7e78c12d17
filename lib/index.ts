export { WebhooksModule } from './webhooks.module.js';
export { Webhook } from './catalog/decorators/webhook.decorator.js';
export {
  WebhookDelete,
  WebhookPatch,
  WebhookPost,
  WebhookPut,
} from './catalog/decorators/webhook-operation.decorator.js';
export { withWebhooks } from './openapi/with-webhooks.js';
export {
  UnknownWebhookError,
  WebhookEndpointUrlError,
  WebhookPayloadValidationError,
} from './webhooks.errors.js';
export type { WebhooksModuleOptions } from './interfaces/webhooks-module-options.interface.js';
export type {
  WebhookBody,
  WebhookMethod,
  WebhookOperationOptions,
  WebhookOptions,
} from './interfaces/webhook-options.interface.js';
