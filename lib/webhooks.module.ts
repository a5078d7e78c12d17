import { Module, type DynamicModule } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { WebhookCatalog } from './catalog/webhook-catalog.js';
import { WebhooksMetadataAccessor } from './catalog/webhooks-metadata.accessor.js';
import { WebhooksExplorer } from './catalog/webhooks.explorer.js';
import {
  ASYNC_OPTIONS_TYPE,
  ConfigurableWebhooksModule,
  OPTIONS_TYPE,
} from './webhooks.module-definition.js';

/** Declares, documents and delivers outgoing webhooks. Global; `forRoot()` needs no options. */
@Module({
  imports: [DiscoveryModule],
  providers: [WebhooksMetadataAccessor, WebhooksExplorer, WebhookCatalog],
  exports: [WebhookCatalog],
})
export class WebhooksModule extends ConfigurableWebhooksModule {
  static override forRoot(options: typeof OPTIONS_TYPE = {}): DynamicModule {
    return super.forRoot(options);
  }

  static override forRootAsync(options: typeof ASYNC_OPTIONS_TYPE): DynamicModule {
    return super.forRootAsync(options);
  }
}
