import 'reflect-metadata';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  WebhookArgumentError,
  WebhookEndpointUrlError,
  WebhookNotFoundError,
  WebhooksShutdownError,
} from '../../../lib/index.js';
import { deliveryWebhooks } from '../../fixtures/delivery/delivery.webhooks.js';
import {
  bootDeliveryApp,
  LOOPBACK_TEST_OPTIONS,
  ping,
  settledDeliveries,
  type DeliveryApp,
  rejection,
} from '../../support/delivery-app.js';
import { startReceiver, type Receiver } from '../../support/receiver.js';

// What a careless caller passes (values from a request body, config or a queue message, past
// TypeScript's types): each public method refuses it with an error that names the argument,
// and nothing is stored, changed or sent.

/** Calls `method` with arguments its types do not allow. */
const untyped = <T extends (...args: never[]) => unknown>(method: T) =>
  method as unknown as (...args: unknown[]) => ReturnType<T>;

describe('argument checks of the public methods', () => {
  let ctx: DeliveryApp;
  let receiver: Receiver;

  beforeEach(async () => {
    receiver = await startReceiver();
    ctx = await bootDeliveryApp({ options: LOOPBACK_TEST_OPTIONS, providers: deliveryWebhooks });
  });

  afterEach(async () => {
    await ctx.close();
    await receiver.close();
  });

  const add = () => ctx.endpoints.add({ url: `${receiver.url}/hooks`, events: ['ping'] });

  async function expectArgumentError(call: Promise<unknown>, argument: string, text: string) {
    const error = await rejection(call);
    expect(error).toBeInstanceOf(WebhookArgumentError);
    expect(error).toBeInstanceOf(TypeError);
    expect(error).toMatchObject({ argument, code: 'ERR_WEBHOOK_INVALID_ARGUMENT' });
    expect(error.message).toContain(text);
  }

  describe('WebhookEmitter.emit', () => {
    const emit = (...args: unknown[]) =>
      untyped(ctx.emitter.emit.bind(ctx.emitter))(...args) as Promise<unknown>;

    it.each([
      [[5, ping()], 'event', 'WebhookEmitter.emit(): event must be a non-empty string (got 5)'],
      [['', ping()], 'event', 'event must be a non-empty string (got "")'],
      [['ping', ping(), null], 'options', 'options must be an object with'],
      [['ping', ping(), { method: 5 }], 'options.method', 'options.method must be a non-empty'],
      [['ping', ping(), { tenant: 7 }], 'options.tenant', 'must be a string or null (got 7)'],
      [['ping', ping(), { idempotencyKey: 42 }], 'options.idempotencyKey', '(got 42)'],
      [['ping', ping(), { idempotencyKey: 'k'.repeat(256) }], 'options.idempotencyKey', '255'],
      [['ping', ping(), { tennant: 'acme' }], 'options.tennant', "did you mean 'tenant'?"],
    ])('refuses emit(%j), naming %s, and stores nothing', async (args, argument, text) => {
      await add();
      await expectArgumentError(emit(...args), argument, text);
      expect(await ctx.deliveries.list()).toEqual([]);
    });

    it('refuses a transaction on the in-memory store, naming what was given, storing nothing', async () => {
      await add();
      class EntityManager {
        query() {
          return Promise.resolve([]);
        }
      }
      const error = await rejection(emit('ping', ping(), { transaction: new EntityManager() }));
      expect(error).toBeInstanceOf(WebhookArgumentError);
      expect((error as WebhookArgumentError).argument).toBe('options.transaction');
      expect(error.message).toContain(
        'options.transaction (an EntityManager) needs the PostgreSQL store',
      );
      expect(await ctx.deliveries.list()).toEqual([]);
    });

    it('keeps no tenant and the tenant "" apart for idempotency keys', async () => {
      const none = await ctx.emitter.emit('ping', ping(1), { idempotencyKey: 'k' });
      const empty = await ctx.emitter.emit('ping', ping(2), { idempotencyKey: 'k', tenant: '' });
      expect(empty.id).not.toBe(none.id);
      // Each still deduplicates within its own space.
      expect((await ctx.emitter.emit('ping', ping(3), { idempotencyKey: 'k' })).id).toBe(none.id);
      const again = await ctx.emitter.emit('ping', ping(4), { idempotencyKey: 'k', tenant: '' });
      expect(again.id).toBe(empty.id);
    });
  });

  describe('WebhookEndpoints', () => {
    it.each([
      [null, 'input', 'WebhookEndpoints.add(): input must be an object with'],
      ['https://example.com', 'input', '(got "https://example.com")'],
      [{ url: 5, events: ['ping'] }, 'input.url', 'input.url must be a non-empty string (got 5)'],
      [{ events: ['ping'] }, 'input.url', 'input.url must be a non-empty string (got undefined)'],
      [{ url: 'http://127.0.0.1/x', events: 'ping' }, 'input.events', 'non-empty array'],
      [{ url: 'http://127.0.0.1/x', events: [1] }, 'input.events[0]', '(got 1)'],
      [{ url: 'http://127.0.0.1/x', events: ['ping'], tenant: 3 }, 'input.tenant', 'or null'],
      [{ url: 'http://127.0.0.1/x', events: ['ping'], secret: 1 }, 'input.secret', '(got 1)'],
      [
        { url: 'http://127.0.0.1/x', events: ['ping'], disabled: true },
        'input.disabled',
        "has no field 'disabled'",
      ],
      [{ url: 'http://127.0.0.1/x', event: ['ping'] }, 'input.event', "did you mean 'events'?"],
    ])('refuses add(%j), naming %s, and stores nothing', async (input, argument, text) => {
      await expectArgumentError(
        untyped(ctx.endpoints.add.bind(ctx.endpoints))(input),
        argument,
        text,
      );
      expect(await ctx.endpoints.list()).toEqual([]);
    });

    it.each([
      [
        { disabled: 'false' },
        'patch.disabled',
        'patch.disabled must be true or false (got "false")',
      ],
      [{ events: [] }, 'patch.events', 'non-empty array of webhook names'],
      [{ description: 42 }, 'patch.description', 'or null (got 42)'],
      [{ secret: 'whsec_x' }, 'patch.secret', "has no field 'secret'"],
      [null, 'patch', 'patch must be an object'],
    ])('refuses update(id, %j), naming %s, and changes nothing', async (patch, argument, text) => {
      const endpoint = await add();
      const update = untyped(ctx.endpoints.update.bind(ctx.endpoints));
      await expectArgumentError(update(endpoint.id, patch), argument, text);
      expect(await ctx.endpoints.get(endpoint.id)).toEqual(endpoint);
    });

    it('accepts fields left undefined, as a PartialType DTO instance has them', async () => {
      const endpoint = await add();
      class UpdateEndpointDto {
        url?: string = undefined;
        events?: string[] = undefined;
        tenant?: string = undefined;
        description?: string = 'renamed';
      }
      const updated = await ctx.endpoints.update(endpoint.id, new UpdateEndpointDto());
      expect(updated.description).toBe('renamed');
      expect(await ctx.endpoints.list({ tenant: null, event: undefined })).toHaveLength(1);
      expect(await ctx.endpoints.update(endpoint.id, { description: null })).toMatchObject({
        description: null,
      });
    });

    it('refuses ids that are not strings, and reports unknown ids as not found', async () => {
      const { endpoints } = ctx;
      await expectArgumentError(untyped(endpoints.get.bind(endpoints))(5), 'id', 'get(): id');
      await expectArgumentError(untyped(endpoints.remove.bind(endpoints))(), 'id', 'remove(): id');
      const rotate = untyped(endpoints.rotateSecret.bind(endpoints));
      await expectArgumentError(rotate({}), 'id', '(got an object)');
      const list = untyped(endpoints.list.bind(endpoints));
      await expectArgumentError(list({ disabled: 'no' }), 'filter.disabled', 'true or false');

      for (const call of [
        endpoints.update('ep_missing', { description: 'x' }),
        endpoints.rotateSecret('ep_missing'),
      ]) {
        const error = await rejection(call);
        expect(error).toBeInstanceOf(WebhookNotFoundError);
        expect(error).toMatchObject({ kind: 'endpoint', id: 'ep_missing' });
      }
    });

    it('refuses a URL longer than 2048 characters, without echoing it whole', async () => {
      const url = `${receiver.url}/${'a'.repeat(100_000)}`;
      const error = await rejection(ctx.endpoints.add({ url, events: ['ping'] }));
      expect(error).toBeInstanceOf(WebhookEndpointUrlError);
      expect(error.message).toContain(`${url.length} characters long`);
      expect(error.message).toContain('at most 2048');
      expect(error.message.length).toBeLessThan(600);
      const endpoint = await add();
      const update = await rejection(ctx.endpoints.update(endpoint.id, { url }));
      expect(update).toBeInstanceOf(WebhookEndpointUrlError);
      expect((await ctx.endpoints.get(endpoint.id))?.url).toBe(endpoint.url);
      // 2048 is still accepted.
      const longest = `${receiver.url}/${'a'.repeat(2048 - receiver.url.length - 1)}`;
      expect((await ctx.endpoints.add({ url: longest, events: ['ping'] })).url).toBe(longest);
    });
  });

  describe('WebhookDeliveries', () => {
    it('refuses bad filters and ids, naming the argument', async () => {
      const { deliveries } = ctx;
      const list = untyped(deliveries.list.bind(deliveries));
      await expectArgumentError(list({ status: 'done' }), 'filter.status', "'pending'");
      await expectArgumentError(list({ limit: 0 }), 'filter.limit', 'at least 1, or Infinity');
      await expectArgumentError(list({ limit: 2.5 }), 'filter.limit', '(got 2.5)');
      await expectArgumentError(list({ endpoint: 'ep_1' }), 'filter.endpoint', 'endpointId');
      const redeliver = untyped(deliveries.redeliver.bind(deliveries));
      await expectArgumentError(redeliver(5), 'messageId', 'redeliver(): messageId');
      await expectArgumentError(redeliver('msg_1', 7), 'endpointId', '(got 7)');
      const getMessage = untyped(deliveries.getMessage.bind(deliveries));
      await expectArgumentError(getMessage(null), 'messageId', '(got null)');

      const missing = await rejection(deliveries.redeliver('msg_missing'));
      expect(missing).toBeInstanceOf(WebhookNotFoundError);
      expect(missing).toMatchObject({ kind: 'message', code: 'ERR_WEBHOOK_NOT_FOUND' });
    });

    it('refuses redeliver() once the application is shutting down, changing nothing', async () => {
      const endpoint = await add();
      receiver.behave((_request, response) => {
        response.statusCode = 500;
        response.end();
      });
      const { id } = await ctx.emitter.emit('ping', ping());
      const [failed] = await settledDeliveries(ctx.deliveries, id);
      expect(failed.status).toBe('failed');

      await ctx.close();

      const error = await rejection(ctx.deliveries.redeliver(id, endpoint.id));
      expect(error).toBeInstanceOf(WebhooksShutdownError);
      expect(error.message).toContain(`Cannot redeliver message '${id}'`);
      const [after] = await ctx.deliveries.list({ messageId: id });
      expect(after.status).toBe('failed');
    });

    it('refuses emit() after shutdown with WebhooksShutdownError', async () => {
      await ctx.close();
      const error = await rejection(ctx.emitter.emit('ping', ping()));
      expect(error).toBeInstanceOf(WebhooksShutdownError);
      expect(error).toMatchObject({ code: 'ERR_WEBHOOKS_SHUTTING_DOWN' });
    });
  });
});
