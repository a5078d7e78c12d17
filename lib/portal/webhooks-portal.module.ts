import {
  ConfigurableModuleBuilder,
  Module,
  type DynamicModule,
  type FactoryProvider,
} from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { WebhooksRuntime } from '../webhooks.runtime.js';
import {
  WEBHOOKS_PORTAL_OPTIONS,
  WEBHOOKS_PORTAL_RESOLVED_OPTIONS,
} from '../webhooks.constants.js';
import { portalNeedsWebhooksModule, portalOptionsNotAnObject } from '../webhooks.messages.js';
import { PortalAccess } from './portal-access.js';
import { PortalApi } from './portal-api.js';
import { PortalCatalog } from './portal-catalog.js';
import { PortalServer } from './portal-server.js';
import {
  resolvePortalOptions,
  type ResolvedPortalOptions,
  type WebhooksPortalOptions,
} from './portal.options.js';
import { WebhookPortal } from './webhook-portal.js';

// forRootAsync is the builder's own: what its factory returns is checked at bootstrap.
const { ConfigurableModuleClass, OPTIONS_TYPE } =
  new ConfigurableModuleBuilder<WebhooksPortalOptions>({
    optionsInjectionToken: WEBHOOKS_PORTAL_OPTIONS,
  })
    .setClassMethodName('forRoot')
    .setExtras({ isGlobal: true }, (definition, extras) => ({
      ...definition,
      global: extras.isGlobal,
    }))
    .build();

/** The runtime of `WebhooksModule`, which the portal cannot work without. */
function requireRuntime(runtime: WebhooksRuntime | undefined): WebhooksRuntime {
  if (!runtime) throw new Error(portalNeedsWebhooksModule());
  return runtime;
}

// Factory providers, as `WebhooksModule`'s are: Nest scans no methods of theirs at bootstrap.
const RUNTIME = { token: WebhooksRuntime, optional: true };

const resolved: FactoryProvider<ResolvedPortalOptions> = {
  provide: WEBHOOKS_PORTAL_RESOLVED_OPTIONS,
  useFactory: (given: unknown) => resolvePortalOptions(given),
  inject: [WEBHOOKS_PORTAL_OPTIONS],
};

const portal: FactoryProvider<WebhookPortal> = {
  provide: WebhookPortal,
  useFactory: (options: ResolvedPortalOptions, runtime: WebhooksRuntime | undefined) =>
    new WebhookPortal(options, requireRuntime(runtime).store),
  inject: [WEBHOOKS_PORTAL_RESOLVED_OPTIONS, RUNTIME],
};

const server: FactoryProvider<PortalServer> = {
  provide: PortalServer,
  useFactory: (
    options: ResolvedPortalOptions,
    runtime: WebhooksRuntime | undefined,
    links: WebhookPortal,
    adapterHost: HttpAdapterHost,
  ) => {
    const { store, endpoints, deliveries, tests, catalog } = requireRuntime(runtime);
    return new PortalServer(
      options,
      new PortalAccess(options, links.links, store),
      new PortalApi(store, endpoints, deliveries, tests, new PortalCatalog(catalog)),
      adapterHost,
    );
  },
  inject: [WEBHOOKS_PORTAL_RESOLVED_OPTIONS, RUNTIME, WebhookPortal, HttpAdapterHost],
};

/**
 * The tenant portal: a page and its JSON API under `path` (default `webhooks/portal`) where each
 * customer manages its own endpoints and reads and replays its delivery log. Needs
 * `WebhooksModule`; global, like it.
 */
@Module({
  providers: [resolved, portal, server],
  exports: [WebhookPortal],
})
export class WebhooksPortalModule extends ConfigurableModuleClass {
  /** The options are checked completely at bootstrap (see `resolvePortalOptions`). */
  static override forRoot(options: typeof OPTIONS_TYPE): DynamicModule {
    if (typeof options !== 'object' || options === null || Array.isArray(options)) {
      throw new TypeError(portalOptionsNotAnObject(options));
    }
    return super.forRoot(options);
  }
}
