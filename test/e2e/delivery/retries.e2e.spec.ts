import 'reflect-metadata';
import type { ServerResponse } from 'node:http';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  WebhookStoreError,
  type WebhookDeliveryLog,
  type WebhookEndpoint,
  type WebhookLifecycleEvent,
  type WebhooksModuleOptions,
} from '../../../lib/index.js';
import { deliveredRecordFailed, storeUnreachable } from '../../../lib/webhooks.messages.js';
import { WebhooksRuntime } from '../../../lib/webhooks.runtime.js';
import { CaptureLogger } from '../../fixtures/retry/capture-logger.js';
import {
  bootDeliveryApp,
  sleep,
  verifySignature,
  type DeliveryApp,
} from '../../fixtures/retry/delivery-app.js';
import { startReceiver, type ReceivedRequest, type Receiver } from '../../support/receiver.js';
import { waitUntil } from '../../support/delivery-app.js';

// Bounded polling: generous limits for outcomes that normally take milliseconds.
const WAIT = { timeout: 10_000, interval: 10 };

const answer = (res: ServerResponse, status: number, body = '', headers = {}) => {
  res.writeHead(status, headers);
  res.end(body);
};

/** Holds the request until the sender gives up on it and closes the connection. */
const hang = (res: ServerResponse) => new Promise<void>((resolve) => res.once('close', resolve));

