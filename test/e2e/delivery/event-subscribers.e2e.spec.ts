import 'reflect-metadata';
import { filter } from 'rxjs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { WebhookLifecycleEvent } from '../../../lib/index.js';
import { deliveryWebhooks } from '../../fixtures/delivery/delivery.webhooks.js';
import { CaptureLogger } from '../../fixtures/retry/capture-logger.js';
import {
  bootDeliveryApp,
  LOOPBACK_TEST_OPTIONS,
  ping,
  settledDeliveries,
  waitUntil,
  type DeliveryApp,
} from '../../support/delivery-app.js';
import { startReceiver, type Receiver } from '../../support/receiver.js';

// A subscriber of WebhookDeliveries.events that throws (the README's WebhookAlerts pattern with
// a bug in notifyCustomer) must not take the process down: RxJS would rethrow its error on a
// timer, an uncaught exception, which vitest reports as an unhandled error and fails the run.

describe('a lifecycle event subscriber that throws', () => {
  let ctx: DeliveryApp;
  let receiver: Receiver;
  let logger: CaptureLogger;

  beforeEach(async () => {
    receiver = await startReceiver();
    logger = new CaptureLogger();
    ctx = await bootDeliveryApp({
      options: LOOPBACK_TEST_OPTIONS,
      providers: deliveryWebhooks,
      logger,
    });
  });

  afterEach(async () => {
    await ctx.close();
    await receiver.close();
  });

  const subscriberErrors = () =>
    logger
      .at('error')
      .filter((line) => line.message.includes('A subscriber of WebhookDeliveries.events threw'));

  it('is logged and isolated: other subscribers and delivery go on', async () => {
    const seen: WebhookLifecycleEvent['type'][] = [];
    ctx.deliveries.events.subscribe(() => {
      throw new Error('notifyCustomer failed');
    });
    ctx.deliveries.events.pipe(filter((event) => event.type === 'delivered')).subscribe({
      next: () => {
        throw new Error('piped subscriber failed');
      },
    });
    ctx.deliveries.events.subscribe((event) => seen.push(event.type));
    await ctx.endpoints.add({ url: `${receiver.url}/hooks`, events: ['ping'] });

    const first = await ctx.emitter.emit('ping', ping(1));
    const second = await ctx.emitter.emit('ping', ping(2));

    for (const { id } of [first, second]) {
      const [delivery] = await settledDeliveries(ctx.deliveries, id);
      expect(delivery.status).toBe('delivered');
    }
    await waitUntil(() => seen.length === 2, 'both delivered events');
    expect(seen).toEqual(['delivered', 'delivered']);
    // Each throw is logged, with what was thrown; the subscribers stay subscribed.
    await waitUntil(() => subscriberErrors().length === 4, 'four logged subscriber errors');
    expect(subscriberErrors()[0].message).toContain('in its next callback');
    expect(
      subscriberErrors()
        .map((line) => line.message)
        .join(),
    ).toContain('Error: piped subscriber failed');
    // Delivery went on: each message was sent once, and the log says delivered.
    expect(receiver.requests).toHaveLength(2);
  });

  it('logs the rejection of an async subscriber (an unhandled rejection otherwise)', async () => {
    ctx.deliveries.events.subscribe(async (event) => {
      await Promise.resolve();
      throw new Error(`notifyCustomer failed on ${event.type}`);
    });
    await ctx.endpoints.add({ url: `${receiver.url}/hooks`, events: ['ping'] });

    const { id } = await ctx.emitter.emit('ping', ping());

    const [delivery] = await settledDeliveries(ctx.deliveries, id);
    expect(delivery.status).toBe('delivered');
    await waitUntil(() => subscriberErrors().length === 1, 'the logged rejection');
    expect(subscriberErrors()[0].message).toContain('notifyCustomer failed on delivered');
  });

  it('logs an error an operator raises when the subscriber has no error handler', async () => {
    ctx.deliveries.events
      .pipe(
        filter(() => {
          throw new Error('predicate failed');
        }),
      )
      .subscribe(() => undefined);
    await ctx.endpoints.add({ url: `${receiver.url}/hooks`, events: ['ping'] });

    const { id } = await ctx.emitter.emit('ping', ping());

    const [delivery] = await settledDeliveries(ctx.deliveries, id);
    expect(delivery.status).toBe('delivered');
    await waitUntil(() => subscriberErrors().length === 1, 'the logged operator error');
    expect(subscriberErrors()[0].message).toContain('in its error callback');
    expect(subscriberErrors()[0].message).toContain('predicate failed');
  });
});
