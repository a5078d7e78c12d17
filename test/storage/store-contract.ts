/**
 * The contract every `WebhookStore` keeps (`lib/interfaces/webhook-store.interface.ts`), as one
 * suite each implementation's spec runs:
 *
 *     describeStoreContract('MemoryWebhookStore', async () => ({
 *       create: async (options) => new MemoryWebhookStore(options),
 *     }));
 *
 *     describeStoreContract('PostgresWebhookStore', async () => {
 *       const db = await startDatabase(); // a schema of its own, made once for the file
 *       return {
 *         create: (options) => db.store(options), // its tables empty
 *         reset: () => db.truncate(),
 *         dispose: () => db.drop(),
 *       };
 *     });
 *
 * `setup` runs once, before the suite's first test (`beforeAll`), and returns the factory.
 * `create` makes a fresh, empty store with the given options (`retention`, `idempotencyTtl`:
 * milliseconds; left out, the store's defaults); the suite calls it at most once per test. After
 * each test the suite closes that store (unless the test closed it itself: `close` is called once)
 * and then calls `reset`; after the last test, `dispose`.
 *
 * Times are explicit `Date`s around `t0` (the test's start), so the rules on due, lease and age
 * do not depend on how fast a test runs; real time passes only where a store's own clock decides
 * (`idempotencyTtl`, `watch`).
 */
import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { StoredWebhookEndpoint } from '../../lib/interfaces/webhook-endpoint.interface.js';
import type {
  WebhookAttempt,
  WebhookDelivery,
  WebhookMessage,
} from '../../lib/interfaces/webhook-message.interface.js';
import type {
  ClaimedDelivery,
  EmittedDelivery,
  EmittedMessage,
  WebhookDeliveryOutcome,
  WebhookEmitRequest,
  WebhookLease,
  WebhookPage,
  WebhookPageRequest,
  WebhookStore,
} from '../../lib/interfaces/webhook-store.interface.js';
import { attemptId, createId } from '../../lib/storage/ids.js';
import { storedEndpoint, storedMessage } from '../support/stored-records.js';

/** What a store under contract is made with: milliseconds, as the store's options take them. */
export interface ContractStoreOptions {
  retention?: number;
  idempotencyTtl?: number;
}

/** How the suite gets its stores (see the top of this file). */
export interface ContractStoreFactory {
  /** A fresh, empty store; called at most once per test. */
  create(options: ContractStoreOptions): Promise<WebhookStore>;
  /** After each test, once its store is closed: drop what `create` made. */
  reset?(): Promise<void>;
  /** After the last test: drop what `setup` made. */
  dispose?(): Promise<void>;
}

const SECOND = 1_000;
const HOUR = 3_600_000;
/** A lease's length when a test does not care. */
const LEASE_MS = 30 * SECOND;

