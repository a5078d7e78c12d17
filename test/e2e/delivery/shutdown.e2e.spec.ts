import 'reflect-metadata';
import type { ServerResponse } from 'node:http';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { WebhooksModuleOptions } from '../../../lib/index.js';
import { WebhooksRuntime } from '../../../lib/webhooks.runtime.js';
import { CaptureLogger } from '../../fixtures/retry/capture-logger.js';
import { bootDeliveryApp, sleep, type DeliveryApp } from '../../fixtures/retry/delivery-app.js';
import { PingWebhook } from '../../fixtures/retry/ping.webhook.js';
import { startReceiver, type Receiver } from '../../support/receiver.js';

const WAIT = { timeout: 10_000, interval: 10 };

const answer = (res: ServerResponse, status: number) => {
  res.statusCode = status;
  res.end();
};

const refTimers = () =>
  process.getActiveResourcesInfo().filter((resource) => resource === 'Timeout').length;

describe.each(['http', 'undici'] as const)('shutdown (%s transport)', (transport) => {
  let receiver: Receiver;
  let ctx: DeliveryApp | undefined;
  let closed = false;
  let logger: CaptureLogger;

  beforeEach(async () => {
    receiver = await startReceiver();
    logger = new CaptureLogger();
    closed = false;
  });

  afterEach(async () => {
    if (ctx && !closed) await ctx.app.close();
    ctx = undefined;
    await receiver.close();
  });

  const boot = async (options: WebhooksModuleOptions) => {
    ctx = await bootDeliveryApp({ transport, ...options }, logger);
    await ctx.endpoints.add({ url: `${receiver.url}/hook`, events: ['ping'] });
    return ctx;
  };
  const close = async () => {
    closed = true;
    await ctx!.app.close();
  };
  const warnings = () =>
    logger
      .at('warn')
      .filter((line) => line.context === 'Webhooks')
      .map((line) => line.message);

  it('waits for an attempt in flight and records it', async () => {
    await boot({ shutdownTimeout: 5_000, retryDelays: [50] });
    let answered = 0;
    receiver.behave(async (_request, res) => {
      await sleep(300);
      answer(res, 200);
      answered++;
    });
    const { id } = await ctx!.emitter.emit('ping', { seq: 1 });
    await receiver.waitFor(1);

    await close();
    // No polling here: close() itself must have waited for the answer and its record.
    expect(answered).toBe(1);
    const delivery = await ctx!.delivery(id);
    expect(delivery).toMatchObject({ status: 'delivered', attempts: 1 });
    expect(delivery.attemptLog.map((attempt) => attempt.statusCode)).toEqual([200]);
    expect(warnings()).toEqual([]);
  });

  it('tells subscribers about an attempt that ends while draining, then completes', async () => {
    await boot({ shutdownTimeout: 5_000, retryDelays: [50] });
    receiver.behave(async (_request, res) => {
      await sleep(300);
      answer(res, 200);
    });
    const heard: string[] = [];
    ctx!.deliveries.events.subscribe({
      next: (event) => heard.push(event.type),
      complete: () => heard.push('complete'),
    });
    await ctx!.emitter.emit('ping', { seq: 1 });
    await receiver.waitFor(1);

    await close();
    expect(heard).toEqual(['delivered', 'complete']);
  });

  it('gives up on a hanging attempt after shutdownTimeout', async () => {
    // The attempt's own timeout is far longer than the shutdown may take.
    await boot({ shutdownTimeout: 200, timeout: 20_000, retryDelays: [50] });
    receiver.behave((_request, res) => new Promise((resolve) => res.once('close', resolve)));
    await ctx!.emitter.emit('ping', { seq: 1 });
    await receiver.waitFor(1);

    const started = Date.now();
    await close();
    // A bound on correctness, not speed: far below the 20 s the attempt would otherwise hold.
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(warnings()).toEqual([
      expect.stringMatching(/^Webhook delivery stopped: 1 attempt\(s\)/),
    ]);
    await sleep(200);
    expect(receiver.requests).toHaveLength(1);
  });

  it('drops queued retries, says how many, and sends nothing after close', async () => {
    await boot({ shutdownTimeout: 1_000, retryDelays: [1_000] });
    receiver.behave((_request, res) => answer(res, 500));
    const emitted = await Promise.all([1, 2, 3].map((seq) => ctx!.emitter.emit('ping', { seq })));
    // Every first attempt is recorded and its retry (at least 800 ms away) is queued.
    await vi.waitFor(async () => {
      for (const { id } of emitted) {
        const delivery = await ctx!.delivery(id);
        expect(delivery.attemptLog).toHaveLength(1);
        expect(delivery.scheduleAttempts).toBe(1); // set just before the retry is queued
      }
    }, WAIT);

    await close();
    expect(warnings()).toEqual([
      expect.stringContaining('0 attempt(s) still running after the shutdown timeout, 3 queued'),
    ]);
    await sleep(1_300); // past every retry's due time
    expect(receiver.requests).toHaveLength(3);
  });

  it('counts the retry of an attempt that fails during shutdown among the dropped', async () => {
    await boot({ shutdownTimeout: 5_000, retryDelays: [1_000] });
    receiver.behave(async (_request, res) => {
      await sleep(300);
      answer(res, 500);
    });
    const { id } = await ctx!.emitter.emit('ping', { seq: 1 });
    await receiver.waitFor(1);

    await close();
    const delivery = await ctx!.delivery(id);
    expect(delivery.attemptLog.map((attempt) => attempt.statusCode)).toEqual([500]);
    expect(delivery.status).toBe('pending'); // its retry was due after the close
    expect(warnings()).toEqual([
      expect.stringContaining('0 attempt(s) still running after the shutdown timeout, 1 queued'),
    ]);
  });

  it('refuses emit once shutdown has begun, storing and sending nothing', async () => {
    await boot({ shutdownTimeout: 5_000, retryDelays: [50] });
    const store = ctx!.app.get(WebhooksRuntime).store;
    let releaseFirst!: () => void;
    const firstHeld = new Promise<void>((resolve) => (releaseFirst = resolve));
    receiver.behave(async (_request, res) => {
      await firstHeld;
      answer(res, 200);
    });
    const first = await ctx!.emitter.emit('ping', { seq: 1 });
    await receiver.waitFor(1);
    const storeEmit = vi.spyOn(store, 'emit');

    // While close() waits for the attempt in flight, and after it is done.
    const stop = vi.spyOn(ctx!.app.get(WebhooksRuntime).queue, 'stop');
    const closing = close();
    await vi.waitFor(() => expect(stop).toHaveBeenCalled(), WAIT);
    const during = ctx!.emitter.emit('ping', { seq: 2 });
    await expect(during).rejects.toThrow(
      /^Cannot emit webhook 'ping': the application is shutting down \(app\.close\(\) was called\)/,
    );
    releaseFirst();
    await closing;
    await expect(ctx!.emitter.emit(PingWebhook, { seq: 3 })).rejects.toThrow(
      /Cannot emit webhook 'PingWebhook': the application is shutting down/,
    );

    expect(storeEmit).not.toHaveBeenCalled();
    expect((await ctx!.deliveries.list()).map((delivery) => delivery.messageId)).toEqual([
      first.id,
    ]);
    await sleep(100);
    expect(receiver.requests).toHaveLength(1);
  });

  it('leaves no timer behind to keep the process alive', async () => {
    const before = refTimers();
    await boot({ shutdownTimeout: 200, timeout: 20_000, retryDelays: [60_000] });
    // One delivery waiting for a retry a minute away, one attempt hanging at close.
    let calls = 0;
    receiver.behave((_request, res) =>
      calls++ === 0 ? answer(res, 500) : new Promise((resolve) => res.once('close', resolve)),
    );
    const first = await ctx!.emitter.emit('ping', { seq: 1 });
    await vi.waitFor(async () => {
      expect((await ctx!.delivery(first.id)).attemptLog).toHaveLength(1);
    }, WAIT);
    await ctx!.emitter.emit('ping', { seq: 2 });
    await receiver.waitFor(2);

    await close();
    expect(refTimers()).toBeLessThanOrEqual(before);
  });
});
