import 'reflect-metadata';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { WebhookStoreFullError, type WebhooksModuleOptions } from '../../../lib/index.js';
import { deliveryWebhooks } from '../../fixtures/delivery/delivery.webhooks.js';
import {
  bootDeliveryApp,
  LOOPBACK_TEST_OPTIONS,
  ping,
  settledDeliveries,
  waitUntil,
  type DeliveryApp,
} from '../../support/delivery-app.js';
import { startReceiver, type Receiver } from '../../support/receiver.js';

// The in-memory store is bounded: by `retention` on a timer, and by `maxStoreBytes`, within
// which it forgets finished messages early and, once only pending ones are left, refuses new
// messages rather than drop an accepted one.

describe('the in-memory store under load', () => {
  let ctx: DeliveryApp;
  let receiver: Receiver;

  const boot = async (options: WebhooksModuleOptions) => {
    ctx = await bootDeliveryApp({
      options: { ...LOOPBACK_TEST_OPTIONS, ...options },
      providers: deliveryWebhooks,
    });
    await ctx.endpoints.add({ url: `${receiver.url}/hooks`, events: ['ping'] });
  };

  beforeEach(async () => {
    receiver = await startReceiver();
  });

  afterEach(async () => {
    await ctx.close();
    await receiver.close();
  });

  it('forgets the oldest delivered messages once maxStoreBytes is reached', async () => {
    await boot({ maxStoreBytes: 20_000 });
    const ids: string[] = [];
    for (let sequence = 1; sequence <= 100; sequence++) {
      const { id } = await ctx.emitter.emit('ping', ping(sequence));
      ids.push(id);
      await settledDeliveries(ctx.deliveries, id);
    }

    expect(receiver.requests).toHaveLength(100);
    expect(await ctx.deliveries.getMessage(ids[0])).toBeUndefined();
    expect(await ctx.deliveries.getMessage(ids[99])).toBeDefined();
    const kept = await ctx.deliveries.list({ limit: Infinity });
    expect(kept.length).toBeGreaterThan(5);
    expect(kept.length).toBeLessThan(100);
  });

  it('refuses an emit when only pending deliveries are left, and accepts again once they finish', async () => {
    const held: (() => void)[] = [];
    receiver.behave(
      (_request, response) =>
        new Promise<void>((resolve) =>
          held.push(() => {
            response.statusCode = 204;
            response.end();
            resolve();
          }),
        ),
    );
    await boot({ maxStoreBytes: 4_000, timeout: 10_000 });

    const accepted: string[] = [];
    let refusal: unknown;
    for (let sequence = 1; sequence <= 20 && !refusal; sequence++) {
      try {
        accepted.push((await ctx.emitter.emit('ping', ping(sequence))).id);
      } catch (error) {
        refusal = error;
      }
    }
    expect(refusal).toBeInstanceOf(WebhookStoreFullError);
    expect((refusal as Error).message).toContain('nothing was stored or sent');
    expect(accepted.length).toBeGreaterThan(0);
    // Every accepted message is still on its way; the refused one went nowhere.
    await waitUntil(() => receiver.requests.length === accepted.length, 'the accepted requests');
    for (const id of accepted) expect(await ctx.deliveries.getMessage(id)).toBeDefined();

    for (const release of held.splice(0)) release();
    await settledDeliveries(ctx.deliveries, accepted[accepted.length - 1]);
    receiver.behave(() => undefined);
    const { id } = await ctx.emitter.emit('ping', ping(99));
    const [delivery] = await settledDeliveries(ctx.deliveries, id);
    expect(delivery.status).toBe('delivered');
    expect(receiver.requests).toHaveLength(accepted.length + 1);
  });

  it('forgets finished messages past their retention with no further emit', async () => {
    await boot({ retention: 0 });
    const { id } = await ctx.emitter.emit('ping', ping());
    await settledDeliveries(ctx.deliveries, id);

    // The store prunes on a timer (every second for this retention), so a process that goes
    // quiet still forgets.
    await waitUntil(
      async () => (await ctx.deliveries.getMessage(id)) === undefined,
      'the message to be pruned',
      { timeoutMs: 5_000 },
    );
  });
});