export function describeStoreContract(
  name: string,
  setup: () => Promise<ContractStoreFactory>,
): void {
  describe(`${name} keeps the WebhookStore contract`, () => {
    let factory: ContractStoreFactory;
    let opened: WebhookStore | undefined;
    let t0: number;

    /** The test's store. */
    async function open(options: ContractStoreOptions = {}): Promise<WebhookStore> {
      if (opened) throw new Error('the contract suite opens one store per test');
      opened = await factory.create(options);
      return opened;
    }

    /** A new `Date` `ms` after the test's start. */
    const at = (ms: number) => new Date(t0 + ms);

    beforeAll(async () => {
      factory = await setup();
    });

    beforeEach(() => {
      t0 = Date.now();
    });

    afterEach(async () => {
      const store = opened;
      opened = undefined;
      await store?.close();
      await factory.reset?.();
    });

    afterAll(async () => {
      await factory?.dispose?.();
    });

    // Fixtures.

    function endpoint(overrides: Partial<StoredWebhookEndpoint> = {}): StoredWebhookEndpoint {
      return storedEndpoint({
        id: createId('ep'),
        url: 'https://example.com/hook',
        secret: `whsec_${randomBytes(24).toString('base64')}`,
        createdAt: at(0),
        updatedAt: at(0),
        ...overrides,
      });
    }

    async function addEndpoint(
      store: WebhookStore,
      overrides: Partial<StoredWebhookEndpoint> = {},
    ): Promise<StoredWebhookEndpoint> {
      const record = endpoint(overrides);
      await store.insertEndpoint(structuredClone(record));
      return record;
    }

    const message = (overrides: Partial<WebhookMessage> = {}) =>
      storedMessage({ id: createId('msg'), createdAt: at(0), ...overrides });

    function emitRequest(
      of: WebhookMessage,
      overrides: Partial<Omit<WebhookEmitRequest, 'message'>> = {},
    ): WebhookEmitRequest {
      return { message: of, idempotentSince: at(-HOUR), notify: false, ...overrides };
    }

    /** Emits a new message (built from `overrides`), which must be stored. */
    async function emit(
      store: WebhookStore,
      overrides: Partial<WebhookMessage> = {},
    ): Promise<{ message: WebhookMessage; deliveries: EmittedDelivery[] }> {
      const emitted = message(overrides);
      const result = await store.emit(emitRequest({ ...emitted }));
      return { message: emitted, deliveries: insertedDeliveries(result) };
    }

    /** Emits a message to exactly one endpoint and returns its delivery's id. */
    async function emitOne(
      store: WebhookStore,
      to: StoredWebhookEndpoint,
      overrides: Partial<WebhookMessage> = {},
    ): Promise<{ message: WebhookMessage; deliveryId: string }> {
      const emitted = await emit(store, { event: to.events[0], tenant: to.tenant, ...overrides });
      expect(emitted.deliveries.map((delivery) => delivery.endpointId)).toEqual([to.id]);
      return { message: emitted.message, deliveryId: emitted.deliveries[0].id };
    }

    const lease = (owner: string, nowMs: number, untilMs = nowMs + LEASE_MS): WebhookLease => ({
      owner,
      now: at(nowMs),
      until: at(untilMs),
    });

    async function claimed(
      store: WebhookStore,
      deliveryId: string,
      by: WebhookLease,
    ): Promise<ClaimedDelivery> {
      return defined(await store.claim(deliveryId, by), `a claim of ${deliveryId}`);
    }

    /** The next attempt of `delivery` (as claimed), answered with `statusCode`. */
    function attemptOf(
      delivery: WebhookDelivery,
      startedAtMs: number,
      overrides: Partial<WebhookAttempt> = {},
    ): WebhookAttempt {
      const number = delivery.attempts + 1;
      return {
        id: attemptId(delivery.id, number),
        deliveryId: delivery.id,
        messageId: delivery.messageId,
        endpointId: delivery.endpointId,
        attempt: number,
        startedAt: at(startedAtMs),
        durationMs: 12,
        statusCode: 200,
        error: null,
        responseBody: 'ok',
        outcome: 'delivered',
        ...overrides,
      };
    }

    const deliveredAt = (ms: number, scheduleAttempts = 1): WebhookDeliveryOutcome => ({
      status: 'delivered',
      scheduleAttempts,
      nextAttemptAt: null,
      lastError: null,
      updatedAt: at(ms),
    });

    const failedAt = (ms: number, lastError = 'HTTP 500'): WebhookDeliveryOutcome => ({
      status: 'failed',
      scheduleAttempts: 1,
      nextAttemptAt: null,
      lastError,
      updatedAt: at(ms),
    });

    const retryAt = (nextMs: number, ms: number, scheduleAttempts = 1): WebhookDeliveryOutcome => ({
      status: 'pending',
      scheduleAttempts,
      nextAttemptAt: at(nextMs),
      lastError: 'HTTP 503',
      updatedAt: at(ms),
    });

    /** Claims the delivery at `ms`, sends one attempt and records it as `status`. */
    async function finish(
      store: WebhookStore,
      deliveryId: string,
      status: 'delivered' | 'failed',
      ms = 0,
    ): Promise<WebhookDelivery> {
      const { delivery } = await claimed(store, deliveryId, lease('finisher', ms));
      const attempt =
        status === 'delivered'
          ? attemptOf(delivery, ms)
          : attemptOf(delivery, ms, { statusCode: 500, responseBody: 'no', outcome: 'failed' });
      const recorded = await store.record(
        deliveryId,
        'finisher',
        attempt,
        status === 'delivered' ? deliveredAt(ms) : failedAt(ms),
      );
      expect(recorded.applied).toBe(true);
      return defined(recorded.delivery, `the recorded delivery ${deliveryId}`);
    }

    const ids = (records: readonly { id: string }[]) => records.map((record) => record.id);
    const sortedIds = (records: readonly { id: string }[]) => ids(records).sort();
    const newestFirst = (values: readonly string[]) => [...values].sort().reverse();

    describe('endpoints', () => {
      it('returns an inserted endpoint by id, and undefined for an unknown id', async () => {
        const store = await open();
        const stored = await addEndpoint(store, {
          tenant: 'acme',
          description: 'orders',
          events: ['order.created', 'order.paid'],
          retiredSecrets: [{ secret: 'whsec_b2xk', expiresAt: at(HOUR) }],
          failingSince: at(-SECOND),
        });

        expect(await store.getEndpoint(stored.id)).toEqual(stored);
        expect(await store.getEndpoint(createId('ep'))).toBeUndefined();
      });

      it('keeps no reference to an endpoint passed to insertEndpoint', async () => {
        const store = await open();
        const passed = endpoint({
          retiredSecrets: [{ secret: 'whsec_b2xk', expiresAt: at(HOUR) }],
          failingSince: at(-SECOND),
        });
        const expected = structuredClone(passed);
        await store.insertEndpoint(passed);

        passed.url = 'https://changed.example.com/';
        passed.events.push('changed');
        passed.createdAt.setTime(0);
        passed.failingSince!.setTime(0);
        passed.retiredSecrets[0].expiresAt.setTime(0);
        passed.retiredSecrets.push({ secret: 'whsec_bmV3', expiresAt: at(0) });

        expect(await store.getEndpoint(expected.id)).toEqual(expected);
      });

      it('returns endpoints that are copies: changing one, its dates and arrays, changes nothing stored', async () => {
        const store = await open();
        const stored = await addEndpoint(store, {
          retiredSecrets: [{ secret: 'whsec_b2xk', expiresAt: at(HOUR) }],
          failingSince: at(-SECOND),
        });
        const spoil = (read: StoredWebhookEndpoint | undefined) => {
          const record = defined(read, 'an endpoint read back');
          record.url = 'https://changed.example.com/';
          record.events.push('changed');
          record.createdAt.setTime(0);
          record.updatedAt.setTime(0);
          record.failingSince?.setTime(0);
          record.retiredSecrets[0].expiresAt.setTime(0);
          record.retiredSecrets.push({ secret: 'whsec_bmV3', expiresAt: at(0) });
        };

        spoil(await store.getEndpoint(stored.id));
        spoil((await store.listEndpoints()).items[0]);
        const updated = await store.updateEndpoint(stored.id, { description: 'updated' });
        spoil(updated);

        expect(await store.getEndpoint(stored.id)).toEqual({ ...stored, description: 'updated' });
      });

      it('keeps no reference to a patch passed to updateEndpoint', async () => {
        const store = await open();
        const stored = await addEndpoint(store);
        const patch = { events: ['a', 'b'], failingSince: at(SECOND) };
        await store.updateEndpoint(stored.id, patch);

        patch.events.push('c');
        patch.failingSince.setTime(0);

        expect(await store.getEndpoint(stored.id)).toEqual({
          ...stored,
          events: ['a', 'b'],
          failingSince: at(SECOND),
        });
      });

      describe('listEndpoints', () => {
        it('lists every endpoint in id order without a filter', async () => {
          const store = await open();
          const added = [
            await addEndpoint(store, { tenant: null }),
            await addEndpoint(store, { tenant: 'a', disabled: true }),
            await addEndpoint(store, { tenant: '' }),
          ];

          const page = await store.listEndpoints();

          expect(page.items).toEqual(added);
          expect(page.next).toBeNull();
        });

        it('filters by tenant, with no tenant (null) and the empty tenant as different tenants', async () => {
          const store = await open();
          const none = await addEndpoint(store, { tenant: null });
          const empty = await addEndpoint(store, { tenant: '' });
          const a = await addEndpoint(store, { tenant: 'a' });
          await addEndpoint(store, { tenant: 'b' });

          expect(ids((await store.listEndpoints({ tenant: null })).items)).toEqual([none.id]);
          expect(ids((await store.listEndpoints({ tenant: '' })).items)).toEqual([empty.id]);
          expect(ids((await store.listEndpoints({ tenant: 'a' })).items)).toEqual([a.id]);
          expect((await store.listEndpoints({ tenant: 'c' })).items).toEqual([]);
        });

        it('filters by subscribed event', async () => {
          const store = await open();
          const both = await addEndpoint(store, { events: ['order.created', 'order.paid'] });
          const paid = await addEndpoint(store, { events: ['order.paid'] });
          await addEndpoint(store, { events: ['order.created'] });

          const page = await store.listEndpoints({ event: 'order.paid' });

          expect(ids(page.items)).toEqual([both.id, paid.id]);
        });

        it('filters by disabled, true and false', async () => {
          const store = await open();
          const enabled = await addEndpoint(store, { disabled: false });
          const disabled = await addEndpoint(store, { disabled: true, disabledReason: 'by hand' });

          expect(ids((await store.listEndpoints({ disabled: true })).items)).toEqual([disabled.id]);
          expect(ids((await store.listEndpoints({ disabled: false })).items)).toEqual([enabled.id]);
        });

        it('applies every given filter at once', async () => {
          const store = await open();
          const match = await addEndpoint(store, { tenant: 'a', events: ['x'], disabled: false });
          await addEndpoint(store, { tenant: 'b', events: ['x'], disabled: false });
          await addEndpoint(store, { tenant: 'a', events: ['y'], disabled: false });
          await addEndpoint(store, { tenant: 'a', events: ['x'], disabled: true });

          const page = await store.listEndpoints({ tenant: 'a', event: 'x', disabled: false });

          expect(ids(page.items)).toEqual([match.id]);
        });

        it('pages by limit and next: every endpoint exactly once, in id order, next null at the end', async () => {
          const store = await open();
          const added: StoredWebhookEndpoint[] = [];
          for (let i = 0; i < 5; i++) added.push(await addEndpoint(store));

          const first = await store.listEndpoints({}, { limit: 2 });
          expect(ids(first.items)).toEqual(ids(added.slice(0, 2)));
          expect(first.next).toEqual(expect.any(String));
          const second = await store.listEndpoints({}, { limit: 2, after: first.next });
          expect(ids(second.items)).toEqual(ids(added.slice(2, 4)));
          const third = await store.listEndpoints({}, { limit: 2, after: second.next });
          expect(ids(third.items)).toEqual(ids(added.slice(4)));
          expect(third.next).toBeNull();
        });

        it('pages a filtered listing through the filter', async () => {
          const store = await open();
          const matching: StoredWebhookEndpoint[] = [];
          for (let i = 0; i < 4; i++) {
            matching.push(await addEndpoint(store, { tenant: 'a' }));
            await addEndpoint(store, { tenant: 'b' });
          }

          const listed = await everyPage((page) => store.listEndpoints({ tenant: 'a' }, page), 3);

          expect(ids(listed)).toEqual(ids(matching));
        });

        it('returns at most 100 endpoints when no limit is given', async () => {
          const store = await open();
          for (let i = 0; i < 101; i++) await addEndpoint(store);

          const page = await store.listEndpoints();

          expect(page.items).toHaveLength(100);
          expect(page.next).toEqual(expect.any(String));
        });
      });

      describe('updateEndpoint', () => {
        it('applies the patch and returns the endpoint as stored now', async () => {
          const store = await open();
          const stored = await addEndpoint(store);
          const patch = {
            url: 'https://example.com/other',
            events: ['order.paid'],
            disabled: true,
            disabledReason: 'by hand',
            updatedAt: at(SECOND),
          };

          const updated = await store.updateEndpoint(stored.id, patch);

          expect(updated).toEqual({ ...stored, ...patch });
          expect(await store.getEndpoint(stored.id)).toEqual({ ...stored, ...patch });
        });

        it('returns undefined for an unknown endpoint, with or without expected', async () => {
          const store = await open();

          expect(await store.updateEndpoint(createId('ep'), { disabled: true })).toBeUndefined();
          expect(
            await store.updateEndpoint(createId('ep'), { disabled: true }, { disabled: false }),
          ).toBeUndefined();
          expect((await store.listEndpoints()).items).toEqual([]);
        });

        it('with expected disabled, applies the patch only when the endpoint matches', async () => {
          const store = await open();
          const stored = await addEndpoint(store, { disabled: true, disabledReason: 'by hand' });

          expect(
            await store.updateEndpoint(stored.id, { description: 'no' }, { disabled: false }),
          ).toBeUndefined();
          expect(await store.getEndpoint(stored.id)).toEqual(stored);

          const updated = await store.updateEndpoint(
            stored.id,
            { disabled: false, disabledReason: null },
            { disabled: true },
          );
          expect(updated).toEqual({ ...stored, disabled: false, disabledReason: null });
        });

        it('with expected failingSince null, applies the patch only while failingSince is unset', async () => {
          const store = await open();
          const failing = await addEndpoint(store, { failingSince: at(-SECOND) });
          const healthy = await addEndpoint(store, { failingSince: null });

          expect(
            await store.updateEndpoint(failing.id, { failingSince: at(0) }, { failingSince: null }),
          ).toBeUndefined();
          expect(await store.getEndpoint(failing.id)).toEqual(failing);

          const updated = await store.updateEndpoint(
            healthy.id,
            { failingSince: at(0) },
            { failingSince: null },
          );
          expect(updated).toEqual({ ...healthy, failingSince: at(0) });
        });

        it('with both fields expected, applies the patch only when both match', async () => {
          const store = await open();
          const stored = await addEndpoint(store, { disabled: false, failingSince: at(-SECOND) });

          expect(
            await store.updateEndpoint(
              stored.id,
              { disabled: true },
              { disabled: false, failingSince: null },
            ),
          ).toBeUndefined();
          expect(await store.getEndpoint(stored.id)).toEqual(stored);
        });

        it('of two concurrent updates expecting disabled false, exactly one wins', async () => {
          const store = await open();
          const stored = await addEndpoint(store);

          const results = await Promise.all(
            ['first', 'second'].map((reason) =>
              store.updateEndpoint(
                stored.id,
                { disabled: true, disabledReason: reason },
                { disabled: false },
              ),
            ),
          );

          const winners = results.filter((result) => result !== undefined);
          expect(winners).toHaveLength(1);
          expect((await store.getEndpoint(stored.id))?.disabledReason).toBe(
            winners[0]!.disabledReason,
          );
        });

        it('of two concurrent updates expecting failingSince null, exactly one wins', async () => {
          const store = await open();
          const stored = await addEndpoint(store);

          const results = await Promise.all(
            [1, 2].map((ms) =>
              store.updateEndpoint(stored.id, { failingSince: at(ms) }, { failingSince: null }),
            ),
          );

          const winners = results.filter((result) => result !== undefined);
          expect(winners).toHaveLength(1);
          expect((await store.getEndpoint(stored.id))?.failingSince).toEqual(
            winners[0]!.failingSince,
          );
        });
      });

      describe('removeEndpoint', () => {
        it('deletes the endpoint', async () => {
          const store = await open();
          const removed = await addEndpoint(store);
          const kept = await addEndpoint(store);

          expect(await store.removeEndpoint(removed.id, 'endpoint removed', at(0))).toEqual({
            removed: true,
            failed: [],
          });

          expect(await store.getEndpoint(removed.id)).toBeUndefined();
          expect(ids((await store.listEndpoints()).items)).toEqual([kept.id]);
        });

        it('returns removed false and nothing failed for an unknown endpoint', async () => {
          const store = await open();
          const other = await addEndpoint(store);
          const { deliveryId } = await emitOne(store, other);

          expect(await store.removeEndpoint(createId('ep'), 'endpoint removed', at(0))).toEqual({
            removed: false,
            failed: [],
          });
          expect((await store.getDelivery(deliveryId))?.status).toBe('pending');
        });

        it("fails the endpoint's pending deliveries with lastError and returns them", async () => {
          const store = await open();
          const removed = await addEndpoint(store);
          const due = await emitOne(store, removed);
          const retrying = await emitOne(store, removed);
          const { delivery } = await claimed(store, retrying.deliveryId, lease('w', 0));
          await store.record(
            delivery.id,
            'w',
            attemptOf(delivery, 0, { statusCode: 503, outcome: 'failed' }),
            retryAt(HOUR, 0),
          );

          const result = await store.removeEndpoint(removed.id, 'endpoint removed', at(SECOND));

          expect(result.removed).toBe(true);
          expect(sortedIds(result.failed)).toEqual([due.deliveryId, retrying.deliveryId].sort());
          for (const failed of result.failed) {
            expect(failed).toMatchObject({
              endpointId: removed.id,
              status: 'failed',
              lastError: 'endpoint removed',
              updatedAt: at(SECOND),
            });
            expect(await store.getDelivery(failed.id)).toEqual(failed);
          }
        });

        it('fails every pending delivery of an endpoint that has more than a database batch of them', async () => {
          const store = await open();
          const removed = await addEndpoint(store);
          const other = await addEndpoint(store);
          // Above the PostgreSQL store's batch of 1,000, and not a multiple of it.
          const pending: string[] = [];
          for (let i = 0; i < 2_345; i++) {
            const { deliveries } = await emit(store, { event: removed.events[0] });
            for (const delivery of deliveries) {
              if (delivery.endpointId === removed.id) pending.push(delivery.id);
            }
          }

          const result = await store.removeEndpoint(removed.id, 'endpoint removed', at(SECOND));

          expect(result.removed).toBe(true);
          expect(sortedIds(result.failed)).toEqual([...pending].sort());
          const left = await store.listDeliveries({ endpointId: removed.id, status: 'pending' });
          expect(left.items).toEqual([]);
          const others = await store.listDeliveries(
            { endpointId: other.id, status: 'pending' },
            { limit: 3_000 },
          );
          expect(others.items).toHaveLength(2_345);
        });

        it('leaves its finished deliveries and the deliveries of other endpoints as they are', async () => {
          const store = await open();
          const removed = await addEndpoint(store);
          const other = await addEndpoint(store);
          const first = await emit(store);
          const second = await emit(store);
          const to = (emitted: typeof first, ep: StoredWebhookEndpoint) =>
            emitted.deliveries.find((d) => d.endpointId === ep.id)!.id;
          const untouched = [
            await finish(store, to(first, removed), 'delivered'),
            await finish(store, to(second, removed), 'failed'),
            await finish(store, to(first, other), 'delivered'),
            structuredClone(
              defined(await store.getDelivery(to(second, other)), 'the pending delivery'),
            ),
          ];

          const result = await store.removeEndpoint(removed.id, 'endpoint removed', at(SECOND));

          expect(result).toEqual({ removed: true, failed: [] });
          for (const delivery of untouched) {
            expect(await store.getDelivery(delivery.id)).toEqual(delivery);
          }
        });
      });
    });

    describe('emit', () => {
      it('fans out to exactly the enabled endpoints of its tenant subscribed to its event', async () => {
        const store = await open();
        const a = await addEndpoint(store, { tenant: 't', events: ['order.created'] });
        const b = await addEndpoint(store, { tenant: 't', events: ['x', 'order.created'] });
        await addEndpoint(store, { tenant: 't', events: ['order.created'], disabled: true });
        await addEndpoint(store, { tenant: 't', events: ['order.paid'] });
        await addEndpoint(store, { tenant: 'u', events: ['order.created'] });
        await addEndpoint(store, { tenant: null, events: ['order.created'] });
        await addEndpoint(store, { tenant: '', events: ['order.created'] });

        const { deliveries } = await emit(store, { tenant: 't', event: 'order.created' });

        expect(deliveries.map((d) => d.endpointId).sort()).toEqual([a.id, b.id].sort());
        expect(new Set(ids(deliveries)).size).toBe(2);
      });

      it('refuses a second message of an id it holds, keeping the first and its deliveries', async () => {
        const store = await open();
        const ep = await addEndpoint(store);
        const { message: first, deliveryId } = await emitOne(store, ep);

        const again = { ...first, body: '{"second":true}' };
        await expect(store.emit(emitRequest(again))).rejects.toThrow(first.id);

        expect(await store.getMessage(first.id)).toEqual(first);
        expect(ids((await store.listDeliveries({ messageId: first.id })).items)).toEqual([
          deliveryId,
        ]);
      });

      it('fans a message without a tenant out only to endpoints without one, not to the empty tenant', async () => {
        const store = await open();
        const none = await addEndpoint(store, { tenant: null });
        const empty = await addEndpoint(store, { tenant: '' });

        const withoutTenant = await emit(store, { tenant: null });
        const emptyTenant = await emit(store, { tenant: '' });

        expect(withoutTenant.deliveries.map((d) => d.endpointId)).toEqual([none.id]);
        expect(emptyTenant.deliveries.map((d) => d.endpointId)).toEqual([empty.id]);
      });

      it('stores the message as given', async () => {
        const store = await open();
        const { message: emitted } = await emit(store, {
          event: 'order.created',
          method: 'put',
          tenant: 'acme',
          body: '{"order":1}',
          idempotencyKey: 'key-1',
        });

        expect(await store.getMessage(emitted.id)).toEqual(emitted);
        expect(await store.getMessage(createId('msg'))).toBeUndefined();
      });

      it('stores a message no endpoint subscribes to, with no deliveries', async () => {
        const store = await open();
        await addEndpoint(store, { events: ['other'] });

        const { message: emitted, deliveries } = await emit(store);

        expect(deliveries).toEqual([]);
        expect(await store.getMessage(emitted.id)).toEqual(emitted);
        expect((await store.listDeliveries({ messageId: emitted.id })).items).toEqual([]);
      });

      it('makes each delivery pending and due at the message time, with no attempts', async () => {
        const store = await open();
        const ep = await addEndpoint(store, { tenant: 'acme', events: ['order.created'] });

        const { message: emitted, deliveryId } = await emitOne(store, ep, {
          createdAt: at(-SECOND),
        });

        expect(await store.getDelivery(deliveryId)).toMatchObject({
          id: deliveryId,
          messageId: emitted.id,
          endpointId: ep.id,
          tenant: 'acme',
          event: 'order.created',
          status: 'pending',
          attempts: 0,
          scheduleAttempts: 0,
          nextAttemptAt: emitted.createdAt,
          lastError: null,
        });
        expect(await store.claim(deliveryId, lease('w', -SECOND))).toBeDefined();
      });

      it('follows updateEndpoint and removeEndpoint: disabled, re-enabled, events, tenant', async () => {
        const store = await open();
        const ep = await addEndpoint(store, { tenant: 'a', events: ['x'] });
        const fanOut = async (tenant: string | null, event: string) =>
          (await emit(store, { tenant, event })).deliveries.map((d) => d.endpointId);

        expect(await fanOut('a', 'x')).toEqual([ep.id]);
        await store.updateEndpoint(ep.id, { disabled: true });
        expect(await fanOut('a', 'x')).toEqual([]);
        await store.updateEndpoint(ep.id, { disabled: false });
        expect(await fanOut('a', 'x')).toEqual([ep.id]);
        await store.updateEndpoint(ep.id, { events: ['y'] });
        expect(await fanOut('a', 'x')).toEqual([]);
        expect(await fanOut('a', 'y')).toEqual([ep.id]);
        await store.updateEndpoint(ep.id, { tenant: 'b' });
        expect(await fanOut('a', 'y')).toEqual([]);
        expect(await fanOut('b', 'y')).toEqual([ep.id]);
        await store.removeEndpoint(ep.id, 'endpoint removed', at(0));
        expect(await fanOut('b', 'y')).toEqual([]);
      });

      it('keeps no reference to the message passed in', async () => {
        const store = await open();
        const passed = message({ body: '{"a":1}' });
        const expected = structuredClone(passed);
        await store.emit(emitRequest(passed));

        passed.body = '{"changed":true}';
        passed.createdAt.setTime(0);

        expect(await store.getMessage(expected.id)).toEqual(expected);
      });

      it('accepts notify true as well', async () => {
        const store = await open();
        const ep = await addEndpoint(store);

        const result = await store.emit(emitRequest(message(), { notify: true }));

        expect(insertedDeliveries(result).map((d) => d.endpointId)).toEqual([ep.id]);
      });

      describe('a test event (endpointId)', () => {
        it('goes to that one endpoint, subscribed or not, and the message is marked test', async () => {
          const store = await open();
          const target = await addEndpoint(store, { tenant: 't', events: ['other'] });
          await addEndpoint(store, { tenant: 't', events: ['order.created'] });
          const test = message({ tenant: 't', event: 'order.created', test: true });

          const result = await store.emit(emitRequest(test, { endpointId: target.id }));

          const deliveries = insertedDeliveries(result);
          expect(deliveries.map((d) => d.endpointId)).toEqual([target.id]);
          expect(await store.getMessage(test.id)).toEqual(test);
          expect((await store.getMessage(test.id))?.test).toBe(true);
          expect(await store.getDelivery(deliveries[0].id)).toMatchObject({
            status: 'pending',
            endpointId: target.id,
            event: 'order.created',
          });
          const plain = await emit(store, { tenant: 't', event: 'order.created' });
          expect((await store.getMessage(plain.message.id))?.test).toBeUndefined();
        });

        it("makes no delivery to a disabled endpoint, another tenant's, or an unknown one", async () => {
          const store = await open();
          const disabled = await addEndpoint(store, { tenant: 't', disabled: true });
          const other = await addEndpoint(store, { tenant: 'u' });
          for (const endpointId of [disabled.id, other.id, createId('ep')]) {
            const test = message({ tenant: 't', event: disabled.events[0], test: true });
            const result = await store.emit(emitRequest(test, { endpointId }));
            expect(insertedDeliveries(result)).toEqual([]);
          }
        });
      });

      describe('idempotency', () => {
        it('returns the message already stored with the same key and tenant, storing nothing', async () => {
          const store = await open();
          await addEndpoint(store, { tenant: 'a', events: ['first', 'second'] });
          await addEndpoint(store, { tenant: 'a', events: ['first'] });
          const first = await emit(store, { tenant: 'a', event: 'first', idempotencyKey: 'k' });
          const again = message({ tenant: 'a', event: 'second', idempotencyKey: 'k' });

          const result = await store.emit(emitRequest(again));

          expect(result).toEqual({
            inserted: false,
            existing: expect.objectContaining({ id: first.message.id, event: 'first' }),
            deliveries: 2,
          });
          expect(await store.getMessage(again.id)).toBeUndefined();
          expect(ids((await store.listMessages()).items)).toEqual([first.message.id]);
          expect((await store.listDeliveries()).items).toHaveLength(2);
        });

        it('keeps a key space per tenant: no tenant, the empty tenant and a named one', async () => {
          const store = await open();
          const tenants = [null, '', 'a'];

          for (const tenant of tenants) {
            const result = await store.emit(emitRequest(message({ tenant, idempotencyKey: 'k' })));
            expect(result.inserted).toBe(true);
          }
          const stored = (await store.listMessages()).items;
          for (const tenant of tenants) {
            const result = await store.emit(emitRequest(message({ tenant, idempotencyKey: 'k' })));
            const existing = stored.find((m) => m.tenant === tenant)!;
            expect(result).toMatchObject({ inserted: false, existing: { id: existing.id } });
          }
          expect((await store.listMessages()).items).toHaveLength(3);
        });

        it('lets a key stored before idempotentSince give way', async () => {
          const store = await open();
          const old = await emit(store, { idempotencyKey: 'k', createdAt: at(-2 * HOUR) });
          const again = message({ idempotencyKey: 'k' });

          // Later than the first message's time and than when it was stored, whichever the
          // store goes by.
          const result = await store.emit(emitRequest(again, { idempotentSince: at(HOUR) }));

          expect(result.inserted).toBe(true);
          expect(sortedIds((await store.listMessages()).items)).toEqual(
            [old.message.id, again.id].sort(),
          );
        });

        it('never deduplicates messages without a key', async () => {
          const store = await open();
          await emit(store, { idempotencyKey: null });

          const result = await store.emit(emitRequest(message({ idempotencyKey: null })));

          expect(result.inserted).toBe(true);
        });

        it('of 20 concurrent emits with the same key, stores exactly one', async () => {
          const store = await open();
          await addEndpoint(store);
          const messages = Array.from({ length: 20 }, () => message({ idempotencyKey: 'k' }));

          const results = await Promise.all(messages.map((m) => store.emit(emitRequest(m))));

          const inserted = results.flatMap((result, i) => (result.inserted ? [messages[i]] : []));
          expect(inserted).toHaveLength(1);
          for (const result of results) {
            if (!result.inserted) {
              expect(result.existing.id).toBe(inserted[0].id);
              expect(result.deliveries).toBe(1);
            }
          }
          expect(ids((await store.listMessages()).items)).toEqual([inserted[0].id]);
          expect((await store.listDeliveries()).items).toHaveLength(1);
        });
      });
    });

    describe('portal link generations', () => {
      it('move on by one per revocation, per tenant', async () => {
        const store = await open();
        const start = await store.portalLinkGeneration('acme');
        expect(Number.isSafeInteger(start)).toBe(true);
        const others = await store.portalLinkGeneration('globex');

        expect(await store.revokePortalLinks('acme')).toBe(start + 1);
        expect(await store.revokePortalLinks('acme')).toBe(start + 2);

        expect(await store.portalLinkGeneration('acme')).toBe(start + 2);
        expect(await store.portalLinkGeneration('globex')).toBe(others);
        expect(await store.portalLinkGeneration('')).toBe(others);
      });

      it('of 10 concurrent revocations, each gets a generation of its own', async () => {
        const store = await open();
        const generations = await Promise.all(
          Array.from({ length: 10 }, () => store.revokePortalLinks('acme')),
        );
        const start = (await store.portalLinkGeneration('acme')) - 10;
        expect([...generations].sort((a, b) => a - b)).toEqual(
          Array.from({ length: 10 }, (_, i) => start + i + 1),
        );
      });
    });

    describe('the message log', () => {
      it('returns a copy from getMessage and listMessages', async () => {
        const store = await open();
        const { message: emitted } = await emit(store);

        for (const read of [
          await store.getMessage(emitted.id),
          (await store.listMessages()).items[0],
        ]) {
          const record = defined(read, 'a message read back');
          record.body = 'changed';
          record.createdAt.setTime(0);
        }

        expect(await store.getMessage(emitted.id)).toEqual(emitted);
      });

      it('lists messages newest first', async () => {
        const store = await open();
        const emitted = [];
        for (let i = 0; i < 3; i++) emitted.push((await emit(store)).message);

        const page = await store.listMessages();

        expect(page.items).toEqual([...emitted].reverse());
        expect(page.next).toBeNull();
      });

      it('filters messages by tenant (null and the empty tenant apart) and by event', async () => {
        const store = await open();
        const none = (await emit(store, { tenant: null, event: 'x' })).message;
        const empty = (await emit(store, { tenant: '', event: 'x' })).message;
        const a = (await emit(store, { tenant: 'a', event: 'x' })).message;
        const ay = (await emit(store, { tenant: 'a', event: 'y' })).message;

        expect(ids((await store.listMessages({ tenant: null })).items)).toEqual([none.id]);
        expect(ids((await store.listMessages({ tenant: '' })).items)).toEqual([empty.id]);
        expect(ids((await store.listMessages({ tenant: 'a' })).items)).toEqual([ay.id, a.id]);
        expect(ids((await store.listMessages({ event: 'y' })).items)).toEqual([ay.id]);
        expect(ids((await store.listMessages({ tenant: 'a', event: 'x' })).items)).toEqual([a.id]);
      });

      it('pages messages: every one exactly once, newest first, next null at the end', async () => {
        const store = await open();
        const emitted = [];
        for (let i = 0; i < 5; i++) emitted.push((await emit(store)).message);

        const first = await store.listMessages({}, { limit: 2 });
        expect(first.items).toHaveLength(2);
        expect(first.next).toEqual(expect.any(String));
        const listed = await everyPage((page) => store.listMessages({}, page), 2);
        expect(ids(listed)).toEqual(newestFirst(ids(emitted)));
        const last = await store.listMessages({}, { limit: 10 });
        expect(last.next).toBeNull();
      });

      it('lists and pages by id whatever order messages were stored in, before and after more come', async () => {
        const store = await open();
        const ep = await addEndpoint(store);
        // Ids are made before the emit that stores them, and emits overlap.
        const made = Array.from({ length: 6 }, () => createId('msg'));
        for (const id of [made[2], made[0], made[1]]) await emitOne(store, ep, { id });
        expect(ids(await everyPage((page) => store.listMessages({}, page), 2))).toEqual(
          newestFirst(made.slice(0, 3)),
        );
        for (const id of [made[3], made[5], made[4]]) await emitOne(store, ep, { id });

        expect(ids(await everyPage((page) => store.listMessages({}, page), 2))).toEqual(
          newestFirst(made),
        );
        // Deliveries page by their own ids: each once.
        const deliveries = await everyPage((page) => store.listDeliveries({}, page), 4);
        expect(deliveries.map((delivery) => delivery.messageId).sort()).toEqual([...made].sort());
      });

      it('pages messages from a cursor, not an offset: a message emitted meanwhile shifts nothing', async () => {
        const store = await open();
        const emitted = [];
        for (let i = 0; i < 4; i++) emitted.push((await emit(store)).message);

        const first = await store.listMessages({}, { limit: 2 });
        await emit(store);
        const second = await store.listMessages({}, { limit: 2, after: first.next });

        expect(ids([...first.items, ...second.items])).toEqual(newestFirst(ids(emitted)));
      });
    });

    describe('the delivery log', () => {
      it('returns a delivery by id, and undefined for an unknown id', async () => {
        const store = await open();
        const ep = await addEndpoint(store);
        const { deliveryId } = await emitOne(store, ep);

        expect((await store.getDelivery(deliveryId))?.id).toBe(deliveryId);
        expect(await store.getDelivery(createId('dlv'))).toBeUndefined();
      });

      it('returns deliveries that are copies', async () => {
        const store = await open();
        const ep = await addEndpoint(store);
        const { deliveryId } = await emitOne(store, ep);
        const before = structuredClone(await store.getDelivery(deliveryId));

        for (const read of [
          await store.getDelivery(deliveryId),
          (await store.listDeliveries()).items[0],
        ]) {
          const record = defined(read, 'a delivery read back');
          record.status = 'failed';
          record.attempts = 9;
          record.nextAttemptAt?.setTime(0);
          record.createdAt.setTime(0);
          record.updatedAt.setTime(0);
        }

        expect(await store.getDelivery(deliveryId)).toEqual(before);
      });

      it('lists deliveries newest first, by id', async () => {
        const store = await open();
        await addEndpoint(store);
        await addEndpoint(store);
        const emitted: EmittedDelivery[] = [];
        for (let i = 0; i < 3; i++) emitted.push(...(await emit(store)).deliveries);

        const page = await store.listDeliveries();

        expect(ids(page.items)).toEqual(newestFirst(ids(emitted)));
        expect(page.next).toBeNull();
      });

      it('filters deliveries by message, endpoint, tenant (null and empty apart), event and status', async () => {
        const store = await open();
        const a1 = await addEndpoint(store, { tenant: 'a', events: ['x', 'y'] });
        const a2 = await addEndpoint(store, { tenant: 'a', events: ['x'] });
        const none = await addEndpoint(store, { tenant: null, events: ['x'] });
        const empty = await addEndpoint(store, { tenant: '', events: ['x'] });
        const ax = await emit(store, { tenant: 'a', event: 'x' });
        const ay = await emit(store, { tenant: 'a', event: 'y' });
        const noneX = await emitOne(store, none, { event: 'x' });
        const emptyX = await emitOne(store, empty, { event: 'x' });
        const toA2 = ax.deliveries.find((d) => d.endpointId === a2.id)!;
        await finish(store, toA2.id, 'delivered');
        const listed = async (filter: Parameters<WebhookStore['listDeliveries']>[0]) =>
          sortedIds((await store.listDeliveries(filter)).items);

        expect(await listed({ messageId: ax.message.id })).toEqual(sortedIds(ax.deliveries));
        expect(await listed({ endpointId: a1.id })).toEqual(
          [ax.deliveries.find((d) => d.endpointId === a1.id)!.id, ay.deliveries[0].id].sort(),
        );
        expect(await listed({ tenant: null })).toEqual([noneX.deliveryId]);
        expect(await listed({ tenant: '' })).toEqual([emptyX.deliveryId]);
        expect(await listed({ tenant: 'a', event: 'y' })).toEqual([ay.deliveries[0].id]);
        expect(await listed({ event: 'x', status: 'delivered' })).toEqual([toA2.id]);
        expect(await listed({ tenant: 'a', status: 'pending' })).toEqual(
          [...ax.deliveries, ...ay.deliveries]
            .filter((d) => d.id !== toA2.id)
            .map((d) => d.id)
            .sort(),
        );
        expect(await listed({ status: 'failed' })).toEqual([]);
      });

      it('pages deliveries: every one exactly once, newest first, through the filter', async () => {
        const store = await open();
        const ep = await addEndpoint(store, { events: ['x'] });
        await addEndpoint(store, { events: ['y'] });
        const toEp: string[] = [];
        for (let i = 0; i < 5; i++) {
          toEp.push((await emitOne(store, ep, { event: 'x' })).deliveryId);
          await emit(store, { event: 'y' });
        }

        const first = await store.listDeliveries({ endpointId: ep.id }, { limit: 2 });
        expect(first.items).toHaveLength(2);
        expect(first.next).toEqual(expect.any(String));
        const listed = await everyPage(
          (page) => store.listDeliveries({ endpointId: ep.id }, page),
          2,
        );
        expect(ids(listed)).toEqual(newestFirst(toEp));
      });

      describe('listAttempts', () => {
        it('returns the attempts of each delivery asked for, oldest first, as recorded', async () => {
          const store = await open();
          const ep = await addEndpoint(store);
          const twice = await emitOne(store, ep);
          const once = await emitOne(store, ep);
          const first = (await claimed(store, twice.deliveryId, lease('w', 0))).delivery;
          const attempt1 = attemptOf(first, 0, {
            statusCode: null,
            error: 'ECONNREFUSED',
            responseBody: null,
            outcome: 'failed',
          });
          await store.record(first.id, 'w', attempt1, retryAt(SECOND, 0));
          const second = (await claimed(store, twice.deliveryId, lease('w', SECOND))).delivery;
          const attempt2 = attemptOf(second, SECOND);
          await store.record(second.id, 'w', attempt2, deliveredAt(SECOND, 2));
          const onceDelivery = (await claimed(store, once.deliveryId, lease('w', 0))).delivery;
          const onceAttempt = attemptOf(onceDelivery, 0, { statusCode: 410, outcome: 'failed' });
          await store.record(onceDelivery.id, 'w', onceAttempt, failedAt(0, 'HTTP 410'));

          const attempts = await store.listAttempts([twice.deliveryId, once.deliveryId]);

          expect(attempts.get(twice.deliveryId)).toEqual([attempt1, attempt2]);
          expect(attempts.get(once.deliveryId)).toEqual([onceAttempt]);
          expect(ids(attempts.get(twice.deliveryId)!)).toEqual([
            attemptId(twice.deliveryId, 1),
            attemptId(twice.deliveryId, 2),
          ]);
          expect(attempts.size).toBe(2);
        });

        it('leaves out deliveries without attempts and unknown ones', async () => {
          const store = await open();
          const ep = await addEndpoint(store);
          const { deliveryId } = await emitOne(store, ep);

          const attempts = await store.listAttempts([deliveryId, createId('dlv')]);

          expect(attempts).toBeInstanceOf(Map);
          expect(attempts.size).toBe(0);
          expect((await store.listAttempts([])).size).toBe(0);
        });

        it('keeps no reference to a recorded attempt, and returns copies', async () => {
          const store = await open();
          const ep = await addEndpoint(store);
          const { deliveryId } = await emitOne(store, ep);
          const { delivery } = await claimed(store, deliveryId, lease('w', 0));
          const attempt = attemptOf(delivery, 0);
          const expected = structuredClone(attempt);
          await store.record(deliveryId, 'w', attempt, deliveredAt(0));

          attempt.statusCode = 500;
          attempt.startedAt.setTime(0);
          const read = (await store.listAttempts([deliveryId])).get(deliveryId)!;
          read[0].responseBody = 'changed';
          read[0].startedAt.setTime(0);
          read.push({ ...expected, attempt: 2 });

          expect((await store.listAttempts([deliveryId])).get(deliveryId)).toEqual([expected]);
        });
      });
    });

    describe('claim', () => {
      it('leases a pending, due delivery and returns it with its message content and endpoint', async () => {
        const store = await open();
        const ep = await addEndpoint(store);
        const { message: emitted, deliveryId } = await emitOne(store, ep, {
          method: 'patch',
          body: '{"claimed":true}',
        });

        const claim = await claimed(store, deliveryId, lease('w', 0));

        expect(claim.delivery).toEqual(await store.getDelivery(deliveryId));
        expect(claim.delivery).toMatchObject({ id: deliveryId, status: 'pending', attempts: 0 });
        expect(claim.message).toMatchObject({
          id: emitted.id,
          method: 'patch',
          body: '{"claimed":true}',
        });
        expect(claim.endpoint).toEqual(ep);
      });

      it('returns copies of the delivery and endpoint it claims', async () => {
        const store = await open();
        const ep = await addEndpoint(store);
        const { deliveryId } = await emitOne(store, ep);
        const before = structuredClone(await store.getDelivery(deliveryId));

        const claim = await claimed(store, deliveryId, lease('w', 0));
        claim.delivery.attempts = 9;
        claim.delivery.nextAttemptAt?.setTime(0);
        claim.endpoint!.events.push('changed');
        claim.endpoint!.createdAt.setTime(0);

        expect(await store.getDelivery(deliveryId)).toEqual(before);
        expect(await store.getEndpoint(ep.id)).toEqual(ep);
      });

      it('claims a delivery only once due: nextAttemptAt at or before lease.now', async () => {
        const store = await open();
        const ep = await addEndpoint(store);
        const { deliveryId } = await emitOne(store, ep, { createdAt: at(10 * SECOND) });

        expect(await store.claim(deliveryId, lease('w', 10 * SECOND - 1))).toBeUndefined();
        expect(await store.claim(deliveryId, lease('w', 10 * SECOND))).toBeDefined();
      });

      it('refuses a delivery leased to another owner until that lease ends', async () => {
        const store = await open();
        const ep = await addEndpoint(store);
        const { deliveryId } = await emitOne(store, ep);
        await claimed(store, deliveryId, lease('a', 0, 30 * SECOND));

        expect(await store.claim(deliveryId, lease('b', 10 * SECOND))).toBeUndefined();
        expect(await store.claim(deliveryId, lease('b', 30 * SECOND + 1))).toBeDefined();
      });

      it('ends a lease at its until: a claim at exactly that time succeeds', async () => {
        const store = await open();
        const ep = await addEndpoint(store);
        const { deliveryId } = await emitOne(store, ep);
        await claimed(store, deliveryId, lease('a', 0, 30 * SECOND));

        expect(await store.claim(deliveryId, lease('b', 30 * SECOND))).toBeDefined();
      });

      it('lets the owner claim its own leased delivery again, extending the lease', async () => {
        const store = await open();
        const ep = await addEndpoint(store);
        const { deliveryId } = await emitOne(store, ep);
        await claimed(store, deliveryId, lease('a', 0, 30 * SECOND));

        expect(await store.claim(deliveryId, lease('a', SECOND, 60 * SECOND))).toBeDefined();

        expect(await store.claim(deliveryId, lease('b', 45 * SECOND))).toBeUndefined();
        expect(await store.claim(deliveryId, lease('b', 60 * SECOND + 1))).toBeDefined();
      });

      it('refuses a finished delivery, delivered or failed, and an unknown one', async () => {
        const store = await open();
        const ep = await addEndpoint(store);
        const delivered = await finish(store, (await emitOne(store, ep)).deliveryId, 'delivered');
        const failed = await finish(store, (await emitOne(store, ep)).deliveryId, 'failed');

        expect(await store.claim(delivered.id, lease('w', HOUR))).toBeUndefined();
        expect(await store.claim(failed.id, lease('w', HOUR))).toBeUndefined();
        expect(await store.claim(createId('dlv'), lease('w', HOUR))).toBeUndefined();
      });

      it('of 10 concurrent claims by 10 owners, exactly one wins', async () => {
        const store = await open();
        const ep = await addEndpoint(store);
        const { deliveryId } = await emitOne(store, ep);

        const claims = await Promise.all(
          Array.from({ length: 10 }, (_, i) => store.claim(deliveryId, lease(`owner-${i}`, 0))),
        );

        expect(claims.filter((claim) => claim !== undefined)).toHaveLength(1);
      });

      it('returns no endpoint for a delivery whose endpoint was removed (redelivered since)', async () => {
        const store = await open();
        const ep = await addEndpoint(store);
        const { message: emitted, deliveryId } = await emitOne(store, ep);
        await store.removeEndpoint(ep.id, 'endpoint removed', at(0));
        await store.redeliver({ messageId: emitted.id, now: at(SECOND), notify: false });

        const claim = await claimed(store, deliveryId, lease('w', SECOND));

        expect(claim.endpoint).toBeUndefined();
        expect(claim.message?.id).toBe(emitted.id);
      });

      it('finds nothing to claim of a pruned message: its delivery is gone', async () => {
        const store = await open();
        const ep = await addEndpoint(store);
        const { deliveryId } = await emitOne(store, ep);
        await finish(store, deliveryId, 'delivered');
        expect(await store.prune(at(HOUR), 100)).toBe(1);

        expect(await store.getDelivery(deliveryId)).toBeUndefined();
        expect(await store.claim(deliveryId, lease('w', HOUR))).toBeUndefined();
      });
    });

    describe('record', () => {
      it('keeps the first of two attempts with the same number (two owners across a lease)', async () => {
        const store = await open();
        const ep = await addEndpoint(store);
        const { deliveryId } = await emitOne(store, ep);
        const { delivery } = await claimed(store, deliveryId, lease('a', 0, SECOND));
        // A's lease ran out while it was sending; B claims and sends attempt 1 as well.
        await claimed(store, deliveryId, lease('b', SECOND));
        const byA = attemptOf(delivery, 0, { statusCode: 500, outcome: 'failed' });
        const byB = attemptOf(delivery, SECOND, { statusCode: 200 });

        expect((await store.record(deliveryId, 'b', byB, deliveredAt(2 * SECOND))).applied).toBe(
          true,
        );
        expect((await store.record(deliveryId, 'a', byA, deliveredAt(2 * SECOND))).applied).toBe(
          false,
        );

        expect((await store.listAttempts([deliveryId])).get(deliveryId)).toEqual([byB]);
        expect(await store.getDelivery(deliveryId)).toMatchObject({
          status: 'delivered',
          attempts: 1,
        });
      });

      it('logs the attempt and applies the outcome of a claim', async () => {
        const store = await open();
        const ep = await addEndpoint(store);
        const { deliveryId } = await emitOne(store, ep);
        const { delivery } = await claimed(store, deliveryId, lease('w', 0));
        const attempt = attemptOf(delivery, 0);

        const recorded = await store.record(deliveryId, 'w', attempt, deliveredAt(SECOND));

        const expected = {
          ...delivery,
          status: 'delivered',
          attempts: 1,
          scheduleAttempts: 1,
          nextAttemptAt: null,
          lastError: null,
          updatedAt: at(SECOND),
        };
        expect(recorded).toEqual({ applied: true, delivery: expected, endpointFailingSince: null });
        expect(await store.getDelivery(deliveryId)).toEqual(expected);
        expect((await store.listAttempts([deliveryId])).get(deliveryId)).toEqual([attempt]);
      });

      it("returns the endpoint's failing clock as stored after the step, not as claimed", async () => {
        const store = await open();
        const ep = await addEndpoint(store, { failingSince: at(-HOUR) });
        const other = await addEndpoint(store, { events: ['order.paid'] });
        const [first, second] = [await emitOne(store, ep), await emitOne(store, other)];
        const claims = [
          await claimed(store, first.deliveryId, lease('w', 0)),
          await claimed(store, second.deliveryId, lease('w', 0)),
        ];
        // The first endpoint's clock stops while its attempt runs, the second's starts.
        await store.updateEndpoint(ep.id, { failingSince: null });
        await store.updateEndpoint(other.id, { failingSince: at(-SECOND) });

        const recorded = await Promise.all(
          claims.map(({ delivery }) =>
            store.record(delivery.id, 'w', attemptOf(delivery, 0), deliveredAt(0)),
          ),
        );

        expect(recorded.map((one) => one.endpointFailingSince)).toEqual([null, at(-SECOND)]);
        recorded[1].endpointFailingSince!.setTime(0);
        recorded[0].delivery!.nextAttemptAt = at(HOUR);
        expect((await store.getEndpoint(other.id))?.failingSince).toEqual(at(-SECOND));
        expect((await store.getDelivery(first.deliveryId))?.nextAttemptAt).toBeNull();
      });

      it('ends a delivered or failed delivery: it cannot be claimed again', async () => {
        const store = await open();
        const ep = await addEndpoint(store);
        const { deliveryId } = await emitOne(store, ep);
        const { delivery } = await claimed(store, deliveryId, lease('w', 0));
        await store.record(
          deliveryId,
          'w',
          attemptOf(delivery, 0, { statusCode: 400 }),
          failedAt(0),
        );

        expect(await store.claim(deliveryId, lease('w', HOUR))).toBeUndefined();
        expect((await store.getDelivery(deliveryId))?.status).toBe('failed');
      });

      it('releases the lease: another owner claims the retry as soon as it is due', async () => {
        const store = await open();
        const ep = await addEndpoint(store);
        const { deliveryId } = await emitOne(store, ep);
        const { delivery } = await claimed(store, deliveryId, lease('a', 0, HOUR));

        const recorded = await store.record(
          deliveryId,
          'a',
          attemptOf(delivery, 0, { statusCode: 503, outcome: 'failed' }),
          retryAt(5 * SECOND, 0),
        );

        expect(recorded.applied).toBe(true);
        expect(recorded.delivery).toMatchObject({
          status: 'pending',
          attempts: 1,
          scheduleAttempts: 1,
          nextAttemptAt: at(5 * SECOND),
          lastError: 'HTTP 503',
        });
        expect(await store.claim(deliveryId, lease('b', 5 * SECOND - 1))).toBeUndefined();
        const retry = await claimed(store, deliveryId, lease('b', 5 * SECOND));
        expect(retry.delivery.attempts).toBe(1);
      });

      it('with no attempt (given up), applies the outcome and logs nothing', async () => {
        const store = await open();
        const ep = await addEndpoint(store);
        const { deliveryId } = await emitOne(store, ep);
        await claimed(store, deliveryId, lease('w', 0));

        const recorded = await store.record(deliveryId, 'w', null, failedAt(0, 'gave up'));

        expect(recorded.applied).toBe(true);
        expect(recorded.delivery).toMatchObject({
          status: 'failed',
          attempts: 0,
          lastError: 'gave up',
        });
        expect((await store.listAttempts([deliveryId])).has(deliveryId)).toBe(false);
      });

      it('after the endpoint was removed, applies nothing but logs the attempt and counts it', async () => {
        const store = await open();
        const ep = await addEndpoint(store);
        const { deliveryId } = await emitOne(store, ep);
        const { delivery } = await claimed(store, deliveryId, lease('w', 0));
        await store.removeEndpoint(ep.id, 'endpoint removed', at(SECOND));
        const attempt = attemptOf(delivery, 0);

        const recorded = await store.record(deliveryId, 'w', attempt, deliveredAt(2 * SECOND));

        expect(recorded.applied).toBe(false);
        expect(recorded.endpointFailingSince).toBeNull();
        expect(recorded.delivery).toMatchObject({
          status: 'failed',
          lastError: 'endpoint removed',
          attempts: 1,
        });
        expect(await store.getDelivery(deliveryId)).toEqual(recorded.delivery);
        expect((await store.listAttempts([deliveryId])).get(deliveryId)).toEqual([attempt]);
      });

      it('after another owner claimed the expired lease, applies nothing and leaves that lease', async () => {
        const store = await open();
        const ep = await addEndpoint(store);
        const { deliveryId } = await emitOne(store, ep);
        const late = (await claimed(store, deliveryId, lease('a', 0, 30 * SECOND))).delivery;
        await claimed(store, deliveryId, lease('b', 31 * SECOND, 61 * SECOND));
        const attempt = attemptOf(late, 0);

        const recorded = await store.record(deliveryId, 'a', attempt, deliveredAt(40 * SECOND));

        expect(recorded.applied).toBe(false);
        expect(recorded.delivery).toMatchObject({ status: 'pending', attempts: 1 });
        expect((await store.listAttempts([deliveryId])).get(deliveryId)).toEqual([attempt]);
        expect(await store.claim(deliveryId, lease('c', 50 * SECOND))).toBeUndefined();
        expect((await store.record(deliveryId, 'b', null, failedAt(50 * SECOND))).applied).toBe(
          true,
        );
      });

      it('by an owner without the lease, applies nothing and leaves the lease', async () => {
        const store = await open();
        const ep = await addEndpoint(store);
        const { deliveryId } = await emitOne(store, ep);
        await claimed(store, deliveryId, lease('a', 0));

        const recorded = await store.record(deliveryId, 'x', null, deliveredAt(SECOND));

        expect(recorded.applied).toBe(false);
        expect(recorded.delivery).toMatchObject({ status: 'pending', attempts: 0 });
        expect(await store.claim(deliveryId, lease('b', SECOND))).toBeUndefined();
        expect((await store.record(deliveryId, 'a', null, deliveredAt(SECOND))).applied).toBe(true);
      });

      it('of a delivery never claimed, applies nothing', async () => {
        const store = await open();
        const ep = await addEndpoint(store);
        const { deliveryId } = await emitOne(store, ep);
        const before = structuredClone(await store.getDelivery(deliveryId));

        const recorded = await store.record(deliveryId, 'w', null, deliveredAt(SECOND));

        expect(recorded).toEqual({ applied: false, delivery: before, endpointFailingSince: null });
      });

      it('by the owner of a lease that ran out unclaimed, applies the outcome', async () => {
        const store = await open();
        const ep = await addEndpoint(store);
        const { deliveryId } = await emitOne(store, ep);
        await claimed(store, deliveryId, lease('a', 0, SECOND));

        const recorded = await store.record(deliveryId, 'a', null, deliveredAt(HOUR));

        expect(recorded.applied).toBe(true);
        expect(recorded.delivery?.status).toBe('delivered');
      });

      it('of an unknown delivery, returns no delivery and applies nothing', async () => {
        const store = await open();

        const recorded = await store.record(createId('dlv'), 'w', null, deliveredAt(0));

        expect(recorded.applied).toBe(false);
        expect(recorded.delivery).toBeUndefined();
        expect(recorded.endpointFailingSince).toBeNull();
      });

      it('of many deliveries at once, stores each outcome as if it ran alone', async () => {
        const store = await open();
        const ep = await addEndpoint(store);
        // More than a store is likely to write in one go, of every kind a record can be.
        const count = 250;
        const deliveryIds: string[] = [];
        for (let i = 0; i < count; i++) deliveryIds.push((await emitOne(store, ep)).deliveryId);
        const claims = new Map<string, WebhookDelivery>();
        for (const [i, id] of deliveryIds.entries()) {
          if (i % 5 !== 4) claims.set(id, (await claimed(store, id, lease('w', 0))).delivery);
        }
        const kinds = ['delivered', 'retry', 'failed', 'no attempt', 'not claimed'] as const;
        const kindOf = (i: number) => kinds[i % kinds.length];
        const unknown = createId('dlv');

        const recorded = await Promise.all([
          ...deliveryIds.map((id, i) => {
            const delivery = claims.get(id);
            switch (kindOf(i)) {
              case 'delivered':
                return store.record(id, 'w', attemptOf(delivery!, i), deliveredAt(SECOND + i));
              case 'retry':
                return store.record(
                  id,
                  'w',
                  attemptOf(delivery!, i, { statusCode: 503, outcome: 'failed', error: `e${i}` }),
                  retryAt(HOUR + i, SECOND + i),
                );
              case 'failed':
                return store.record(
                  id,
                  'w',
                  attemptOf(delivery!, i, { statusCode: 500, outcome: 'failed' }),
                  failedAt(SECOND + i, `last ${i}`),
                );
              case 'no attempt':
                return store.record(id, 'w', null, failedAt(SECOND + i, `gave up ${i}`));
              case 'not claimed':
                return store.record(id, 'w', null, deliveredAt(SECOND + i));
            }
          }),
          store.record(unknown, 'w', null, deliveredAt(0)),
        ]);

        expect(recorded.at(-1)).toEqual({
          applied: false,
          delivery: undefined,
          endpointFailingSince: null,
        });
        const attempts = await store.listAttempts(deliveryIds);
        for (const [i, id] of deliveryIds.entries()) {
          const kind = kindOf(i);
          const stored = defined(await store.getDelivery(id), `delivery ${id}`);
          expect(recorded[i].delivery, `${kind} ${i}`).toEqual(stored);
          expect(recorded[i].applied, `${kind} ${i}`).toBe(kind !== 'not claimed');
          const expected = {
            delivered: { status: 'delivered', attempts: 1, updatedAt: at(SECOND + i) },
            retry: { status: 'pending', attempts: 1, nextAttemptAt: at(HOUR + i) },
            failed: { status: 'failed', attempts: 1, lastError: `last ${i}` },
            'no attempt': { status: 'failed', attempts: 0, lastError: `gave up ${i}` },
            'not claimed': { status: 'pending', attempts: 0, updatedAt: at(0) },
          }[kind];
          expect(stored, `${kind} ${i}`).toMatchObject(expected);
          const logged = attempts.get(id)?.map((attempt) => [attempt.statusCode, attempt.error]);
          expect(logged, `${kind} ${i}`).toEqual(
            {
              delivered: [[200, null]],
              retry: [[503, `e${i}`]],
              failed: [[500, null]],
              'no attempt': undefined,
              'not claimed': undefined,
            }[kind],
          );
        }
      });

      it('of one delivery twice at once, applies the first and logs its attempt once', async () => {
        const store = await open();
        const ep = await addEndpoint(store);
        const { deliveryId } = await emitOne(store, ep);
        const { delivery } = await claimed(store, deliveryId, lease('w', 0));
        const attempt = attemptOf(delivery, 0);

        const [first, second] = await Promise.all([
          store.record(deliveryId, 'w', attempt, deliveredAt(SECOND)),
          store.record(deliveryId, 'w', { ...attempt, responseBody: 'again' }, failedAt(SECOND)),
        ]);

        expect([first.applied, second.applied]).toEqual([true, false]);
        expect(second.delivery).toMatchObject({ status: 'delivered', attempts: 1 });
        expect((await store.listAttempts([deliveryId])).get(deliveryId)).toEqual([attempt]);
      });

      it('started before close() are stored', async () => {
        const store = await open();
        const ep = await addEndpoint(store);
        const deliveryIds: string[] = [];
        for (let i = 0; i < 30; i++) {
          const { deliveryId } = await emitOne(store, ep);
          await claimed(store, deliveryId, lease('w', 0));
          deliveryIds.push(deliveryId);
        }

        const recording = deliveryIds.map((id) => store.record(id, 'w', null, deliveredAt(0)));
        await store.close();

        for (const recorded of await Promise.all(recording)) expect(recorded.applied).toBe(true);
      });
    });

    describe('sweep', () => {
      it('claims due pending deliveries for the sweeper, with their message and endpoint', async () => {
        const store = await open();
        const ep = await addEndpoint(store);
        const { message: emitted, deliveryId } = await emitOne(store, ep);

        const swept = await store.sweep(lease('s', 0), 10);

        expect(swept).toHaveLength(1);
        expect(swept[0].delivery).toMatchObject({ id: deliveryId, status: 'pending' });
        expect(swept[0].message).toMatchObject({
          id: emitted.id,
          method: emitted.method,
          body: emitted.body,
        });
        expect(swept[0].endpoint).toEqual(ep);
        expect(await store.claim(deliveryId, lease('other', SECOND))).toBeUndefined();
        expect(await store.claim(deliveryId, lease('s', SECOND))).toBeDefined();
      });

      it('takes at most limit, the oldest due first', async () => {
        const store = await open();
        const ep = await addEndpoint(store);
        const third = await emitOne(store, ep, { createdAt: at(3 * SECOND) });
        const first = await emitOne(store, ep, { createdAt: at(SECOND) });
        const second = await emitOne(store, ep, { createdAt: at(2 * SECOND) });

        const swept = await store.sweep(lease('s', 10 * SECOND), 2);

        expect(swept.map((c) => c.delivery.id).sort()).toEqual(
          [first.deliveryId, second.deliveryId].sort(),
        );
        const rest = await store.sweep(lease('s', 10 * SECOND), 2);
        expect(rest.map((c) => c.delivery.id)).toEqual([third.deliveryId]);
      });

      it('shares a batch between endpoints: at most perEndpoint each, none of skipEndpoints', async () => {
        const store = await open();
        const slow = await addEndpoint(store, { events: ['slow'] });
        const fast = await addEndpoint(store, { events: ['fast'] });
        const other = await addEndpoint(store, { events: ['other'] });
        // The slow endpoint's deliveries are the oldest due.
        for (let n = 0; n < 5; n++) await emitOne(store, slow, { event: 'slow', createdAt: at(n) });
        const toFast = await emitOne(store, fast, { event: 'fast', createdAt: at(SECOND) });
        const toOther = await emitOne(store, other, { event: 'other', createdAt: at(SECOND) });

        const swept = await store.sweep(lease('s', 10 * SECOND), 10, {
          perEndpoint: 2,
          skipEndpoints: [other.id],
        });

        const byEndpoint = swept.map((c) => c.delivery.endpointId);
        expect(byEndpoint.filter((id) => id === slow.id)).toHaveLength(2);
        expect(swept.map((c) => c.delivery.id)).toContain(toFast.deliveryId);
        expect(swept.map((c) => c.delivery.id)).not.toContain(toOther.deliveryId);
        expect(swept).toHaveLength(3);
      });

      it('fills a fair batch from behind an endpoint whose backlog is many batches long', async () => {
        const store = await open();
        const busy = await addEndpoint(store, { events: ['busy'] });
        const fast = await addEndpoint(store, { events: ['fast'] });
        const other = await addEndpoint(store, { events: ['other'] });
        // Ten batches of the busy endpoint's deliveries are the oldest due.
        const backlog = [];
        for (let n = 0; n < 30; n++) {
          backlog.push(await emitOne(store, busy, { event: 'busy', createdAt: at(n) }));
        }
        const toFast = await emitOne(store, fast, { event: 'fast', createdAt: at(SECOND) });
        const toOther = await emitOne(store, other, { event: 'other', createdAt: at(SECOND) });
        const ids = (claims: ClaimedDelivery[]) => claims.map((c) => c.delivery.id).sort();

        const skipping = await store.sweep(lease('a', 10 * SECOND), 3, {
          skipEndpoints: [busy.id],
        });
        expect(ids(skipping)).toEqual([toFast.deliveryId, toOther.deliveryId].sort());
        await store.release(ids(skipping), 'a');

        const capped = await store.sweep(lease('b', 10 * SECOND), 3, { perEndpoint: 1 });
        expect(ids(capped)).toEqual(
          [backlog[0].deliveryId, toFast.deliveryId, toOther.deliveryId].sort(),
        );
      });

      it('skips deliveries not yet due and finished ones', async () => {
        const store = await open();
        const ep = await addEndpoint(store);
        const due = await emitOne(store, ep);
        await emitOne(store, ep, { createdAt: at(HOUR) });
        await finish(store, (await emitOne(store, ep)).deliveryId, 'delivered');
        await finish(store, (await emitOne(store, ep)).deliveryId, 'failed');

        const swept = await store.sweep(lease('s', SECOND), 10);

        expect(swept.map((c) => c.delivery.id)).toEqual([due.deliveryId]);
      });

      it('skips deliveries leased to anyone, the sweeper included, until the lease ends', async () => {
        const store = await open();
        const ep = await addEndpoint(store);
        const mine = await emitOne(store, ep);
        const theirs = await emitOne(store, ep);
        await claimed(store, mine.deliveryId, lease('s', 0, 30 * SECOND));
        await claimed(store, theirs.deliveryId, lease('other', 0, 30 * SECOND));

        expect(await store.sweep(lease('s', 10 * SECOND), 10)).toEqual([]);

        const swept = await store.sweep(lease('s', 30 * SECOND + 1), 10);
        expect(swept.map((c) => c.delivery.id).sort()).toEqual(
          [mine.deliveryId, theirs.deliveryId].sort(),
        );
      });

      it('of two concurrent sweeps, never returns one delivery twice, and together returns all due', async () => {
        const store = await open();
        const ep = await addEndpoint(store);
        const due: string[] = [];
        for (let i = 0; i < 20; i++) due.push((await emitOne(store, ep)).deliveryId);

        const [a, b] = await Promise.all([
          store.sweep(lease('a', SECOND), 10),
          store.sweep(lease('b', SECOND), 10),
        ]);

        const swept = [...a, ...b].map((c) => c.delivery.id);
        expect(new Set(swept).size).toBe(swept.length);
        expect(swept.sort()).toEqual(due.sort());
      });
    });

    describe('release', () => {
      it("ends the owner's leases, so another owner claims them at once, and leaves them as they were", async () => {
        const store = await open();
        const ep = await addEndpoint(store);
        const first = await emitOne(store, ep);
        const second = await emitOne(store, ep);
        const before = await store.getDelivery(first.deliveryId);
        await claimed(store, first.deliveryId, lease('a', 0, 30 * SECOND));
        await claimed(store, second.deliveryId, lease('a', 0, 30 * SECOND));

        expect(await store.release([first.deliveryId, second.deliveryId], 'a')).toBe(2);

        expect(await store.getDelivery(first.deliveryId)).toEqual(before);
        expect(await store.claim(first.deliveryId, lease('b', SECOND))).toBeDefined();
        const swept = await store.sweep(lease('b', SECOND), 10);
        expect(swept.map((claim) => claim.delivery.id)).toEqual([second.deliveryId]);
      });

      it("leaves other owners' leases, and finished or unknown deliveries, alone", async () => {
        const store = await open();
        const ep = await addEndpoint(store);
        const theirs = await emitOne(store, ep);
        await claimed(store, theirs.deliveryId, lease('b', 0, 30 * SECOND));
        const finished = (await emitOne(store, ep)).deliveryId;
        await finish(store, finished, 'delivered');

        expect(await store.release([theirs.deliveryId, finished, createId('dlv')], 'a')).toBe(0);

        expect(await store.claim(theirs.deliveryId, lease('c', 10 * SECOND))).toBeUndefined();
        expect(await store.claim(finished, lease('a', HOUR))).toBeUndefined();
        expect(await store.release([], 'a')).toBe(0);
      });

      it('keeps a released delivery due as scheduled: a retry not yet due stays unclaimable', async () => {
        const store = await open();
        const ep = await addEndpoint(store);
        const { deliveryId } = await emitOne(store, ep);
        await claimed(store, deliveryId, lease('a', 0, 30 * SECOND));
        await store.record(deliveryId, 'a', null, {
          status: 'pending',
          scheduleAttempts: 1,
          nextAttemptAt: at(HOUR),
          lastError: 'HTTP 503',
          updatedAt: at(SECOND),
        });
        await claimed(store, deliveryId, lease('a', HOUR, HOUR + 30 * SECOND));

        expect(await store.release([deliveryId], 'a')).toBe(1);

        expect(await store.claim(deliveryId, lease('b', HOUR - 1))).toBeUndefined();
        expect(await store.claim(deliveryId, lease('b', HOUR))).toBeDefined();
      });
    });

    describe('redeliver', () => {
      /** A message to three endpoints: delivered, failed and still pending. */
      async function threeDeliveries(store: WebhookStore) {
        const eps = [await addEndpoint(store), await addEndpoint(store), await addEndpoint(store)];
        const { message: emitted, deliveries } = await emit(store);
        const to = (ep: StoredWebhookEndpoint) => deliveries.find((d) => d.endpointId === ep.id)!;
        const delivered = await finish(store, to(eps[0]).id, 'delivered');
        const failed = await finish(store, to(eps[1]).id, 'failed');
        const pending = structuredClone(
          defined(await store.getDelivery(to(eps[2]).id), 'the pending delivery'),
        );
        return { eps, message: emitted, delivered, failed, pending };
      }

      it('turns the finished deliveries back to pending, due now with a new schedule', async () => {
        const store = await open();
        const { message: emitted, delivered, failed, pending } = await threeDeliveries(store);

        const result = await store.redeliver({
          messageId: emitted.id,
          now: at(HOUR),
          notify: false,
        });

        expect(result.found).toBe(true);
        expect(result.matched).toBe(3);
        expect(sortedIds(result.redelivered)).toEqual([delivered.id, failed.id].sort());
        for (const redelivered of result.redelivered) {
          expect(redelivered).toMatchObject({
            status: 'pending',
            attempts: 1,
            scheduleAttempts: 0,
            nextAttemptAt: at(HOUR),
          });
          expect(await store.getDelivery(redelivered.id)).toEqual(redelivered);
          expect(await store.claim(redelivered.id, lease('w', HOUR - 1))).toBeUndefined();
          expect(await store.claim(redelivered.id, lease('w', HOUR))).toBeDefined();
        }
        expect(await store.getDelivery(pending.id)).toEqual(pending);
      });

      it('with endpointId, redelivers only the delivery to that endpoint', async () => {
        const store = await open();
        const { eps, message: emitted, delivered, failed } = await threeDeliveries(store);

        const result = await store.redeliver({
          messageId: emitted.id,
          endpointId: eps[0].id,
          now: at(HOUR),
          notify: false,
        });

        expect(result).toMatchObject({ found: true, matched: 1 });
        expect(ids(result.redelivered)).toEqual([delivered.id]);
        expect(await store.getDelivery(failed.id)).toEqual(failed);
      });

      it('with endpointId of a pending delivery or of no delivery, redelivers nothing', async () => {
        const store = await open();
        const { eps, message: emitted, pending } = await threeDeliveries(store);

        expect(
          await store.redeliver({
            messageId: emitted.id,
            endpointId: eps[2].id,
            now: at(HOUR),
            notify: false,
          }),
        ).toEqual({ found: true, matched: 1, redelivered: [] });
        expect(
          await store.redeliver({
            messageId: emitted.id,
            endpointId: createId('ep'),
            now: at(HOUR),
            notify: false,
          }),
        ).toEqual({ found: true, matched: 0, redelivered: [] });
        expect(await store.getDelivery(pending.id)).toEqual(pending);
      });

      it('reports an unknown message as not found', async () => {
        const store = await open();

        expect(
          await store.redeliver({ messageId: createId('msg'), now: at(0), notify: false }),
        ).toEqual({ found: false, matched: 0, redelivered: [] });
      });

      it('of two concurrent redelivers, redelivers each delivery once in all', async () => {
        const store = await open();
        const { message: emitted, delivered, failed } = await threeDeliveries(store);

        const results = await Promise.all(
          [HOUR, HOUR + 1].map((ms) =>
            store.redeliver({ messageId: emitted.id, now: at(ms), notify: false }),
          ),
        );

        const redelivered = results.flatMap((result) => result.redelivered);
        expect(sortedIds(redelivered)).toEqual([delivered.id, failed.id].sort());
      });
    });

    describe('prune', () => {
      it('deletes a finished message created before `before`, with its deliveries and attempts', async () => {
        const store = await open();
        const ep = await addEndpoint(store);
        const { message: emitted, deliveryId } = await emitOne(store, ep);
        await finish(store, deliveryId, 'delivered');

        expect(await store.prune(at(SECOND), 100)).toBe(1);

        expect(await store.getMessage(emitted.id)).toBeUndefined();
        expect((await store.listMessages()).items).toEqual([]);
        expect(await store.getDelivery(deliveryId)).toBeUndefined();
        expect((await store.listDeliveries({ messageId: emitted.id })).items).toEqual([]);
        expect((await store.listAttempts([deliveryId])).has(deliveryId)).toBe(false);
      });

      it('deletes a finished message without deliveries', async () => {
        const store = await open();
        const { message: emitted } = await emit(store);

        expect(await store.prune(at(SECOND), 100)).toBe(1);
        expect(await store.getMessage(emitted.id)).toBeUndefined();
      });

      it('keeps a message with a pending delivery, and all of its deliveries and attempts', async () => {
        const store = await open();
        await addEndpoint(store);
        await addEndpoint(store);
        const { message: emitted, deliveries } = await emit(store);
        const delivered = await finish(store, deliveries[0].id, 'delivered');

        expect(await store.prune(at(HOUR), 100)).toBe(0);

        expect(await store.getMessage(emitted.id)).toEqual(emitted);
        expect(await store.getDelivery(delivered.id)).toEqual(delivered);
        expect((await store.listAttempts([delivered.id])).get(delivered.id)).toHaveLength(1);
        expect(await store.getDelivery(deliveries[1].id)).toMatchObject({ status: 'pending' });
      });

      it('keeps finished messages created at or after `before`', async () => {
        const store = await open();
        const ep = await addEndpoint(store);
        const atBefore = await emitOne(store, ep, { createdAt: at(SECOND) });
        const after = await emitOne(store, ep, { createdAt: at(2 * SECOND) });
        await finish(store, atBefore.deliveryId, 'delivered', 2 * SECOND);
        await finish(store, after.deliveryId, 'failed', 2 * SECOND);

        expect(await store.prune(at(SECOND), 100)).toBe(0);

        expect(await store.getMessage(atBefore.message.id)).toBeDefined();
        expect(await store.getMessage(after.message.id)).toBeDefined();
      });

      it('deletes at most limit messages per call', async () => {
        const store = await open();
        const ep = await addEndpoint(store);
        for (let i = 0; i < 5; i++)
          await finish(store, (await emitOne(store, ep)).deliveryId, 'delivered');

        expect(await store.prune(at(SECOND), 2)).toBe(2);
        expect((await store.listMessages()).items).toHaveLength(3);
        expect(await store.prune(at(SECOND), 2)).toBe(2);
        expect(await store.prune(at(SECOND), 2)).toBe(1);
        expect(await store.prune(at(SECOND), 2)).toBe(0);
      });

      it('keeps deduplicating by a key younger than idempotencyTtl after its message is pruned', async () => {
        const store = await open({ idempotencyTtl: HOUR });
        const ep = await addEndpoint(store);
        const { message: emitted, deliveryId } = await emitOne(store, ep, {
          idempotencyKey: 'k',
        });
        await finish(store, deliveryId, 'delivered');
        expect(await store.prune(at(SECOND), 100)).toBe(1);
        expect(await store.getMessage(emitted.id)).toBeUndefined();

        const again = message({ idempotencyKey: 'k' });
        const result = await store.emit(emitRequest(again, { idempotentSince: at(-HOUR) }));

        expect(result).toMatchObject({
          inserted: false,
          existing: { id: emitted.id, event: emitted.event },
        });
        expect(await store.getMessage(again.id)).toBeUndefined();
      });

      it('forgets a kept key once it grows older than idempotencyTtl', async () => {
        const ttl = 200;
        const store = await open({ idempotencyTtl: ttl });
        const ep = await addEndpoint(store);
        const { message: emitted, deliveryId } = await emitOne(store, ep, {
          idempotencyKey: 'k',
        });
        await finish(store, deliveryId, 'delivered');
        expect(await store.prune(at(SECOND), 100)).toBe(1);
        const since = { idempotentSince: new Date(0) };
        expect(
          await store.emit(emitRequest(message({ idempotencyKey: 'k' }), since)),
        ).toMatchObject({ inserted: false, existing: { id: emitted.id } });

        // The key's age is the store's to measure: let its clock pass the TTL.
        await sleep(ttl + 50);
        await store.prune(at(SECOND), 100);

        const again = message({ idempotencyKey: 'k' });
        expect((await store.emit(emitRequest(again, since))).inserted).toBe(true);
      });

      it('forgets a key older than idempotencyTtl', async () => {
        const store = await open({ idempotencyTtl: 1 });
        const ep = await addEndpoint(store);
        const { message: emitted, deliveryId } = await emitOne(store, ep, {
          idempotencyKey: 'k',
          createdAt: at(-HOUR),
        });
        await finish(store, deliveryId, 'delivered', -HOUR);
        // The key's age is the store's to measure: let its clock pass the TTL as well.
        await sleep(20);
        expect(await store.prune(at(SECOND), 100)).toBe(1);

        const again = message({ idempotencyKey: 'k' });
        const result = await store.emit(emitRequest(again, { idempotentSince: new Date(0) }));

        expect(result.inserted).toBe(true);
        expect(await store.getMessage(emitted.id)).toBeUndefined();
      });
    });

    describe('watch', () => {
      it('resolves once listening', async () => {
        const store = await open();

        await expect(store.watch(() => {})).resolves.toBeUndefined();
      });

      it('calls onWrite after an emit with notify, when the store is shared', async () => {
        const store = await open();
        const ep = await addEndpoint(store);
        let writes = 0;
        await store.watch(() => writes++);
        if (!store.shared) return;

        await store.emit(emitRequest(message({ event: ep.events[0] }), { notify: true }));

        await expect(within(2 * SECOND, () => writes > 0)).resolves.toBe(true);
      });

      it('wakes nobody for an emit that no endpoint subscribes to', async () => {
        const store = await open();
        const ep = await addEndpoint(store);
        let writes = 0;
        await store.watch(() => writes++);
        if (!store.shared) return;

        await store.emit(emitRequest(message({ event: 'nobody.listens' }), { notify: true }));
        // A notification sent comes within this (see the test above).
        await sleep(500);
        expect(writes).toBe(0);
        // And the watch was listening all along.
        await store.emit(emitRequest(message({ event: ep.events[0] }), { notify: true }));
        await expect(within(2 * SECOND, () => writes > 0)).resolves.toBe(true);
      });

      it('calls onWrite after a redeliver with notify, when the store is shared', async () => {
        const store = await open();
        const ep = await addEndpoint(store);
        const { message: emitted, deliveryId } = await emitOne(store, ep);
        await finish(store, deliveryId, 'failed');
        let writes = 0;
        await store.watch(() => writes++);

        const result = await store.redeliver({
          messageId: emitted.id,
          now: at(SECOND),
          notify: true,
        });

        expect(ids(result.redelivered)).toEqual([deliveryId]);
        if (store.shared) await expect(within(2 * SECOND, () => writes > 0)).resolves.toBe(true);
      });
    });

    describe('close', () => {
      it('resolves', async () => {
        const store = await open();
        await addEndpoint(store);
        await emit(store);
        opened = undefined;

        await expect(store.close()).resolves.toBeUndefined();
      });
    });
  });
}

function defined<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`expected ${what}, got undefined`);
  return value;
}

function insertedDeliveries(result: EmittedMessage): EmittedDelivery[] {
  if (!result.inserted) {
    throw new Error(`expected the message to be stored, but ${result.existing.id} was found`);
  }
  return result.deliveries;
}

/** Every item of a listing, page by page (`limit` each), until `next` is null. */
async function everyPage<T>(
  list: (page: WebhookPageRequest) => Promise<WebhookPage<T>>,
  limit: number,
): Promise<T[]> {
  const items: T[] = [];
  let after: string | null = null;
  for (let pages = 0; pages < 1_000; pages++) {
    const page: WebhookPage<T> = await list({ limit, after });
    expect(page.items.length).toBeLessThanOrEqual(limit);
    items.push(...page.items);
    if (page.next === null) return items;
    after = page.next;
  }
  throw new Error('a listing did not end after 1000 pages');
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Whether `check` holds within `timeoutMs`, polled. Here rather than `waitUntil` of
 * `delivery-app.ts`, which loads the whole module: a store's contract needs none of it.
 */
async function within(timeoutMs: number, check: () => boolean): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) return false;
    await sleep(10);
  }
  return true;
}
