import 'reflect-metadata';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { WebhookDeliveryLog } from '../../../lib/index.js';
import { bootDeliveryApp, type DeliveryApp } from '../../fixtures/retry/delivery-app.js';
import {
  startChaosReceiver,
  type ChaosReceiver,
  type ChaosRequest,
} from '../../support/chaos-receiver.js';

const MESSAGES = 1_000;
const PATHS = ['/a', '/b', '/c'];
// The sender and the receiver share one event loop on a 2-core box. At 300 ms, stalls of a
// busy machine (200-300 ms measured) time out prompt answers too, and a pair could run out of
// retries; 500 ms leaves them room. Hangs last longer than that, so they always time out.
const TIMEOUT = 500;

/*
 * The chaos test. 1,000 messages go to 3 endpoints of a receiver that, per request and
 * at random (seeded), answers 500, answers 429 with `Retry-After: 0` or `1`, hangs past the
 * sender's timeout, or resets the connection after reading the body, ~10% each. It fails one
 * (message, endpoint) pair at most 4 times, so the 8 retries of the schedule always suffice,
 * with room for attempts that time out because the machine stalled.
 *
 * What "nothing lost, duplicates only where an answer was lost" means here, precisely:
 * - every answer the receiver sends carries its request's serial number `n`, so each attempt
 *   in the delivery log that got an HTTP answer names the request it answered;
 * - a request is *accepted* when the receiver processed the message (see `ChaosRequest`): an
 *   immediate 200, or a hang/reset after which the receiver had done the work anyway;
 * - nothing lost: each of the 3,000 pairs has exactly one attempt in the log that read a 2xx,
 *   that 2xx is an accepted request of the same pair, and it is the pair's last request (the
 *   sender never sends again after reading a success);
 * - a *duplicate* is a pair the receiver accepted more than once. Every acceptance but the
 *   one the sender read must have been an answer lost: a hang or reset after the receiver did
 *   the work, or (should the event loop stall past the timeout) a 200 that no attempt read.
 *   Each lost answer must also be matched by an attempt of the pair that got no HTTP answer.
 */
