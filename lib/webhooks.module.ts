import {
  Module,
  type DynamicModule,
  type FactoryProvider,
  type Provider,
  type Type,
} from '@nestjs/common';
import { ModulesContainer, Reflector } from '@nestjs/core';
import { WebhookCatalog } from './catalog/webhook-catalog.js';
import { WebhookDeliveries } from './delivery/webhook-deliveries.js';
import { WebhookEmitter } from './delivery/webhook-emitter.js';
import { WebhookEndpoints } from './endpoints/webhook-endpoints.js';
import {
  WEBHOOK_ADDRESS_POLICY,
  WEBHOOK_QUEUE,
  WEBHOOK_STORE,
  WEBHOOK_TRANSPORT,
  WEBHOOKS_RESOLVED_OPTIONS,
} from './webhooks.constants.js';
import {
  ASYNC_OPTIONS_TYPE,
  ConfigurableWebhooksModule,
  OPTIONS_TYPE,
} from './webhooks.module-definition.js';
import {
  asyncOptionsNotAnObject,
  asyncOptionsWithoutFactory,
  moduleOptionInAsyncOptions,
  nearestName,
  optionsNotAnObject,
  unknownAsyncOption,
} from './webhooks.messages.js';
import { MODULE_OPTION_NAMES, type ResolvedWebhooksOptions } from './webhooks.options.js';
import { WEBHOOKS_PART_PROVIDERS } from './webhooks.providers.js';
import { WebhooksRuntime } from './webhooks.runtime.js';
import type { AddressPolicy } from './endpoints/address-policy.js';
import type { WebhookQueue } from './interfaces/webhook-queue.interface.js';
import type { WebhookStore } from './interfaces/webhook-store.interface.js';
import type { WebhookTransport } from './interfaces/webhook-transport.interface.js';

/** A service the runtime built, injectable by its class. */
function fromRuntime<T>(token: Type<T>, pick: (runtime: WebhooksRuntime) => T): FactoryProvider<T> {
  return { provide: token, useFactory: pick, inject: [WebhooksRuntime] };
}

const providers: Provider[] = [
  ...WEBHOOKS_PART_PROVIDERS,
  {
    provide: WebhooksRuntime,
    useFactory: (
      options: ResolvedWebhooksOptions,
      store: WebhookStore,
      queue: WebhookQueue,
      transport: WebhookTransport,
      addresses: AddressPolicy,
      modules: ModulesContainer,
      reflector: Reflector,
    ) => new WebhooksRuntime(options, { store, queue, transport }, addresses, modules, reflector),
    inject: [
      WEBHOOKS_RESOLVED_OPTIONS,
      WEBHOOK_STORE,
      WEBHOOK_QUEUE,
      WEBHOOK_TRANSPORT,
      WEBHOOK_ADDRESS_POLICY,
      ModulesContainer,
      Reflector,
    ],
  },
  fromRuntime(WebhookCatalog, (runtime) => runtime.catalog),
  fromRuntime(WebhookEmitter, (runtime) => runtime.emitter),
  fromRuntime(WebhookEndpoints, (runtime) => runtime.endpoints),
  fromRuntime(WebhookDeliveries, (runtime) => runtime.deliveries),
];

/** Declares, documents and delivers outgoing webhooks. Global; `forRoot()` needs no options. */
@Module({
  providers,
  // The runtime is exported for WebhooksPortalModule, which is built on its parts.
  exports: [WebhookEmitter, WebhookEndpoints, WebhookDeliveries, WebhooksRuntime],
})
export class WebhooksModule extends ConfigurableWebhooksModule {
  /** The options are checked completely at bootstrap (see `resolveOptions`). */
  static override forRoot(options: typeof OPTIONS_TYPE = {}): DynamicModule {
    // Nest's builder would fail on anything but an object with a bare TypeError.
    if (typeof options !== 'object' || options === null || Array.isArray(options)) {
      throw new Error(optionsNotAnObject(options));
    }
    return super.forRoot(options);
  }

  /** What `useFactory` (or the class's `create()`) returns is checked as `forRoot`'s options. */
  static override forRootAsync(options: typeof ASYNC_OPTIONS_TYPE): DynamicModule {
    checkAsyncOptions(options);
    return super.forRootAsync(options);
  }
}

const ASYNC_OPTION_NAMES: readonly string[] = [
  'imports',
  'inject',
  'useFactory',
  'useClass',
  'useExisting',
  'provideInjectionTokensFrom',
  'isGlobal',
];

// Nest's builder takes any other key as an "extra" without a word: a module option put here
// instead of in what useFactory returns, or a misspelt `useFactory`, would be silently ignored.
// A key that is neither is left to Nest, which may know it.
function checkAsyncOptions(options: unknown): void {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new Error(asyncOptionsNotAnObject(options));
  }
  for (const name of Object.keys(options)) {
    if (ASYNC_OPTION_NAMES.includes(name)) continue;
    if (MODULE_OPTION_NAMES.includes(name)) throw new Error(moduleOptionInAsyncOptions(name));
    const nearest = nearestName(name, ASYNC_OPTION_NAMES);
    if (nearest) throw new Error(unknownAsyncOption(name, nearest));
  }
  const { useFactory, useClass, useExisting } = options as Record<string, unknown>;
  if (!useFactory && !useClass && !useExisting) throw new Error(asyncOptionsWithoutFactory());
}
