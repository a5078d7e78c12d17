import { performance } from 'node:perf_hooks';
import { attemptId, createId } from '../lib/storage/ids.js';
import { MEMORY_COSTS, MemoryWebhookStore } from '../lib/storage/memory-webhook.store.js';
import type {
  WebhookAttempt,
  WebhookMessage,
} from '../lib/interfaces/webhook-message.interface.js';

// `npm run bench:store`: what the in-memory store holds in the heap per message and per attempt,
// against what it estimates (`MEMORY_COSTS`, which `maxStoreBytes` is counted in), and whether
// `maxStoreBytes` bounds the heap. It only prints. Runs with --expose-gc, in a process of its own.
//
// 1. Cost. Logs of BENCH_STORE_MESSAGES (50,000) messages each, written as the dispatcher
//    writes them (emit, then for each delivery claim and record with its attempt and outcome),
//    each read as the heap it adds after full collections, beside the store's own estimate:
//    - delivered: one endpoint, one attempt answered 204 (the common case);
//    - delivered, 1 KiB answers: one endpoint, one attempt whose 2xx answer kept 1 KiB;
//    - failing: 8 endpoints, each with one attempt answered 503 and still pending (a receiver
//      that is down);
//    - keys: delivered messages with an idempotency key, into a store too small to keep them:
//      it forgets each message and keeps its key (what `MEMORY_COSTS.key` estimates).
//    The ratio is estimate / heap: 1.0 is exact, above 1 the estimate is on the safe side.
// 2. Bound. BENCH_STORE_FLOOD (300,000) delivered messages into a store with `maxStoreBytes`
//    of 32 MiB: the heap the store holds at the end, against that limit.
// 3. Listings. BENCH_STORE_LISTED (200,000) delivered messages: the time of a page of 100 of
//    `listMessages` and of `listDeliveries` (the newest page, a page from a cursor halfway
//    down, the newest page again after one more emit), medians of 21 tries, against sorting
//    the messages by id once in the same run (what every page did before the store kept them
//    in id order).

const MB = 1024 * 1024;
const MESSAGES = Number(process.env.BENCH_STORE_MESSAGES ?? 50_000);
const FLOOD = Number(process.env.BENCH_STORE_FLOOD ?? 300_000);
const FLOOD_LIMIT = 32 * MB;
const LISTED = Number(process.env.BENCH_STORE_LISTED ?? 200_000);
// The body `bench:delivery` sends: an order of a few fields.
const BODY = JSON.stringify({
  id: 'ord_0001',
  customerId: 'cus_0001',
  total: 4200,
  currency: 'EUR',
  placedAt: '2026-12-01T09:00:00.000Z',
});

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc');

function heapUsed(): number {
  // Several passes: what the first one finalizes is freed by the next.
  for (let i = 0; i < 3; i++) gc!();
  return process.memoryUsage().heapUsed;
}

interface Log {
  name: string;
  endpoints: number;
  status: number;
  responseBody: string;
  delivered: boolean;
  /** Whether each message carries an idempotency key. */
  keyed?: boolean;
  /** `false`: emitted only, its deliveries waiting for their first attempt. */
  attempted?: boolean;
}

const LOGS: Log[] = [
  { name: 'delivered', endpoints: 1, status: 204, responseBody: '', delivered: true },
  {
    name: 'delivered, 1 KiB answers',
    endpoints: 1,
    status: 200,
    responseBody: 'k'.repeat(1024),
    delivered: true,
  },
  {
    name: 'failing, 8 endpoints',
    endpoints: 8,
    status: 503,
    responseBody: 'Service Unavailable',
    delivered: false,
  },
  {
    name: 'backlog, 1 endpoint',
    endpoints: 1,
    status: 0,
    responseBody: '',
    delivered: false,
    attempted: false,
  },
  {
    name: 'backlog, 8 endpoints',
    endpoints: 8,
    status: 0,
    responseBody: '',
    delivered: false,
    attempted: false,
  },
];

const OWNER = 'bench';

