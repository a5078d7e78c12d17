import 'reflect-metadata';
import { Logger, type LoggerService, type LogLevel } from '@nestjs/common';
import type { Subscription } from 'rxjs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { WebhookEndpoint, WebhookLifecycleEvent } from '../../../lib/index.js';
import { deliveryWebhooks } from '../../fixtures/delivery/delivery.webhooks.js';
import {
  bootDeliveryApp,
  settledDeliveries,
  waitUntil,
  type DeliveryApp,
  LOOPBACK_TEST_OPTIONS,
  ping,
} from '../../support/delivery-app.js';
import { startReceiver, type Receiver } from '../../support/receiver.js';

const ALL_LEVELS: LogLevel[] = ['fatal', 'error', 'warn', 'log', 'debug', 'verbose'];

/** A LoggerService that keeps every line it is given, with its level. */
class CapturingLogger implements LoggerService {
  readonly lines: { level: LogLevel; text: string }[] = [];

  log(message: unknown, ...rest: unknown[]) {
    this.capture('log', message, rest);
  }
  error(message: unknown, ...rest: unknown[]) {
    this.capture('error', message, rest);
  }
  warn(message: unknown, ...rest: unknown[]) {
    this.capture('warn', message, rest);
  }
  debug(message: unknown, ...rest: unknown[]) {
    this.capture('debug', message, rest);
  }
  verbose(message: unknown, ...rest: unknown[]) {
    this.capture('verbose', message, rest);
  }
  fatal(message: unknown, ...rest: unknown[]) {
    this.capture('fatal', message, rest);
  }
  setLogLevels() {
    // Every level is kept: the test wants to see debug lines too.
  }

  private capture(level: LogLevel, message: unknown, rest: unknown[]) {
    const text = [message, ...rest]
      .map((part) =>
        typeof part === 'string'
          ? part
          : part instanceof Error
            ? `${part.message}\n${part.stack}`
            : JSON.stringify(part),
      )
      .join(' ');
    this.lines.push({ level, text });
  }
}

/** Every form a secret could leak in: whole, or its base64 key part. */
const secretForms = (secret: string) => [secret, secret.slice('whsec_'.length)];

