import { afterEach, describe, expect, it, vi } from 'vitest';
import { attemptId } from '../../lib/storage/ids.js';
import { MemoryWebhookStore } from '../../lib/storage/memory-webhook.store.js';
import { WebhookStoreFullError } from '../../lib/webhooks.errors.js';
import type { StoredWebhookEndpoint } from '../../lib/interfaces/webhook-endpoint.interface.js';
import type {
  WebhookAttempt,
  WebhookDelivery,
  WebhookDeliveryStatus,
  WebhookMessage,
} from '../../lib/interfaces/webhook-message.interface.js';
import type { WebhookDeliveryPatch } from '../../lib/interfaces/webhook-store.interface.js';
import { storedEndpoint } from '../support/stored-endpoint.js';

let sequence = 0;
const nextId = (prefix: string) => `${prefix}_${String(++sequence).padStart(6, '0')}`;

function endpoint(overrides: Partial<StoredWebhookEndpoint> = {}): StoredWebhookEndpoint {
  return storedEndpoint({ id: nextId('ep'), ...overrides });
}

function message(overrides: Partial<WebhookMessage> = {}): WebhookMessage {
  return {
    id: nextId('msg'),
    event: 'ping',
    method: 'post',
    tenant: null,
    body: '{"message":"ping"}',
    idempotencyKey: null,
    createdAt: new Date(),
    ...overrides,
  };
}

type DeliverySpec = [endpointId: string, overrides?: WebhookDeliveryPatch];

/** Inserts `of` with a delivery per spec, applies each spec's overrides, and reads them back. */
async function insert(
  store: MemoryWebhookStore,
  of: WebhookMessage,
  specs: DeliverySpec[],
): Promise<WebhookDelivery[]> {
  const result = await store.insertMessage(
    of,
    specs.map(([endpointId]) => endpointId),
    EPOCH,
  );
  if (!result.inserted) throw new Error('expected the message to be inserted');
  // A message's deliveries are listed newest first: the last endpoint's first.
  const ids = (await store.listDeliveries({ messageId: of.id, limit: Infinity }))
    .reverse()
    .map((delivery) => delivery.id);
  expect(ids).toHaveLength(specs.length);
  return Promise.all(
    ids.map(async (id, index) => {
      const overrides = specs[index][1];
      const read = overrides ? store.updateDelivery(id, overrides) : store.getDelivery(id);
      return (await read)!;
    }),
  );
}

