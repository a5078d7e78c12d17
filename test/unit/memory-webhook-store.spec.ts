import { afterEach, describe, expect, it, vi } from 'vitest';
import { attemptId } from '../../lib/storage/ids.js';
import { MEMORY_COSTS, MemoryWebhookStore } from '../../lib/storage/memory-webhook.store.js';
import { WebhookArgumentError, WebhookStoreFullError } from '../../lib/webhooks.errors.js';
import type { StoredWebhookEndpoint } from '../../lib/interfaces/webhook-endpoint.interface.js';
import type {
  WebhookAttempt,
  WebhookDelivery,
  WebhookDeliveryStatus,
  WebhookMessage,
} from '../../lib/interfaces/webhook-message.interface.js';
import type {
  WebhookDeliveryOutcome,
  WebhookLease,
} from '../../lib/interfaces/webhook-store.interface.js';
import { storedEndpoint, storedMessage } from '../support/stored-records.js';

// What is particular to the memory store: its size bound, its pruning timer, its copies and its
// single-process claims. What every store does is the contract suite's (test/storage).

let sequence = 0;
const nextId = (prefix: string) => `${prefix}_${String(++sequence).padStart(6, '0')}`;

const EPOCH = new Date(0);
const OWNER = 'worker-1';
const MINUTE = 60_000;

const message = (overrides: Partial<WebhookMessage> = {}) =>
  storedMessage({ id: nextId('msg'), ...overrides });

async function addEndpoint(
  store: MemoryWebhookStore,
  overrides: Partial<StoredWebhookEndpoint> = {},
): Promise<StoredWebhookEndpoint> {
  const endpoint = storedEndpoint({ id: nextId('ep'), ...overrides });
  await store.insertEndpoint(endpoint);
  return endpoint;
}

const lease = (owner = OWNER, now = new Date(), ms = MINUTE): WebhookLease => ({
  owner,
  now,
  until: new Date(now.getTime() + ms),
});

/** Emits `of`, which must be stored, and reads its deliveries back (in the order made). */
async function emit(
  store: MemoryWebhookStore,
  of: WebhookMessage,
  since = EPOCH,
): Promise<WebhookDelivery[]> {
  const result = await store.emit({ message: of, idempotentSince: since, notify: false });
  if (!result.inserted) throw new Error('expected the message to be stored');
  return Promise.all(result.deliveries.map(async ({ id }) => (await store.getDelivery(id))!));
}

const emitRaw = (store: MemoryWebhookStore, of: WebhookMessage, since = EPOCH) =>
  store.emit({ message: of, idempotentSince: since, notify: false });

function attempt(of: WebhookDelivery, n = of.attempts + 1): WebhookAttempt {
  return {
    id: attemptId(of.id, n),
    deliveryId: of.id,
    messageId: of.messageId,
    endpointId: of.endpointId,
    attempt: n,
    startedAt: new Date(),
    durationMs: 3.5,
    statusCode: 500,
    error: null,
    responseBody: 'nope',
    outcome: 'failed',
  };
}

function outcome(
  status: WebhookDeliveryStatus,
  overrides: Partial<WebhookDeliveryOutcome> = {},
): WebhookDeliveryOutcome {
  return {
    status,
    scheduleAttempts: 1,
    nextAttemptAt: status === 'pending' ? new Date() : null,
    lastError: status === 'failed' ? 'HTTP 500' : null,
    updatedAt: new Date(),
    ...overrides,
  };
}

/** Claims the delivery and records one attempt of it ending in `status`. */
async function attemptOnce(
  store: MemoryWebhookStore,
  delivery: WebhookDelivery,
  status: WebhookDeliveryStatus,
  extra: Partial<WebhookAttempt> = {},
) {
  const claimed = await store.claim(delivery.id, lease());
  if (!claimed) throw new Error(`expected to claim ${delivery.id}`);
  const sent = { ...attempt(claimed.delivery), ...extra };
  return store.record(delivery.id, OWNER, sent, outcome(status));
}

const ids = (list: { id: string }[]) => list.map((item) => item.id);

