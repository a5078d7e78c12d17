/** Reflector key of `@Webhook()` on a provider class. */
export const WEBHOOK_METADATA = 'webhooks:webhook';
/** Reflector key of `@WebhookPost()` (and siblings) on a provider method. */
export const WEBHOOK_OPERATION_METADATA = 'webhooks:operation';
/** Reflector key listing, on a class, the methods that carry `WEBHOOK_OPERATION_METADATA`. */
export const WEBHOOK_OPERATIONS_METADATA = 'webhooks:operations';

/** Injection token of the `WebhooksModuleOptions` given to `forRoot()` or `forRootAsync()`. */
export const WEBHOOKS_MODULE_OPTIONS = Symbol('WEBHOOKS_MODULE_OPTIONS');

/** Context of every log line the library writes through Nest's `Logger`. */
export const WEBHOOKS_LOGGER_CONTEXT = 'Webhooks';

/** Standard Webhooks header names. */
export const WEBHOOK_ID_HEADER = 'webhook-id';
export const WEBHOOK_TIMESTAMP_HEADER = 'webhook-timestamp';
export const WEBHOOK_SIGNATURE_HEADER = 'webhook-signature';