function attempt(of: WebhookDelivery, n = 1): WebhookAttempt {
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

const EPOCH = new Date(0);

// The store prunes every 1000 inserted messages; filler messages trigger it.
async function fill(store: MemoryWebhookStore, count: number) {
  for (let n = 0; n < count; n++) await store.insertMessage(message(), [], EPOCH);
}

describe('MemoryWebhookStore', () => {
  describe('idempotency', () => {
    it('returns the first message and its delivery count for a repeated key', async () => {
      const store = new MemoryWebhookStore();
      const first = message({ idempotencyKey: 'k' });
      expect(await store.insertMessage(first, ['ep_a', 'ep_b'], EPOCH)).toMatchObject({
        inserted: true,
      });

      const repeat = message({ idempotencyKey: 'k', body: '{"other":true}' });
      const result = await store.insertMessage(repeat, ['ep_a'], EPOCH);

      expect(result).toEqual({ inserted: false, existing: first, deliveries: 2 });
      expect(await store.getMessage(repeat.id)).toBeUndefined();
      expect(await store.listDeliveries({ messageId: repeat.id })).toEqual([]);
      expect(await store.listDeliveries()).toHaveLength(2);
    });

    it('keeps keys apart per tenant (and tenant-less apart from every tenant)', async () => {
      const store = new MemoryWebhookStore();
      const none = message({ idempotencyKey: 'k' });
      const acme = message({ idempotencyKey: 'k', tenant: 'acme' });
      const globex = message({ idempotencyKey: 'k', tenant: 'globex' });
      for (const item of [none, acme, globex]) {
        expect(await store.insertMessage(item, [], EPOCH)).toMatchObject({ inserted: true });
      }
      const acmeAgain = await store.insertMessage(
        message({ idempotencyKey: 'k', tenant: 'acme' }),
        [],
        EPOCH,
      );
      expect(acmeAgain).toMatchObject({ inserted: false, existing: { id: acme.id } });
    });

    it("keeps no tenant and the tenant '' apart", async () => {
      const store = new MemoryWebhookStore();
      const none = message({ tenant: null, idempotencyKey: 'k' });
      const empty = message({ tenant: '', idempotencyKey: 'k' });
      expect(await store.insertMessage(none, [], EPOCH)).toMatchObject({ inserted: true });
      expect(await store.insertMessage(empty, [], EPOCH)).toMatchObject({ inserted: true });
      const again = await store.insertMessage(
        message({ tenant: '', idempotencyKey: 'k' }),
        [],
        EPOCH,
      );
      expect(again).toMatchObject({ inserted: false, existing: { id: empty.id } });
    });

    it('does not mix up a tenant with a key that looks like a tenant-prefixed key', async () => {
      const store = new MemoryWebhookStore();
      const a = message({ tenant: 'a', idempotencyKey: 'b' });
      const b = message({ tenant: null, idempotencyKey: 'a\u0000b' });
      expect(await store.insertMessage(a, [], EPOCH)).toMatchObject({ inserted: true });
      expect(await store.insertMessage(b, [], EPOCH)).toMatchObject({ inserted: true });
    });

    it('treats a key older than `since` as unused, and the new message takes it over', async () => {
      const store = new MemoryWebhookStore();
      const old = message({ idempotencyKey: 'k', createdAt: new Date(Date.now() - 10_000) });
      await store.insertMessage(old, [], EPOCH);
      const since = new Date(Date.now() - 5_000);

      const fresh = message({ idempotencyKey: 'k' });
      expect(await store.insertMessage(fresh, [], since)).toMatchObject({ inserted: true });
      const repeat = await store.insertMessage(message({ idempotencyKey: 'k' }), [], since);
      expect(repeat).toMatchObject({ inserted: false, existing: { id: fresh.id } });
      // Both messages stay in the log.
      expect(await store.getMessage(old.id)).toEqual(old);
    });

    it('never deduplicates messages without a key', async () => {
      const store = new MemoryWebhookStore();
      expect(await store.insertMessage(message(), [], EPOCH)).toMatchObject({ inserted: true });
      expect(await store.insertMessage(message(), [], EPOCH)).toMatchObject({ inserted: true });
    });
  });

  describe('listDeliveries', () => {
    async function seeded() {
      const store = new MemoryWebhookStore();
      const m1 = message({ event: 'ping' });
      const m2 = message({ event: 'pong', tenant: 'acme' });
      const m3 = message({ event: 'ping', tenant: 'acme' });
      const [m1a, m1b] = await insert(store, m1, [
        ['ep_a', { status: 'delivered' }],
        ['ep_b', { status: 'failed' }],
      ]);
      const [m2a] = await insert(store, m2, [['ep_a']]);
      const [m3a, m3b] = await insert(store, m3, [['ep_a', { status: 'delivered' }], ['ep_b']]);
      const d = { m1a, m1b, m2a, m3a, m3b };
      return { store, m1, m2, m3, d };
    }
    const ids = (list: WebhookDelivery[]) => list.map((item) => item.id);

    it('lists newest first', async () => {
      const { store, d } = await seeded();
      expect(ids(await store.listDeliveries())).toEqual(ids([d.m3b, d.m3a, d.m2a, d.m1b, d.m1a]));
    });

    it('filters by message, endpoint, tenant (null: none), event and status, combined', async () => {
      const { store, m1, m3, d } = await seeded();
      expect(ids(await store.listDeliveries({ messageId: m1.id }))).toEqual(ids([d.m1b, d.m1a]));
      expect(ids(await store.listDeliveries({ endpointId: 'ep_b' }))).toEqual(ids([d.m3b, d.m1b]));
      expect(ids(await store.listDeliveries({ tenant: null }))).toEqual(ids([d.m1b, d.m1a]));
      expect(ids(await store.listDeliveries({ tenant: 'acme' }))).toEqual(
        ids([d.m3b, d.m3a, d.m2a]),
      );
      expect(ids(await store.listDeliveries({ event: 'pong' }))).toEqual(ids([d.m2a]));
      const statuses: [WebhookDeliveryStatus, WebhookDelivery[]][] = [
        ['pending', [d.m3b, d.m2a]],
        ['delivered', [d.m3a, d.m1a]],
        ['failed', [d.m1b]],
      ];
      for (const [status, expected] of statuses) {
        expect(ids(await store.listDeliveries({ status }))).toEqual(ids(expected));
      }
      expect(
        ids(
          await store.listDeliveries({ messageId: m3.id, endpointId: 'ep_a', status: 'delivered' }),
        ),
      ).toEqual(ids([d.m3a]));
      expect(await store.listDeliveries({ messageId: 'msg_nope' })).toEqual([]);
      expect(await store.listDeliveries({ tenant: 'globex' })).toEqual([]);
    });

    it('follows status changes made through updateDelivery', async () => {
      const { store, d } = await seeded();
      await store.updateDelivery(d.m2a.id, { status: 'failed', lastError: 'HTTP 500' });
      expect(ids(await store.listDeliveries({ status: 'failed' }))).toEqual(ids([d.m2a, d.m1b]));
      expect(await store.getDelivery(d.m2a.id)).toMatchObject({
        status: 'failed',
        lastError: 'HTTP 500',
      });
    });

    it('returns at most `limit`, the newest, and 100 by default', async () => {
      const { store, d } = await seeded();
      expect(ids(await store.listDeliveries({ limit: 2 }))).toEqual(ids([d.m3b, d.m3a]));
      expect(ids(await store.listDeliveries({ tenant: 'acme', limit: 1 }))).toEqual(ids([d.m3b]));
      expect(await store.listDeliveries({ limit: 0 })).toEqual([]);

      const many = new MemoryWebhookStore();
      const big = message();
      const deliveries = await insert(
        many,
        big,
        Array.from({ length: 150 }, (_, n): DeliverySpec => [`ep_${n}`]),
      );
      const listed = await many.listDeliveries();
      expect(listed).toHaveLength(100);
      expect(listed[0].id).toBe(deliveries[149].id);
      expect(await many.listDeliveries({ limit: Infinity })).toHaveLength(150);
    });
  });

  describe('compare and set', () => {
    it('updates a delivery only while its status is the expected one', async () => {
      const store = new MemoryWebhookStore();
      const m = message();
      const [d] = await insert(store, m, [['ep_a', { status: 'failed' }]]);

      const claims = await Promise.all([
        store.updateDelivery(d.id, { status: 'pending' }, { status: 'failed' }),
        store.updateDelivery(d.id, { status: 'pending' }, { status: 'failed' }),
      ]);
      expect(claims.filter(Boolean)).toHaveLength(1);
      expect(claims.find(Boolean)).toMatchObject({ id: d.id, status: 'pending' });
      expect(
        await store.updateDelivery(d.id, { lastError: 'x' }, { status: 'delivered' }),
      ).toBeUndefined();
      expect(await store.getDelivery(d.id)).toMatchObject({ status: 'pending', lastError: null });
      // Without `expected` it always applies; an unknown id is undefined either way.
      expect(await store.updateDelivery(d.id, { lastError: 'y' })).toMatchObject({
        lastError: 'y',
      });
      expect(await store.updateDelivery('dlv_nope', {}, { status: 'pending' })).toBeUndefined();
    });

    it('updates an endpoint only while its disabled flag is the expected one', async () => {
      const store = new MemoryWebhookStore();
      const ep = endpoint();
      await store.insertEndpoint(ep);

      const flips = await Promise.all([
        store.updateEndpoint(ep.id, { disabled: true, disabledReason: 'a' }, { disabled: false }),
        store.updateEndpoint(ep.id, { disabled: true, disabledReason: 'b' }, { disabled: false }),
      ]);
      expect(flips.filter(Boolean)).toHaveLength(1);
      expect(await store.getEndpoint(ep.id)).toMatchObject({
        disabled: true,
        disabledReason: 'a',
      });
      expect(
        await store.updateEndpoint(ep.id, { disabled: false }, { disabled: true }),
      ).toMatchObject({ disabled: false });
      expect(await store.updateEndpoint('ep_nope', {}, { disabled: false })).toBeUndefined();
    });
  });

  describe('read-only records', () => {
    it('copies an endpoint on insert, so the caller may go on using its object', async () => {
      const store = new MemoryWebhookStore();
      const input = endpoint({
        events: ['ping'],
        retiredSecrets: [{ secret: 'whsec_old', expiresAt: new Date(Date.now() + 60_000) }],
      });
      await store.insertEndpoint(input);
      input.events.push('mutated');
      input.retiredSecrets[0].secret = 'mutated';
      input.url = 'https://mutated.example';

      const got = (await store.getEndpoint(input.id))!;
      expect(got.events).toEqual(['ping']);
      expect(got.retiredSecrets[0].secret).toBe('whsec_old');
      expect(got.url).toBe('https://example.com/hooks');
    });

    it('never changes an endpoint it handed out: an update stores a new record', async () => {
      const store = new MemoryWebhookStore();
      const input = endpoint({ events: ['ping'] });
      await store.insertEndpoint(input);
      const before = (await store.getEndpoint(input.id))!;
      const subscribed = await store.findSubscribedEndpointIds('ping', null);

      const patchEvents = ['ping', 'pong'];
      const updated = (await store.updateEndpoint(input.id, {
        description: 'd',
        events: patchEvents,
      }))!;
      patchEvents.push('mutated');

      expect(before.description).toBeNull();
      expect(before.events).toEqual(['ping']);
      expect(subscribed).toEqual([input.id]);
      expect(updated).not.toBe(before);
      expect(await store.getEndpoint(input.id)).toMatchObject({
        description: 'd',
        events: ['ping', 'pong'],
      });
      // The subscription index follows the update.
      expect(await store.findSubscribedEndpointIds('pong', null)).toEqual([updated.id]);
      await store.updateEndpoint(input.id, { disabled: true });
      expect(await store.findSubscribedEndpointIds('ping', null)).toEqual([]);
      await store.deleteEndpoint(input.id);
      expect(await store.listEndpoints()).toEqual([]);
    });

    it('keeps its subscription index bounded, whatever the number of tenants emitted for', async () => {
      const store = new MemoryWebhookStore();
      const acme = endpoint({ tenant: 'acme', events: ['ping'] });
      await store.insertEndpoint(acme);
      for (let i = 0; i < 12_000; i++) {
        expect(await store.findSubscribedEndpointIds('ping', `tenant-${i}`)).toEqual([]);
      }
      const cached = (store as unknown as { subscriptions: Map<unknown, Map<unknown, unknown>> })
        .subscriptions;
      const entries = [...cached.values()].reduce((sum, byEvent) => sum + byEvent.size, 0);
      expect(entries).toBeLessThanOrEqual(10_000);
      // Dropping entries never loses a subscription.
      expect(await store.findSubscribedEndpointIds('ping', 'acme')).toEqual([acme.id]);
    });

    it('never changes a delivery it handed out, nor shares one between reads', async () => {
      const store = new MemoryWebhookStore();
      const m = message();
      const [first, second] = await insert(store, m, [['ep_a'], ['ep_b']]);
      const before = (await store.getDelivery(first.id))!;
      const [listedBefore] = await store.listDeliveries({ endpointId: 'ep_a' });

      const updated = (await store.updateDelivery(first.id, { status: 'failed', attempts: 1 }))!;

      expect(before).toMatchObject({ status: 'pending', attempts: 0 });
      expect(listedBefore).toEqual(before);
      expect(updated).toMatchObject({ id: first.id, status: 'failed', attempts: 1 });
      const read = (await store.getDelivery(first.id))!;
      expect(read).toEqual(updated);
      // Each read is a record of its own, Dates included: changing one reaches nothing else.
      expect(read).not.toBe(updated);
      read.updatedAt.setTime(0);
      read.status = 'delivered';
      expect(await store.getDelivery(first.id)).toEqual(updated);
      // Same place in the newest-first order as before the update.
      expect((await store.listDeliveries()).map((d) => d.id)).toEqual([second.id, first.id]);
    });

    it('keeps what an attempt said, not the object it was given', async () => {
      const store = new MemoryWebhookStore();
      const [d] = await insert(store, message(), [['ep_a']]);
      const given = attempt(d);
      const kept = { ...given, startedAt: new Date(given.startedAt.getTime()) };
      await store.recordAttempt(given);

      given.startedAt.setTime(0);
      given.statusCode = 204;
      const [listed] = await store.listAttempts(d.id);
      expect(listed).toEqual(kept);
      listed.startedAt.setTime(0);
      expect(await store.listAttempts(d.id)).toEqual([kept]);
    });

    it('finds each delivery of a message with a long fan-out, and its attempts', async () => {
      const store = new MemoryWebhookStore();
      // Past the length it scans: one shared list, as the subscription index hands out.
      const endpointIds = Array.from({ length: 40 }, (_, n) => `ep_${n}`);
      const [first, second] = [message(), message()];
      const deliveries = await insert(
        store,
        first,
        endpointIds.map((id) => [id]),
      );
      await insert(
        store,
        second,
        endpointIds.map((id) => [id]),
      );
      for (const [index, endpointId] of endpointIds.entries()) {
        const context = await store.getAttemptContext(first.id, endpointId);
        expect(context?.delivery.id).toBe(deliveries[index].id);
        expect((await store.getAttemptContext(second.id, endpointId))?.delivery.endpointId).toBe(
          endpointId,
        );
      }
      expect(await store.getAttemptContext(first.id, 'ep_40')).toBeUndefined();
      const recorded = await store.recordAttempt(attempt(deliveries[33]), { attempts: 1 });
      expect(recorded.delivery).toMatchObject({ id: deliveries[33].id, attempts: 1 });
      expect(await store.listAttempts(deliveries[33].id)).toHaveLength(1);
      expect(await store.listAttempts(deliveries[32].id)).toHaveLength(0);
    });

    it('reads an attempt context: the delivery with its message and endpoint', async () => {
      const store = new MemoryWebhookStore();
      const ep = endpoint();
      await store.insertEndpoint(ep);
      const m = message();
      const [d, orphan] = await insert(store, m, [[ep.id], ['ep_removed']]);

      const progress = ({
        id,
        messageId,
        endpointId,
        status,
        attempts,
        scheduleAttempts,
      }: WebhookDelivery) => ({ id, messageId, endpointId, status, attempts, scheduleAttempts });
      // The message as an attempt reads it: what it sends.
      const content = { id: m.id, method: m.method, body: m.body };
      expect(await store.getAttemptContext(m.id, ep.id)).toEqual({
        delivery: progress(d),
        message: expect.objectContaining(content),
        endpoint: await store.getEndpoint(ep.id),
      });
      expect(await store.getAttemptContext(m.id, 'ep_removed')).toEqual({
        delivery: progress(orphan),
        message: expect.objectContaining(content),
        endpoint: undefined,
      });
      // How far it got, as stored now.
      await store.updateDelivery(d.id, { attempts: 2, scheduleAttempts: 1 });
      expect((await store.getAttemptContext(m.id, ep.id))?.delivery).toEqual({
        ...progress(d),
        attempts: 2,
        scheduleAttempts: 1,
      });
      expect(await store.getAttemptContext(m.id, 'ep_other')).toBeUndefined();
      expect(await store.getAttemptContext('msg_nope', ep.id)).toBeUndefined();
    });

    it('records an attempt, with its delivery update in the same step, and reads the endpoint back', async () => {
      const store = new MemoryWebhookStore();
      const ep = endpoint();
      await store.insertEndpoint(ep);
      const [d] = await insert(store, message(), [[ep.id]]);
      const first = attempt(d, 1);
      const second = { ...attempt(d, 2), statusCode: 204, outcome: 'delivered' as const };

      // Without a patch: logged, the delivery as it was.
      expect(await store.recordAttempt(first)).toEqual({
        delivery: d,
        endpoint: await store.getEndpoint(ep.id),
      });
      await store.updateEndpoint(ep.id, { failingSince: new Date(1_000) });

      const recorded = await store.recordAttempt(second, { status: 'delivered', attempts: 2 });
      expect(recorded.delivery).toMatchObject({ id: d.id, status: 'delivered', attempts: 2 });
      // The endpoint as stored now, not as it was when the delivery was made.
      expect(recorded.endpoint?.failingSince).toEqual(new Date(1_000));
      expect(await store.getDelivery(d.id)).toEqual(recorded.delivery);
      expect(await store.listAttempts(d.id)).toEqual([first, second]);
      // A new record: the one handed out before is unchanged.
      expect(d).toMatchObject({ status: 'pending', attempts: 0 });

      const stray = { ...attempt(d, 3), messageId: 'msg_nope', deliveryId: 'dlv_0_msg_nope' };
      expect(await store.recordAttempt(stray, { status: 'failed' })).toEqual({
        delivery: undefined,
        endpoint: await store.getEndpoint(ep.id),
      });
      expect(await store.listAttempts(d.id)).toHaveLength(2);
    });

    it('finds a delivery by its id only, refusing ids it did not give', async () => {
      const store = new MemoryWebhookStore();
      const m = message();
      const [d] = await insert(store, m, [['ep_a']]);
      expect(d).toMatchObject({ messageId: m.id, endpointId: 'ep_a', status: 'pending' });

      for (const id of [
        'dlv_nope',
        `dlv_1_${m.id}`,
        `dlv_00_${m.id}`,
        `dlv__${m.id}`,
        `dlv_-1_${m.id}`,
        `xyz_0_${m.id}`,
        m.id,
        '',
      ]) {
        expect(await store.getDelivery(id)).toBeUndefined();
        expect(await store.updateDelivery(id, { status: 'failed' })).toBeUndefined();
      }
      expect(await store.getDelivery(d.id)).toEqual(d);
    });

    it('returns the existing message on an idempotent repeat, unchanged', async () => {
      const store = new MemoryWebhookStore();
      const m = message({ idempotencyKey: 'k' });
      await store.insertMessage(m, [], EPOCH);
      const repeat = await store.insertMessage(message({ idempotencyKey: 'k' }), [], EPOCH);
      if (repeat.inserted) throw new Error('expected the repeat to be refused');

      expect(repeat.existing).toEqual(m);
      expect(await store.getMessage(m.id)).toEqual(m);
    });
  });

  describe('retention', () => {
    it('forgets finished old messages with their deliveries, attempts and key; keeps pending ones', async () => {
      const store = new MemoryWebhookStore({ retention: 1_000, idempotencyTtl: 1_000 });
      const longAgo = new Date(Date.now() - 60_000);
      const delivered = message({ createdAt: longAgo, idempotencyKey: 'k-delivered' });
      const failed = message({ createdAt: longAgo });
      const pending = message({ createdAt: longAgo, idempotencyKey: 'k-pending' });
      const mixed = message({ createdAt: longAgo });
      const young = message();
      const d = {
        delivered: (await insert(store, delivered, [['ep_a', { status: 'delivered' }]]))[0],
        failed: (await insert(store, failed, [['ep_a', { status: 'failed' }]]))[0],
        pending: (await insert(store, pending, [['ep_a']]))[0],
        ...(await insert(store, mixed, [['ep_a', { status: 'delivered' }], ['ep_b']]).then(
          ([mixedDone, mixedPending]) => ({ mixedDone, mixedPending }),
        )),
        young: (await insert(store, young, [['ep_a', { status: 'delivered' }]]))[0],
      };
      await store.recordAttempt(attempt(d.delivered));
      await store.recordAttempt(attempt(d.pending));

      await fill(store, 1000 - 5);

      expect(await store.getMessage(delivered.id)).toBeUndefined();
      expect(await store.getMessage(failed.id)).toBeUndefined();
      expect(await store.getDelivery(d.delivered.id)).toBeUndefined();
      expect(await store.getDelivery(d.failed.id)).toBeUndefined();
      expect(await store.listAttempts(d.delivered.id)).toEqual([]);
      expect(await store.listDeliveries({ messageId: delivered.id })).toEqual([]);

      expect(await store.getMessage(pending.id)).toEqual(pending);
      expect(await store.getDelivery(d.pending.id)).toEqual(d.pending);
      expect(await store.listAttempts(d.pending.id)).toHaveLength(1);
      expect(await store.getMessage(mixed.id)).toEqual(mixed);
      expect(await store.getDelivery(d.mixedDone.id)).toEqual(d.mixedDone);
      expect(await store.getMessage(young.id)).toEqual(young);
      expect(await store.getDelivery(d.young.id)).toEqual(d.young);

      // The forgotten message's key is free again; the pending one's still deduplicates.
      expect(
        await store.insertMessage(message({ idempotencyKey: 'k-delivered' }), [], EPOCH),
      ).toMatchObject({ inserted: true });
      expect(
        await store.insertMessage(message({ idempotencyKey: 'k-pending' }), [], EPOCH),
      ).toMatchObject({ inserted: false, existing: { id: pending.id } });
    });

    it('forgets a once-pending message after it finishes, at a later prune', async () => {
      const store = new MemoryWebhookStore({ retention: 1_000 });
      const old = message({ createdAt: new Date(Date.now() - 60_000) });
      const [d] = await insert(store, old, [['ep_a']]);
      await fill(store, 999);
      expect(await store.getMessage(old.id)).toBeDefined();

      await store.updateDelivery(d.id, { status: 'delivered' });
      await fill(store, 1000);
      expect(await store.getMessage(old.id)).toBeUndefined();
    });

    it('keeps a message with a key for idempotencyTtl even when retention is shorter', async () => {
      const hour = 60 * 60 * 1000;
      const store = new MemoryWebhookStore({ retention: 1_000, idempotencyTtl: hour });
      const keyed = message({ createdAt: new Date(Date.now() - 60_000), idempotencyKey: 'k' });
      const expired = message({ createdAt: new Date(Date.now() - 2 * hour), idempotencyKey: 'e' });
      const plain = message({ createdAt: new Date(Date.now() - 60_000) });
      await store.insertMessage(expired, [], EPOCH);
      const [d] = await insert(store, keyed, [['ep_a', { status: 'delivered' }]]);
      await store.insertMessage(plain, [], EPOCH);
      await fill(store, 1000 - 3);

      // Past the retention: the plain message goes, and so does the key older than the TTL.
      expect(await store.getMessage(plain.id)).toBeUndefined();
      expect(await store.getMessage(expired.id)).toBeUndefined();
      // Inside the TTL the key still deduplicates, and the message it names is still there.
      expect(await store.getMessage(keyed.id)).toEqual(keyed);
      expect(await store.getDelivery(d.id)).toEqual(d);
      const since = new Date(Date.now() - hour);
      expect(await store.insertMessage(message({ idempotencyKey: 'k' }), [], since)).toMatchObject({
        inserted: false,
        existing: { id: keyed.id },
        deliveries: 1,
      });
    });

    it('keeps everything younger than the retention', async () => {
      const store = new MemoryWebhookStore({ retention: 60 * 60 * 1000 });
      const m = message({ createdAt: new Date(Date.now() - 60_000) });
      const [d] = await insert(store, m, [['ep_a', { status: 'delivered' }]]);
      await fill(store, 999);
      expect(await store.getDelivery(d.id)).toEqual(d);
    });
  });

  describe('size limit (maxStoreBytes)', () => {
    const body = 'x'.repeat(1_000);
    const deliveredMessage = async (
      store: MemoryWebhookStore,
      extra: Partial<WebhookMessage> = {},
    ) => {
      const m = message({ body, ...extra });
      const [d] = await insert(store, m, [['ep_a', { status: 'delivered' }]]);
      return { message: m, delivery: d };
    };
    const costOf = (store: MemoryWebhookStore) => store.estimatedBytes;

    it('forgets the finished messages that finished first once full, before their retention', async () => {
      const probe = new MemoryWebhookStore();
      await deliveredMessage(probe);
      const one = costOf(probe);
      // Room for about ten messages; retention (24 h) never comes into it.
      const store = new MemoryWebhookStore({ maxStoreBytes: 10 * one + one / 2 });
      const pending = message({ body });
      await insert(store, pending, [['ep_a']]);
      const sent = [];
      for (let n = 0; n < 30; n++) sent.push(await deliveredMessage(store));

      expect(costOf(store)).toBeLessThanOrEqual(10 * one + one / 2);
      // The newest are kept, the oldest finished ones forgotten, the pending one kept.
      expect(await store.getMessage(sent[29].message.id)).toEqual(sent[29].message);
      expect(await store.getMessage(sent[0].message.id)).toBeUndefined();
      expect(await store.getDelivery(sent[0].delivery.id)).toBeUndefined();
      expect(await store.getMessage(pending.id)).toEqual(pending);
      const kept = await store.listDeliveries({ limit: Infinity });
      expect(kept.length).toBeGreaterThanOrEqual(8);
      expect(kept.length).toBeLessThanOrEqual(11);
    });

    it('refuses a new message when only pending ones are left, and takes it once one finishes', async () => {
      const probe = new MemoryWebhookStore();
      await insert(probe, message({ body }), [['ep_a']]);
      const one = costOf(probe);
      const store = new MemoryWebhookStore({ maxStoreBytes: 3 * one });
      const deliveries = [];
      for (let n = 0; n < 3; n++) {
        deliveries.push((await insert(store, message({ body }), [['ep_a']]))[0]);
      }

      const refused = message({ body });
      const error = await store.insertMessage(refused, ['ep_a'], EPOCH).catch((e: Error) => e);
      expect(error).toBeInstanceOf(WebhookStoreFullError);
      expect((error as Error).message).toContain('maxStoreBytes');
      expect(await store.getMessage(refused.id)).toBeUndefined();
      // Everything accepted is still there.
      for (const d of deliveries) expect(await store.getDelivery(d.id)).toEqual(d);

      await store.updateDelivery(deliveries[0].id, { status: 'failed' });
      expect(await store.insertMessage(message({ body }), ['ep_a'], EPOCH)).toMatchObject({
        inserted: true,
      });
      expect(await store.getDelivery(deliveries[0].id)).toBeUndefined();
      expect(await store.getDelivery(deliveries[1].id)).toBeDefined();
    });

    it('records every attempt of an accepted delivery, even past the limit', async () => {
      const probe = new MemoryWebhookStore();
      await insert(probe, message({ body }), [['ep_a']]);
      const store = new MemoryWebhookStore({ maxStoreBytes: costOf(probe) });
      const [d] = await insert(store, message({ body }), [['ep_a']]);
      for (let n = 1; n <= 5; n++) {
        await store.recordAttempt({ ...attempt(d, n), responseBody: 'y'.repeat(10_000) });
      }
      expect(await store.listAttempts(d.id)).toHaveLength(5);
      expect(costOf(store)).toBeGreaterThan(50_000);
    });

    it('forgets a finished message with a young key, keeping its key until the TTL', async () => {
      const probe = new MemoryWebhookStore();
      await deliveredMessage(probe, { idempotencyKey: 'k0' });
      const store = new MemoryWebhookStore({ maxStoreBytes: 3 * costOf(probe) });
      const keyed = await deliveredMessage(store, { idempotencyKey: 'k1' });
      for (let n = 2; n <= 10; n++) await deliveredMessage(store, { idempotencyKey: `k${n}` });

      // Every emit was taken: the log forgot the oldest, and their keys still deduplicate.
      expect(await store.getMessage(keyed.message.id)).toBeUndefined();
      const repeat = await store.insertMessage(message({ idempotencyKey: 'k1' }), ['ep_a'], EPOCH);
      expect(repeat).toEqual({
        inserted: false,
        existing: expect.objectContaining({ id: keyed.message.id, event: 'ping' }),
        deliveries: 1,
      });
      expect(costOf(store)).toBeLessThanOrEqual(3 * costOf(probe));
    });

    it('forgets the keys of forgotten messages too, oldest first, once nothing else is left', async () => {
      const probe = new MemoryWebhookStore();
      await insert(probe, message({ body }), [['ep_a']]);
      const pendingCost = costOf(probe);
      const store = new MemoryWebhookStore({ maxStoreBytes: 3 * pendingCost + 500 });
      const first = await deliveredMessage(store, { idempotencyKey: 'first' });
      // Pending messages fill the rest: the delivered one goes first, then its key.
      for (let n = 0; n < 3; n++) await insert(store, message({ body }), [['ep_a']]);
      expect(await store.getMessage(first.message.id)).toBeUndefined();
      const again = await store.insertMessage(message({ idempotencyKey: 'first' }), [], EPOCH);
      expect(again).toMatchObject({ inserted: true });
    });

    it('refuses a message larger than the limit at once, forgetting nothing for it', async () => {
      const store = new MemoryWebhookStore({ maxStoreBytes: 20_000 });
      const kept = await deliveredMessage(store);
      const huge = message({ body: 'h'.repeat(50_000) });
      const error = await store.insertMessage(huge, ['ep_a'], EPOCH).catch((e: Error) => e);
      expect(error).toBeInstanceOf(WebhookStoreFullError);
      expect((error as Error).message).toContain('the message alone would take about 50 KiB');
      expect(await store.getMessage(kept.message.id)).toEqual(kept.message);
    });

    it('never forgets a redelivered message while it is pending again', async () => {
      const probe = new MemoryWebhookStore();
      await deliveredMessage(probe);
      const one = costOf(probe);
      const store = new MemoryWebhookStore({ maxStoreBytes: 5 * one });
      const replayed = await deliveredMessage(store);
      await store.updateDelivery(replayed.delivery.id, { status: 'pending' });
      for (let n = 0; n < 20; n++) await deliveredMessage(store);

      expect(await store.getDelivery(replayed.delivery.id)).toMatchObject({ status: 'pending' });
      // Finished again, it is the first to go.
      await store.updateDelivery(replayed.delivery.id, { status: 'delivered' });
      for (let n = 0; n < 5; n++) await deliveredMessage(store);
      expect(await store.getMessage(replayed.message.id)).toBeUndefined();
    });

    it('gives the room of a forgotten message back, attempts included', async () => {
      const probe = new MemoryWebhookStore();
      await fill(probe, 1);
      const filler = costOf(probe);
      const store = new MemoryWebhookStore({ retention: 1_000 });
      const old = message({ body, createdAt: new Date(Date.now() - 60_000) });
      const [d] = await insert(store, old, [['ep_a', { status: 'delivered' }]]);
      await store.recordAttempt({ ...attempt(d), responseBody: 'z'.repeat(500) });
      expect(costOf(store)).toBeGreaterThan(1_500);

      await fill(store, 999);

      expect(await store.getMessage(old.id)).toBeUndefined();
      expect(costOf(store)).toBe(999 * filler);
    });
  });

  describe('pruning on a timer', () => {
    afterEach(() => {
      vi.useRealTimers();
    });

    it('forgets finished messages past their retention without another insert', async () => {
      vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'Date'] });
      const store = new MemoryWebhookStore({ retention: 5_000 });
      const m = message();
      const [d] = await insert(store, m, [['ep_a', { status: 'delivered' }]]);
      const pending = message();
      await insert(store, pending, [['ep_a']]);

      await vi.advanceTimersByTimeAsync(4_000);
      expect(await store.getDelivery(d.id)).toBeDefined();
      await vi.advanceTimersByTimeAsync(6_000);
      expect(await store.getMessage(m.id)).toBeUndefined();
      expect(await store.getMessage(pending.id)).toEqual(pending);

      await store.close();
      expect(vi.getTimerCount()).toBe(0);
    });
  });
});
