import {
  Logger,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { DiscoveryService, type ModulesContainer, type Reflector } from '@nestjs/core';
import { WebhookCatalog } from './catalog/webhook-catalog.js';
import { WebhooksMetadataAccessor } from './catalog/webhooks-metadata.accessor.js';
import { WebhooksExplorer } from './catalog/webhooks.explorer.js';
import { MemoryWebhookQueue } from './delivery/memory-webhook.queue.js';
import { HttpWebhookTransport } from './delivery/transports/http.transport.js';
import { UndiciWebhookTransport } from './delivery/transports/undici.transport.js';
import { WebhookDeliveries } from './delivery/webhook-deliveries.js';
import { WebhookDispatcher } from './delivery/webhook-dispatcher.js';
import { WebhookEmitter } from './delivery/webhook-emitter.js';
import { WebhookLifecycle } from './delivery/webhook-lifecycle.js';
import { WebhookPayloadSerializer } from './delivery/webhook-payload.js';
import { AddressPolicy } from './endpoints/address-policy.js';
import { UrlPolicy } from './endpoints/url-policy.js';
import { WebhookEndpoints } from './endpoints/webhook-endpoints.js';
import { MemoryWebhookStore } from './storage/memory-webhook.store.js';
import { WEBHOOKS_LOGGER_CONTEXT } from './webhooks.constants.js';
import { catchAllAllowedNetwork } from './webhooks.messages.js';
import { resolveOptions } from './webhooks.options.js';
import type { WebhookQueue } from './interfaces/webhook-queue.interface.js';
import type { WebhookStore } from './interfaces/webhook-store.interface.js';
import type { WebhooksModuleOptions } from './interfaces/webhooks-module-options.interface.js';

/**
 * The module's parts, wired together by hand in one provider, and the lifecycle hooks that
 * start and stop them in order.
 *
 * One provider rather than one per part: Nest's bootstrap reads every class provider's
 * constructor and scans all its methods for guards, pipes and interceptors, which for the
 * module's dozen parts was most of what `WebhooksModule` added to an app's bootstrap (see
 * `npm run bench:docs`). The public services are providers that read their instance from here.
 * For the same reason it makes core's `DiscoveryService` itself, from the `ModulesContainer`
 * that every app has, instead of importing `DiscoveryModule` (a module and two providers more).
 */
export class WebhooksRuntime
  implements OnApplicationBootstrap, BeforeApplicationShutdown, OnApplicationShutdown
{
  readonly catalog: WebhookCatalog;
  readonly store: WebhookStore;
  readonly queue: WebhookQueue;
  readonly lifecycle = new WebhookLifecycle();
  readonly dispatcher: WebhookDispatcher;
  readonly emitter: WebhookEmitter;
  readonly endpoints: WebhookEndpoints;
  readonly deliveries: WebhookDeliveries;
  private readonly logger = new Logger(WEBHOOKS_LOGGER_CONTEXT);

  constructor(
    moduleOptions: WebhooksModuleOptions | undefined,
    modules: ModulesContainer,
    reflector: Reflector,
  ) {
    const options = resolveOptions(moduleOptions);
    const addresses = new AddressPolicy(options.allowedNetworks);
    for (const { entry, family } of addresses.catchAll) {
      this.logger.warn(catchAllAllowedNetwork(entry, family));
    }

    const accessor = new WebhooksMetadataAccessor(reflector);
    this.catalog = new WebhookCatalog(
      new WebhooksExplorer(new DiscoveryService(modules), accessor),
      accessor,
    );
    this.store = new MemoryWebhookStore(options);
    this.queue = new MemoryWebhookQueue(options.concurrency, options.endpointConcurrency);
    // The undici transport keeps a connection pool per endpoint, as large as the number of an
    // endpoint's attempts the queue runs at once. The default transport's agents keep theirs per
    // host, shared by the endpoints on it (one host, many paths), so as large as the total
    // limit: a smaller one would make attempts wait for a socket with their timeout running,
    // and time out without having been sent.
    const transport =
      options.transport === 'undici'
        ? new UndiciWebhookTransport(addresses, {
            maxResponseBodyBytes: options.maxResponseBodyBytes,
            connectionsPerEndpoint: options.endpointConcurrency,
            connectTimeoutMs: options.timeout,
          })
        : new HttpWebhookTransport(addresses, options.maxResponseBodyBytes, options.concurrency);

    this.dispatcher = new WebhookDispatcher(
      this.store,
      this.queue,
      transport,
      options,
      this.lifecycle,
    );
    this.emitter = new WebhookEmitter(
      this.catalog,
      new WebhookPayloadSerializer(accessor),
      this.store,
      this.queue,
      options,
    );
    this.endpoints = new WebhookEndpoints(
      this.catalog,
      new UrlPolicy(addresses),
      this.store,
      options,
      this.lifecycle,
    );
    this.deliveries = new WebhookDeliveries(this.store, this.queue, this.lifecycle);
  }

  onApplicationBootstrap() {
    this.dispatcher.start();
  }

  async beforeApplicationShutdown() {
    // The emitter and replays refuse first: a message stored or a delivery made pending once
    // the queue stops would be reported as queued but never sent (or, with a durable store,
    // sent by surprise after a restart).
    this.emitter.close();
    this.deliveries.close();
    await this.dispatcher.stop();
  }

  // Last, so that subscribers hear the events of the attempts that finished while draining.
  async onApplicationShutdown() {
    this.lifecycle.complete();
    await this.store.close();
  }
}
