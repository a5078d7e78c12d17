import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisWebhookDedupeStore, signWebhook } from '../../../lib/index.js';
import {
  SECRET_A,
  postWebhook,
  startReceiverApp,
  SubscriptionCreatedWebhook,
  type ReceiverApp,
} from '../../fixtures/receiving/receiver-app.js';
import { bootDeliveryApp, waitUntil } from '../../support/delivery-app.js';

// @VerifyWebhook beyond one app: what our own sender sends, dedupe shared through Redis by two
// replicas of a receiver, and an app made without rawBody.

const BODY = JSON.stringify({ username: 'rick', monthly_fee: 9.99 });

const post = (url: string, headers: Record<string, string>, body = BODY) =>
  postWebhook(url, headers, body);

describe.each(['express', 'fastify'] as const)('receiving webhooks on %s', (adapter) => {
  const redis = new Redis(process.env.WEBHOOKS_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379', {
    lazyConnect: true,
  });
  // Keys of this test run only, removed at the end.
  const prefix = `test:nestjs-webhooks:${randomBytes(6).toString('hex')}:`;
  const receivers: ReceiverApp[] = [];

  beforeAll(async () => {
    await redis.connect();
    const store = new RedisWebhookDedupeStore(redis, { prefix });
    receivers.push(
      await startReceiverApp({ adapter, dedupe: store }),
      await startReceiverApp({ adapter, dedupe: store }),
    );
  });
  afterAll(async () => {
    await Promise.all(receivers.map((receiver) => receiver.close()));
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    await redis.quit();
  });

  it('verifies what WebhooksModule sends, end to end', async () => {
    const [receiver] = receivers;
    const sender = await bootDeliveryApp({
      options: { allowedNetworks: ['127.0.0.0/8'] },
      providers: [SubscriptionCreatedWebhook],
    });
    try {
      await sender.endpoints.add({
        url: `${receiver.url}/hooks/single`,
        events: ['subscription.created'],
        secret: SECRET_A,
      });
      const sent = await sender.emitter.emit(SubscriptionCreatedWebhook, {
        username: 'morty',
        monthly_fee: 4.5,
      });
      await waitUntil(
        async () =>
          (await sender.deliveries.list({ messageId: sent.id }))[0]?.status === 'delivered',
        'the webhook to be delivered',
      );
      expect(receiver.handled.filter((h) => h.route === 'single')).toEqual([
        {
          route: 'single',
          event: { username: 'morty', monthly_fee: 4.5 },
          webhook: { id: sent.id, timestamp: expect.any(Date) },
        },
      ]);
    } finally {
      await sender.close();
    }
  });

  it('dedupes through Redis across two replicas, remembering the id while its timestamp is in the window', async () => {
    const [first, second] = receivers;
    const timestamp = Math.floor(Date.now() / 1000) - 100;
    const headers = signWebhook(SECRET_A, BODY, { timestamp });
    expect((await post(`${first.url}/hooks/redis`, headers)).status).toBe(204);
    expect(await post(`${second.url}/hooks/redis`, headers)).toMatchObject({
      status: 200,
      body: { duplicate: true, id: headers['webhook-id'] },
    });
    const [key] = await redis.keys(`${prefix}*:${headers['webhook-id']}`);
    expect(await redis.get(key)).toBe('done');
    // Until the timestamp leaves the 300 s window, and a second for clocks.
    const expected = timestamp * 1000 + 301_000 - Date.now();
    const ttl = await redis.pttl(key);
    expect(Math.abs(ttl - expected)).toBeLessThan(1_500);
    const handled = [...first.handled, ...second.handled].filter((h) => h.route === 'redis');
    expect(handled).toHaveLength(1);
  });

  it('marks ids in Redis for a fractional tolerance too (whole milliseconds)', async () => {
    const headers = signWebhook(SECRET_A, BODY);
    expect((await post(`${receivers[0].url}/edges/fractional`, headers)).status).toBe(204);
    expect((await post(`${receivers[1].url}/edges/fractional`, headers)).status).toBe(200);
  });

  it('runs the handler once for 50 concurrent repeats spread over both replicas', async () => {
    const headers = signWebhook(SECRET_A, BODY);
    const answers = await Promise.all(
      Array.from({ length: 50 }, (_, i) => post(`${receivers[i % 2].url}/hooks/redis`, headers)),
    );
    const handled = receivers
      .flatMap((receiver) => receiver.handled)
      .filter((h) => h.route === 'redis' && h.webhook.id === headers['webhook-id']);
    expect(handled).toHaveLength(1);
    expect(answers.filter((answer) => answer.status === 204)).toHaveLength(1);
    expect(answers.every((answer) => [200, 204, 409].includes(answer.status))).toBe(true);
  });

  it('answers 500 naming the fix when the app was made without rawBody: true', async () => {
    const plain = await startReceiverApp({ adapter, rawBody: false });
    try {
      const answer = await post(`${plain.url}/hooks/single`, signWebhook(SECRET_A, BODY));
      expect(answer.status).toBe(500);
      expect(answer.body!.message).toContain(
        "@VerifyWebhook on HooksController.single() needs the request's raw bytes",
      );
      expect(answer.body!.message).toContain('NestFactory.create(AppModule, { rawBody: true })');
      expect(plain.handled).toEqual([]);
    } finally {
      await plain.close();
    }
  });
});
