import { DEFAULT_RETRY_DELAYS } from './delivery/retry-policy.js';
import { invalidOption } from './webhooks.messages.js';
import type { WebhooksModuleOptions } from './interfaces/webhooks-module-options.interface.js';

const HOUR = 60 * 60 * 1000;

/** The module options with every default filled in; checked once at bootstrap. */
export type ResolvedWebhooksOptions = Required<WebhooksModuleOptions>;

/** Fills in defaults and refuses values that cannot work, naming the option and the value. */
export function resolveOptions(options: WebhooksModuleOptions = {}): ResolvedWebhooksOptions {
  const resolved: ResolvedWebhooksOptions = {
    allowedNetworks: options.allowedNetworks ?? [],
    timeout: options.timeout ?? 15_000,
    retryDelays: options.retryDelays ?? [...DEFAULT_RETRY_DELAYS],
    transport: options.transport ?? 'http',
    concurrency: options.concurrency ?? 100,
    endpointConcurrency: options.endpointConcurrency ?? 10,
    secretRotationGracePeriod: options.secretRotationGracePeriod ?? 24 * HOUR,
    disableEndpointAfter: options.disableEndpointAfter ?? 5 * 24 * HOUR,
    idempotencyTtl: options.idempotencyTtl ?? 24 * HOUR,
    maxResponseBodyBytes: options.maxResponseBodyBytes ?? 64 * 1024,
    shutdownTimeout: options.shutdownTimeout ?? 10_000,
    retention: options.retention ?? 24 * HOUR,
  };
  if (resolved.transport !== 'http' && resolved.transport !== 'undici') {
    throw new Error(invalidOption('transport', resolved.transport, "'http' or 'undici'"));
  }
  for (const name of ['timeout', 'concurrency', 'endpointConcurrency'] as const) {
    const value = resolved[name];
    if (!Number.isFinite(value) || value < 1) {
      throw new Error(invalidOption(name, value, 'a number of at least 1'));
    }
  }
  for (const name of [
    'secretRotationGracePeriod',
    'disableEndpointAfter',
    'idempotencyTtl',
    'maxResponseBodyBytes',
    'shutdownTimeout',
    'retention',
  ] as const) {
    const value = resolved[name];
    if (!Number.isFinite(value) || value < 0) {
      throw new Error(invalidOption(name, value, 'a non-negative number'));
    }
  }
  return resolved;
}
