import type { ValidationError } from 'class-validator';

// Every user-facing text of the library, as small factories, so wording stays consistent
// and tests can assert on exactly what users read. Never put a secret in one of these.

const list = (names: readonly string[]) =>
  names.length ? names.map((name) => `'${name}'`).join(', ') : '(none)';

// --- catalog: declarations found at bootstrap ---------------------------------------------

export const duplicateWebhookOperation = (
  webhook: string,
  method: string,
  first: string,
  second: string,
) =>
  `Webhook '${webhook}' declares ${method.toUpperCase()} twice: in ${first} and in ${second}. ` +
  `Keep one of them, or give the other a different HTTP method or webhook name.`;

export const unknownWebhookBody = (where: string, found: string) =>
  `Cannot tell the request body of webhook operation ${where}: its first parameter's type is ` +
  `${found}. Type the first parameter with a DTO class (not an interface), or pass ` +
  `{ body: YourDto } (or { body: [YourDto] } for an array) to the decorator.`;

export const operationWithoutWebhook = (where: string) =>
  `${where} is decorated as a webhook operation, but its class has no @Webhook(name). ` +
  `Add @Webhook('event-name') to the class.`;

export const webhookWithoutOperations = (webhook: string, className: string) =>
  `Webhook '${webhook}' (${className}) declares no operation. Add a method decorated with ` +
  `@WebhookPost() (or @WebhookPut/@WebhookPatch/@WebhookDelete) whose first parameter is the body DTO.`;

export const webhookMethodRequired = (webhook: string, declared: readonly string[]) =>
  `Webhook '${webhook}' declares several operations (${declared.map((m) => m.toUpperCase()).join(', ')}); ` +
  `say which one to send with emit(event, payload, { method: '${declared[0]}' }).`;

export const webhookMethodUndeclared = (
  webhook: string,
  method: string,
  declared: readonly string[],
) =>
  `Webhook '${webhook}' declares no ${method.toUpperCase()} operation; it declares ` +
  `${declared.map((m) => m.toUpperCase()).join(', ')}.`;

export const invalidWebhookName = (name: unknown, className: string) =>
  `@Webhook() on ${className} needs a non-empty string name (got ${JSON.stringify(name)}), ` +
  `e.g. @Webhook('new-subscription').`;

export const requestScopedWebhook = (className: string) =>
  `${className} is request-scoped; webhook declarations are read from its class, which is ` +
  `fine, but the provider itself is never instantiated by the webhooks module.`;

// --- openapi ------------------------------------------------------------------------------

export const moduleNotImported = () =>
  `withWebhooks(app, document) found no WebhooksModule in this application. ` +
  `Import WebhooksModule.forRoot() in your root module.`;

// --- errors of the public API -------------------------------------------------------------

export const unknownWebhook = (event: string, declared: readonly string[]) =>
  `Unknown webhook '${event}': no @Webhook declares it. Declared webhooks: ${list(declared)}.`;

export const payloadValidationFailed = (event: string, errors: readonly ValidationError[]) => {
  const details = flattenValidationErrors(errors).join('; ');
  return `Payload of webhook '${event}' failed validation, nothing was sent: ${details}.`;
};

export const endpointUrlRejected = (url: string, reason: string) =>
  `Endpoint URL '${url}' was refused: ${reason}.`;

function flattenValidationErrors(errors: readonly ValidationError[], path = ''): string[] {
  return errors.flatMap((error) => {
    const property = path ? `${path}.${error.property}` : error.property;
    const own = Object.values(error.constraints ?? {}).map((text) =>
      text.startsWith(error.property) ? `${property}${text.slice(error.property.length)}` : text,
    );
    return [...own, ...flattenValidationErrors(error.children ?? [], property)];
  });
}

// --- delivery: signing and retries ---------------------------------------------------------

// Strings are quoted so that '' and ' 5' stay visible; NaN and Infinity print as themselves.
const shown = (value: unknown) =>
  typeof value === 'string'
    ? JSON.stringify(value)
    : Array.isArray(value)
      ? 'an array'
      : String(value);

// `reason` describes the shape of the secret only (prefix, alphabet, byte count), never its text.
export const invalidWebhookSecret = (reason: string) =>
  `Webhook secret is malformed: ${reason}. A secret is 'whsec_' followed by the standard base64 ` +
  `of 24 to 64 random bytes; omit it to have one generated, or create one with generateSecret().`;

export const noWebhookSecrets = () =>
  `Cannot sign a webhook without a secret: pass at least one (two or more while rotating).`;

export const invalidWebhookTimestamp = (value: unknown) =>
  `Webhook timestamp must be a non-negative integer number of seconds since the epoch ` +
  `(got ${shown(value)}); use Math.floor(Date.now() / 1000).`;

export const invalidRetryDelays = (value: unknown) =>
  `retryDelays must be an array of milliseconds, e.g. [5000, 300000] (got ${shown(value)}).`;

export const invalidRetryDelay = (value: unknown, index: number) =>
  `retryDelays[${index}] must be a non-negative finite number of milliseconds ` +
  `(got ${shown(value)}). Fix or remove that entry.`;

export const invalidMaxRetryAfter = (value: unknown) =>
  `maxRetryAfterMs must be a non-negative finite number of milliseconds (got ${shown(value)}).`;

export const invalidAttemptNumber = (value: unknown) =>
  `Attempt numbers start at 1 and are integers (got ${shown(value)}).`;
