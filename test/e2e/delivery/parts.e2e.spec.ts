import 'reflect-metadata';
import { Test } from '@nestjs/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { UndiciWebhookTransport } from '../../../lib/delivery/transports/undici.transport.js';
import { WebhookEmitter, WebhooksModule } from '../../../lib/index.js';
import { MemoryWebhookStore } from '../../../lib/storage/memory-webhook.store.js';
import { WEBHOOK_STORE, WEBHOOK_TRANSPORT } from '../../../lib/webhooks.constants.js';
import { WebhooksRuntime } from '../../../lib/webhooks.runtime.js';
import { PingWebhook } from '../../fixtures/retry/ping.webhook.js';
import type { WebhookEmitRequest } from '../../../lib/interfaces/webhook-store.interface.js';

// The store, the queue and the transport are providers behind symbol tokens, chosen from the
// options: the seam a durable store (and a test) plugs into.

/** A memory store that counts what it is asked to store. */
class CountingStore extends MemoryWebhookStore {
  inserted = 0;
  override async emit(request: WebhookEmitRequest) {
    this.inserted++;
    return super.emit(request);
  }
}

describe('the module parts as providers', () => {
  const closes: (() => Promise<void>)[] = [];
  afterEach(async () => {
    await Promise.all(closes.splice(0).map((close) => close()));
  });

  it('chooses the transport from the options, behind its token', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [WebhooksModule.forRoot({ transport: 'undici' })],
      providers: [PingWebhook],
    }).compile();
    const app = moduleRef.createNestApplication({ logger: false });
    await app.init();
    closes.push(() => app.close());
    expect(app.get(WEBHOOK_TRANSPORT)).toBeInstanceOf(UndiciWebhookTransport);
    expect(app.get(WebhooksRuntime).store).toBe(app.get(WEBHOOK_STORE));
  });

  it('delivers through a store put in its place with overrideProvider', async () => {
    const store = new CountingStore();
    const moduleRef = await Test.createTestingModule({
      imports: [WebhooksModule.forRoot()],
      providers: [PingWebhook],
    })
      .overrideProvider(WEBHOOK_STORE)
      .useValue(store)
      .compile();
    const app = moduleRef.createNestApplication({ logger: false });
    await app.init();
    closes.push(() => app.close());

    await app.get(WebhookEmitter).emit(PingWebhook, { seq: 1 });

    expect(store.inserted).toBe(1);
  });
});
