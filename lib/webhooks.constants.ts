/** Reflector key of `@Webhook()` on a provider class. */
export const WEBHOOK_METADATA = 'webhooks:webhook';
/** Reflector key of `@WebhookPost()` (and siblings) on a provider method. */
export const WEBHOOK_OPERATION_METADATA = 'webhooks:operation';
/** Reflector key listing, on a class, the methods that carry `WEBHOOK_OPERATION_METADATA`. */
export const WEBHOOK_OPERATIONS_METADATA = 'webhooks:operations';

/** Injection token of the `WebhooksModuleOptions` given to `forRoot()` or `forRootAsync()`. */
export const WEBHOOKS_MODULE_OPTIONS = Symbol('WEBHOOKS_MODULE_OPTIONS');
/** Injection token of the options checked and completed with their defaults. */
export const WEBHOOKS_RESOLVED_OPTIONS = Symbol('WEBHOOKS_RESOLVED_OPTIONS');
/** Injection token of the `WebhookStore` the options choose. */
export const WEBHOOK_STORE = Symbol('WEBHOOK_STORE');
/** Injection token of the `WebhookQueue` the options choose. */
export const WEBHOOK_QUEUE = Symbol('WEBHOOK_QUEUE');
/** Injection token of the `WebhookTransport` the options choose. */
export const WEBHOOK_TRANSPORT = Symbol('WEBHOOK_TRANSPORT');
/** Injection token of the `AddressPolicy` built from `allowedNetworks`. */
export const WEBHOOK_ADDRESS_POLICY = Symbol('WEBHOOK_ADDRESS_POLICY');

/** Context of every log line the library writes through Nest's `Logger`. */
export const WEBHOOKS_LOGGER_CONTEXT = 'Webhooks';

/** Standard Webhooks header names. */
export const WEBHOOK_ID_HEADER = 'webhook-id';
export const WEBHOOK_TIMESTAMP_HEADER = 'webhook-timestamp';
export const WEBHOOK_SIGNATURE_HEADER = 'webhook-signature';

/** Reflector key of `@VerifyWebhook()` on a controller or route: its checked options. */
export const VERIFY_WEBHOOK_METADATA = 'webhooks:verify';

/** Injection token of the `WebhooksPortalOptions` given to `WebhooksPortalModule`. */
export const WEBHOOKS_PORTAL_OPTIONS = Symbol('WEBHOOKS_PORTAL_OPTIONS');
/** Injection token of the portal options checked and completed with their defaults. */
export const WEBHOOKS_PORTAL_RESOLVED_OPTIONS = Symbol('WEBHOOKS_PORTAL_RESOLVED_OPTIONS');
