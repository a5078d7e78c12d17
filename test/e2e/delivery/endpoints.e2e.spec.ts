import 'reflect-metadata';
import axios from 'axios';
import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  UnknownWebhookError,
  WebhookEndpointUrlError,
  type WebhookEndpoint,
  type WebhooksModuleOptions,
} from '../../../lib/index.js';
import type { StoredWebhookEndpoint } from '../../../lib/interfaces/webhook-endpoint.interface.js';
import { deliveryWebhooks } from '../../fixtures/delivery/delivery.webhooks.js';
import {
  bootDeliveryApp,
  settledDeliveries,
  verifyWithStandardWebhooks,
  receivedMessage,
  waitUntil,
  type DeliveryApp,
  LOOPBACK_TEST_OPTIONS,
  ping,
  rejection,
} from '../../support/delivery-app.js';
import { storedEndpoint } from '../../support/stored-records.js';
import { startReceiver, type ReceivedRequest, type Receiver } from '../../support/receiver.js';

const newSecret = (bytes = 32) => `whsec_${randomBytes(bytes).toString('base64')}`;
const signatures = (request: ReceivedRequest) =>
  String(request.headers['webhook-signature']).split(' ');

describe('WebhookEndpoints', () => {
  let ctx: DeliveryApp;
  let receiver: Receiver;

  const boot = async (options: WebhooksModuleOptions = {}) => {
    ctx = await bootDeliveryApp({
      options: { ...LOOPBACK_TEST_OPTIONS, ...options },
      providers: deliveryWebhooks,
    });
  };

  const add = (path = '/hooks', extra: { events?: string[]; tenant?: string } = {}) =>
    ctx.endpoints.add({ url: `${receiver.url}${path}`, events: ['ping'], ...extra });

  const received = (id: string, count = 1) => receivedMessage(receiver, id, count);

  beforeEach(async () => {
    receiver = await startReceiver();
  });

  afterEach(async () => {
    await ctx?.close();
    await receiver.close();
  });

  describe('add', () => {
    beforeEach(() => boot());

    it('returns the endpoint with a generated whsec_ secret of 32 random bytes', async () => {
      const before = Date.now();
      const endpoint = await ctx.endpoints.add({
        url: `${receiver.url}/hooks`,
        events: ['ping', 'customer-created'],
        tenant: 'acme',
        description: 'billing',
      });

      expect(endpoint).toMatchObject({
        url: `${receiver.url}/hooks`,
        events: ['ping', 'customer-created'],
        tenant: 'acme',
        disabled: false,
      });
      expect(endpoint.id).toEqual(expect.any(String));
      expect(endpoint.createdAt).toBeInstanceOf(Date);
      expect(endpoint.createdAt.getTime()).toBeGreaterThanOrEqual(before);
      expect(endpoint).not.toHaveProperty('retiredSecrets');
      expect(endpoint).not.toHaveProperty('failingSince');
      expect(endpoint.secret).toMatch(/^whsec_[A-Za-z0-9+/]+={0,2}$/);
      expect(Buffer.from(endpoint.secret.slice('whsec_'.length), 'base64')).toHaveLength(32);

      const other = await add();
      expect(other.secret).not.toBe(endpoint.secret);
      expect(other.id).not.toBe(endpoint.id);
      expect(other.tenant).toBeNull();
    });

    it('keeps a given secret, and signs with it', async () => {
      const secret = newSecret(40);
      const endpoint = await ctx.endpoints.add({
        url: `${receiver.url}/given`,
        events: ['ping'],
        secret,
      });
      expect(endpoint.secret).toBe(secret);
      expect((await ctx.endpoints.get(endpoint.id))?.secret).toBe(secret);

      const result = await ctx.emitter.emit('ping', ping());
      const [request] = await received(result.id);
      expect(verifyWithStandardWebhooks(secret, request)).toEqual(ping());
    });

    it.each([
      ['without the whsec_ prefix', `sk_${randomBytes(32).toString('base64')}`],
      ['not base64', `whsec_${'!'.repeat(20)}${randomBytes(24).toString('hex')}`],
      ['too short a key', newSecret(8)],
    ])('refuses a malformed secret (%s) without echoing it', async (_label, secret) => {
      const error = await rejection(
        ctx.endpoints.add({ url: `${receiver.url}/bad`, events: ['ping'], secret }),
      );

      expect(error).toBeInstanceOf(Error);
      expect(error.message).toMatch(/secret/i);
      expect(error.message).not.toContain(secret);
      expect(error.message).not.toContain(secret.slice(6, 30));
      expect(await ctx.endpoints.list()).toEqual([]);
    });

    it('refuses an undeclared event with UnknownWebhookError, storing nothing', async () => {
      const error = await rejection(
        ctx.endpoints.add({ url: `${receiver.url}/x`, events: ['ping', 'no-such-event'] }),
      );
      expect(error).toBeInstanceOf(UnknownWebhookError);
      expect(error.message).toContain('no-such-event');
      expect(await ctx.endpoints.list()).toEqual([]);
    });

    it('refuses an empty event list', async () => {
      const error = await rejection(ctx.endpoints.add({ url: `${receiver.url}/x`, events: [] }));
      expect(error.message).toMatch(/events/);
      expect(await ctx.endpoints.list()).toEqual([]);
    });
  });

  describe('URL policy', () => {
    it.each([
      ['an unparsable URL', 'not a url', /not a valid absolute URL/],
      ['an ftp: URL', 'ftp://127.0.0.1/hooks', /only delivered over http and https/],
      [
        'credentials in the URL',
        'http://alice:hunter2@127.0.0.1:8080/hooks',
        /username or password/,
      ],
      ['a private address', 'http://10.0.0.1/hooks', /private/],
      ['the cloud metadata address', 'http://169.254.169.254/latest/meta-data/', /link-local/],
      ['a CGNAT address', 'http://100.64.0.1/hooks', /carrier-grade NAT/],
    ])('refuses %s with WebhookEndpointUrlError', async (_label, url, reason) => {
      await boot();
      const error = await rejection(ctx.endpoints.add({ url, events: ['ping'] }));

      expect(error).toBeInstanceOf(WebhookEndpointUrlError);
      expect(error.message).toMatch(reason);
      expect(error.message).not.toContain('hunter2');
      expect(await ctx.endpoints.list()).toEqual([]);
    });

    it.each([
      ['a loopback address', 'http://127.0.0.1/hooks'],
      ['a decimal loopback spelling', 'http://2130706433/'],
      ['a hex loopback spelling', 'http://0x7f.1/'],
      ['an IPv4-mapped IPv6 loopback', 'http://[::ffff:127.0.0.1]/'],
    ])('refuses %s when allowedNetworks is empty', async (_label, url) => {
      await boot({ allowedNetworks: [] });
      const error = await rejection(ctx.endpoints.add({ url, events: ['ping'] }));

      expect(error).toBeInstanceOf(WebhookEndpointUrlError);
      expect(error.message).toMatch(/loopback/);
      expect(await ctx.endpoints.list()).toEqual([]);
    });

    it('admits an odd loopback spelling when 127.0.0.0/8 is allowed, normalized', async () => {
      await boot();
      const endpoint = await ctx.endpoints.add({ url: 'http://2130706433/', events: ['ping'] });
      expect(endpoint.url).toBe('http://127.0.0.1/');
    });
  });

  describe('get, list, update, remove', () => {
    beforeEach(() => boot());

    it('gets an endpoint by id, and undefined for an unknown id', async () => {
      const endpoint = await add();
      expect(await ctx.endpoints.get(endpoint.id)).toEqual(endpoint);
      expect(await ctx.endpoints.get('ep_nope')).toBeUndefined();
    });

    it('lists all, or filtered by tenant (null: without one) and event', async () => {
      const plain = await add('/plain');
      const acmePing = await add('/acme-ping', { tenant: 'acme' });
      const acmeCustomers = await add('/acme-customers', {
        tenant: 'acme',
        events: ['customer-created'],
      });
      const globex = await add('/globex', {
        tenant: 'globex',
        events: ['ping', 'customer-created'],
      });
      const ids = (list: WebhookEndpoint[]) => list.map((endpoint) => endpoint.id).sort();

      expect(ids(await ctx.endpoints.list())).toEqual(
        ids([plain, acmePing, acmeCustomers, globex]),
      );
      expect(ids(await ctx.endpoints.list({ tenant: 'acme' }))).toEqual(
        ids([acmePing, acmeCustomers]),
      );
      expect(ids(await ctx.endpoints.list({ tenant: null }))).toEqual([plain.id]);
      expect(ids(await ctx.endpoints.list({ event: 'customer-created' }))).toEqual(
        ids([acmeCustomers, globex]),
      );
      expect(ids(await ctx.endpoints.list({ tenant: 'acme', event: 'ping' }))).toEqual([
        acmePing.id,
      ]);
      expect(await ctx.endpoints.list({ tenant: 'initech' })).toEqual([]);
    });

    it('re-checks the URL on update, and delivers to the new one', async () => {
      const endpoint = await add('/old');
      const refused = await rejection(
        ctx.endpoints.update(endpoint.id, { url: 'http://10.0.0.1/hooks' }),
      );
      expect(refused).toBeInstanceOf(WebhookEndpointUrlError);
      expect((await ctx.endpoints.get(endpoint.id))?.url).toBe(`${receiver.url}/old`);

      const updated = await ctx.endpoints.update(endpoint.id, { url: `${receiver.url}/new` });
      expect(updated).toMatchObject({ id: endpoint.id, url: `${receiver.url}/new` });
      expect(updated.secret).toBe(endpoint.secret);
      const result = await ctx.emitter.emit('ping', ping());
      const [request] = await received(result.id);
      expect(request.url).toBe('/new');
    });

    it('re-checks the events on update', async () => {
      const endpoint = await add();
      const unknown = await rejection(ctx.endpoints.update(endpoint.id, { events: ['nope'] }));
      expect(unknown).toBeInstanceOf(UnknownWebhookError);
      const empty = await rejection(ctx.endpoints.update(endpoint.id, { events: [] }));
      expect(empty.message).toMatch(/events/);
      expect((await ctx.endpoints.get(endpoint.id))?.events).toEqual(['ping']);

      const updated = await ctx.endpoints.update(endpoint.id, { events: ['customer-created'] });
      expect(updated.events).toEqual(['customer-created']);
      expect(await ctx.endpoints.list({ event: 'ping' })).toEqual([]);
      expect((await ctx.emitter.emit('ping', ping())).endpoints).toBe(0);
    });

    it('disables and re-enables an endpoint, also after a 410 disabled it', async () => {
      const endpoint = await add();
      const disabled = await ctx.endpoints.update(endpoint.id, { disabled: true });
      expect(disabled.disabled).toBe(true);
      expect((await ctx.emitter.emit('ping', ping(1))).endpoints).toBe(0);

      const enabled = await ctx.endpoints.update(endpoint.id, { disabled: false });
      expect(enabled).toMatchObject({ disabled: false, disabledReason: null });

      receiver.behave((_request, response) => {
        response.statusCode = 410;
        response.end();
      });
      const gone = await ctx.emitter.emit('ping', ping(2));
      expect(gone.endpoints).toBe(1);
      await settledDeliveries(ctx.deliveries, gone.id);
      const afterGone = await ctx.endpoints.get(endpoint.id);
      expect(afterGone).toMatchObject({ disabled: true });
      expect(afterGone?.disabledReason).toMatch(/410/);
      expect((await ctx.emitter.emit('ping', ping(3))).endpoints).toBe(0);

      receiver.behave(() => undefined);
      await ctx.endpoints.update(endpoint.id, { disabled: false });
      const back = await ctx.emitter.emit('ping', ping(4));
      expect(back.endpoints).toBe(1);
      const [log] = await settledDeliveries(ctx.deliveries, back.id);
      expect(log.status).toBe('delivered');
    });

    it('rejects update and rotateSecret of an unknown id, naming it', async () => {
      expect(
        (await rejection(ctx.endpoints.update('ep_nope', { disabled: true }))).message,
      ).toContain('ep_nope');
      expect((await rejection(ctx.endpoints.rotateSecret('ep_nope'))).message).toContain('ep_nope');
    });

    it('removes an endpoint', async () => {
      const endpoint = await add();
      expect(await ctx.endpoints.remove(endpoint.id)).toBe(true);
      expect(await ctx.endpoints.get(endpoint.id)).toBeUndefined();
      expect(await ctx.endpoints.list()).toEqual([]);
      expect(await ctx.endpoints.remove(endpoint.id)).toBe(false);
      expect((await ctx.emitter.emit('ping', ping())).endpoints).toBe(0);
    });

    it('ends pending deliveries to a removed endpoint as failed, sending nothing more', async () => {
      const endpoint = await add('/flaky');
      // The receiver answers the first attempt only after the endpoint is gone, with a 500:
      // the delivery is pending with a retry due when its endpoint disappears.
      receiver.behave(async (_request, response) => {
        await ctx.endpoints.remove(endpoint.id);
        response.statusCode = 500;
        response.end();
      });
      const result = await ctx.emitter.emit('ping', ping());

      // Settled by the removal first; the attempt in flight is recorded when its answer comes.
      const [log] = await waitUntil(async () => {
        const found = await settledDeliveries(ctx.deliveries, result.id);
        return found[0].attemptLog.length > 0 && found;
      }, 'the attempt to be recorded');
      expect(log.status).toBe('failed');
      expect(log.lastError).toMatch(/removed/);
      expect(log.attempts).toBe(1);
      expect(log.attemptLog).toHaveLength(1);
      expect(log.attemptLog[0].statusCode).toBe(500);
      expect(receiver.requests).toHaveLength(1);
    });
    it('fails a delivery waiting for a retry as soon as its endpoint is removed', async () => {
      await ctx.close();
      await boot({ retryDelays: [60_000] });
      const endpoint = await add('/down');
      receiver.behave((_request, response) => {
        response.statusCode = 500;
        response.end();
      });
      const result = await ctx.emitter.emit('ping', ping());
      await waitUntil(async () => {
        const [log] = await ctx.deliveries.list({ messageId: result.id });
        return log?.attemptLog.length === 1 && log.nextAttemptAt !== null;
      }, 'the first attempt to fail and a retry to be scheduled');

      await ctx.endpoints.remove(endpoint.id);

      const [log] = await ctx.deliveries.list({ messageId: result.id });
      expect(log.status).toBe('failed');
      expect(log.nextAttemptAt).toBeNull();
      expect(log.lastError).toMatch(/removed/);
      expect(receiver.requests).toHaveLength(1);
    });
  });

  describe('rotateSecret', () => {
    it('returns the new secret; during the grace period each secret alone verifies', async () => {
      await boot();
      const endpoint = await add();
      const rotated = await ctx.endpoints.rotateSecret(endpoint.id);

      expect(rotated).toMatch(/^whsec_[A-Za-z0-9+/]+={0,2}$/);
      expect(Buffer.from(rotated.slice(6), 'base64')).toHaveLength(32);
      expect(rotated).not.toBe(endpoint.secret);
      expect((await ctx.endpoints.get(endpoint.id))?.secret).toBe(rotated);

      const result = await ctx.emitter.emit('ping', ping());
      const [request] = await received(result.id);
      expect(signatures(request)).toHaveLength(2);
      expect(verifyWithStandardWebhooks(rotated, request)).toEqual(ping());
      expect(verifyWithStandardWebhooks(endpoint.secret, request)).toEqual(ping());
      expect(() => verifyWithStandardWebhooks(newSecret(), request)).toThrow();
    });

    it('signs with every secret still in its grace period after two rotations', async () => {
      await boot();
      const endpoint = await add();
      const second = await ctx.endpoints.rotateSecret(endpoint.id);
      const third = await ctx.endpoints.rotateSecret(endpoint.id);

      const result = await ctx.emitter.emit('ping', ping());
      const [request] = await received(result.id);
      expect(signatures(request)).toHaveLength(3);
      for (const secret of [endpoint.secret, second, third]) {
        expect(verifyWithStandardWebhooks(secret, request)).toEqual(ping());
      }
    });

    it('signs with the new secret only once the grace period is over', async () => {
      await boot({ secretRotationGracePeriod: 20 });
      const endpoint = await add();
      const rotatedAt = Date.now();
      const rotated = await ctx.endpoints.rotateSecret(endpoint.id);
      await waitUntil(() => Date.now() > rotatedAt + 40, 'the grace period to pass');

      const result = await ctx.emitter.emit('ping', ping());
      const [request] = await received(result.id);
      expect(signatures(request)).toHaveLength(1);
      expect(verifyWithStandardWebhooks(rotated, request)).toEqual(ping());
      expect(() => verifyWithStandardWebhooks(endpoint.secret, request)).toThrow();
    });
  });

  describe.each(['http', 'undici'] as const)('connect-time guard (transport: %s)', (transport) => {
    beforeEach(() => boot({ allowedNetworks: [], transport }));

    /** An endpoint the policy would refuse on add, written straight into the store. */
    const insertBypassingAdd = async (url: string): Promise<StoredWebhookEndpoint> => {
      const endpoint = storedEndpoint({
        id: `ep_guard_${transport}_${randomBytes(4).toString('hex')}`,
        url,
        secret: newSecret(),
      });
      await ctx.store.insertEndpoint(endpoint);
      return endpoint;
    };

    it('the add-time policy refuses the receiver URL in this app', async () => {
      const error = await rejection(add());
      expect(error).toBeInstanceOf(WebhookEndpointUrlError);
    });

    it.each([
      ['an IP literal', (receiverUrl: string) => `${receiverUrl}/guarded`, /127\.0\.0\.1/],
      [
        'a name resolving to loopback',
        (receiverUrl: string) => `${receiverUrl.replace('127.0.0.1', 'localhost')}/guarded`,
        /localhost at (127\.0\.0\.1|::1)/,
      ],
    ])(
      'refuses to connect to a loopback endpoint that bypassed add (%s)',
      async (_label, url, where) => {
        const endpoint = await insertBypassingAdd(url(receiver.url));
        const result = await ctx.emitter.emit('ping', ping());
        expect(result.endpoints).toBe(1);

        const [log] = await settledDeliveries(ctx.deliveries, result.id);
        expect(log).toMatchObject({ endpointId: endpoint.id, status: 'failed' });
        // Every attempt of the schedule (first + 2 retries) was refused before connecting.
        expect(log.attemptLog).toHaveLength(3);
        for (const attempt of log.attemptLog) {
          expect(attempt.statusCode).toBeNull();
          expect(attempt.error).toMatch(/Refused to connect to/);
          expect(attempt.error).toMatch(where);
          expect(attempt.error).toMatch(/allowedNetworks/);
          expect(attempt.error).not.toContain(endpoint.secret);
        }
        expect(receiver.requests).toHaveLength(0);
      },
    );

    /** Delivers one message to a loopback name and expects every attempt refused unsent. */
    const expectRefusedUnsent = async () => {
      // A name, not an IP literal: only the guarded lookup stands between it and loopback.
      const url = `${receiver.url.replace('127.0.0.1', 'localhost')}/guarded`;
      const endpoint = await insertBypassingAdd(url);
      const result = await ctx.emitter.emit('ping', ping());
      const [log] = await settledDeliveries(ctx.deliveries, result.id);
      expect(log).toMatchObject({ endpointId: endpoint.id, status: 'failed' });
      expect(log.attemptLog).toHaveLength(3);
      for (const attempt of log.attemptLog) {
        expect(attempt.statusCode).toBeNull();
        expect(attempt.error).toMatch(/Refused to connect to localhost at/);
      }
      expect(receiver.requests).toHaveLength(0);
    };

    // fetch and xhr never use our agents, so their connections skip the guarded lookup. The
    // module makes its axios instance on the first delivery, and axios.create() copies the
    // global defaults: here that instance itself defaults to fetch.
    it("still refuses when the app sets axios.defaults.adapter = 'fetch'", async () => {
      const adapter = axios.defaults.adapter;
      axios.defaults.adapter = 'fetch';
      try {
        await expectRefusedUnsent();
      } finally {
        axios.defaults.adapter = adapter;
      }
    });

    it('still refuses when a global axios interceptor switches the adapter', async () => {
      const interceptor = axios.interceptors.request.use((config) => {
        config.adapter = 'fetch';
        return config;
      });
      try {
        await expectRefusedUnsent();
      } finally {
        axios.interceptors.request.eject(interceptor);
      }
    });
  });
});