describe('WebhookDeliveries.events', () => {
  let ctx: DeliveryApp;
  let receiver: Receiver;
  let events: WebhookLifecycleEvent[];
  let subscription: Subscription;
  let endpoint: WebhookEndpoint;

  /** The delivery events (not endpoint ones) of one message, in the order they came. */
  const eventsOf = (messageId: string) =>
    events.filter(
      (event) => event.type !== 'endpoint-disabled' && event.delivery.messageId === messageId,
    );

  const waitForEvent = (type: WebhookLifecycleEvent['type'], messageId?: string) =>
    waitUntil(
      () =>
        events.find(
          (event) =>
            event.type === type &&
            (messageId === undefined ||
              (event.type !== 'endpoint-disabled' && event.delivery.messageId === messageId)),
        ),
      `a '${type}' event`,
    );

  beforeEach(async () => {
    receiver = await startReceiver();
    ctx = await bootDeliveryApp({ options: LOOPBACK_TEST_OPTIONS, providers: deliveryWebhooks });
    events = [];
    subscription = ctx.deliveries.events.subscribe((event) => events.push(event));
    endpoint = await ctx.endpoints.add({ url: `${receiver.url}/events`, events: ['ping'] });
  });

  afterEach(async () => {
    // Whatever each test did, no event it produced may carry a secret.
    const serialized = JSON.stringify(events);
    for (const form of secretForms(endpoint.secret)) expect(serialized).not.toContain(form);
    expect(serialized).not.toMatch(/"secret"/);
    subscription.unsubscribe();
    await ctx.close();
    await receiver.close();
  });

  it('is an Observable that completes when the app closes', async () => {
    let completed = false;
    const own = ctx.deliveries.events.subscribe({ complete: () => (completed = true) });
    expect(typeof ctx.deliveries.events.pipe).toBe('function');
    await ctx.close();
    expect(completed).toBe(true);
    own.unsubscribe();
  });

  it('hands out records of their own: what subscribers and log readers change never reaches the store', async () => {
    const result = await ctx.emitter.emit('ping', ping());
    const event = await waitForEvent('delivered', result.id);
    if (event.type !== 'delivered') throw new Error('expected a delivered event');
    event.delivery.status = 'failed';
    event.delivery.createdAt.setTime(0);
    event.attempt.statusCode = 500;
    const [log] = await ctx.deliveries.list({ messageId: result.id });
    log.status = 'pending';
    log.updatedAt.setTime(0);
    log.attemptLog[0].startedAt.setTime(0);
    log.attemptLog.push({ ...log.attemptLog[0] });
    const messageLog = (await ctx.deliveries.getMessage(result.id))!;
    messageLog.body = 'changed';
    messageLog.createdAt.setTime(0);
    const [listed] = await ctx.endpoints.list();
    listed.events.push('changed');
    listed.createdAt.setTime(0);

    const [again] = await ctx.deliveries.list({ messageId: result.id });
    expect(again).toMatchObject({ status: 'delivered', attempts: 1 });
    expect(again.createdAt.getTime()).toBeGreaterThan(0);
    expect(again.updatedAt.getTime()).toBeGreaterThan(0);
    expect(again.attemptLog).toHaveLength(1);
    expect(again.attemptLog[0]).toMatchObject({ statusCode: 204 });
    expect(again.attemptLog[0].startedAt.getTime()).toBeGreaterThan(0);
    const message = (await ctx.deliveries.getMessage(result.id))!;
    expect(JSON.parse(message.body)).toEqual(ping());
    expect(message.createdAt.getTime()).toBeGreaterThan(0);
    const stored = (await ctx.endpoints.get(endpoint.id))!;
    expect(stored.events).toEqual(['ping']);
    expect(stored.createdAt.getTime()).toBeGreaterThan(0);
  });

  it("emits 'delivered' with the delivery and its successful attempt", async () => {
    const result = await ctx.emitter.emit('ping', ping());
    const event = await waitForEvent('delivered', result.id);

    expect(event.type).toBe('delivered');
    if (event.type !== 'delivered') return;
    expect(event.delivery).toMatchObject({
      messageId: result.id,
      endpointId: endpoint.id,
      event: 'ping',
      status: 'delivered',
      attempts: 1,
      nextAttemptAt: null,
      lastError: null,
    });
    expect(event.attempt).toMatchObject({
      deliveryId: event.delivery.id,
      messageId: result.id,
      endpointId: endpoint.id,
      attempt: 1,
      statusCode: 204,
      error: null,
      outcome: 'delivered',
    });
    expect(eventsOf(result.id).map((item) => item.type)).toEqual(['delivered']);
  });

  it("emits 'attempt-failed' with nextAttemptAt per retry, then 'delivery-exhausted'", async () => {
    receiver.behave((_request, response) => {
      response.statusCode = 500;
      response.end('boom');
    });
    const result = await ctx.emitter.emit('ping', ping());
    await waitForEvent('delivery-exhausted', result.id);
    const own = eventsOf(result.id);

    expect(own.map((event) => event.type)).toEqual([
      'attempt-failed',
      'attempt-failed',
      'delivery-exhausted',
    ]);
    const failed = own.filter((event) => event.type === 'attempt-failed');
    failed.forEach((event, index) => {
      expect(event.delivery).toMatchObject({
        messageId: result.id,
        endpointId: endpoint.id,
        status: 'pending',
        attempts: index + 1,
        scheduleAttempts: index + 1,
        lastError: 'HTTP 500',
      });
      expect(event.attempt).toMatchObject({
        attempt: index + 1,
        statusCode: 500,
        responseBody: 'boom',
        outcome: 'failed',
      });
      expect(event.nextAttemptAt).toBeInstanceOf(Date);
      expect(event.delivery.nextAttemptAt).toEqual(event.nextAttemptAt);
      // retryDelays[index] with ±20% jitter, counted from the end of the attempt.
      const earliest = event.attempt.startedAt.getTime() + [20, 40][index] * 0.8;
      expect(event.nextAttemptAt!.getTime()).toBeGreaterThanOrEqual(Math.floor(earliest));
      // The next attempt really was not sent before that time.
      expect(receiver.requests[index + 1].receivedAt).toBeGreaterThanOrEqual(
        event.nextAttemptAt!.getTime(),
      );
    });

    const exhausted = own[2];
    if (exhausted.type !== 'delivery-exhausted') throw new Error('expected delivery-exhausted');
    expect(exhausted.delivery).toMatchObject({
      messageId: result.id,
      status: 'failed',
      attempts: 3,
      nextAttemptAt: null,
      lastError: 'HTTP 500',
    });
    expect(exhausted.attempt).toMatchObject({ attempt: 3, statusCode: 500, outcome: 'failed' });
    expect(receiver.requests).toHaveLength(3);
  });

  it("emits 'endpoint-disabled' after a 410, then exhausts the delivery without retrying", async () => {
    receiver.behave((_request, response) => {
      response.statusCode = 410;
      response.end();
    });
    const result = await ctx.emitter.emit('ping', ping());
    const disabled = await waitForEvent('endpoint-disabled');
    await waitForEvent('delivery-exhausted', result.id);

    if (disabled.type !== 'endpoint-disabled') throw new Error('expected endpoint-disabled');
    expect(disabled.endpoint).toEqual({ id: endpoint.id, url: endpoint.url, tenant: null });
    expect(disabled.reason).toMatch(/410/);
    expect(eventsOf(result.id).map((event) => event.type)).toEqual(['delivery-exhausted']);
    const exhausted = eventsOf(result.id)[0];
    if (exhausted.type !== 'delivery-exhausted') throw new Error('expected delivery-exhausted');
    expect(exhausted.attempt).toMatchObject({ attempt: 1, statusCode: 410 });
    expect(exhausted.delivery.status).toBe('failed');
    expect(events.filter((event) => event.type === 'endpoint-disabled')).toHaveLength(1);
    expect((await ctx.endpoints.get(endpoint.id))?.disabled).toBe(true);
    expect(receiver.requests).toHaveLength(1);
  });

  it("emits 'delivery-exhausted' without an attempt when the endpoint of a pending delivery is removed", async () => {
    // Its retry is an hour away when the endpoint goes.
    receiver.behave((_request, response) => {
      response.statusCode = 503;
      response.setHeader('retry-after', '3600');
      response.end();
    });
    const result = await ctx.emitter.emit('ping', ping());
    await waitForEvent('attempt-failed', result.id);

    expect(await ctx.endpoints.remove(endpoint.id)).toBe(true);
    const exhausted = await waitForEvent('delivery-exhausted', result.id);
    if (exhausted.type !== 'delivery-exhausted') throw new Error('expected delivery-exhausted');
    expect(exhausted.attempt).toBeNull();
    expect(exhausted.delivery).toMatchObject({
      messageId: result.id,
      endpointId: endpoint.id,
      status: 'failed',
      attempts: 1,
      nextAttemptAt: null,
    });
    expect(exhausted.delivery.lastError).toMatch(/removed/);
    expect(eventsOf(result.id).map((event) => event.type)).toEqual([
      'attempt-failed',
      'delivery-exhausted',
    ]);
  });

  it("emits one 'delivery-exhausted' when the endpoint is removed during an attempt that fails", async () => {
    receiver.behave(async (_request, response) => {
      await ctx.endpoints.remove(endpoint.id);
      response.statusCode = 500;
      response.end();
    });
    const result = await ctx.emitter.emit('ping', ping());
    // The attempt's own outcome is recorded after the removal reported the delivery.
    const [log] = await waitUntil(async () => {
      const found = await ctx.deliveries.list({ messageId: result.id });
      return found[0]?.attemptLog.length === 1 && found[0].attempts === 1 && found;
    }, 'the attempt to be recorded');
    expect(log).toMatchObject({ status: 'failed' });
    expect(log.lastError).toMatch(/removed/);
    await new Promise((resolve) => setTimeout(resolve, 100)); // longer than a retry would wait
    const own = eventsOf(result.id);
    expect(own.map((event) => event.type)).toEqual(['delivery-exhausted']);
    expect(own[0]).toMatchObject({ attempt: null });
    expect(receiver.requests).toHaveLength(1);
  });

  it('reports each endpoint of a fan-out separately', async () => {
    const second = await ctx.endpoints.add({ url: `${receiver.url}/second`, events: ['ping'] });
    receiver.behave((request, response) => {
      if (request.url !== '/second') return;
      response.statusCode = 503;
      response.setHeader('retry-after', '0');
      response.end();
    });
    const result = await ctx.emitter.emit('ping', ping());
    await settledDeliveries(ctx.deliveries, result.id);
    const own = eventsOf(result.id);

    const forFirst = own.filter(
      (event) => event.type !== 'endpoint-disabled' && event.delivery.endpointId === endpoint.id,
    );
    const forSecond = own.filter(
      (event) => event.type !== 'endpoint-disabled' && event.delivery.endpointId === second.id,
    );
    expect(forFirst.map((event) => event.type)).toEqual(['delivered']);
    expect(forSecond.map((event) => event.type)).toEqual([
      'attempt-failed',
      'attempt-failed',
      'delivery-exhausted',
    ]);
    const serialized = JSON.stringify(events);
    for (const form of secretForms(second.secret)) expect(serialized).not.toContain(form);
  });
});

