import { Logger, type FactoryProvider } from '@nestjs/common';
import { MemoryWebhookQueue } from './delivery/memory-webhook.queue.js';
import { HttpWebhookTransport } from './delivery/transports/http.transport.js';
import {
  UNDICI_IDLE_POOL_MS,
  UndiciWebhookTransport,
} from './delivery/transports/undici.transport.js';
import { AddressPolicy } from './endpoints/address-policy.js';
import { MemoryWebhookStore } from './storage/memory-webhook.store.js';
import {
  WEBHOOK_ADDRESS_POLICY,
  WEBHOOK_QUEUE,
  WEBHOOK_STORE,
  WEBHOOK_TRANSPORT,
  WEBHOOKS_LOGGER_CONTEXT,
  WEBHOOKS_MODULE_OPTIONS,
  WEBHOOKS_RESOLVED_OPTIONS,
} from './webhooks.constants.js';
import { catchAllAllowedNetwork } from './webhooks.messages.js';
import { resolveOptions, type ResolvedWebhooksOptions } from './webhooks.options.js';
import type { Pool } from 'pg';
import type { WebhookQueue } from './interfaces/webhook-queue.interface.js';
import type { WebhookStore } from './interfaces/webhook-store.interface.js';
import type { WebhookTransport } from './interfaces/webhook-transport.interface.js';

// The parts a deployment swaps (the store, the queue, the transport), each a factory provider
// behind a symbol token, chosen from the options. Factory providers cost the bootstrap next to
// nothing: Nest scans the methods of class providers only (see `npm run bench:docs`).

const options: FactoryProvider<ResolvedWebhooksOptions> = {
  provide: WEBHOOKS_RESOLVED_OPTIONS,
  useFactory: (given: unknown) => resolveOptions(given),
  inject: [WEBHOOKS_MODULE_OPTIONS],
};

const addressPolicy: FactoryProvider<AddressPolicy> = {
  provide: WEBHOOK_ADDRESS_POLICY,
  useFactory: ({ allowedNetworks }: ResolvedWebhooksOptions) => {
    const policy = new AddressPolicy(allowedNetworks);
    const logger = new Logger(WEBHOOKS_LOGGER_CONTEXT);
    for (const { entry, family } of policy.catchAll) {
      logger.warn(catchAllAllowedNetwork(entry, family));
    }
    return policy;
  },
  inject: [WEBHOOKS_RESOLVED_OPTIONS],
};

// The PostgreSQL store is loaded only when configured: the embedded default needs no `pg`.
const store: FactoryProvider<WebhookStore | Promise<WebhookStore>> = {
  provide: WEBHOOK_STORE,
  useFactory: async (resolved: ResolvedWebhooksOptions) => {
    if (resolved.store.type === 'memory') return new MemoryWebhookStore(resolved);
    const { PostgresWebhookStore } = await import('./storage/postgres/postgres-webhook.store.js');
    const { pool, connectionString, schema, migrate, encryptionKeys } = resolved.store;
    return PostgresWebhookStore.open({
      // Checked to be one by its shape (`resolveOptions`).
      pool: pool as Pool | undefined,
      connectionString,
      schema,
      migrate,
      encryptionKeys,
      retention: resolved.retention,
      idempotencyTtl: resolved.idempotencyTtl,
    });
  },
  inject: [WEBHOOKS_RESOLVED_OPTIONS],
};

const queue: FactoryProvider<WebhookQueue> = {
  provide: WEBHOOK_QUEUE,
  useFactory: ({ concurrency, endpointConcurrency }: ResolvedWebhooksOptions) =>
    new MemoryWebhookQueue(concurrency, endpointConcurrency),
  inject: [WEBHOOKS_RESOLVED_OPTIONS],
};

// The undici transport keeps a connection pool per endpoint, as large as the number of an
// endpoint's attempts the queue runs at once. The default transport's agents keep theirs per
// host, shared by the endpoints on it (one host, many paths), so as large as the total limit: a
// smaller one would make attempts wait for a socket with their timeout running, and time out
// without having been sent.
const transport: FactoryProvider<WebhookTransport> = {
  provide: WEBHOOK_TRANSPORT,
  useFactory: (resolved: ResolvedWebhooksOptions, addresses: AddressPolicy) =>
    resolved.transport === 'undici'
      ? new UndiciWebhookTransport(addresses, {
          maxResponseBodyBytes: resolved.maxResponseBodyBytes,
          connectionsPerEndpoint: resolved.endpointConcurrency,
          connectTimeoutMs: resolved.timeout,
          idlePoolMs: UNDICI_IDLE_POOL_MS,
        })
      : new HttpWebhookTransport(addresses, resolved.maxResponseBodyBytes, resolved.concurrency),
  inject: [WEBHOOKS_RESOLVED_OPTIONS, WEBHOOK_ADDRESS_POLICY],
};

/** The swappable parts, for the module's providers. */
export const WEBHOOKS_PART_PROVIDERS = [options, addressPolicy, store, queue, transport];
