import type {
  BeforeApplicationShutdown,
  OnApplicationBootstrap,
  OnApplicationShutdown,
  OnModuleInit,
} from '@nestjs/common';
import { DiscoveryService, type ModulesContainer, type Reflector } from '@nestjs/core';
import { WebhookCatalog } from './catalog/webhook-catalog.js';
import { WebhooksMetadataAccessor } from './catalog/webhooks-metadata.accessor.js';
import { WebhooksExplorer } from './catalog/webhooks.explorer.js';
import { WebhookDeliveries } from './delivery/webhook-deliveries.js';
import { WebhookDispatcher } from './delivery/webhook-dispatcher.js';
import { WebhookEmitter } from './delivery/webhook-emitter.js';
import { WebhookLifecycle } from './delivery/webhook-lifecycle.js';
import { WebhookPayloadSerializer } from './delivery/webhook-payload.js';
import { WebhookTestSender } from './delivery/webhook-test-sender.js';
import type { AddressPolicy } from './endpoints/address-policy.js';
import { UrlPolicy } from './endpoints/url-policy.js';
import { WebhookEndpoints } from './endpoints/webhook-endpoints.js';
import type { WebhookQueue } from './interfaces/webhook-queue.interface.js';
import type { WebhookStore } from './interfaces/webhook-store.interface.js';
import type { WebhookTransport } from './interfaces/webhook-transport.interface.js';
import type { ResolvedWebhooksOptions } from './webhooks.options.js';

/**
 * The module's parts, wired together in one provider, and the lifecycle hooks that start and
 * stop them in order. What a deployment swaps (the store, the queue, the transport) comes in
 * from factory providers chosen from the options (`webhooks.providers.ts`); the rest is made
 * here.
 *
 * One provider rather than one class provider per part: Nest's bootstrap reads every class
 * provider's constructor and scans all its methods for guards, pipes and interceptors, which for
 * the module's dozen parts was most of what `WebhooksModule` added to an app's bootstrap (see
 * `npm run bench:docs`); factory providers are not scanned. The public services are providers
 * that read their instance from here. For the same reason it makes core's `DiscoveryService`
 * itself, from the `ModulesContainer` that every app has, instead of importing
 * `DiscoveryModule` (a module and two providers more).
 */
export class WebhooksRuntime
  implements OnModuleInit, OnApplicationBootstrap, BeforeApplicationShutdown, OnApplicationShutdown
{
  readonly catalog: WebhookCatalog;
  readonly store: WebhookStore;
  readonly queue: WebhookQueue;
  readonly lifecycle = new WebhookLifecycle();
  readonly dispatcher: WebhookDispatcher;
  readonly emitter: WebhookEmitter;
  readonly endpoints: WebhookEndpoints;
  readonly deliveries: WebhookDeliveries;
  readonly tests: WebhookTestSender;
  private readonly worker: boolean;

  constructor(
    options: ResolvedWebhooksOptions,
    parts: { store: WebhookStore; queue: WebhookQueue; transport: WebhookTransport },
    addresses: AddressPolicy,
    modules: ModulesContainer,
    reflector: Reflector,
  ) {
    const accessor = new WebhooksMetadataAccessor(reflector);
    this.catalog = new WebhookCatalog(
      new WebhooksExplorer(new DiscoveryService(modules), accessor),
      accessor,
    );
    this.store = parts.store;
    this.queue = parts.queue;
    const { transport } = parts;

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
    this.deliveries = new WebhookDeliveries(this.store, this.queue, this.lifecycle, options.worker);
    this.tests = new WebhookTestSender(this.store, this.queue, options.worker);
    this.worker = options.worker;
  }

  // Every provider is instantiated by now (as `@nestjs/schedule` relies on too): a mistake in a
  // declaration stops `app.init()`, even in an app that never documents its webhooks. Read
  // before, by `withWebhooks`, the declarations are not read again.
  onModuleInit() {
    this.catalog.names();
  }

  // A process with `worker: false` claims nothing: it emits and manages only.
  async onApplicationBootstrap() {
    if (this.worker) await this.dispatcher.start();
  }

  async beforeApplicationShutdown() {
    // The emitter and replays refuse first: a message stored or a delivery made pending once
    // the queue stops would be reported as queued but never sent (or, with a durable store,
    // sent by surprise after a restart).
    this.emitter.close();
    this.deliveries.close();
    this.tests.close();
    await this.dispatcher.stop();
  }

  // Last, so that subscribers hear the events of the attempts that finished while draining.
  async onApplicationShutdown() {
    this.lifecycle.complete();
    await this.store.close();
  }
}