describe.each(['http', 'undici'] as const)(
  'retries and endpoint health (%s transport)',
  (transport) => {
    let receiver: Receiver;
    let ctx: DeliveryApp | undefined;

    beforeEach(async () => {
      receiver = await startReceiver();
    });

    afterEach(async () => {
      await ctx?.app.close();
      ctx = undefined;
      await receiver.close();
    });

    const boot = async (options: WebhooksModuleOptions) => {
      ctx = await bootDeliveryApp({
        transport,
        timeout: 2_000,
        shutdownTimeout: 2_000,
        ...options,
      });
      return ctx;
    };
    const received = (path: string) => receiver.requests.filter((request) => request.url === path);
    const addEndpoint = (path: string) =>
      ctx!.endpoints.add({ url: `${receiver.url}${path}`, events: ['ping'] });

    /** Waits until the delivery is no longer pending and returns it. */
    const settled = (messageId: string, endpointId?: string) =>
      vi.waitFor(async () => {
        const delivery = await ctx!.delivery(messageId, endpointId);
        expect(delivery.status).not.toBe('pending');
        return delivery;
      }, WAIT);

    const gaps = (requests: ReceivedRequest[]) =>
      requests.slice(1).map((request, i) => request.receivedAt - requests[i].receivedAt);

    it('retries a 500 and delivers on attempt 2 with the same webhook-id, signed per attempt', async () => {
      await boot({ retryDelays: [30] });
      let calls = 0;
      receiver.behave((_request, res) => {
        if (calls++ === 0) answer(res, 500, 'boom');
        else answer(res, 200, 'ok');
      });
      const endpoint = await addEndpoint('/hook');
      const { id } = await ctx!.emitter.emit('ping', { seq: 1 });

      const delivery = await settled(id);
      expect(delivery).toMatchObject({ status: 'delivered', attempts: 2, lastError: null });
      expect(delivery.attemptLog.map((a) => [a.attempt, a.statusCode, a.outcome])).toEqual([
        [1, 500, 'failed'],
        [2, 200, 'delivered'],
      ]);
      const requests = received('/hook');
      expect(requests).toHaveLength(2);
      for (const request of requests) {
        expect(request.headers['webhook-id']).toBe(id);
        // Each attempt carries its own timestamp and a signature over it; both must verify.
        expect(verifySignature(endpoint.secret, request)).toEqual({ seq: 1 });
      }
      expect(Number(requests[1].headers['webhook-timestamp'])).toBeGreaterThanOrEqual(
        Number(requests[0].headers['webhook-timestamp']),
      );
    });

    it('follows the retry schedule with ±20% jitter, then marks the delivery failed', async () => {
      const retryDelays = [100, 200];
      await boot({ retryDelays });
      receiver.behave((_request, res) => answer(res, 500));
      await addEndpoint('/hook');
      const { id } = await ctx!.emitter.emit('ping', { seq: 1 });

      const delivery = await settled(id);
      expect(delivery).toMatchObject({ status: 'failed', attempts: 3, lastError: 'HTTP 500' });
      expect(delivery.attemptLog.map((a) => a.attempt)).toEqual([1, 2, 3]);
      await sleep(400); // more than any retry would wait: none may come
      const requests = received('/hook');
      expect(requests).toHaveLength(3);
      // Correctness bounds, not speed: the lower bound is the jitter's floor (less clock
      // rounding), the upper one the jitter's ceiling plus slack for scheduling on a busy box.
      gaps(requests).forEach((gap, i) => {
        expect(gap).toBeGreaterThanOrEqual(0.8 * retryDelays[i] - 5);
        expect(gap).toBeLessThanOrEqual(1.2 * retryDelays[i] + 250);
      });
    });

    it('honours 429 Retry-After in seconds as a minimum above a shorter schedule', async () => {
      await boot({ retryDelays: [20] });
      let calls = 0;
      receiver.behave((_request, res) => {
        if (calls++ === 0) answer(res, 429, '', { 'retry-after': '1' });
        else answer(res, 200);
      });
      await addEndpoint('/hook');
      const { id } = await ctx!.emitter.emit('ping', { seq: 1 });

      const delivery = await settled(id);
      expect(delivery).toMatchObject({ status: 'delivered', attempts: 2 });
      expect(delivery.attemptLog[0].statusCode).toBe(429);
      const [gap] = gaps(received('/hook'));
      expect(gap).toBeGreaterThanOrEqual(995);
    });

    it('honours 503 Retry-After given as an HTTP-date', async () => {
      await boot({ retryDelays: [20] });
      let calls = 0;
      receiver.behave((_request, res) => {
        // toUTCString() is the IMF-fixdate form and drops the milliseconds, so this date lies
        // more than 1 s (and at most 2 s) after the request arrived.
        const retryAt = new Date(Date.now() + 2_000).toUTCString();
        if (calls++ === 0) answer(res, 503, '', { 'retry-after': retryAt });
        else answer(res, 200);
      });
      await addEndpoint('/hook');
      const { id } = await ctx!.emitter.emit('ping', { seq: 1 });

      const delivery = await settled(id);
      expect(delivery).toMatchObject({ status: 'delivered', attempts: 2 });
      expect(delivery.attemptLog[0].statusCode).toBe(503);
      const [gap] = gaps(received('/hook'));
      expect(gap).toBeGreaterThanOrEqual(995);
    });

    it('treats a 302 as a failure and never follows its Location', async () => {
      await boot({ retryDelays: [30] });
      receiver.behave((request, res) => {
        if (request.url === '/hook') answer(res, 302, '', { location: `${receiver.url}/moved` });
      });
      await addEndpoint('/hook');
      const { id } = await ctx!.emitter.emit('ping', { seq: 1 });

      const delivery = await settled(id);
      expect(delivery).toMatchObject({ status: 'failed', attempts: 2, lastError: 'HTTP 302' });
      expect(delivery.attemptLog.map((a) => a.statusCode)).toEqual([302, 302]);
      await sleep(100);
      expect(received('/hook')).toHaveLength(2);
      expect(received('/moved')).toHaveLength(0);
    });

    it('disables the endpoint at once on 410 Gone and sends it nothing more', async () => {
      await boot({ retryDelays: [30, 30] });
      receiver.behave((_request, res) => answer(res, 410));
      const endpoint = await addEndpoint('/hook');
      const { id } = await ctx!.emitter.emit('ping', { seq: 1 });

      const delivery = await settled(id);
      expect(delivery).toMatchObject({ status: 'failed', attempts: 1, lastError: 'HTTP 410' });
      const disabled = await ctx!.endpoints.get(endpoint.id);
      expect(disabled?.disabled).toBe(true);
      expect(disabled?.disabledReason).toMatch(/410/);

      const later = await ctx!.emitter.emit('ping', { seq: 2 });
      expect(later.endpoints).toBe(0);
      await sleep(150); // longer than the schedule's retries would wait
      expect(received('/hook')).toHaveLength(1);
    });

    it('reports an endpoint disabled once when two attempts get 410 at the same time', async () => {
      await boot({ retryDelays: [] });
      const events: WebhookLifecycleEvent[] = [];
      const subscription = ctx!.deliveries.events.subscribe((event) => events.push(event));
      // Each request is held until both have arrived, then both are answered 410.
      let releaseBoth!: () => void;
      const bothIn = new Promise<void>((resolve) => (releaseBoth = resolve));
      receiver.behave(async (_request, res) => {
        if (receiver.requests.length >= 2) releaseBoth();
        await bothIn;
        answer(res, 410);
      });
      const endpoint = await addEndpoint('/hook');
      const emitted = await Promise.all([1, 2].map((seq) => ctx!.emitter.emit('ping', { seq })));

      for (const { id } of emitted) expect((await settled(id)).status).toBe('failed');
      subscription.unsubscribe();
      const disabled = events.filter((event) => event.type === 'endpoint-disabled');
      expect(disabled).toHaveLength(1);
      expect(disabled[0]).toMatchObject({ endpoint: { id: endpoint.id }, reason: /410/ });
      expect(received('/hook')).toHaveLength(2);
    });

    it('retries an attempt that timed out', async () => {
      await boot({ timeout: 200, retryDelays: [30] });
      let calls = 0;
      receiver.behave((_request, res) => (calls++ === 0 ? hang(res) : answer(res, 200)));
      await addEndpoint('/hook');
      const { id } = await ctx!.emitter.emit('ping', { seq: 1 });

      const delivery = await settled(id);
      expect(delivery).toMatchObject({ status: 'delivered', attempts: 2 });
      const [first, second] = delivery.attemptLog;
      expect(first).toMatchObject({ statusCode: null, responseBody: null, outcome: 'failed' });
      expect(first.error).toMatch(/timeout/i);
      expect(second).toMatchObject({ statusCode: 200, error: null, outcome: 'delivered' });
      expect(received('/hook')).toHaveLength(2);
    });

    it('records a 2xx whose body stalls past the timeout as delivered, with the read error', async () => {
      await boot({ timeout: 300, retryDelays: [30, 30] });
      receiver.behave((_request, res) => {
        // The status and a first chunk arrive; the rest of the body never does.
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write('accepted, and then');
        return hang(res);
      });
      await addEndpoint('/hook');
      const { id } = await ctx!.emitter.emit('ping', { seq: 1 });

      const delivery = await settled(id);
      expect(delivery).toMatchObject({ status: 'delivered', attempts: 1, lastError: null });
      const [attempt] = delivery.attemptLog;
      expect(attempt).toMatchObject({
        statusCode: 200,
        outcome: 'delivered',
        responseBody: 'accepted, and then',
      });
      expect(attempt.error).toMatch(/reading the response body failed \(timeout/);
      await sleep(100); // longer than a retry would wait: none may come
      expect(received('/hook')).toHaveLength(1);
    });

    it('retries an attempt whose connection was reset', async () => {
      await boot({ retryDelays: [30] });
      let calls = 0;
      receiver.behave((_request, res) => {
        if (calls++ === 0) res.socket?.destroy();
        else answer(res, 200);
      });
      await addEndpoint('/hook');
      const { id } = await ctx!.emitter.emit('ping', { seq: 1 });

      const delivery = await settled(id);
      expect(delivery).toMatchObject({ status: 'delivered', attempts: 2 });
      const [first] = delivery.attemptLog;
      expect(first).toMatchObject({ statusCode: null, outcome: 'failed' });
      expect(first.error).toEqual(expect.any(String));
      expect(first.error!.length).toBeGreaterThan(0);
    });

    it('does not let a slow endpoint hold the connections of another on the same origin', async () => {
      // Two endpoints on one host: /slow never answers in time and fills its endpointConcurrency;
      // /fast must still get connections of its own instead of timing out waiting for them.
      await boot({ timeout: 1_000, endpointConcurrency: 2, retryDelays: [] });
      receiver.behave((request, res) => (request.url === '/slow' ? hang(res) : answer(res, 200)));
      const slow = await addEndpoint('/slow');
      const fast = await addEndpoint('/fast');
      const ids: string[] = [];
      for (let seq = 1; seq <= 4; seq++) ids.push((await ctx!.emitter.emit('ping', { seq })).id);

      for (const id of ids) {
        expect(await settled(id, fast.id)).toMatchObject({ status: 'delivered', attempts: 1 });
      }
      expect(received('/fast')).toHaveLength(4);
      for (const id of ids) expect((await settled(id, slow.id)).status).toBe('failed');
    });

    it('keeps exactly maxResponseBodyBytes of a huge response and still delivers', async () => {
      await boot({ maxResponseBodyBytes: 1024, retryDelays: [30] });
      const huge = 'x'.repeat(2 * 1024 * 1024);
      receiver.behave((_request, res) => answer(res, 200, huge, { 'content-type': 'text/plain' }));
      await addEndpoint('/hook');
      const { id } = await ctx!.emitter.emit('ping', { seq: 1 });

      const delivery = await settled(id);
      expect(delivery).toMatchObject({ status: 'delivered', attempts: 1 });
      expect(delivery.attemptLog[0].responseBody).toHaveLength(1024);
      expect(delivery.attemptLog[0].responseBody).toBe(huge.slice(0, 1024));
    });

    it('disables an endpoint that keeps failing for longer than disableEndpointAfter', async () => {
      const disableEndpointAfter = 300;
      await boot({ disableEndpointAfter, retryDelays: Array(40).fill(40) });
      receiver.behave((_request, res) => answer(res, 500));
      const endpoint = await addEndpoint('/hook');
      const { id } = await ctx!.emitter.emit('ping', { seq: 1 });

      const delivery = await settled(id);
      expect(delivery.status).toBe('failed');
      const disabled = await ctx!.endpoints.get(endpoint.id);
      expect(disabled?.disabled).toBe(true);
      expect(disabled?.disabledReason).toMatch(/failed since/);
      // Disabled by the clock, not by running out of retries.
      const log = delivery.attemptLog;
      expect(log.length).toBeGreaterThanOrEqual(2);
      expect(log.length).toBeLessThan(41);
      const failingFor = log.at(-1)!.startedAt.getTime() - log[0].startedAt.getTime();
      expect(failingFor).toBeGreaterThanOrEqual(disableEndpointAfter - 100);

      const sent = received('/hook').length;
      expect(sent).toBe(log.length);
      expect((await ctx!.emitter.emit('ping', { seq: 2 })).endpoints).toBe(0);
      await sleep(150);
      expect(received('/hook')).toHaveLength(sent);
    });

    it('restarts the failing clock after a success', async () => {
      const disableEndpointAfter = 500;
      await boot({ disableEndpointAfter, retryDelays: Array(10).fill(40) });
      // Each message fails three times, then succeeds: each run of failures is short, but the
      // second run ends long after the first began.
      const seen = new Map<number, number>();
      receiver.behave((request, res) => {
        const { seq } = JSON.parse(request.body) as { seq: number };
        const count = (seen.get(seq) ?? 0) + 1;
        seen.set(seq, count);
        answer(res, count <= 3 ? 500 : 200);
      });
      const endpoint = await addEndpoint('/hook');

      const first = await ctx!.emitter.emit('ping', { seq: 1 });
      expect((await settled(first.id)).status).toBe('delivered');
      const firstFailure = received('/hook')[0].receivedAt;
      await sleep(firstFailure + disableEndpointAfter + 100 - Date.now());

      const second = await ctx!.emitter.emit('ping', { seq: 2 });
      const delivery = await settled(second.id);
      expect(delivery).toMatchObject({ status: 'delivered', attempts: 4 });
      expect((await ctx!.endpoints.get(endpoint.id))?.disabled).toBe(false);
    });

    it('judges a failure against a success that came while it was in flight', async () => {
      const disableEndpointAfter = 500;
      await boot({ disableEndpointAfter, retryDelays: [50] });
      // seq 1 fails for good and starts the clock; seq 2 is held while seq 3 succeeds (which
      // stops the clock), then its connection is reset: a failure that started long after the
      // clock did, but ended after a success.
      let releaseSecond: (() => void) | undefined;
      const secondHeld = new Promise<void>((resolve) => (releaseSecond = resolve));
      const seen = new Map<number, number>();
      receiver.behave(async (request, res) => {
        const { seq } = JSON.parse(request.body) as { seq: number };
        const count = (seen.get(seq) ?? 0) + 1;
        seen.set(seq, count);
        if (seq === 1) return answer(res, 500);
        if (seq === 2 && count === 1) {
          await secondHeld;
          return void res.socket?.destroy();
        }
        answer(res, 200);
      });
      const endpoint = await addEndpoint('/hook');

      const first = await ctx!.emitter.emit('ping', { seq: 1 });
      expect((await settled(first.id)).status).toBe('failed');
      const clockStarted = received('/hook')[0].receivedAt;
      await sleep(clockStarted + disableEndpointAfter + 50 - Date.now());

      const second = await ctx!.emitter.emit('ping', { seq: 2 });
      await receiver.waitFor(3);
      const third = await ctx!.emitter.emit('ping', { seq: 3 });
      expect((await settled(third.id)).status).toBe('delivered');
      releaseSecond!();

      const delivery = await settled(second.id);
      expect(delivery).toMatchObject({ status: 'delivered', attempts: 2 });
      expect((await ctx!.endpoints.get(endpoint.id))?.disabled).toBe(false);
    });

    it('stops the failing clock on a success that ends after a concurrent failure', async () => {
      const disableEndpointAfter = 300;
      await boot({ disableEndpointAfter, retryDelays: [] });
      // seq 1 and seq 2 start together; seq 1 fails at once (starting the clock), seq 2 is held
      // until that failure is recorded and then succeeds: its success must stop the clock,
      // though the endpoint had no clock running when seq 2 started.
      let releaseSecond!: () => void;
      const secondHeld = new Promise<void>((resolve) => (releaseSecond = resolve));
      receiver.behave(async (request, res) => {
        const { seq } = JSON.parse(request.body) as { seq: number };
        if (seq === 2) await secondHeld;
        answer(res, seq === 2 ? 200 : 500);
      });
      const endpoint = await addEndpoint('/hook');
      const [first, second] = await Promise.all(
        [1, 2].map((seq) => ctx!.emitter.emit('ping', { seq })),
      );
      await receiver.waitFor(2);
      expect((await settled(first.id)).status).toBe('failed');
      const clockStartedBy = Date.now();
      releaseSecond();
      expect((await settled(second.id)).status).toBe('delivered');

      // Past disableEndpointAfter from the first failure, a new failure starts a new clock.
      await sleep(clockStartedBy + disableEndpointAfter + 50 - Date.now());
      const third = await ctx!.emitter.emit('ping', { seq: 3 });
      expect((await settled(third.id)).status).toBe('failed');
      const after = await ctx!.endpoints.get(endpoint.id);
      expect(after).toMatchObject({ disabled: false, disabledReason: null });
    });

    it('redelivers a failed message, to one endpoint or to all, with the same webhook-id', async () => {
      await boot({ retryDelays: [20] });
      const healthy = new Set<string>();
      receiver.behave((request, res) => answer(res, healthy.has(request.url) ? 200 : 500));
      const a = await addEndpoint('/a');
      const b = await addEndpoint('/b');
      const { id } = await ctx!.emitter.emit('ping', { seq: 7 });
      expect((await settled(id, a.id)).status).toBe('failed');
      expect((await settled(id, b.id)).status).toBe('failed');

      healthy.add('/a');
      expect(await ctx!.deliveries.redeliver(id, a.id)).toEqual({ id, deliveries: 1 });
      const toA = await settled(id, a.id);
      expect(toA).toMatchObject({ status: 'delivered', attempts: 3 });
      expect(toA.attemptLog.map((attempt) => attempt.attempt)).toEqual([1, 2, 3]);
      await sleep(60);
      expect((await ctx!.delivery(id, b.id)).status).toBe('failed');
      expect(received('/b')).toHaveLength(2);

      healthy.add('/b');
      expect(await ctx!.deliveries.redeliver(id)).toEqual({ id, deliveries: 2 });
      const deliveries = await vi.waitFor(async () => {
        const all = await ctx!.deliveries.list({ messageId: id });
        expect(all.map((delivery) => delivery.status)).toEqual(['delivered', 'delivered']);
        expect(all.every((delivery) => delivery.attemptLog.length === delivery.attempts)).toBe(
          true,
        );
        return all;
      }, WAIT);
      const byEndpoint = new Map(deliveries.map((delivery) => [delivery.endpointId, delivery]));
      expect(byEndpoint.get(a.id)?.attempts).toBe(4);
      expect(byEndpoint.get(b.id)?.attempts).toBe(3);

      const secrets: Record<string, WebhookEndpoint> = { '/a': a, '/b': b };
      expect(received('/a')).toHaveLength(4);
      expect(received('/b')).toHaveLength(3);
      for (const request of receiver.requests) {
        expect(request.headers['webhook-id']).toBe(id);
        expect(verifySignature(secrets[request.url].secret, request)).toEqual({ seq: 7 });
      }
    });

    it('leaves a delivery that is still retrying to its schedule on redeliver', async () => {
      await boot({ retryDelays: [300, 300] });
      receiver.behave((_request, res) => answer(res, 500));
      await addEndpoint('/hook');
      const { id } = await ctx!.emitter.emit('ping', { seq: 1 });
      await receiver.waitFor(1);

      // Its retry is already queued: a second job would run a parallel chain of attempts.
      expect(await ctx!.deliveries.redeliver(id)).toEqual({ id, deliveries: 0 });
      const delivery = await settled(id);
      expect(delivery).toMatchObject({ status: 'failed', attempts: 3 });
      expect(delivery.attemptLog.map((attempt) => attempt.attempt)).toEqual([1, 2, 3]);
      await sleep(100);
      expect(received('/hook')).toHaveLength(3);
    });

    it('sends once when two redeliveries of the same message race', async () => {
      await boot({ retryDelays: [] });
      let healthy = false;
      receiver.behave((_request, res) => answer(res, healthy ? 200 : 500));
      await addEndpoint('/hook');
      const { id } = await ctx!.emitter.emit('ping', { seq: 1 });
      expect((await settled(id)).status).toBe('failed');

      healthy = true;
      const replays = await Promise.all([
        ctx!.deliveries.redeliver(id),
        ctx!.deliveries.redeliver(id),
      ]);
      expect(replays.map((replay) => replay.deliveries).sort()).toEqual([0, 1]);
      const delivery: WebhookDeliveryLog = await vi.waitFor(async () => {
        const found = await ctx!.delivery(id);
        expect(found.status).toBe('delivered');
        return found;
      }, WAIT);
      await sleep(100); // time for a second, parallel replay to arrive: none may
      expect(received('/hook')).toHaveLength(2);
      expect(delivery).toMatchObject({ attempts: 2 });
      expect(delivery.attemptLog.map((attempt) => attempt.statusCode)).toEqual([500, 200]);
    });

    it('logs every attempt: number, status, duration, error and the truncated body', async () => {
      await boot({ maxResponseBodyBytes: 16, retryDelays: [20, 20] });
      let calls = 0;
      receiver.behave(async (_request, res) => {
        calls++;
        if (calls === 1) return answer(res, 500, 'nope'.repeat(10));
        if (calls === 2) return void res.socket?.destroy();
        await sleep(60);
        answer(res, 200, 'ok');
      });
      const endpoint = await addEndpoint('/hook');
      const { id } = await ctx!.emitter.emit('ping', { seq: 1 });

      const delivery: WebhookDeliveryLog = await vi.waitFor(async () => {
        const found = await ctx!.delivery(id);
        expect(found.status).toBe('delivered');
        return found;
      }, WAIT);
      expect(delivery).toMatchObject({ attempts: 3, lastError: null, endpointId: endpoint.id });
      const log = delivery.attemptLog;
      expect(log.map((a) => a.attempt)).toEqual([1, 2, 3]);
      expect(log.map((a) => a.statusCode)).toEqual([500, null, 200]);
      expect(log.map((a) => a.outcome)).toEqual(['failed', 'failed', 'delivered']);
      expect(log.map((a) => a.responseBody)).toEqual(['nopenopenopenope', null, 'ok']);
      expect(log[0].error).toBeNull();
      expect(log[1].error).toEqual(expect.any(String));
      expect(log[2].error).toBeNull();
      for (const attempt of log) {
        expect(attempt).toMatchObject({ deliveryId: delivery.id, messageId: id });
        expect(attempt.endpointId).toBe(endpoint.id);
        expect(Number.isFinite(attempt.durationMs) && attempt.durationMs >= 0).toBe(true);
      }
      expect(log[2].durationMs).toBeGreaterThanOrEqual(55); // the receiver took 60 ms to answer
      const started = log.map((a) => a.startedAt.getTime());
      expect([...started].sort((x, y) => x - y)).toEqual(started);
    });

    it('runs a retry due at once that was queued while its own attempt was in flight', async () => {
      await boot({ retryDelays: [0, 0] });
      let calls = 0;
      receiver.behave((_request, res) => answer(res, calls++ < 2 ? 500 : 204));
      await addEndpoint('/hook');
      const { id } = await ctx!.emitter.emit('ping', { seq: 1 });

      const delivery = await settled(id);
      expect(delivery).toMatchObject({ status: 'delivered', attempts: 3 });
      expect(received('/hook')).toHaveLength(3);
    });

    it('ends a delivery redelivered while an attempt to its removed endpoint was in flight', async () => {
      await boot({ retryDelays: [50] });
      let release!: () => void;
      const held = new Promise<void>((resolve) => (release = resolve));
      receiver.behave(async (_request, res) => {
        await held;
        answer(res, 204);
      });
      const endpoint = await addEndpoint('/hook');
      const { id } = await ctx!.emitter.emit('ping', { seq: 1 });
      await receiver.waitFor(1);
      await ctx!.endpoints.remove(endpoint.id);
      await ctx!.deliveries.redeliver(id);
      release();

      // Not left pending with nothing to run it: claimed again, without its endpoint, it fails.
      const delivery = await settled(id);
      expect(delivery).toMatchObject({ status: 'failed' });
      expect(delivery.lastError).toContain('was removed');
    });

    describe('an unexpected error in an attempt', () => {
      let logger: CaptureLogger;

      /**
       * Boots with a logger, and makes `method` of the store reject on its first `failures`
       * calls, with `failure`.
       */
      const bootWithFlakyStore = async (
        method: 'record' | 'claim',
        options: WebhooksModuleOptions,
        failures = 1,
        failure = () => new Error(`${method} failed: store unavailable`),
      ) => {
        logger = new CaptureLogger();
        ctx = await bootDeliveryApp(
          { transport, timeout: 2_000, shutdownTimeout: 2_000, ...options },
          logger,
        );
        const store = ctx.app.get(WebhooksRuntime).store;
        const original = store[method].bind(store) as (...args: unknown[]) => Promise<unknown>;
        let broken = failures;
        let calls = 0;
        (store as unknown as Record<string, unknown>)[method] = (...args: unknown[]) => {
          calls++;
          if (broken === 0) return original(...args);
          broken--;
          return Promise.reject(failure());
        };
        return { calls: () => calls };
      };
      const errors = () =>
        logger
          .at('error')
          .filter((line) => line.context === 'Webhooks')
          .map((line) => line.message);

      it('is logged, and the attempt retried after the next retry delay', async () => {
        await bootWithFlakyStore('record', { retryDelays: [200] });
        let calls = 0;
        receiver.behave((_request, res) => answer(res, calls++ === 0 ? 500 : 204));
        const endpoint = await addEndpoint('/hook');
        const { id } = await ctx!.emitter.emit('ping', { seq: 1 });

        const delivery = await settled(id);
        expect(delivery).toMatchObject({ status: 'delivered', lastError: null });
        // The failed attempt's record failed; recovery logged it with the retry.
        expect(delivery.attemptLog.map((attempt) => attempt.statusCode)).toEqual([500, 204]);
        const requests = received('/hook');
        expect(requests).toHaveLength(2);
        expect(gaps(requests)[0]).toBeGreaterThanOrEqual(0.8 * 200 - 5);
        expect(errors()).toEqual([
          expect.stringMatching(
            new RegExp(
              `^Delivery ${delivery.id} to endpoint ${endpoint.id} hit an unexpected error ` +
                `\\(Error: record failed: store unavailable\\); retrying in \\d+ ms\\.$`,
            ),
          ),
        ]);
        const logged = JSON.stringify(logger.lines);
        expect(logged).not.toContain(endpoint.secret.slice('whsec_'.length));
      });

      it('records a delivered attempt again when its record failed, rather than send it twice', async () => {
        await bootWithFlakyStore('record', { retryDelays: [200] });
        const endpoint = await addEndpoint('/hook');
        const { id } = await ctx!.emitter.emit('ping', { seq: 1 });

        const delivery = await settled(id);
        expect(delivery).toMatchObject({ status: 'delivered', attempts: 1, lastError: null });
        expect(delivery.attemptLog.map((attempt) => attempt.statusCode)).toEqual([204]);
        await sleep(300);
        expect(received('/hook')).toHaveLength(1);
        expect(errors()).toEqual([
          deliveredRecordFailed(
            delivery.id,
            endpoint.id,
            'Error: record failed: store unavailable',
          ),
        ]);
      });

      it('before the delivery is claimed still retries it', async () => {
        await bootWithFlakyStore('claim', { retryDelays: [50] });
        await addEndpoint('/hook');
        const { id } = await ctx!.emitter.emit('ping', { seq: 1 });

        const delivery = await settled(id);
        expect(delivery).toMatchObject({ status: 'delivered', attempts: 1 });
        expect(received('/hook')).toHaveLength(1);
        expect(errors()).toEqual([expect.stringMatching(/claim failed.*retrying in/)]);
      });

      it.each([[[]], [[0, 5_000]]])(
        'waits a second before trying again, with retryDelays %j too, letting the process run',
        async (retryDelays) => {
          const store = await bootWithFlakyStore('claim', { retryDelays }, 1_000);
          await addEndpoint('/hook');
          await ctx!.emitter.emit('ping', { seq: 1 });

          // A timer runs meanwhile: queued again at once, the claims that fail would go round
          // in promise callbacks alone, a thousand times before it could.
          await sleep(300);
          expect(store.calls()).toBe(1);
          expect(errors()).toEqual([expect.stringMatching(/claim failed.*retrying in 1000 ms/)]);
          await waitUntil(() => store.calls() === 2, 'the second claim, a second later');
        },
      );

      it('logs a store that cannot be reached once, and how many calls failed on it once it answers', async () => {
        // Three deliveries whose claims fail twice each: six failures, one line.
        await bootWithFlakyStore(
          'claim',
          { retryDelays: [50] },
          6,
          () => new WebhookStoreError('the database is away', true),
        );
        await addEndpoint('/hook');
        const sent = await Promise.all([1, 2, 3].map((seq) => ctx!.emitter.emit('ping', { seq })));

        for (const { id } of sent) {
          expect(await settled(id)).toMatchObject({ status: 'delivered', attempts: 1 });
        }
        expect(errors()).toEqual([storeUnreachable('WebhookStoreError: the database is away')]);
        const back = logger.lines.filter((line) =>
          line.message.startsWith('The webhook store answers again'),
        );
        expect(back).toEqual([
          expect.objectContaining({
            level: 'log',
            message: expect.stringMatching(/ after \d+\.\d s; 5 more call\(s\) failed/),
          }),
        ]);
      });

      it('logs each statement the store refuses: only a store out of reach is counted', async () => {
        await bootWithFlakyStore(
          'claim',
          { retryDelays: [50] },
          2,
          () => new WebhookStoreError('the statement was refused', false),
        );
        await addEndpoint('/hook');
        const sent = await Promise.all([1, 2].map((seq) => ctx!.emitter.emit('ping', { seq })));

        for (const { id } of sent) expect(await settled(id)).toMatchObject({ status: 'delivered' });
        expect(errors()).toEqual([
          expect.stringMatching(/hit an unexpected error \(WebhookStoreError: the statement was/),
          expect.stringMatching(/hit an unexpected error \(WebhookStoreError: the statement was/),
        ]);
      });

      it('sends again when neither a failed attempt nor its recovery could be recorded', async () => {
        // The record that schedules the retry and recovery's own record both fail: the retry
        // still runs (the delivery is still pending and due), numbered after what the log holds.
        await bootWithFlakyStore('record', { retryDelays: [50] }, 2);
        let calls = 0;
        receiver.behave((_request, res) => {
          if (calls++ === 0) answer(res, 500, 'boom');
          else answer(res, 200, 'ok');
        });
        await addEndpoint('/hook');
        const { id } = await ctx!.emitter.emit('ping', { seq: 1 });

        const delivery = await settled(id);
        expect(delivery).toMatchObject({ status: 'delivered', attempts: 1 });
        expect(delivery.attemptLog.map((attempt) => [attempt.attempt, attempt.statusCode])).toEqual(
          [[1, 200]],
        );
        expect(received('/hook')).toHaveLength(2);
      });

      it('fails the delivery when no retry is left, and reports it', async () => {
        await bootWithFlakyStore('record', { retryDelays: [] });
        receiver.behave((_request, res) => answer(res, 500));
        const events: WebhookLifecycleEvent[] = [];
        const subscription = ctx!.deliveries.events.subscribe((event) => events.push(event));
        await addEndpoint('/hook');
        const { id } = await ctx!.emitter.emit('ping', { seq: 1 });

        const delivery = await settled(id);
        subscription.unsubscribe();
        expect(delivery).toMatchObject({ status: 'failed', nextAttemptAt: null });
        expect(delivery.lastError).toMatch(/^unexpected error: Error: record failed/);
        expect(errors()).toEqual([
          expect.stringMatching(/no retry is left, so it is marked failed/),
        ]);
        expect(events.map((event) => event.type)).toEqual(['delivery-exhausted']);
        await sleep(100);
        expect(received('/hook')).toHaveLength(1);
      });
    });
  },
);