describe('logging', () => {
  let receiver: Receiver;
  let logger: CapturingLogger;
  let ctx: DeliveryApp;

  beforeEach(async () => {
    receiver = await startReceiver();
    logger = new CapturingLogger();
    // Explicit levels that include debug, as an app that wants everything would set them.
    Logger.overrideLogger(ALL_LEVELS);
    ctx = await bootDeliveryApp({
      options: LOOPBACK_TEST_OPTIONS,
      providers: deliveryWebhooks,
      logger,
    });
  });

  afterEach(async () => {
    await ctx.close();
    await receiver.close();
    Logger.overrideLogger(false);
  });

  it('never writes a secret to the Logger, through failures, a 410, rotation and shutdown', async () => {
    const given = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;
    const failing = await ctx.endpoints.add({
      url: `${receiver.url}/failing`,
      events: ['ping'],
      secret: given,
    });
    const gone = await ctx.endpoints.add({ url: `${receiver.url}/gone`, events: ['ping'] });
    const pendingForever = await ctx.endpoints.add({
      url: `${receiver.url}/slow`,
      events: ['ping'],
    });
    const rotated = await ctx.endpoints.rotateSecret(failing.id);
    const malformed = `whsec_${Buffer.alloc(8, 9).toString('base64')}`;
    await ctx.endpoints
      .add({ url: `${receiver.url}/bad`, events: ['ping'], secret: malformed })
      .catch((error: Error) => logger.error(error.message, error.stack));

    receiver.behave((request, response) => {
      if (request.url === '/gone') response.statusCode = 410;
      else if (request.url === '/failing') response.statusCode = 500;
      else {
        response.statusCode = 503;
        response.setHeader('retry-after', '3600');
      }
      response.end(`answer to ${request.url}`);
    });
    const result = await ctx.emitter.emit('ping', ping());
    // '/failing' runs out of its short schedule and '/gone' is disabled; '/slow' stays pending
    // behind its Retry-After of an hour, so shutdown reports dropping it.
    await waitUntil(async () => {
      const log = await ctx.deliveries.list({ messageId: result.id });
      const byEndpoint = new Map(log.map((delivery) => [delivery.endpointId, delivery]));
      return (
        byEndpoint.get(failing.id)?.status === 'failed' &&
        byEndpoint.get(gone.id)?.status === 'failed' &&
        (byEndpoint.get(pendingForever.id)?.attempts ?? 0) >= 1
      );
    }, 'the failures to be recorded');
    await ctx.close();

    const webhookLines = logger.lines.filter((line) => line.text.includes('Webhooks'));
    const texts = logger.lines.map((line) => line.text);
    // The run did log: debug retries, the exhausted delivery, the disabled endpoint, shutdown.
    expect(
      logger.lines.some((line) => line.level === 'debug' && /Attempt 1 of message/.test(line.text)),
    ).toBe(true);
    expect(texts.some((text) => /failed for good/.test(text))).toBe(true);
    expect(texts.some((text) => /disabled: the endpoint answered 410/.test(text))).toBe(true);
    expect(texts.some((text) => /dropped from the in-memory queue/.test(text))).toBe(true);
    expect(webhookLines.length).toBeGreaterThan(0);

    const secrets = [given, rotated, gone.secret, pendingForever.secret, malformed];
    for (const secret of secrets) {
      for (const form of secretForms(secret)) {
        expect(texts.filter((text) => text.includes(form))).toEqual([]);
      }
    }
  });
});
