import 'reflect-metadata';
import { Test } from '@nestjs/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { UndiciWebhookTransport } from '../../../lib/delivery/transports/undici.transport.js';
import { WebhookEmitter, WebhookEndpoints, WebhooksModule } from '../../../lib/index.js';
import { MemoryWebhookStore } from '../../../lib/storage/memory-webhook.store.js';
import { WEBHOOK_STORE, WEBHOOK_TRANSPORT } from '../../../lib/webhooks.constants.js';
import { WebhooksRuntime } from '../../../lib/webhooks.runtime.js';
import { PingWebhook } from '../../fixtures/retry/ping.webhook.js';
import type {
  WebhookEmitRequest,
  WebhookLease,
} from '../../../lib/interfaces/webhook-store.interface.js';
import { startReceiver } from '../../support/receiver.js';

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

/** A memory store whose first claim answers only after `delayMs`, as a busy pool would. */
class SlowFirstClaimStore extends MemoryWebhookStore {
  claims = 0;
  constructor(private readonly delayMs: number) {
    super();
  }
  override async claim(deliveryId: string, lease: WebhookLease) {
    if (this.claims++ === 0) await new Promise((resolve) => setTimeout(resolve, this.delayMs));
    return super.claim(deliveryId, lease);
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

  it('claims again when a slow claim left a lease too short to cover the attempt', async () => {
    // timeout 200 ms: a lease of 5.2 s, of which an attempt needs 1.2 s left to start.
    const store = new SlowFirstClaimStore(4_300);
    const receiver = await startReceiver();
    closes.push(() => receiver.close());
    const moduleRef = await Test.createTestingModule({
      imports: [WebhooksModule.forRoot({ allowedNetworks: ['127.0.0.0/8'], timeout: 200 })],
      providers: [PingWebhook],
    })
      .overrideProvider(WEBHOOK_STORE)
      .useValue(store)
      .compile();
    const app = moduleRef.createNestApplication({ logger: false });
    await app.init();
    closes.push(() => app.close());
    await app.get(WebhookEndpoints).add({ url: `${receiver.url}/hook`, events: ['ping'] });

    await app.get(WebhookEmitter).emit(PingWebhook, { seq: 1 });
    await receiver.waitFor(1, 10_000);

    expect(store.claims).toBe(2);
    expect(receiver.requests).toHaveLength(1);
  }, 15_000);
});