/** A store with `log.endpoints` endpoints subscribed to the bench's event. */
async function storeFor(log: Log, maxStoreBytes: number): Promise<MemoryWebhookStore> {
  const store = new MemoryWebhookStore({ maxStoreBytes });
  for (let n = 0; n < log.endpoints; n++) {
    const now = new Date();
    await store.insertEndpoint({
      id: createId('ep'),
      url: `https://receiver.example/hooks/${n}`,
      events: ['order.placed'],
      secret: 'whsec_c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0',
      tenant: null,
      description: null,
      disabled: false,
      disabledReason: null,
      createdAt: now,
      updatedAt: now,
      retiredSecrets: [],
      failingSince: null,
    });
  }
  return store;
}

async function write(store: MemoryWebhookStore, log: Log, count: number) {
  const since = new Date();
  for (let n = 0; n < count; n++) {
    const message: WebhookMessage = {
      id: createId('msg'),
      event: 'order.placed',
      method: 'post',
      tenant: null,
      body: BODY,
      idempotencyKey: log.keyed ? `order-${n}` : null,
      createdAt: new Date(),
    };
    const emitted = await store.emit({ message, idempotentSince: since, notify: false });
    if (!emitted.inserted) throw new Error('expected every bench message to be stored');
    if (log.attempted === false) continue;
    for (const { id: deliveryId, endpointId } of emitted.deliveries) {
      const now = new Date();
      const claimed = await store.claim(deliveryId, {
        owner: OWNER,
        now,
        until: new Date(now.getTime() + 60_000),
      });
      if (!claimed) throw new Error(`expected to claim ${deliveryId}`);
      const attempt: WebhookAttempt = {
        id: attemptId(deliveryId, 1),
        deliveryId,
        messageId: message.id,
        endpointId,
        attempt: 1,
        startedAt: now,
        durationMs: 1.25,
        statusCode: log.status,
        error: null,
        // A fresh flat string per answer, as a transport decodes each one from its bytes.
        responseBody: log.responseBody ? Buffer.from(log.responseBody).toString('utf8') : '',
        outcome: log.delivered ? 'delivered' : 'failed',
      };
      const ended = new Date();
      await store.record(
        deliveryId,
        OWNER,
        attempt,
        log.delivered
          ? {
              status: 'delivered',
              scheduleAttempts: 1,
              nextAttemptAt: null,
              lastError: null,
              updatedAt: ended,
            }
          : {
              status: 'pending',
              scheduleAttempts: 1,
              nextAttemptAt: new Date(ended.getTime() + 300_000),
              lastError: `HTTP ${log.status}`,
              updatedAt: ended,
            },
      );
    }
  }
}

const kept = async (store: MemoryWebhookStore) =>
  (await store.listDeliveries({}, { limit: Infinity })).items.length;

const bytes = (value: number) => `${Math.round(value).toLocaleString('en-US')} B`;

console.log(`store cost per message (${MESSAGES.toLocaleString('en-US')} messages per log):`);
console.log(`  MEMORY_COSTS: ${JSON.stringify(MEMORY_COSTS)}`);
const heaps = new Map<string, number>();
for (const log of LOGS) {
  const store = await storeFor(log, Number.MAX_SAFE_INTEGER);
  const before = heapUsed();
  await write(store, log, MESSAGES);
  const heap = (heapUsed() - before) / MESSAGES;
  const estimate = store.estimatedBytes / MESSAGES;
  heaps.set(log.name, heap);
  console.log(
    `  ${log.name}: heap ${bytes(heap)}, estimate ${bytes(estimate)} per message ` +
      `(${log.endpoints} deliveries, ${log.attempted === false ? 0 : log.endpoints} attempts): ` +
      `estimate/heap ${(estimate / heap).toFixed(2)}`,
  );
  await store.close();
}
{
  // What each part holds, from the logs that differ by it: the figures `MEMORY_COSTS` takes,
  // rounded up. The attempt's share includes what a retry changes of its delivery.
  const heap = (name: string) => heaps.get(name)!;
  const delivery = (heap('backlog, 8 endpoints') - heap('backlog, 1 endpoint')) / 7;
  const message = heap('backlog, 1 endpoint') - delivery - BODY.length;
  const attempt =
    (heap('failing, 8 endpoints') - heap('backlog, 8 endpoints')) / 8 -
    'Service Unavailable'.length;
  console.log(
    `  parts: message ${bytes(message)}, delivery ${bytes(delivery)}, attempt ${bytes(attempt)}`,
  );
}

