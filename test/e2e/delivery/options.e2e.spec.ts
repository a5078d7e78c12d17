import 'reflect-metadata';
import { Injectable, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { describe, expect, it } from 'vitest';
import { WebhooksModule, type WebhooksModuleOptions } from '../../../lib/index.js';
import { CaptureLogger } from '../../fixtures/retry/capture-logger.js';
import { PingWebhook } from '../../fixtures/retry/ping.webhook.js';

// Options are checked when the module is declared (forRoot's argument) or when the app boots
// (everything else, forRootAsync's factory included), never on the first emit.

@Injectable()
class WebhookConfig {
  constructor(readonly options: unknown) {}
}

@Module({
  providers: [{ provide: WebhookConfig, useValue: new WebhookConfig({ timeOut: 5_000 }) }],
  exports: [WebhookConfig],
})
class ConfigModule {}

async function boot(module: ReturnType<typeof WebhooksModule.forRoot>, logger?: CaptureLogger) {
  const builder = Test.createTestingModule({ imports: [module], providers: [PingWebhook] });
  if (logger) builder.setLogger(logger);
  const moduleRef = await builder.compile();
  const app = moduleRef.createNestApplication({ logger: logger ?? false });
  await app.init();
  return app;
}

/** What `forRootAsync({ useClass })` instantiates: Nest's builder calls its `create()`. */
interface WebhooksOptionsFactory {
  create(): WebhooksModuleOptions;
}

const bootFailure = async (module: () => ReturnType<typeof WebhooksModule.forRoot>) => {
  try {
    const app = await boot(module());
    await app.close();
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error('expected the app not to boot');
};

describe('module options at bootstrap', () => {
  it('stops forRoot with a misspelt option, naming the option it meant', async () => {
    const message = await bootFailure(() =>
      WebhooksModule.forRoot({ retryDelay: [10] } as WebhooksModuleOptions),
    );
    expect(message).toContain("WebhooksModule has no option 'retryDelay'");
    expect(message).toContain("did you mean 'retryDelays'?");
  });

  it('stops forRoot with a value out of range', async () => {
    const message = await bootFailure(() => WebhooksModule.forRoot({ concurrency: 1.5 }));
    expect(message).toContain("option 'concurrency' must be a whole number of at least 1");
  });

  it.each([null, 'fast', []])('refuses forRoot(%j) with a clear error', (value) => {
    expect(() => WebhooksModule.forRoot(value as WebhooksModuleOptions)).toThrow(
      'WebhooksModule options must be an object',
    );
  });

  it('checks what a forRootAsync factory returns, as forRoot does', async () => {
    const message = await bootFailure(() =>
      WebhooksModule.forRootAsync({
        imports: [ConfigModule],
        inject: [WebhookConfig],
        useFactory: (config: WebhookConfig) => config.options as WebhooksModuleOptions,
      }),
    );
    expect(message).toContain("no option 'timeOut'; did you mean 'timeout'?");
  });

  it('refuses a forRootAsync factory that returns nothing', async () => {
    const message = await bootFailure(() =>
      WebhooksModule.forRootAsync({
        useFactory: () => undefined as unknown as WebhooksModuleOptions,
      }),
    );
    expect(message).toContain('make useFactory return such an object');
  });

  it('refuses module options given to forRootAsync beside its factory', () => {
    expect(() =>
      WebhooksModule.forRootAsync({
        useFactory: () => ({}),
        timeout: 5_000,
      } as Parameters<typeof WebhooksModule.forRootAsync>[0]),
    ).toThrow("option 'timeout' was given to forRootAsync() itself");
    expect(() =>
      WebhooksModule.forRootAsync({ useFactori: () => ({}) } as unknown as Parameters<
        typeof WebhooksModule.forRootAsync
      >[0]),
    ).toThrow("did you mean 'useFactory'?");
    expect(() => WebhooksModule.forRootAsync({ imports: [] })).toThrow(
      'needs one of useFactory, useClass or useExisting',
    );
    expect(() =>
      WebhooksModule.forRootAsync(
        null as unknown as Parameters<typeof WebhooksModule.forRootAsync>[0],
      ),
    ).toThrow('forRootAsync() takes an object');
  });

  it('checks the options of a forRootAsync useClass or useExisting factory class', async () => {
    @Injectable()
    class Good implements WebhooksOptionsFactory {
      create() {
        return { timeout: 5_000 };
      }
    }
    @Injectable()
    class Misspelt implements WebhooksOptionsFactory {
      create() {
        return { timout: 5_000 } as WebhooksModuleOptions;
      }
    }
    @Module({ providers: [Good], exports: [Good] })
    class FactoryModule {}

    const app = await boot(WebhooksModule.forRootAsync({ useClass: Good }));
    await app.close();
    const existing = await boot(
      WebhooksModule.forRootAsync({ imports: [FactoryModule], useExisting: Good }),
    );
    await existing.close();
    const message = await bootFailure(() => WebhooksModule.forRootAsync({ useClass: Misspelt }));
    expect(message).toContain("no option 'timout'; did you mean 'timeout'?");
  });

  it('accepts options left undefined, as a config object has them', async () => {
    const app = await boot(
      WebhooksModule.forRoot({ timeout: undefined, retryDelays: undefined, store: undefined }),
    );
    await app.close();
  });

  it('boots with isGlobal, and with the durable options in their default form', async () => {
    const app = await boot(
      WebhooksModule.forRoot({
        isGlobal: true,
        store: { type: 'memory' },
        queue: { type: 'memory' },
        worker: true,
      }),
    );
    await app.close();
  });

  it('warns at bootstrap about an allowedNetworks entry that switches the SSRF guard off', async () => {
    const logger = new CaptureLogger();
    const app = await boot(
      WebhooksModule.forRoot({ allowedNetworks: ['127.0.0.0/8', '0.0.0.0/0'] }),
      logger,
    );
    await app.close();
    const warnings = logger.at('warn').filter((line) => line.context === 'Webhooks');
    expect(warnings).toHaveLength(1);
    expect(warnings[0].message).toContain("'0.0.0.0/0', which allows every IPv4 address");
  });
});
