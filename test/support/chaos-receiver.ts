import type { ServerResponse } from 'node:http';
import { startReceiver, type ReceivedRequest } from './receiver.js';

/**
 * How the chaos receiver treated one request:
 * - `ok`: answered 200 at once;
 * - `error`: answered 500;
 * - `throttle`: answered 429 with a `Retry-After` in seconds;
 * - `hang`: held the request longer than the sender waits, then answered 200 (which the
 *   sender, long gone, never reads) or dropped the connection;
 * - `reset`: destroyed the connection after reading the whole body.
 */
export type ChaosKind = 'ok' | 'error' | 'throttle' | 'hang' | 'reset';

export interface ChaosOptions {
  /** Seeds every decision, so a run's decisions are the same whatever the timing. */
  seed: number;
  /** Chance, per request, of each kind of failure; `ok` takes the rest. */
  rates: { error: number; throttle: number; hang: number; reset: number };
  /**
   * After this many failures of one (message, path) pair, every further request of that pair
   * is answered `ok`, so that a finite retry schedule is always enough.
   */
  maxFailures: number;
  /** How long a `hang` holds the request; make it longer than the sender's timeout. */
  hangMs: number;
  /** `Retry-After` values (seconds) a `throttle` picks from. */
  retryAfterSeconds: readonly number[];
}

/** One request as the chaos receiver saw and treated it. */
export interface ChaosRequest {
  /** Serial number in order of arrival (complete body read); index into `requests`. */
  n: number;
  path: string;
  webhookId: string;
  /** The `seq` of the ping payload. */
  seq: number;
  /** How many requests of the same (webhook-id, path) pair arrived before this one. */
  index: number;
  kind: ChaosKind;
  /**
   * Whether the receiver processed the message, as a real receiver would commit its work:
   * every `ok`, and half of the `hang`s and `reset`s (the work was done, then the answer was
   * late or the connection died). An accepted request whose 2xx the sender never read is an
   * *answer lost*: the only legitimate cause of a duplicate.
   */
  accepted: boolean;
  /** The status sent (or, for a late answer, attempted); `null` when none was. */
  status: number | null;
  /** For `throttle`: the `Retry-After` sent, in seconds. */
  retryAfter?: number;
}

export interface ChaosReceiver {
  url: string;
  /** Every request, `requests[n].n === n`. */
  requests: ChaosRequest[];
  close(): Promise<void>;
}

/**
 * A receiver on 127.0.0.1 that fails at random in the ways real receivers do. Every answer
 * it sends carries `{"n": <serial>}` as its body, so the delivery log's `responseBody` tells
 * exactly which request an attempt's answer came from.
 */
export async function startChaosReceiver(options: ChaosOptions): Promise<ChaosReceiver> {
  const base = await startReceiver();
  const requests: ChaosRequest[] = [];
  const seen = new Map<string, { count: number; failures: number }>();
  const timers = new Set<NodeJS.Timeout>();

  const hold = (res: ServerResponse, ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      timers.add(timer);
      res.once('close', done);
      function done() {
        clearTimeout(timer);
        timers.delete(timer);
        resolve();
      }
    });

  base.behave(async (request: ReceivedRequest, res: ServerResponse) => {
    const webhookId = String(request.headers['webhook-id']);
    const { seq } = JSON.parse(request.body) as { seq: number };
    const key = `${webhookId} ${request.url}`;
    const pair = seen.get(key) ?? { count: 0, failures: 0 };
    seen.set(key, pair);
    const random = mulberry32(hash(`${options.seed}|${request.url}|${seq}|${pair.count}`));
    const kind = pair.failures >= options.maxFailures ? 'ok' : pick(random(), options.rates);
    const entry: ChaosRequest = {
      n: requests.length,
      path: request.url,
      webhookId,
      seq,
      index: pair.count,
      kind,
      accepted: kind === 'ok' || ((kind === 'hang' || kind === 'reset') && random() < 0.5),
      status: null,
    };
    requests.push(entry);
    pair.count++;
    if (kind !== 'ok') pair.failures++;
    const tag = JSON.stringify({ n: entry.n });

    switch (kind) {
      case 'ok':
        return send(res, (entry.status = 200), tag);
      case 'error':
        return send(res, (entry.status = 500), tag);
      case 'throttle': {
        const seconds =
          options.retryAfterSeconds[Math.floor(random() * options.retryAfterSeconds.length)];
        entry.retryAfter = seconds;
        return send(res, (entry.status = 429), tag, { 'retry-after': String(seconds) });
      }
      case 'hang':
        await hold(res, options.hangMs);
        if (entry.accepted) {
          // Too late: the sender has given up and (normally) closed the connection.
          entry.status = 200;
          if (!res.destroyed) return send(res, 200, tag);
        }
        return void res.destroy();
      case 'reset':
        return void res.socket?.destroy();
    }
  });

  return {
    url: base.url,
    requests,
    async close() {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      await base.close();
    },
  };
}

function send(
  res: ServerResponse,
  status: number,
  body: string,
  headers: Record<string, string> = {},
) {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(body);
}

function pick(roll: number, rates: ChaosOptions['rates']): ChaosKind {
  let edge = 0;
  for (const kind of ['error', 'throttle', 'hang', 'reset'] as const) {
    edge += rates[kind];
    if (roll < edge) return kind;
  }
  return 'ok';
}

/** FNV-1a, 32 bits: turns a decision's key into a seed. */
function hash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** A small seeded PRNG with uniform output in [0, 1). */
function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