{
  const keys: Log = { ...LOGS[0], name: 'keys of forgotten messages', keyed: true };
  // Room for every key, and for a few hundred messages beside them (both counted below).
  const perMessage =
    MEMORY_COSTS.message + MEMORY_COSTS.delivery + MEMORY_COSTS.attempt + BODY.length + 16;
  const store = await storeFor(keys, MESSAGES * (MEMORY_COSTS.key + 24) + 500 * perMessage);
  const before = heapUsed();
  await write(store, keys, MESSAGES);
  const heap = (heapUsed() - before) / MESSAGES;
  const estimate = store.estimatedBytes / MESSAGES;
  const messages = await kept(store);
  console.log(
    `  ${keys.name} (${messages.toLocaleString('en-US')} messages still kept): heap ${bytes(heap)}, ` +
      `estimate ${bytes(estimate)} per key: estimate/heap ${(estimate / heap).toFixed(2)}`,
  );
  await store.close();
}

{
  const store = await storeFor(LOGS[0], FLOOD_LIMIT);
  const before = heapUsed();
  await write(store, LOGS[0], FLOOD);
  const heap = heapUsed() - before;
  const messages = await kept(store);
  console.log(
    `bound: ${FLOOD.toLocaleString('en-US')} delivered messages into maxStoreBytes ` +
      `${FLOOD_LIMIT / MB} MiB: ${messages.toLocaleString('en-US')} kept, heap ` +
      `${(heap / MB).toFixed(1)} MB, estimate ${(store.estimatedBytes / MB).toFixed(1)} MB: ` +
      `heap/limit ${(heap / FLOOD_LIMIT).toFixed(2)}`,
  );
  await store.close();
}

{
  const store = await storeFor(LOGS[0], 1024 * MB);
  await write(store, LOGS[0], LISTED);
  const median = (values: number[]) => [...values].sort((x, y) => x - y)[values.length >> 1];
  const time = async (run: () => Promise<unknown>) => {
    const times: number[] = [];
    for (let i = 0; i < 21; i++) {
      const start = performance.now();
      await run();
      times.push(performance.now() - start);
    }
    return median(times);
  };
  const ids = (await store.listMessages({}, { limit: LISTED })).items.map((m) => m.id);
  const sortOnce = await time(async () => [...ids].reverse().sort());
  const middle = ids[LISTED >> 1];
  const middleDelivery = (await store.listDeliveries({}, { limit: LISTED >> 1 })).next!;
  const rows: [string, number][] = [
    ['listMessages, newest page', await time(() => store.listMessages({}, { limit: 100 }))],
    [
      'listMessages, from halfway',
      await time(() => store.listMessages({}, { limit: 100, after: middle })),
    ],
    ['listDeliveries, newest page', await time(() => store.listDeliveries({}, { limit: 100 }))],
    [
      'listDeliveries, from halfway',
      await time(() => store.listDeliveries({}, { limit: 100, after: middleDelivery })),
    ],
    [
      'listMessages, newest page after an emit',
      await time(async () => {
        await write(store, LOGS[0], 1);
        return store.listMessages({}, { limit: 100 });
      }),
    ],
  ];
  console.log(
    `listings: pages of 100 among ${LISTED.toLocaleString('en-US')} messages; baseline: one ` +
      `sort of their ids, ${sortOnce.toFixed(2)} ms`,
  );
  for (const [label, ms] of rows) {
    console.log(`  ${label}: ${ms.toFixed(3)} ms, ratio to the sort ${(ms / sortOnce).toFixed(3)}`);
  }
  await store.close();
}
