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
// 1. Cost. Three logs of BENCH_STORE_MESSAGES (50,000) messages each, written as the dispatcher
//    writes them (insertMessage, then recordAttempt with the delivery's patch), each read as the
//    heap it adds after full collections, beside the store's own estimate:
//    - delivered: one endpoint, one attempt answered 204 (the common case);
//    - delivered, 1 KiB answers: one endpoint, one attempt whose 2xx answer kept 1 KiB;
//    - failing: 8 endpoints, each with one attempt answered 503 and still pending (a receiver
//      that is down);
//    - keys: delivered messages with an idempotency key, into a store too small to keep them:
//      it forgets each message and keeps its key (what `MEMORY_COSTS.key` estimates).
//    The ratio is estimate / heap: 1.0 is exact, above 1 the estimate is on the safe side.
// 2. Bound. BENCH_STORE_FLOOD (300,000) delivered messages into a store with `maxStoreBytes`
//    of 32 MiB: the heap the store holds at the end, against that limit.

const MB = 1024 * 1024;
const MESSAGES = Number(process.env.BENCH_STORE_MESSAGES ?? 50_000);
const FLOOD = Number(process.env.BENCH_STORE_FLOOD ?? 300_000);
const FLOOD_LIMIT = 32 * MB;
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
];

async function write(store: MemoryWebhookStore, log: Log, count: number) {
  const endpointIds = Array.from({ length: log.endpoints }, (_, n) => `ep_bench${n}`);
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
    await store.insertMessage(message, endpointIds, since);
    for (const [index, endpointId] of endpointIds.entries()) {
      const deliveryId = `dlv_${index.toString(36)}_${message.id}`;
      const attempt: WebhookAttempt = {
        id: attemptId(deliveryId, 1),
        deliveryId,
        messageId: message.id,
        endpointId,
        attempt: 1,
        startedAt: new Date(),
        durationMs: 1.25,
        statusCode: log.status,
        error: null,
        // A fresh flat string per answer, as a transport decodes each one from its bytes.
        responseBody: log.responseBody ? Buffer.from(log.responseBody).toString('utf8') : '',
        outcome: log.delivered ? 'delivered' : 'failed',
      };
      const now = new Date();
      await store.recordAttempt(
        attempt,
        log.delivered
          ? {
              status: 'delivered',
              attempts: 1,
              nextAttemptAt: null,
              lastError: null,
              updatedAt: now,
            }
          : { attempts: 1 },
      );
      if (!log.delivered) {
        await store.updateDelivery(deliveryId, {
          scheduleAttempts: 1,
          nextAttemptAt: new Date(now.getTime() + 300_000),
          lastError: `HTTP ${log.status}`,
          updatedAt: now,
        });
      }
    }
  }
}

const bytes = (value: number) => `${Math.round(value).toLocaleString('en-US')} B`;

console.log(`store cost per message (${MESSAGES.toLocaleString('en-US')} messages per log):`);
console.log(`  MEMORY_COSTS: ${JSON.stringify(MEMORY_COSTS)}`);
for (const log of LOGS) {
  const store = new MemoryWebhookStore({ maxStoreBytes: Number.MAX_SAFE_INTEGER });
  const before = heapUsed();
  await write(store, log, MESSAGES);
  const heap = (heapUsed() - before) / MESSAGES;
  const estimate = store.estimatedBytes / MESSAGES;
  console.log(
    `  ${log.name}: heap ${bytes(heap)}, estimate ${bytes(estimate)} per message ` +
      `(${log.endpoints} deliveries, ${log.endpoints} attempts): estimate/heap ${(estimate / heap).toFixed(2)}`,
  );
  await store.close();
}

{
  const keys: Log = { ...LOGS[0], name: 'keys of forgotten messages', keyed: true };
  // Room for every key, and for a few hundred messages beside them (both counted below).
  const store = new MemoryWebhookStore({ maxStoreBytes: MESSAGES * 230 });
  const before = heapUsed();
  await write(store, keys, MESSAGES);
  const heap = (heapUsed() - before) / MESSAGES;
  const estimate = store.estimatedBytes / MESSAGES;
  const kept = (await store.listDeliveries({ limit: Infinity })).length;
  console.log(
    `  ${keys.name} (${kept.toLocaleString('en-US')} messages still kept): heap ${bytes(heap)}, ` +
      `estimate ${bytes(estimate)} per key: estimate/heap ${(estimate / heap).toFixed(2)}`,
  );
  await store.close();
}

{
  const store = new MemoryWebhookStore({ maxStoreBytes: FLOOD_LIMIT });
  const before = heapUsed();
  await write(store, LOGS[0], FLOOD);
  const heap = heapUsed() - before;
  const kept = (await store.listDeliveries({ limit: Infinity })).length;
  console.log(
    `bound: ${FLOOD.toLocaleString('en-US')} delivered messages into maxStoreBytes ` +
      `${FLOOD_LIMIT / MB} MiB: ${kept.toLocaleString('en-US')} kept, heap ` +
      `${(heap / MB).toFixed(1)} MB, estimate ${(store.estimatedBytes / MB).toFixed(1)} MB: ` +
      `heap/limit ${(heap / FLOOD_LIMIT).toFixed(2)}`,
  );
  await store.close();
}
