import 'reflect-metadata';
import type { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { Webhook as StandardWebhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  WebhookDeliveries,
  WebhookEmitter,
  WebhookEndpoints,
  WebhooksModule,
} from '../../../lib/index.js';
import { NewSubscriptionWebhook } from '../../../sample/new-subscription.webhook.js';
import { startReceiver, type Receiver } from '../../support/receiver.js';

describe('delivery smoke', () => {
  let app: INestApplication;
  let receiver: Receiver;

  beforeAll(async () => {
    receiver = await startReceiver();
    const moduleRef = await Test.createTestingModule({
      imports: [WebhooksModule.forRoot({ allowedNetworks: ['127.0.0.0/8'] })],
      providers: [NewSubscriptionWebhook],
    }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    await app.init();
  });

  afterAll(async () => {
    await app.close();
    await receiver.close();
  });

  it('delivers a signed, serialized message', async () => {
    const endpoint = await app.get(WebhookEndpoints).add({
      url: `${receiver.url}/hook`,
      events: ['new-subscription'],
    });
    const result = await app.get(WebhookEmitter).emit('new-subscription', {
      username: 'rick',
      monthly_fee: 9.5,
      start_date: new Date('2026-01-02T03:04:05.000Z'),
      password: 'hunter2',
    });
    expect(result).toMatchObject({ event: 'new-subscription', endpoints: 1 });
    const [request] = await receiver.waitFor(1);
    expect(JSON.parse(request.body)).toEqual({
      username: 'rick',
      monthly_fee: 9.5,
      start_date: '2026-01-02T03:04:05.000Z',
    });
    expect(request.headers['webhook-id']).toBe(result.id);
    const verified = new StandardWebhook(endpoint.secret).verify(request.body, {
      'webhook-id': String(request.headers['webhook-id']),
      'webhook-timestamp': String(request.headers['webhook-timestamp']),
      'webhook-signature': String(request.headers['webhook-signature']),
    });
    expect(verified).toEqual(JSON.parse(request.body));
    await new Promise((resolve) => setTimeout(resolve, 50));
    const [log] = await app.get(WebhookDeliveries).list({ messageId: result.id });
    expect(log.status).toBe('delivered');
    expect(log.attemptLog).toHaveLength(1);
    expect(log.attemptLog[0].statusCode).toBe(204);
  });
});
