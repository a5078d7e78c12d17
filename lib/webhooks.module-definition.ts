import { ConfigurableModuleBuilder } from '@nestjs/common';
import { WEBHOOKS_MODULE_OPTIONS } from './webhooks.constants.js';
import type { WebhooksModuleOptions } from './interfaces/webhooks-module-options.interface.js';

export const {
  ConfigurableModuleClass: ConfigurableWebhooksModule,
  OPTIONS_TYPE,
  ASYNC_OPTIONS_TYPE,
} = new ConfigurableModuleBuilder<WebhooksModuleOptions>({
  optionsInjectionToken: WEBHOOKS_MODULE_OPTIONS,
})
  .setClassMethodName('forRoot')
  .setExtras({ isGlobal: true }, (definition, extras) => ({
    ...definition,
    global: extras.isGlobal,
  }))
  .build();