describe.each(['http', 'undici'] as const)('chaos (%s transport)', (transport) => {
  let receiver: ChaosReceiver | undefined;
  let ctx: DeliveryApp | undefined;

  afterEach(async () => {
    await ctx?.app.close();
    await receiver?.close();
    ctx = undefined;
    receiver = undefined;
  });

  it(
    'delivers every message to every endpoint, losing nothing, duplicating only lost answers',
    { timeout: 120_000 },
    async () => {
      receiver = await startChaosReceiver({
        seed: 20_261_128,
        rates: { error: 0.1, throttle: 0.1, hang: 0.1, reset: 0.1 },
        maxFailures: 4,
        hangMs: TIMEOUT + 200,
        retryAfterSeconds: [0, 1],
      });
      ctx = await bootDeliveryApp({
        transport,
        timeout: TIMEOUT,
        retryDelays: [20, 50, 100, 200, 300, 400, 500, 600],
        shutdownTimeout: 2_000,
      });
      const pathOf = new Map<string, string>();
      for (const path of PATHS) {
        const endpoint = await ctx.endpoints.add({
          url: `${receiver.url}${path}`,
          events: ['ping'],
        });
        pathOf.set(endpoint.id, path);
      }

      const started = Date.now();
      const messageIds = new Set<string>();
      for (let seq = 0; seq < MESSAGES; seq++) {
        const { id, endpoints } = await ctx.emitter.emit('ping', { seq });
        expect(endpoints).toBe(PATHS.length);
        messageIds.add(id);
      }
      const logs: WebhookDeliveryLog[] = await vi.waitFor(
        async () => {
          const all = await ctx!.deliveries.list({ limit: Infinity });
          expect(all.filter((delivery) => delivery.status === 'pending')).toHaveLength(0);
          return all;
        },
        { timeout: 90_000, interval: 100 },
      );
      const elapsed = Date.now() - started;
      const requests = receiver.requests;

      // Every delivery ended delivered, its log numbered 1..n with one success, the last.
      expect(logs).toHaveLength(MESSAGES * PATHS.length);
      const notDelivered = logs.filter((delivery) => delivery.status !== 'delivered');
      expect(notDelivered.map((d) => [d.status, d.lastError])).toEqual([]);
      const seenAnswer = new Map<string, ChaosRequest>(); // pair -> the request whose 2xx was read
      const noAnswerAttempts = new Map<string, number>(); // pair -> attempts with no HTTP answer
      let attempts = 0;
      for (const delivery of logs) {
        const path = pathOf.get(delivery.endpointId)!;
        const key = `${delivery.messageId} ${path}`;
        const log = delivery.attemptLog;
        attempts += log.length;
        expect(log.map((attempt) => attempt.attempt)).toEqual(log.map((_, i) => i + 1));
        expect(delivery.attempts).toBe(log.length);
        expect(log.map((attempt) => attempt.outcome).lastIndexOf('delivered')).toBe(log.length - 1);
        expect(log.filter((attempt) => attempt.outcome === 'delivered')).toHaveLength(1);
        noAnswerAttempts.set(key, log.filter((attempt) => attempt.statusCode === null).length);
        for (const attempt of log) {
          if (attempt.statusCode === null) continue;
          // The answer names its request: same pair, same status as the receiver sent.
          const answered = requests[(JSON.parse(attempt.responseBody!) as { n: number }).n];
          expect([answered.webhookId, answered.path]).toEqual([delivery.messageId, path]);
          expect(answered.status).toBe(attempt.statusCode);
          if (attempt.outcome === 'delivered') seenAnswer.set(key, answered);
        }
      }

      // Every pair reached the receiver, and a success was the last thing it got.
      const byPair = new Map<string, ChaosRequest[]>();
      for (const request of requests) {
        const key = `${request.webhookId} ${request.path}`;
        const list = byPair.get(key);
        if (list) list.push(request);
        else byPair.set(key, [request]);
      }
      expect(byPair.size).toBe(MESSAGES * PATHS.length);
      expect([...byPair.keys()].every((key) => messageIds.has(key.split(' ')[0]))).toBe(true);
      expect(seenAnswer.size).toBe(MESSAGES * PATHS.length);

      let duplicates = 0;
      let lostAnswers = 0;
      let lostInTime = 0;
      for (const [key, list] of byPair) {
        const seen = seenAnswer.get(key)!;
        expect(seen).toMatchObject({ kind: 'ok', accepted: true });
        expect(list.at(-1)).toBe(seen);
        const lost = list.filter((request) => request.accepted && request !== seen);
        if (lost.length === 0) continue;
        duplicates++;
        lostAnswers += lost.length;
        for (const request of lost) {
          expect(request.n).toBeLessThan(seen.n);
          // A 200 sent in time can only be lost if no attempt read it (a stalled event loop).
          if (request.kind === 'ok') lostInTime++;
          else expect(['hang', 'reset']).toContain(request.kind);
        }
        expect(lost.length).toBeLessThanOrEqual(noAnswerAttempts.get(key)!);
      }

      const kinds: Record<string, number> = {};
      for (const request of requests) kinds[request.kind] = (kinds[request.kind] ?? 0) + 1;
      const repeated = [...byPair.values()].filter((list) => list.length > 1).length;
      const mostAttempts = Math.max(...logs.map((delivery) => delivery.attempts));
      console.log(
        `chaos (${transport}): ${MESSAGES} messages x ${PATHS.length} endpoints in ${elapsed} ms; ` +
          `${requests.length} requests received (${JSON.stringify(kinds)}), ` +
          `${attempts} attempts logged (${attempts - requests.length} never reached the receiver, ` +
          `at most ${mostAttempts} for one delivery); ` +
          `${repeated} pairs received more than once; ${duplicates} duplicates ` +
          `(${lostAnswers} lost answers: ` +
          `${requests.filter((r) => r.kind === 'hang' && r.accepted).length} late 200s after a hang, ` +
          `${requests.filter((r) => r.kind === 'reset' && r.accepted).length} resets after processing, ` +
          `${lostInTime} 200s nobody read)`,
      );
    },
  );
});