describe('MemoryWebhookStore', () => {
  it('is written by this process only', async () => {
    const store = new MemoryWebhookStore();
    expect(store.shared).toBe(false);
    const onWrite = vi.fn();
    await store.watch(onWrite);
    await addEndpoint(store);
    await store.emit({ message: message(), idempotentSince: EPOCH, notify: true });
    // Nothing to wake: the process that emits runs its deliveries itself.
    expect(onWrite).not.toHaveBeenCalled();
  });

  describe('emit', () => {
    it('fans out to the enabled endpoints of its tenant subscribed to its event, due now', async () => {
      const store = new MemoryWebhookStore();
      const a = await addEndpoint(store, { events: ['ping', 'pong'] });
      const b = await addEndpoint(store);
      await addEndpoint(store, { disabled: true });
      await addEndpoint(store, { events: ['pong'] });
      await addEndpoint(store, { tenant: 'acme' });
      const m = message();

      const result = await emitRaw(store, m);
      if (!result.inserted) throw new Error('expected the message to be stored');
      expect(result.deliveries.map((d) => d.endpointId)).toEqual([a.id, b.id]);
      expect(new Set(result.deliveries.map((d) => d.id)).size).toBe(2);
      for (const { id, endpointId } of result.deliveries) {
        expect(id).toMatch(/^dlv_/);
        expect(await store.getDelivery(id)).toEqual({
          id,
          messageId: m.id,
          endpointId,
          tenant: null,
          event: 'ping',
          status: 'pending',
          attempts: 0,
          scheduleAttempts: 0,
          nextAttemptAt: m.createdAt,
          lastError: null,
          createdAt: m.createdAt,
          updatedAt: m.createdAt,
        });
      }
      expect(await store.getMessage(m.id)).toEqual(m);
    });

    it('stores a message no endpoint is subscribed to, without deliveries', async () => {
      const store = new MemoryWebhookStore();
      const m = message({ event: 'nobody' });
      expect(await emitRaw(store, m)).toEqual({ inserted: true, deliveries: [] });
      expect(await store.getMessage(m.id)).toEqual(m);
    });

    it('refuses to write through a transaction, storing nothing', async () => {
      const store = new MemoryWebhookStore();
      await addEndpoint(store);
      const m = message();
      const transaction = async () => [];
      await expect(
        store.emit({ message: m, idempotentSince: EPOCH, notify: false, transaction }),
      ).rejects.toThrow(WebhookArgumentError);
      expect(await store.getMessage(m.id)).toBeUndefined();
      expect(store.estimatedBytes).toBe(0);
    });

    it('names each delivery by its message and place: sorted as made, found by id, no other spelling', async () => {
      const store = new MemoryWebhookStore();
      // Past 36 endpoints the place takes two base-36 digits, and past 1,296 three.
      const endpoints = [];
      for (let i = 0; i < 1_300; i++) endpoints.push(await addEndpoint(store));
      const [first, second] = [message(), message()];
      const made = [
        (await emitRaw(store, first)).deliveries,
        (await emitRaw(store, second)).deliveries,
      ];
      const ids = made.flat().map((delivery) => (delivery as { id: string }).id);
      expect(ids).toHaveLength(2_600);
      expect(new Set(ids).size).toBe(2_600);
      expect([...ids].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))).toEqual(ids);
      for (const [index, id] of ids.entries()) {
        const found = await store.getDelivery(id);
        expect(found?.id).toBe(id);
        expect(found?.messageId).toBe(index < 1_300 ? first.id : second.id);
        expect(found?.endpointId).toBe(endpoints[index % 1_300].id);
      }
      // The place of the second delivery, spelled with a leading zero; a place past the last;
      // an unknown message; and ids of another form.
      const unknown = [
        `dlv_${first.id}_101`,
        `dlv_${first.id}_2104`,
        `dlv_${nextId('msg')}_00`,
        'dlv_',
        'dlv__',
        `atm_${first.id}_00`,
        `${ids[0]}x`,
      ];
      for (const id of unknown) expect(await store.getDelivery(id), id).toBeUndefined();
      expect((await store.listAttempts(unknown)).size).toBe(0);
      expect(await store.claim(unknown[0], lease())).toBeUndefined();
      expect(ids[1]).toBe(`dlv_${first.id}_01`);
    });
  });

  describe('idempotency', () => {
    it('returns the first message and its delivery count for a repeated key', async () => {
      const store = new MemoryWebhookStore();
      await addEndpoint(store);
      await addEndpoint(store);
      const first = message({ idempotencyKey: 'k' });
      await emit(store, first);

      const repeat = message({ idempotencyKey: 'k', body: '{"other":true}' });
      expect(await emitRaw(store, repeat)).toEqual({
        inserted: false,
        existing: { id: first.id, event: 'ping' },
        deliveries: 2,
      });
      expect(await store.getMessage(repeat.id)).toBeUndefined();
      expect((await store.listDeliveries()).items).toHaveLength(2);
    });

    it('keeps keys apart per tenant (and tenant-less apart from every tenant)', async () => {
      const store = new MemoryWebhookStore();
      for (const tenant of [null, 'acme', 'globex']) {
        expect(await emitRaw(store, message({ idempotencyKey: 'k', tenant }))).toMatchObject({
          inserted: true,
        });
      }
      const acme = (await store.listMessages({ tenant: 'acme' })).items[0];
      expect(await emitRaw(store, message({ idempotencyKey: 'k', tenant: 'acme' }))).toMatchObject({
        inserted: false,
        existing: { id: acme.id },
      });
    });

    it("keeps no tenant and the tenant '' apart", async () => {
      const store = new MemoryWebhookStore();
      const none = message({ tenant: null, idempotencyKey: 'k' });
      const empty = message({ tenant: '', idempotencyKey: 'k' });
      expect(await emitRaw(store, none)).toMatchObject({ inserted: true });
      expect(await emitRaw(store, empty)).toMatchObject({ inserted: true });
      expect(await emitRaw(store, message({ tenant: '', idempotencyKey: 'k' }))).toMatchObject({
        inserted: false,
        existing: { id: empty.id },
      });
    });

    it('does not mix up a tenant with a key that looks like a tenant-prefixed key', async () => {
      const store = new MemoryWebhookStore();
      expect(await emitRaw(store, message({ tenant: 'a', idempotencyKey: 'b' }))).toMatchObject({
        inserted: true,
      });
      expect(
        await emitRaw(store, message({ tenant: null, idempotencyKey: 'a\u0000b' })),
      ).toMatchObject({ inserted: true });
    });

    it('treats a key older than `idempotentSince` as unused, and the new message takes it over', async () => {
      const store = new MemoryWebhookStore();
      const old = message({ idempotencyKey: 'k', createdAt: new Date(Date.now() - 10_000) });
      await emit(store, old);
      const since = new Date(Date.now() - 5_000);

      const fresh = message({ idempotencyKey: 'k' });
      expect(await emitRaw(store, fresh, since)).toMatchObject({ inserted: true });
      expect(await emitRaw(store, message({ idempotencyKey: 'k' }), since)).toMatchObject({
        inserted: false,
        existing: { id: fresh.id },
      });
      // Both messages stay in the log.
      expect(await store.getMessage(old.id)).toEqual(old);
    });

    it('never deduplicates messages without a key', async () => {
      const store = new MemoryWebhookStore();
      expect(await emitRaw(store, message())).toMatchObject({ inserted: true });
      expect(await emitRaw(store, message())).toMatchObject({ inserted: true });
    });
  });

  describe('listings', () => {
    async function seeded() {
      const store = new MemoryWebhookStore();
      const a = await addEndpoint(store, { events: ['ping', 'pong'] });
      const b = await addEndpoint(store, { events: ['ping'] });
      const acmeA = await addEndpoint(store, { tenant: 'acme', events: ['ping', 'pong'] });
      const acmeB = await addEndpoint(store, { tenant: 'acme', events: ['ping'] });
      const m1 = message();
      const m2 = message({ event: 'pong', tenant: 'acme' });
      const m3 = message({ tenant: 'acme' });
      const [m1a, m1b] = await emit(store, m1);
      const [m2a] = await emit(store, m2);
      const [m3a, m3b] = await emit(store, m3);
      await attemptOnce(store, m1a, 'delivered');
      await attemptOnce(store, m1b, 'failed');
      await attemptOnce(store, m3a, 'delivered');
      const d = { m1a, m1b, m2a, m3a, m3b };
      return { store, endpoints: { a, b, acmeA, acmeB }, m1, m2, m3, d };
    }

    it('lists deliveries newest first, filtered by message, endpoint, tenant, event and status', async () => {
      const { store, endpoints, m1, m3, d } = await seeded();
      const list = async (filter: Parameters<MemoryWebhookStore['listDeliveries']>[0]) =>
        ids((await store.listDeliveries(filter)).items);
      expect(await list({})).toEqual(ids([d.m3b, d.m3a, d.m2a, d.m1b, d.m1a]));
      expect(await list({ messageId: m1.id })).toEqual(ids([d.m1b, d.m1a]));
      expect(await list({ endpointId: endpoints.acmeA.id })).toEqual(ids([d.m3a, d.m2a]));
      expect(await list({ tenant: null })).toEqual(ids([d.m1b, d.m1a]));
      expect(await list({ tenant: 'acme' })).toEqual(ids([d.m3b, d.m3a, d.m2a]));
      expect(await list({ event: 'pong' })).toEqual(ids([d.m2a]));
      expect(await list({ status: 'pending' })).toEqual(ids([d.m3b, d.m2a]));
      expect(await list({ status: 'delivered' })).toEqual(ids([d.m3a, d.m1a]));
      expect(await list({ status: 'failed' })).toEqual(ids([d.m1b]));
      expect(
        await list({ messageId: m3.id, endpointId: endpoints.acmeA.id, status: 'delivered' }),
      ).toEqual(ids([d.m3a]));
      expect(await list({ messageId: 'msg_nope' })).toEqual([]);
      expect(await list({ tenant: 'globex' })).toEqual([]);
    });

    it('pages deliveries: `after` the last id of the page before, `next` null on the last', async () => {
      const { store, d } = await seeded();
      const first = await store.listDeliveries({}, { limit: 2 });
      expect(ids(first.items)).toEqual(ids([d.m3b, d.m3a]));
      expect(first.next).toBe(d.m3a.id);
      const second = await store.listDeliveries({}, { limit: 2, after: first.next });
      expect(ids(second.items)).toEqual(ids([d.m2a, d.m1b]));
      const third = await store.listDeliveries({}, { limit: 2, after: second.next });
      expect(third).toEqual({ items: [expect.objectContaining({ id: d.m1a.id })], next: null });
      // Exactly a page left: the next one is empty.
      const exact = await store.listDeliveries({ tenant: 'acme' }, { limit: 3 });
      expect(exact.items).toHaveLength(3);
      if (exact.next !== null) {
        expect(await store.listDeliveries({ tenant: 'acme' }, { after: exact.next })).toEqual({
          items: [],
          next: null,
        });
      }
      // Within a filter, and past a cursor whose delivery is gone.
      const pending = await store.listDeliveries({ status: 'pending' }, { limit: 1 });
      expect(ids(pending.items)).toEqual(ids([d.m3b]));
      expect(
        ids((await store.listDeliveries({ status: 'pending' }, { after: pending.next })).items),
      ).toEqual(ids([d.m2a]));
      expect(
        ids((await store.listDeliveries({}, { after: `${d.m2a.id}0`, limit: 1 })).items),
      ).toEqual(ids([d.m2a]));
    });

    it('lists 100 deliveries by default', async () => {
      const store = new MemoryWebhookStore();
      for (let n = 0; n < 150; n++) await addEndpoint(store);
      const deliveries = await emit(store, message());
      const page = await store.listDeliveries();
      expect(page.items).toHaveLength(100);
      expect(page.items[0].id).toBe(deliveries[149].id);
      expect(page.next).toBe(deliveries[50].id);
      expect((await store.listDeliveries({}, { limit: Infinity })).items).toHaveLength(150);
    });

    it('lists messages newest first by id, whatever order they were stored in', async () => {
      const store = new MemoryWebhookStore();
      const [older, newer, newest] = [message(), message({ tenant: 'acme' }), message()];
      // Ids are made before the emit that stores them, and emits overlap.
      for (const m of [newer, newest, older]) await emit(store, m);

      const first = await store.listMessages({}, { limit: 2 });
      expect(first).toEqual({ items: [newest, newer], next: newer.id });
      expect(await store.listMessages({}, { after: first.next })).toEqual({
        items: [older],
        next: null,
      });
      expect((await store.listMessages({ tenant: null })).items).toEqual([newest, older]);
      expect((await store.listMessages({ tenant: 'acme' })).items).toEqual([newer]);
      expect((await store.listMessages({ event: 'pong' })).items).toEqual([]);
    });

    it('lists endpoints in id order, filtered, in pages', async () => {
      const store = new MemoryWebhookStore();
      const [a, b, c] = [
        storedEndpoint({ id: 'ep_1', events: ['ping', 'pong'] }),
        storedEndpoint({ id: 'ep_2', tenant: 'acme' }),
        storedEndpoint({ id: 'ep_3', disabled: true }),
      ];
      for (const endpoint of [c, a, b]) await store.insertEndpoint(endpoint);

      const first = await store.listEndpoints({}, { limit: 2 });
      expect(first).toEqual({ items: [a, b], next: b.id });
      expect(await store.listEndpoints({}, { after: first.next })).toEqual({
        items: [c],
        next: null,
      });
      expect((await store.listEndpoints({ tenant: null })).items).toEqual([a, c]);
      expect((await store.listEndpoints({ event: 'pong' })).items).toEqual([a]);
      expect((await store.listEndpoints({ disabled: false })).items).toEqual([a, b]);
    });

    it('lists the attempts of several deliveries in one call, oldest first', async () => {
      const store = new MemoryWebhookStore();
      await addEndpoint(store);
      await addEndpoint(store);
      const [first, second] = await emit(store, message());
      await attemptOnce(store, first, 'pending');
      await attemptOnce(store, (await store.getDelivery(first.id))!, 'delivered');

      const attempts = await store.listAttempts([first.id, second.id, 'dlv_nope']);
      expect([...attempts.keys()]).toEqual([first.id]);
      expect(attempts.get(first.id)?.map((a) => a.attempt)).toEqual([1, 2]);
      expect(await store.listAttempts([])).toEqual(new Map());
    });
  });

  describe('endpoints', () => {
    it('updates an endpoint only while it is as expected (compare and set)', async () => {
      const store = new MemoryWebhookStore();
      const ep = await addEndpoint(store);

      const flips = await Promise.all([
        store.updateEndpoint(ep.id, { disabled: true, disabledReason: 'a' }, { disabled: false }),
        store.updateEndpoint(ep.id, { disabled: true, disabledReason: 'b' }, { disabled: false }),
      ]);
      expect(flips.filter(Boolean)).toHaveLength(1);
      expect(await store.getEndpoint(ep.id)).toMatchObject({ disabled: true, disabledReason: 'a' });
      expect(
        await store.updateEndpoint(ep.id, { disabled: false }, { disabled: true }),
      ).toMatchObject({ disabled: false });
      expect(await store.updateEndpoint('ep_nope', {}, { disabled: false })).toBeUndefined();

      // `failingSince: null` expects it unset.
      const since = new Date(1_000);
      const marks = await Promise.all([
        store.updateEndpoint(ep.id, { failingSince: since }, { failingSince: null }),
        store.updateEndpoint(ep.id, { failingSince: new Date(2_000) }, { failingSince: null }),
      ]);
      expect(marks.filter(Boolean)).toHaveLength(1);
      expect((await store.getEndpoint(ep.id))?.failingSince).toEqual(since);
      // Without `expected` it always applies; a field left undefined is left as it is.
      expect(
        await store.updateEndpoint(ep.id, { description: 'd', failingSince: undefined }),
      ).toMatchObject({ description: 'd', failingSince: since });
    });

    it('removes an endpoint, failing its pending deliveries in the same step', async () => {
      const store = new MemoryWebhookStore();
      const ep = await addEndpoint(store);
      const other = await addEndpoint(store);
      const [done, otherDelivery] = await emit(store, message());
      await attemptOnce(store, done, 'delivered');
      const [pending] = await emit(store, message());
      const [running] = await emit(store, message());
      await store.claim(running.id, lease());
      const now = new Date(5_000);

      const removed = await store.removeEndpoint(ep.id, 'endpoint removed', now);
      expect(removed.removed).toBe(true);
      expect(ids(removed.failed).sort()).toEqual(ids([pending, running]).sort());
      for (const failed of removed.failed) {
        expect(failed).toMatchObject({
          status: 'failed',
          lastError: 'endpoint removed',
          nextAttemptAt: null,
          updatedAt: now,
        });
        expect(await store.getDelivery(failed.id)).toEqual(failed);
      }
      expect(await store.getDelivery(done.id)).toMatchObject({ status: 'delivered' });
      expect(await store.getDelivery(otherDelivery.id)).toMatchObject({ status: 'pending' });
      expect(await store.getEndpoint(ep.id)).toBeUndefined();
      expect((await store.listEndpoints()).items).toEqual([other]);
      // The attempt that was running is logged, its outcome not applied.
      const late = await store.record(running.id, OWNER, attempt(running), outcome('delivered'));
      expect(late).toMatchObject({ applied: false, delivery: { status: 'failed', attempts: 1 } });
      expect(await store.removeEndpoint(ep.id, 'again', now)).toEqual({
        removed: false,
        failed: [],
      });
    });
  });

  describe('claim, record and sweep', () => {
    async function oneDelivery(store = new MemoryWebhookStore()) {
      const endpoint = await addEndpoint(store);
      const m = message();
      const [delivery] = await emit(store, m);
      return { store, endpoint, message: m, delivery };
    }

    it('claims a pending, due delivery with its message and endpoint', async () => {
      const { store, endpoint, message: m, delivery } = await oneDelivery();
      expect(await store.claim(delivery.id, lease())).toEqual({
        delivery,
        message: { id: m.id, method: m.method, body: m.body },
        endpoint,
      });
      expect(await store.claim('dlv_nope', lease())).toBeUndefined();
      // Not yet due.
      const { store: early, delivery: later } = await oneDelivery();
      expect(
        await early.claim(later.id, lease(OWNER, new Date(later.createdAt.getTime() - 1))),
      ).toBeUndefined();
    });

    it("refuses a delivery leased to another owner until the lease ends; the owner's own lease does not stop it", async () => {
      const { store, delivery } = await oneDelivery();
      const now = new Date();
      const claims = await Promise.all([
        store.claim(delivery.id, lease('a', now)),
        store.claim(delivery.id, lease('b', now)),
      ]);
      expect(claims.map(Boolean)).toEqual([true, false]);
      expect(await store.claim(delivery.id, lease('a', now))).toBeDefined();
      const ended = new Date(now.getTime() + MINUTE);
      expect(await store.claim(delivery.id, lease('b', new Date(ended.getTime() - 1)))).toBe(
        undefined,
      );
      expect(await store.claim(delivery.id, lease('b', ended))).toBeDefined();
    });

    it('records an attempt and its outcome in one step, releasing the lease', async () => {
      const { store, delivery } = await oneDelivery();
      const claimed = (await store.claim(delivery.id, lease()))!;
      const sent = attempt(claimed.delivery);
      const retryAt = new Date(Date.now() + MINUTE);

      const recorded = await store.record(
        delivery.id,
        OWNER,
        sent,
        outcome('pending', { nextAttemptAt: retryAt, lastError: 'HTTP 500' }),
      );
      expect(recorded).toEqual({
        applied: true,
        delivery: {
          ...delivery,
          attempts: 1,
          scheduleAttempts: 1,
          nextAttemptAt: retryAt,
          lastError: 'HTTP 500',
          updatedAt: expect.any(Date),
        },
        endpointFailingSince: null,
      });
      expect(await store.getDelivery(delivery.id)).toEqual(recorded.delivery);
      expect((await store.listAttempts([delivery.id])).get(delivery.id)).toEqual([sent]);
      // Released: anyone may claim it once due.
      expect(await store.claim(delivery.id, lease('other', retryAt))).toBeDefined();
    });

    it('logs the attempt of an owner whose lease was taken over, applying nothing', async () => {
      const { store, delivery } = await oneDelivery();
      const now = new Date();
      await store.claim(delivery.id, lease('a', now, 1_000));
      const later = new Date(now.getTime() + 1_000);
      await store.claim(delivery.id, lease('b', later));

      const late = await store.record(delivery.id, 'a', attempt(delivery, 1), outcome('failed'));
      expect(late).toEqual({
        applied: false,
        delivery: { ...delivery, attempts: 1 },
        endpointFailingSince: null,
      });
      // The new owner's attempt counts on from it and applies.
      const own = await store.record(delivery.id, 'b', attempt(delivery, 2), outcome('delivered'));
      expect(own).toMatchObject({ applied: true, delivery: { status: 'delivered', attempts: 2 } });
      expect((await store.listAttempts([delivery.id])).get(delivery.id)).toHaveLength(2);
      // Attempts never count back.
      await store.record(delivery.id, 'a', attempt(delivery, 1), outcome('failed'));
      expect(await store.getDelivery(delivery.id)).toMatchObject({ attempts: 2 });
    });

    it('gives up a claimed delivery without an attempt', async () => {
      const { store, delivery } = await oneDelivery();
      await store.claim(delivery.id, lease());
      const recorded = await store.record(delivery.id, OWNER, null, outcome('failed'));
      expect(recorded).toMatchObject({
        applied: true,
        delivery: { status: 'failed', attempts: 0, nextAttemptAt: null },
      });
      expect(await store.listAttempts([delivery.id])).toEqual(new Map());
      // Unclaimed, or gone: nothing applies.
      const { store: other, delivery: unclaimed } = await oneDelivery();
      expect(await other.record(unclaimed.id, OWNER, null, outcome('failed'))).toMatchObject({
        applied: false,
        delivery: { status: 'pending' },
      });
      expect(await other.record('dlv_nope', OWNER, null, outcome('failed'))).toEqual({
        applied: false,
        delivery: undefined,
        endpointFailingSince: null,
      });
    });

    it('sweeps due deliveries no one holds, oldest due first, up to the limit', async () => {
      const store = new MemoryWebhookStore();
      await addEndpoint(store);
      const base = Date.now() - 10 * MINUTE;
      const at = (minutes: number) => new Date(base + minutes * MINUTE);
      const [late] = await emit(store, message({ createdAt: at(3) }));
      const [early] = await emit(store, message({ createdAt: at(1) }));
      const [middle] = await emit(store, message({ createdAt: at(2) }));
      const [held] = await emit(store, message({ createdAt: at(0) }));
      const [done] = await emit(store, message({ createdAt: at(0) }));
      const [future] = await emit(store, message({ createdAt: new Date(Date.now() + MINUTE) }));
      await store.claim(held.id, lease('other'));
      await attemptOnce(store, done, 'delivered');

      const swept = await store.sweep(lease(), 2);
      expect(swept.map((claimed) => claimed.delivery.id)).toEqual([early.id, middle.id]);
      expect(swept[0].message?.id).toBe(early.messageId);
      // What it swept is leased: a second sweep, even its own, skips it.
      expect((await store.sweep(lease(), 10)).map((c) => c.delivery.id)).toEqual([late.id]);
      expect(await store.sweep(lease(), 10)).toEqual([]);
      expect(await store.sweep(lease(), 0)).toEqual([]);
      // Once the leases end, they are swept again; the future one once due.
      const later = new Date(Date.now() + 2 * MINUTE);
      expect((await store.sweep(lease('third', later), 10)).map((c) => c.delivery.id)).toEqual([
        held.id,
        early.id,
        middle.id,
        late.id,
        future.id,
      ]);
    });

    it('redelivers finished deliveries, due now with a new schedule, and leaves pending ones', async () => {
      const store = new MemoryWebhookStore();
      const a = await addEndpoint(store);
      const b = await addEndpoint(store);
      await addEndpoint(store);
      const m = message();
      const [toA, toB, toC] = await emit(store, m);
      await attemptOnce(store, toA, 'failed');
      await attemptOnce(store, toB, 'delivered');
      const now = new Date(Date.now() + MINUTE);

      const one = await store.redeliver({ messageId: m.id, endpointId: a.id, now, notify: false });
      expect(one).toEqual({
        found: true,
        matched: 1,
        redelivered: [
          expect.objectContaining({
            id: toA.id,
            status: 'pending',
            attempts: 1,
            scheduleAttempts: 0,
            nextAttemptAt: now,
            updatedAt: now,
          }),
        ],
      });
      const all = await store.redeliver({ messageId: m.id, now, notify: false });
      expect(all).toMatchObject({ found: true, matched: 3 });
      expect(ids(all.redelivered)).toEqual([toB.id]);
      expect(await store.getDelivery(toC.id)).toEqual(toC);
      expect(
        await store.redeliver({ messageId: m.id, endpointId: 'ep_nope', now, notify: false }),
      ).toEqual({ found: true, matched: 0, redelivered: [] });
      expect(await store.redeliver({ messageId: 'msg_nope', now, notify: false })).toEqual({
        found: false,
        matched: 0,
        redelivered: [],
      });
      expect((await store.claim(toB.id, lease(OWNER, now)))?.endpoint).toEqual(b);
    });

    it('lets no lease from before a redelivery change the new schedule', async () => {
      const { store, endpoint, message: m, delivery } = await oneDelivery();
      await store.claim(delivery.id, lease('a'));
      await store.removeEndpoint(endpoint.id, 'removed', new Date());
      await store.redeliver({ messageId: m.id, now: new Date(), notify: false });

      expect(await store.record(delivery.id, 'a', null, outcome('delivered'))).toMatchObject({
        applied: false,
        delivery: { status: 'pending' },
      });
      // Its endpoint is gone: the claim says so.
      expect(await store.claim(delivery.id, lease('b'))).toMatchObject({ endpoint: undefined });
    });
  });

  describe('copies', () => {
    it('keeps nothing it is given by reference', async () => {
      const store = new MemoryWebhookStore();
      const input = storedEndpoint({
        id: nextId('ep'),
        retiredSecrets: [{ secret: 'whsec_old', expiresAt: new Date(Date.now() + MINUTE) }],
      });
      await store.insertEndpoint(input);
      const m = message();
      const [d] = await emit(store, m);
      const claimed = (await store.claim(d.id, lease()))!;
      const sent = attempt(claimed.delivery);
      const kept = { ...sent, startedAt: new Date(sent.startedAt.getTime()) };
      const result = outcome('pending', { nextAttemptAt: new Date(Date.now() + MINUTE) });
      const retryAt = result.nextAttemptAt!.getTime();
      await store.record(d.id, OWNER, sent, result);
      const patch = { events: ['ping', 'pong'] };
      await store.updateEndpoint(input.id, patch);

      input.events.push('mutated');
      input.retiredSecrets[0].expiresAt.setTime(0);
      input.url = 'https://mutated.example';
      m.createdAt.setTime(0);
      m.body = 'mutated';
      sent.startedAt.setTime(0);
      sent.statusCode = 204;
      result.nextAttemptAt!.setTime(0);
      patch.events.push('mutated');

      const endpoint = (await store.getEndpoint(input.id))!;
      expect(endpoint.events).toEqual(['ping', 'pong']);
      expect(endpoint.retiredSecrets[0].expiresAt.getTime()).toBeGreaterThan(Date.now());
      expect(endpoint.url).toBe('https://example.com/hooks');
      expect(await store.getMessage(m.id)).toMatchObject({ body: '{"message":"ping"}' });
      expect((await store.getMessage(m.id))!.createdAt.getTime()).toBeGreaterThan(0);
      expect((await store.listAttempts([d.id])).get(d.id)).toEqual([kept]);
      expect((await store.getDelivery(d.id))!.nextAttemptAt?.getTime()).toBe(retryAt);
    });

    it('hands out a record of its own to every call, Dates and arrays included', async () => {
      const store = new MemoryWebhookStore();
      const ep = await addEndpoint(store);
      const m = message();
      const [d] = await emit(store, m);
      await attemptOnce(store, d, 'pending');
      const delivery = (await store.getDelivery(d.id))!;
      const before = structuredClone({
        endpoint: ep,
        message: m,
        delivery,
        attempts: (await store.listAttempts([d.id])).get(d.id),
      });

      const mutate = (record: {
        createdAt?: Date;
        updatedAt?: Date;
        startedAt?: Date;
        nextAttemptAt?: Date | null;
        events?: string[];
        id: string;
      }) => {
        for (const date of [record.createdAt, record.updatedAt, record.startedAt]) {
          date?.setTime(0);
        }
        record.nextAttemptAt?.setTime(0);
        record.events?.push('mutated');
        record.id = 'mutated';
      };
      mutate((await store.getEndpoint(ep.id))!);
      (await store.listEndpoints()).items.forEach(mutate);
      mutate((await store.getMessage(m.id))!);
      (await store.listMessages()).items.forEach(mutate);
      mutate((await store.getDelivery(d.id))!);
      (await store.listDeliveries()).items.forEach(mutate);
      (await store.listAttempts([d.id])).get(d.id)!.forEach(mutate);
      const claimed = (await store.claim(d.id, lease(OWNER, new Date(Date.now() + MINUTE))))!;
      mutate(claimed.delivery);
      mutate(claimed.endpoint!);
      const recorded = await store.record(d.id, OWNER, null, outcome('pending'));
      mutate(recorded.delivery!);
      const now = new Date();
      const current = (await store.getDelivery(d.id))!;

      expect(await store.getEndpoint(ep.id)).toEqual(before.endpoint);
      expect(await store.getMessage(m.id)).toEqual(before.message);
      expect(current.id).toBe(d.id);
      expect(current.createdAt).toEqual(before.delivery.createdAt);
      expect(current.updatedAt.getTime()).toBeLessThanOrEqual(now.getTime());
      expect(current.updatedAt.getTime()).toBeGreaterThan(0);
      expect((await store.listAttempts([d.id])).get(d.id)).toEqual(before.attempts);
    });
  });

  describe('retention (prune)', () => {
    it('forgets finished messages older than `before`, with their deliveries and attempts; keeps the rest', async () => {
      const store = new MemoryWebhookStore();
      await addEndpoint(store);
      await addEndpoint(store);
      const longAgo = new Date(Date.now() - MINUTE);
      const delivered = message({ createdAt: longAgo });
      const failed = message({ createdAt: longAgo });
      const pending = message({ createdAt: longAgo });
      const mixed = message({ createdAt: longAgo });
      const young = message();
      const all = async (of: WebhookMessage, status: WebhookDeliveryStatus | null) => {
        const deliveries = await emit(store, of);
        if (status) for (const d of deliveries) await attemptOnce(store, d, status);
        return deliveries;
      };
      const [dDelivered] = await all(delivered, 'delivered');
      const [dFailed] = await all(failed, 'failed');
      const [dPending] = await all(pending, null);
      await store.claim(dPending.id, lease());
      await store.record(dPending.id, OWNER, attempt(dPending), outcome('pending'));
      const [mixedDone] = await all(mixed, null);
      await attemptOnce(store, mixedDone, 'delivered');
      await all(young, 'delivered');

      expect(await store.prune(new Date(Date.now() - 1_000), 100)).toBe(2);

      expect(await store.getMessage(delivered.id)).toBeUndefined();
      expect(await store.getMessage(failed.id)).toBeUndefined();
      expect(await store.getDelivery(dDelivered.id)).toBeUndefined();
      expect(await store.getDelivery(dFailed.id)).toBeUndefined();
      expect(await store.listAttempts([dDelivered.id])).toEqual(new Map());
      expect((await store.listDeliveries({ messageId: delivered.id })).items).toEqual([]);

      expect(await store.getMessage(pending.id)).toEqual(pending);
      expect((await store.listAttempts([dPending.id])).get(dPending.id)).toHaveLength(1);
      expect(await store.getMessage(mixed.id)).toEqual(mixed);
      expect(await store.getDelivery(mixedDone.id)).toMatchObject({ status: 'delivered' });
      expect(await store.getMessage(young.id)).toEqual(young);
      expect(await store.prune(new Date(Date.now() - 1_000), 100)).toBe(0);
    });

    it('forgets at most `limit` messages per call', async () => {
      const store = new MemoryWebhookStore();
      for (let n = 0; n < 5; n++) await emit(store, message({ createdAt: EPOCH }));
      expect(await store.prune(new Date(), 2)).toBe(2);
      expect(await store.prune(new Date(), 2)).toBe(2);
      expect(await store.prune(new Date(), 2)).toBe(1);
      expect((await store.listMessages()).items).toEqual([]);
    });

    it('forgets a once-pending message after it finishes', async () => {
      const store = new MemoryWebhookStore();
      await addEndpoint(store);
      const old = message({ createdAt: new Date(Date.now() - MINUTE) });
      const [d] = await emit(store, old);
      expect(await store.prune(new Date(), 100)).toBe(0);
      await attemptOnce(store, d, 'delivered');
      expect(await store.prune(new Date(), 100)).toBe(1);
      expect(await store.getMessage(old.id)).toBeUndefined();
    });

    it('leaves the key of a forgotten message behind until idempotencyTtl, then frees it', async () => {
      const hour = 60 * MINUTE;
      const store = new MemoryWebhookStore({ idempotencyTtl: hour });
      await addEndpoint(store);
      const keyed = message({ createdAt: new Date(Date.now() - MINUTE), idempotencyKey: 'k' });
      const expired = message({ createdAt: new Date(Date.now() - 2 * hour), idempotencyKey: 'e' });
      const pending = message({ createdAt: new Date(Date.now() - 2 * hour), idempotencyKey: 'p' });
      for (const m of [expired, keyed])
        await attemptOnce(store, (await emit(store, m))[0], 'failed');
      await emit(store, pending);

      expect(await store.prune(new Date(), 100)).toBe(2);
      expect(await store.getMessage(keyed.id)).toBeUndefined();
      const since = new Date(Date.now() - hour);
      // Inside the TTL the key still deduplicates, though its message is gone.
      expect(await emitRaw(store, message({ idempotencyKey: 'k' }), since)).toEqual({
        inserted: false,
        existing: { id: keyed.id, event: 'ping' },
        deliveries: 1,
      });
      // A pending message's key, whatever its age, names the message.
      expect(await emitRaw(store, message({ idempotencyKey: 'p' }), EPOCH)).toMatchObject({
        inserted: false,
        existing: { id: pending.id },
      });
      // Past the TTL, the key is free.
      expect(await emitRaw(store, message({ idempotencyKey: 'e' }), EPOCH)).toMatchObject({
        inserted: true,
      });
    });

    it('drops the keys it left behind once their idempotencyTtl is over', async () => {
      vi.useFakeTimers({ toFake: ['Date'] });
      try {
        const store = new MemoryWebhookStore({ idempotencyTtl: 10_000 });
        const keyed = message({ idempotencyKey: 'k' });
        await emit(store, keyed);
        const withMessage = store.estimatedBytes;
        await store.prune(new Date(Date.now() + 1), 100);
        const withKey = store.estimatedBytes;
        expect(withKey).toBeGreaterThan(0);
        expect(withKey).toBeLessThan(withMessage);

        vi.setSystemTime(Date.now() + 10_001);
        await store.prune(new Date(), 100);
        expect(store.estimatedBytes).toBe(0);
        expect(await emitRaw(store, message({ idempotencyKey: 'k' }), EPOCH)).toMatchObject({
          inserted: true,
        });
      } finally {
        vi.useRealTimers();
      }
    });
  });

  describe('pruning on a timer', () => {
    afterEach(() => {
      vi.useRealTimers();
    });

    it('forgets finished messages past their retention without another emit, until closed', async () => {
      vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'Date'] });
      const store = new MemoryWebhookStore({ retention: 5_000 });
      expect(vi.getTimerCount()).toBe(0);
      await addEndpoint(store);
      const m = message();
      const [d] = await emit(store, m);
      await attemptOnce(store, d, 'delivered');
      const pending = message();
      await emit(store, pending);
      expect(vi.getTimerCount()).toBe(1);

      await vi.advanceTimersByTimeAsync(4_000);
      expect(await store.getDelivery(d.id)).toBeDefined();
      await vi.advanceTimersByTimeAsync(6_000);
      expect(await store.getMessage(m.id)).toBeUndefined();
      expect(await store.getMessage(pending.id)).toEqual(pending);

      await store.close();
      expect(vi.getTimerCount()).toBe(0);
      // Closed, it starts no timer again.
      await emit(store, message());
      expect(vi.getTimerCount()).toBe(0);
    });

    it('prunes every minute at most, and every second at least', async () => {
      vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'Date'] });
      const day = new MemoryWebhookStore();
      const old = message({ createdAt: new Date(Date.now() - 25 * 60 * MINUTE) });
      await emit(day, old);
      await vi.advanceTimersByTimeAsync(MINUTE - 1);
      expect(await day.getMessage(old.id)).toBeDefined();
      await vi.advanceTimersByTimeAsync(1);
      expect(await day.getMessage(old.id)).toBeUndefined();
      await day.close();

      const none = new MemoryWebhookStore({ retention: 0 });
      const now = message();
      await emit(none, now);
      await vi.advanceTimersByTimeAsync(999);
      expect(await none.getMessage(now.id)).toBeDefined();
      await vi.advanceTimersByTimeAsync(1);
      expect(await none.getMessage(now.id)).toBeUndefined();
      await none.close();
    });

    it('prunes a large backlog in batches, all of it', async () => {
      vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'Date'] });
      const store = new MemoryWebhookStore({ retention: 1_000 });
      for (let n = 0; n < 2_500; n++) await emit(store, message({ createdAt: EPOCH }));
      await vi.advanceTimersByTimeAsync(1_000);
      // The batches after the first wait for a turn of the event loop each.
      await vi.waitFor(async () => expect((await store.listMessages()).items).toEqual([]));
      await store.close();
    });
  });

  describe('size limit (maxStoreBytes)', () => {
    const body = 'x'.repeat(1_000);
    const withEndpoint = async (options: ConstructorParameters<typeof MemoryWebhookStore>[0]) => {
      const store = new MemoryWebhookStore(options);
      await addEndpoint(store);
      return store;
    };
    const deliveredMessage = async (
      store: MemoryWebhookStore,
      extra: Partial<WebhookMessage> = {},
    ) => {
      const m = message({ body, ...extra });
      const [d] = await emit(store, m);
      await store.claim(d.id, lease());
      await store.record(d.id, OWNER, null, outcome('delivered'));
      return { message: m, delivery: (await store.getDelivery(d.id))! };
    };
    const pendingMessage = async (store: MemoryWebhookStore) => {
      const m = message({ body });
      return (await emit(store, m))[0];
    };
    const costOf = (store: MemoryWebhookStore) => store.estimatedBytes;
    const probe = async (fill: (store: MemoryWebhookStore) => Promise<unknown>) => {
      const store = await withEndpoint({});
      await fill(store);
      return costOf(store);
    };

    it('forgets the finished messages that finished first once full, before their retention', async () => {
      const one = await probe(deliveredMessage);
      // Room for about ten messages; retention (24 h) never comes into it.
      const store = await withEndpoint({ maxStoreBytes: 10 * one + one / 2 });
      const pending = await pendingMessage(store);
      const sent = [];
      for (let n = 0; n < 30; n++) sent.push(await deliveredMessage(store));

      expect(costOf(store)).toBeLessThanOrEqual(10 * one + one / 2);
      // The newest are kept, the oldest finished ones forgotten, the pending one kept.
      expect(await store.getMessage(sent[29].message.id)).toEqual(sent[29].message);
      expect(await store.getMessage(sent[0].message.id)).toBeUndefined();
      expect(await store.getDelivery(sent[0].delivery.id)).toBeUndefined();
      expect(await store.getDelivery(pending.id)).toEqual(pending);
      const kept = (await store.listDeliveries({}, { limit: Infinity })).items;
      expect(kept.length).toBeGreaterThanOrEqual(8);
      expect(kept.length).toBeLessThanOrEqual(11);
    });

    it('forgets in the order messages finished, not the order they were emitted', async () => {
      const one = await probe(deliveredMessage);
      const store = await withEndpoint({ maxStoreBytes: 3 * one + one / 2 });
      const slow = await pendingMessage(store);
      const quick = await deliveredMessage(store);
      await store.claim(slow.id, lease());
      await store.record(slow.id, OWNER, null, outcome('failed'));
      await deliveredMessage(store);
      await deliveredMessage(store);

      expect(await store.getDelivery(quick.delivery.id)).toBeUndefined();
      expect(await store.getDelivery(slow.id)).toMatchObject({ status: 'failed' });
    });

    it('refuses a new message when only pending ones are left, storing nothing, and takes it once one finishes', async () => {
      const one = await probe(pendingMessage);
      const store = await withEndpoint({ maxStoreBytes: 3 * one });
      const deliveries = [];
      for (let n = 0; n < 3; n++) deliveries.push(await pendingMessage(store));
      const full = costOf(store);

      const refused = message({ body });
      const error = await emitRaw(store, refused).catch((e: Error) => e);
      expect(error).toBeInstanceOf(WebhookStoreFullError);
      expect((error as WebhookStoreFullError).code).toBe('ERR_WEBHOOK_STORE_FULL');
      expect((error as Error).message).toContain('maxStoreBytes');
      expect((error as Error).message).toContain('nothing was stored or sent');
      expect(await store.getMessage(refused.id)).toBeUndefined();
      expect(costOf(store)).toBe(full);
      expect((await store.listDeliveries({}, { limit: Infinity })).items).toHaveLength(3);
      // Everything accepted is still there.
      for (const d of deliveries) expect(await store.getDelivery(d.id)).toEqual(d);

      await store.claim(deliveries[0].id, lease());
      await store.record(deliveries[0].id, OWNER, null, outcome('failed'));
      expect(await emitRaw(store, message({ body }))).toMatchObject({ inserted: true });
      expect(await store.getDelivery(deliveries[0].id)).toBeUndefined();
      expect(await store.getDelivery(deliveries[1].id)).toBeDefined();
    });

    it('records every attempt of an accepted delivery, even past the limit', async () => {
      const store = await withEndpoint({ maxStoreBytes: await probe(pendingMessage) });
      const d = await pendingMessage(store);
      for (let n = 1; n <= 5; n++) {
        await attemptOnce(store, (await store.getDelivery(d.id))!, 'pending', {
          responseBody: 'y'.repeat(10_000),
        });
      }
      expect((await store.listAttempts([d.id])).get(d.id)).toHaveLength(5);
      expect(costOf(store)).toBeGreaterThan(50_000);
    });

    it('makes room for an attempt from what has finished', async () => {
      const one = await probe(deliveredMessage);
      const store = await withEndpoint({ maxStoreBytes: 4 * one });
      const old = await deliveredMessage(store);
      await deliveredMessage(store);
      const d = await pendingMessage(store);
      await attemptOnce(store, d, 'pending', { responseBody: 'y'.repeat(2 * one) });

      expect(await store.getMessage(old.message.id)).toBeUndefined();
      expect((await store.listAttempts([d.id])).get(d.id)).toHaveLength(1);
      expect(costOf(store)).toBeLessThanOrEqual(4 * one);
    });

    it('forgets a finished message with a young key, keeping its key until the TTL', async () => {
      const one = await probe((store) => deliveredMessage(store, { idempotencyKey: 'k0' }));
      const store = await withEndpoint({ maxStoreBytes: 3 * one });
      const keyed = await deliveredMessage(store, { idempotencyKey: 'k1' });
      for (let n = 2; n <= 10; n++) await deliveredMessage(store, { idempotencyKey: `k${n}` });

      // Every emit was taken: the log forgot the oldest, and their keys still deduplicate.
      expect(await store.getMessage(keyed.message.id)).toBeUndefined();
      expect(await emitRaw(store, message({ idempotencyKey: 'k1' }))).toEqual({
        inserted: false,
        existing: { id: keyed.message.id, event: 'ping' },
        deliveries: 1,
      });
      expect(costOf(store)).toBeLessThanOrEqual(3 * one);
    });

    it('forgets the keys of forgotten messages too, oldest first, once nothing else is left', async () => {
      const pendingCost = await probe(pendingMessage);
      const store = await withEndpoint({
        maxStoreBytes: 3 * pendingCost + MEMORY_COSTS.message + 200,
      });
      const first = await deliveredMessage(store, { idempotencyKey: 'first' });
      // Pending messages fill the rest: the delivered one goes first, then its key.
      for (let n = 0; n < 3; n++) await pendingMessage(store);
      expect(await store.getMessage(first.message.id)).toBeUndefined();
      // No endpoint takes this event: it fits beside them, as a new use of the freed key.
      const again = message({ idempotencyKey: 'first', event: 'unsubscribed' });
      expect(await emitRaw(store, again)).toMatchObject({ inserted: true });
    });

    it('refuses a message larger than the limit at once, forgetting nothing for it', async () => {
      const store = await withEndpoint({ maxStoreBytes: 20_000 });
      const kept = await deliveredMessage(store);
      const huge = message({ body: 'h'.repeat(50_000) });
      const error = await emitRaw(store, huge).catch((e: Error) => e);
      expect(error).toBeInstanceOf(WebhookStoreFullError);
      expect((error as Error).message).toMatch(/the message alone would take about 5\d KiB/);
      expect(await store.getMessage(huge.id)).toBeUndefined();
      expect(await store.getMessage(kept.message.id)).toEqual(kept.message);
    });

    it('never forgets a redelivered message while it is pending again', async () => {
      const one = await probe(deliveredMessage);
      const store = await withEndpoint({ maxStoreBytes: 5 * one });
      const replayed = await deliveredMessage(store);
      await store.redeliver({ messageId: replayed.message.id, now: new Date(), notify: false });
      for (let n = 0; n < 20; n++) await deliveredMessage(store);

      expect(await store.getDelivery(replayed.delivery.id)).toMatchObject({ status: 'pending' });
      // Finished again, it is the first to go.
      await attemptOnce(store, replayed.delivery, 'delivered');
      for (let n = 0; n < 5; n++) await deliveredMessage(store);
      expect(await store.getMessage(replayed.message.id)).toBeUndefined();
    });

    it('gives the room of a forgotten message back, attempts included', async () => {
      const store = await withEndpoint({});
      const young = await deliveredMessage(store);
      const kept = costOf(store);
      const old = message({ body, createdAt: new Date(Date.now() - MINUTE) });
      const [d] = await emit(store, old);
      await attemptOnce(store, d, 'delivered', { responseBody: 'z'.repeat(500) });
      expect(costOf(store)).toBeGreaterThan(kept + 1_500);

      expect(await store.prune(new Date(Date.now() - 1_000), 100)).toBe(1);
      expect(costOf(store)).toBe(kept);
      expect(await store.getMessage(young.message.id)).toEqual(young.message);
    });
  });
});
