import { Module, type DynamicModule, type Provider } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
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
import {
  WEBHOOK_EVENT_PUBLISHER,
  WEBHOOK_QUEUE,
  WEBHOOK_STORE,
  WEBHOOK_TRANSPORT,
  WEBHOOKS_MODULE_OPTIONS,
  WEBHOOKS_RESOLVED_OPTIONS,
} from './webhooks.constants.js';
import {
  ASYNC_OPTIONS_TYPE,
  ConfigurableWebhooksModule,
  OPTIONS_TYPE,
} from './webhooks.module-definition.js';
import { resolveOptions, type ResolvedWebhooksOptions } from './webhooks.options.js';
import type { WebhooksModuleOptions } from './interfaces/webhooks-module-options.interface.js';

const providers: Provider[] = [
  {
    provide: WEBHOOKS_RESOLVED_OPTIONS,
    useFactory: (options?: WebhooksModuleOptions) => resolveOptions(options),
    inject: [WEBHOOKS_MODULE_OPTIONS],
  },
  {
    provide: AddressPolicy,
    useFactory: (options: ResolvedWebhooksOptions) => new AddressPolicy(options.allowedNetworks),
    inject: [WEBHOOKS_RESOLVED_OPTIONS],
  },
  {
    provide: UrlPolicy,
    useFactory: (policy: AddressPolicy) => new UrlPolicy(policy),
    inject: [AddressPolicy],
  },
  {
    provide: WEBHOOK_STORE,
    useFactory: ({ retention, idempotencyTtl }: ResolvedWebhooksOptions) =>
      new MemoryWebhookStore({ retention, idempotencyTtl }),
    inject: [WEBHOOKS_RESOLVED_OPTIONS],
  },
  {
    provide: WEBHOOK_QUEUE,
    useFactory: (options: ResolvedWebhooksOptions) =>
      new MemoryWebhookQueue(options.concurrency, options.endpointConcurrency),
    inject: [WEBHOOKS_RESOLVED_OPTIONS],
  },
  {
    // Connections per origin: `concurrency`, not `endpointConcurrency`. Several endpoints can
    // share an origin (one host, many paths), and the queue already caps each endpoint; a
    // smaller pool would make attempts wait for a socket with their timeout running, and
    // time out without having been sent.
    provide: WEBHOOK_TRANSPORT,
    useFactory: (
      { transport, maxResponseBodyBytes, concurrency }: ResolvedWebhooksOptions,
      policy: AddressPolicy,
    ) =>
      transport === 'undici'
        ? new UndiciWebhookTransport(policy, maxResponseBodyBytes, concurrency)
        : new HttpWebhookTransport(policy, maxResponseBodyBytes, concurrency),
    inject: [WEBHOOKS_RESOLVED_OPTIONS, AddressPolicy],
  },
  WebhooksMetadataAccessor,
  WebhooksExplorer,
  WebhookCatalog,
  WebhookLifecycle,
  { provide: WEBHOOK_EVENT_PUBLISHER, useExisting: WebhookLifecycle },
  WebhookPayloadSerializer,
  WebhookDispatcher,
  WebhookEmitter,
  WebhookEndpoints,
  WebhookDeliveries,
];

/** Declares, documents and delivers outgoing webhooks. Global; `forRoot()` needs no options. */
@Module({
  imports: [DiscoveryModule],
  providers,
  exports: [WebhookEmitter, WebhookEndpoints, WebhookDeliveries],
})
export class WebhooksModule extends ConfigurableWebhooksModule {
  static override forRoot(options: typeof OPTIONS_TYPE = {}): DynamicModule {
    return super.forRoot(options);
  }

  static override forRootAsync(options: typeof ASYNC_OPTIONS_TYPE): DynamicModule {
    return super.forRootAsync(options);
  }
}
