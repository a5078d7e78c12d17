import { ForbiddenException, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  WebhookNotFoundError,
  WebhookPortal,
  WebhooksModule,
  WebhooksPortalModule,
} from '../../../lib/index.js';
import {
  startPortalApp,
  portalClient,
  PORTAL_SECRET,
  type PortalApp,
  type PortalClient,
} from '../../fixtures/portal/portal-app.js';
import {
  ping,
  publishedDocument,
  verifyWithStandardWebhooks,
  waitUntil,
} from '../../support/delivery-app.js';
import { assertValidOpenApi31 } from '../../support/openapi-validators.js';
import { RECOVER_LIMIT } from '../../../lib/portal/portal-api.js';
import { startReceiver, type Receiver } from '../../support/receiver.js';

// The portal's JSON API on real Nest apps over real HTTP, on both adapters: every route, paging,
// filters, tenant isolation, the tokens, and the refusals of bad input.

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Every item of a listing, page by page through its cursors, each page at most `limit` long. */
async function everyPage(client: PortalClient, route: string, limit: number): Promise<any[]> {
  const items = [];
  let cursor: string | null = null;
  do {
    const query: string = cursor ? `&cursor=${encodeURIComponent(cursor)}` : '';
    const { body } = await client.get(`${route}${query}`);
    expect(body.items.length).toBeLessThanOrEqual(limit);
    items.push(...body.items);
    cursor = body.next;
  } while (cursor !== null);
  return items;
}

for (const adapter of ['express', 'fastify'] as const) {
  describe(`the portal API on ${adapter}`, () => {
    let app: PortalApp;
    let receiver: Receiver;
    let acme: PortalClient;
    let globex: PortalClient;

    beforeAll(async () => {
      app = await startPortalApp({ adapter });
      receiver = await startReceiver();
      acme = portalClient(app.origin, (await app.portal.createLink('acme')).token);
      globex = portalClient(app.origin, (await app.portal.createLink('globex')).token);
    });

    afterEach(() => receiver.behave(() => undefined));

    afterAll(async () => {
      await app?.close();
      await receiver?.close();
    });

    /** Adds an endpoint for `client`'s tenant on the receiver (with a path of its own). */
    async function addEndpoint(client: PortalClient, events = ['ping'], path = 'hook') {
      const added = await client.post('endpoints', { url: `${receiver.url}/${path}`, events });
      expect(added.status, JSON.stringify(added.body)).toBe(201);
      return added.body as { id: string; secret: string; url: string };
    }

    /**
     * `count` messages of `tenant`, each failed at its endpoint (which answered 500 to every
     * attempt, and answers 204 from then on), and the time just before they were sent.
     */
    async function failedDeliveries(tenant: string, count: number) {
      const client = portalClient(app.origin, (await app.portal.createLink(tenant)).token);
      const endpoint = await addEndpoint(client, ['ping'], tenant);
      receiver.behave((request, response) => {
        response.writeHead(request.url.endsWith(tenant) ? 500 : 204);
        response.end();
      });
      const since = new Date(Date.now() - 1000).toISOString();
      for (let i = 0; i < count; i++) await app.emitter.emit('ping', ping(i), { tenant });
      await waitUntil(
        async () =>
          (await app.deliveries.list({ endpointId: endpoint.id, status: 'failed', limit: count }))
            .length === count,
        `${count} failed deliveries`,
        { timeoutMs: 60_000, intervalMs: 50 },
      );
      receiver.behave(() => undefined);
      return { client, endpoint, since };
    }

    /** Waits until the delivery is no longer pending, as the portal shows it. */
    const settled = (client: PortalClient, deliveryId: string) =>
      waitUntil(async () => {
        const { body } = await client.get(`deliveries/${deliveryId}`);
        return body.status !== 'pending' && body;
      }, `delivery ${deliveryId} to settle`);

    it('tells the session: tenant, read-only, expiry', async () => {
      const link = await app.portal.createLink('acme', { readOnly: true, expiresIn: 60_000 });
      const { status, body } = await portalClient(app.origin, link.token).get('session');
      expect(status).toBe(200);
      expect(body).toEqual({
        tenant: 'acme',
        readOnly: true,
        expiresAt: link.expiresAt.toISOString(),
      });
      expect(link.url).toBe(`/webhooks/portal#token=${link.token}`);
    });

    it('serves the event catalog with each operation, its inlined schema and an example', async () => {
      const { status, body } = await acme.get('events');
      expect(status).toBe(200);
      const names = body.items.map((event: { name: string }) => event.name);
      expect(names).toEqual(['customer-created', 'customer-synced', 'customers-imported', 'ping']);
      const pingEvent = body.items.find((event: { name: string }) => event.name === 'ping');
      expect(pingEvent.operations).toEqual([
        expect.objectContaining({
          method: 'post',
          schema: expect.objectContaining({
            title: 'PingDto',
            type: 'object',
            required: ['message', 'sequence'],
          }),
          example: { message: 'string', sequence: 0 },
        }),
      ]);
      const synced = body.items.find((event: { name: string }) => event.name === 'customer-synced');
      expect(synced.operations.map((op: { method: string }) => op.method)).toEqual(['post', 'put']);
      const created = body.items.find((e: { name: string }) => e.name === 'customer-created');
      // Nested DTOs are inlined, and the DTO's own examples are used.
      expect(created.operations[0].schema.properties.address.title).toBe('AddressDto');
      expect(created.operations[0].example.address.country).toBe('FR');
      // Every example is a body its own published schema accepts.
      const ajv = new Ajv2020({ strict: false });
      for (const event of body.items) {
        for (const operation of event.operations) {
          const valid = ajv.validate(operation.schema, operation.example);
          expect(valid, `${event.name} ${operation.method}: ${ajv.errorsText()}`).toBe(true);
        }
      }
    });

    it('adds, lists, reads, changes, disables, enables and removes an endpoint', async () => {
      const added = await acme.post('endpoints', {
        url: `${receiver.url}/crud`,
        events: ['ping'],
        description: 'first',
      });
      expect(added.status).toBe(201);
      expect(added.body).toMatchObject({
        url: `${receiver.url}/crud`,
        events: ['ping'],
        description: 'first',
        disabled: false,
        recent: [],
      });
      expect(added.body.secret).toMatch(/^whsec_/);
      const { id } = added.body;

      const listed = await acme.get('endpoints');
      const mine = listed.body.items.find((endpoint: { id: string }) => endpoint.id === id);
      expect(mine).toMatchObject({ id, description: 'first' });
      expect(mine).not.toHaveProperty('secret');
      expect(JSON.stringify(listed.body)).not.toContain(added.body.secret);

      const read = await acme.get(`endpoints/${id}`);
      expect(read.body).not.toHaveProperty('secret');
      expect(read.body.id).toBe(id);

      const changed = await acme.patch(`endpoints/${id}`, {
        url: `${receiver.url}/crud2`,
        events: ['ping', 'customer-created'],
        description: null,
      });
      expect(changed.status).toBe(200);
      expect(changed.body).toMatchObject({
        url: `${receiver.url}/crud2`,
        events: ['ping', 'customer-created'],
        description: null,
      });

      const disabled = await acme.post(`endpoints/${id}/disable`);
      expect(disabled.body).toMatchObject({ disabled: true, disabledReason: expect.any(String) });
      const enabled = await acme.post(`endpoints/${id}/enable`);
      expect(enabled.body).toMatchObject({ disabled: false, disabledReason: null });

      const revealed = await acme.get(`endpoints/${id}/secret`);
      expect(revealed.body).toEqual({ secret: added.body.secret });
      const rotated = await acme.post(`endpoints/${id}/secret/rotate`);
      expect(rotated.body.secret).toMatch(/^whsec_/);
      expect(rotated.body.secret).not.toBe(added.body.secret);
      expect((await acme.get(`endpoints/${id}/secret`)).body).toEqual(rotated.body);

      const removed = await acme.delete(`endpoints/${id}`);
      expect(removed.status).toBe(204);
      expect(removed.body).toBeNull();
      expect((await acme.get(`endpoints/${id}`)).status).toBe(404);
    });

    it('pages endpoints by cursor', async () => {
      const client = portalClient(app.origin, (await app.portal.createLink('paged')).token);
      const ids = [];
      for (let i = 0; i < 5; i++) ids.push((await addEndpoint(client, ['ping'], `p${i}`)).id);
      const seen = await everyPage(client, 'endpoints?limit=2', 2);
      expect(seen.map((endpoint) => endpoint.id)).toEqual(ids);
    });

    it('sends a test event: the example payload, signed, marked as a test in the log', async () => {
      const endpoint = await addEndpoint(acme, ['ping', 'customer-created'], 'test-event');
      const before = receiver.requests.length;

      const sent = await acme.post(`endpoints/${endpoint.id}/test`, { event: 'customer-created' });

      expect(sent.status).toBe(202);
      const [request] = (await receiver.waitFor(before + 1)).slice(before);
      expect(request.headers['webhook-id']).toBe(sent.body.messageId);
      const catalog = (await acme.get('events')).body.items;
      const example = catalog.find((e: { name: string }) => e.name === 'customer-created')
        .operations[0].example;
      expect(verifyWithStandardWebhooks(endpoint.secret, request)).toEqual(example);
      const delivery = await settled(acme, sent.body.deliveryId);
      expect(delivery).toMatchObject({
        status: 'delivered',
        test: true,
        event: 'customer-created',
      });
      const message = await acme.get(`messages/${sent.body.messageId}`);
      expect(message.body).toMatchObject({ test: true, body: JSON.stringify(example) });

      // Without an event, the endpoint's first.
      const first = await acme.post(`endpoints/${endpoint.id}/test`);
      expect(first.status).toBe(202);
      expect((await settled(acme, first.body.deliveryId)).event).toBe('ping');

      await acme.post(`endpoints/${endpoint.id}/disable`);
      const refused = await acme.post(`endpoints/${endpoint.id}/test`, { event: 'ping' });
      expect(refused.status).toBe(409);
      expect(refused.body.message).toMatch(/disabled/);
      const unknown = await acme.post(`endpoints/${endpoint.id}/test`, { event: 'nope' });
      expect(unknown.status).toBe(400);
      expect(unknown.body.message).toContain('"nope"');
      const ambiguous = await acme.post(`endpoints/${endpoint.id}/test`, {
        event: 'customer-synced',
      });
      expect(ambiguous.status).toBe(400);
    });

    it('lists messages and deliveries with attempts, newest first, filtered and paged', async () => {
      const client = portalClient(app.origin, (await app.portal.createLink('logs')).token);
      const a = await addEndpoint(client, ['ping'], 'log-a');
      const b = await addEndpoint(client, ['ping', 'customer-created'], 'log-b');
      const ids: string[] = [];
      for (let i = 0; i < 12; i++) {
        ids.push((await app.emitter.emit('ping', ping(i), { tenant: 'logs' })).id);
      }
      await waitUntil(async () => {
        const { body } = await client.get('deliveries?status=pending&limit=100');
        return body.items.length === 0;
      }, 'every delivery to settle');

      const messages = await everyPage(client, 'messages?limit=5', 5);
      expect(messages.map((message) => message.id)).toEqual([...ids].reverse());
      expect(messages[0]).toMatchObject({ event: 'ping', test: false, method: 'post' });
      expect(JSON.parse(messages[0].body)).toEqual(ping(11));

      const deliveries = await everyPage(client, 'deliveries?limit=7', 7);
      expect(deliveries).toHaveLength(24);
      expect(new Set(deliveries.map((delivery) => delivery.id)).size).toBe(24);
      const deliveryIds = deliveries.map((delivery) => delivery.id);
      expect(deliveryIds).toEqual([...deliveryIds].sort().reverse());
      expect(deliveries[0].attemptLog).toEqual([
        expect.objectContaining({ attempt: 1, statusCode: 204, outcome: 'delivered' }),
      ]);

      const toA = await client.get(`deliveries?endpoint=${a.id}&limit=100`);
      expect(toA.body.items).toHaveLength(12);
      expect(toA.body.items.every((d: { endpointId: string }) => d.endpointId === a.id)).toBe(true);
      const ofMessage = await client.get(`deliveries?message=${ids[3]}`);
      expect(ofMessage.body.items.map((d: { endpointId: string }) => d.endpointId).sort()).toEqual(
        [a.id, b.id].sort(),
      );
      expect((await client.get('deliveries?event=customer-created')).body.items).toEqual([]);
      expect((await client.get('deliveries?status=failed')).body.items).toEqual([]);
      expect((await client.get('deliveries?status=delivered&limit=100')).body.items).toHaveLength(
        24,
      );
      expect((await client.get('messages?event=customer-created')).body.items).toEqual([]);

      const message = await client.get(`messages/${ids[0]}`);
      expect(message.body.deliveries).toHaveLength(2);
      expect(message.body.deliveries[0].attemptLog[0].statusCode).toBe(204);
      const delivery = await client.get(`deliveries/${deliveries[0].id}`);
      expect(delivery.body).toEqual(deliveries[0]);

      // The endpoint's health: its latest deliveries.
      const health = await client.get(`endpoints/${a.id}`);
      expect(health.body.recent).toHaveLength(5);
      expect(health.body.recent[0]).toMatchObject({ status: 'delivered', event: 'ping' });
    });

    it('redelivers a failed delivery, and refuses one still pending', async () => {
      const client = portalClient(app.origin, (await app.portal.createLink('replay')).token);
      await addEndpoint(client, ['ping'], 'replay');
      receiver.behave((_request, response) => {
        response.writeHead(500, { 'content-type': 'text/plain' });
        response.end('down for maintenance');
      });
      const { id } = await app.emitter.emit('ping', ping(), { tenant: 'replay' });
      const [pending] = (await client.get(`deliveries?message=${id}`)).body.items;
      const early = await client.post(`deliveries/${pending.id}/redeliver`);
      if (early.status === 409) expect(early.body.message).toMatch(/pending/);

      const failed = await settled(client, pending.id);
      expect(failed.status).toBe('failed');
      expect(failed.attemptLog.at(-1)).toMatchObject({
        statusCode: 500,
        outcome: 'failed',
        responseExcerpt: 'down for maintenance',
      });

      receiver.behave(() => undefined);
      const replayed = await client.post(`deliveries/${pending.id}/redeliver`);
      expect(replayed).toMatchObject({ status: 202, body: { deliveries: 1 } });
      const delivered = await settled(client, pending.id);
      expect(delivered.status).toBe('delivered');
      expect(delivered.attemptLog.at(-1)).toMatchObject({ statusCode: 204 });
    });

    it('recovers every failed delivery of an endpoint since a time', async () => {
      const client = portalClient(app.origin, (await app.portal.createLink('recover')).token);
      const endpoint = await addEndpoint(client, ['ping'], 'recover');
      const other = await addEndpoint(client, ['ping'], 'recover-other');
      receiver.behave((request, response) => {
        response.writeHead(request.url.endsWith('recover') ? 500 : 204);
        response.end();
      });
      const before = new Date();
      for (let i = 0; i < 3; i++) await app.emitter.emit('ping', ping(i), { tenant: 'recover' });
      await waitUntil(async () => {
        const { body } = await client.get(`deliveries?endpoint=${endpoint.id}&status=failed`);
        return body.items.length === 3;
      }, 'three failed deliveries');
      receiver.behave(() => undefined);

      const none = await client.post(`endpoints/${endpoint.id}/recover`, {
        since: new Date(Date.now() + 60_000).toISOString(),
      });
      expect(none.body).toEqual({ deliveries: 0, more: false });
      const recovered = await client.post(`endpoints/${endpoint.id}/recover`, {
        since: new Date(before.getTime() - 1000).toISOString(),
      });
      expect(recovered).toMatchObject({ status: 202, body: { deliveries: 3, more: false } });
      await waitUntil(async () => {
        const { body } = await client.get(`deliveries?endpoint=${endpoint.id}&status=delivered`);
        return body.items.length === 3;
      }, 'the recovered deliveries to be delivered');
      // The other endpoint's deliveries, delivered the first time, were left alone.
      const others = await client.get(`deliveries?endpoint=${other.id}`);
      expect(others.body.items.every((d: { attempts: number }) => d.attempts === 1)).toBe(true);

      const bad = await client.post(`endpoints/${endpoint.id}/recover`, { since: 'yesterday' });
      expect(bad.status).toBe(400);
      expect(bad.body.message).toContain("'since'");
    });

    it('recovers the rest when a message is pruned during the walk', async () => {
      const { client, endpoint, since } = await failedDeliveries('pruned', 2);
      // As the store answers for a message that retention deleted after the listing read it.
      const redeliver = vi
        .spyOn(app.deliveries, 'redeliver')
        .mockRejectedValueOnce(new WebhookNotFoundError('message', 'msg_gone', 'pruned'));

      const recovered = await client.post(`endpoints/${endpoint.id}/recover`, { since });

      expect(redeliver).toHaveBeenCalledTimes(2);
      expect(recovered).toMatchObject({ status: 202, body: { deliveries: 1, more: false } });
      redeliver.mockRestore();
      await waitUntil(
        async () =>
          (await app.deliveries.list({ endpointId: endpoint.id, status: 'delivered' })).length ===
          1,
        'the other one delivered',
      );
    });

    it('recovers at most RECOVER_LIMIT deliveries per call, saying more are left', async () => {
      const total = RECOVER_LIMIT + 5;
      const { client, endpoint, since } = await failedDeliveries('many', total);
      const failed = () =>
        app.deliveries.list({ endpointId: endpoint.id, status: 'failed', limit: total });

      const first = await client.post(`endpoints/${endpoint.id}/recover`, { since });
      expect(first).toMatchObject({ status: 202, body: { deliveries: RECOVER_LIMIT, more: true } });
      expect(await failed()).toHaveLength(5);
      // Those queued are pending or delivered by now: the next call goes on with the rest.
      const second = await client.post(`endpoints/${endpoint.id}/recover`, { since });
      expect(second.body).toEqual({ deliveries: 5, more: false });
      // Settled, so that the next tests see no request of this one's.
      await waitUntil(
        async () =>
          (
            await app.deliveries.list({
              endpointId: endpoint.id,
              status: 'delivered',
              limit: total,
            })
          ).length === total,
        'every recovered delivery delivered',
        { timeoutMs: 60_000, intervalMs: 100 },
      );
    }, 90_000);

    it("keeps tenants apart: 404 for every id of another tenant's, nothing of it in lists", async () => {
      const endpoint = await addEndpoint(acme, ['ping'], 'isolated');
      const sent = await acme.post(`endpoints/${endpoint.id}/test`);
      await settled(acme, sent.body.deliveryId);
      const { messageId, deliveryId } = sent.body;
      const before = receiver.requests.length;

      const attempts: [string, () => Promise<{ status: number; body: any }>][] = [
        ['GET endpoint', () => globex.get(`endpoints/${endpoint.id}`)],
        ['PATCH endpoint', () => globex.patch(`endpoints/${endpoint.id}`, { description: 'x' })],
        ['DELETE endpoint', () => globex.delete(`endpoints/${endpoint.id}`)],
        ['enable', () => globex.post(`endpoints/${endpoint.id}/enable`)],
        ['disable', () => globex.post(`endpoints/${endpoint.id}/disable`)],
        ['secret', () => globex.get(`endpoints/${endpoint.id}/secret`)],
        ['rotate', () => globex.post(`endpoints/${endpoint.id}/secret/rotate`)],
        ['test', () => globex.post(`endpoints/${endpoint.id}/test`)],
        [
          'recover',
          () => globex.post(`endpoints/${endpoint.id}/recover`, { since: '2000-01-01T00:00:00Z' }),
        ],
        ['GET message', () => globex.get(`messages/${messageId}`)],
        ['GET delivery', () => globex.get(`deliveries/${deliveryId}`)],
        ['redeliver', () => globex.post(`deliveries/${deliveryId}/redeliver`)],
      ];
      for (const [what, attempt] of attempts) {
        const answer = await attempt();
        expect(answer.status, what).toBe(404);
        expect(JSON.stringify(answer.body), what).not.toContain(endpoint.secret);
      }
      const lists = [
        await globex.get('endpoints?limit=100'),
        await globex.get('messages?limit=100'),
        await globex.get('deliveries?limit=100'),
        await globex.get(`deliveries?endpoint=${endpoint.id}`),
        await globex.get(`deliveries?message=${messageId}`),
        await globex.get(`deliveries?cursor=${encodeURIComponent(`${deliveryId}~`)}`),
        await globex.get(`messages?cursor=${encodeURIComponent(`${messageId}~`)}`),
      ];
      for (const list of lists) {
        expect(list.status).toBe(200);
        const text = JSON.stringify(list.body);
        expect(text).not.toContain(endpoint.id);
        expect(text).not.toContain(messageId);
      }
      // Nothing was changed or sent through the other tenant's calls.
      expect((await acme.get(`endpoints/${endpoint.id}`)).body).toMatchObject({
        disabled: false,
        description: null,
      });
      expect((await acme.get(`endpoints/${endpoint.id}/secret`)).body.secret).toBe(endpoint.secret);
      await sleep(100);
      expect(receiver.requests.length).toBe(before);
    });

    it('refuses bad input with 400 and a message naming it', async () => {
      const cases: [string, () => Promise<{ status: number; body: any }>, string][] = [
        [
          'a private address',
          () => acme.post('endpoints', { url: 'http://10.1.2.3/hook', events: ['ping'] }),
          '10.1.2.3',
        ],
        [
          'an unknown event',
          () => acme.post('endpoints', { url: `${receiver.url}/x`, events: ['nope'] }),
          'nope',
        ],
        ['no events', () => acme.post('endpoints', { url: `${receiver.url}/x` }), "'events'"],
        [
          'a tenant of its own',
          () =>
            acme.post('endpoints', {
              url: `${receiver.url}/x`,
              events: ['ping'],
              tenant: 'globex',
            }),
          "'tenant'",
        ],
        ['a body that is no object', () => acme.post('endpoints', [1, 2]), 'JSON object'],
        ['limit 0', () => acme.get('endpoints?limit=0'), "'limit'"],
        ['limit 101', () => acme.get('deliveries?limit=101'), "'limit'"],
        ['an unknown status', () => acme.get('deliveries?status=lost'), "'status'"],
        ['a recover without since', () => acme.post('endpoints/ep_x/recover', {}), ''],
      ];
      for (const [what, call, named] of cases) {
        const { status, body } = await call();
        if (what === 'a recover without since') {
          // An unknown endpoint is looked up first.
          expect(status, what).toBe(404);
          continue;
        }
        expect(status, what).toBe(400);
        expect(body.error, what).toBe('Bad Request');
        expect(body.message, what).toContain(named);
      }
      const endpoint = await addEndpoint(acme, ['ping'], 'bad-input');
      const patch = await acme.patch(`endpoints/${endpoint.id}`, { url: 'ftp://example.com/x' });
      expect(patch.status).toBe(400);
      expect(patch.body.message).toContain('ftp:');
      const noSince = await acme.post(`endpoints/${endpoint.id}/recover`, {});
      expect(noSince.status).toBe(400);
      expect(noSince.body.message).toContain("'since'");
    });

    describe('tokens', () => {
      it('refuses a request without one: 401 with a Bearer challenge', async () => {
        const { status, body, headers } = await portalClient(app.origin).get('endpoints');
        expect(status).toBe(401);
        expect(headers.get('www-authenticate')).toMatch(/^Bearer/);
        expect(body.message).toMatch(/createLink/);
      });

      it('refuses malformed, tampered and foreign tokens', async () => {
        const { token } = await app.portal.createLink('acme');
        const [version, payload, signature] = token.split('.');
        const claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
        const forged = Buffer.from(JSON.stringify({ ...claims, t: 'globex' })).toString(
          'base64url',
        );
        const other = await startPortalApp({
          adapter,
          portal: { secret: 'another-secret-of-enough-length-0123456789' },
        });
        try {
          const foreign = (await other.portal.createLink('acme')).token;
          for (const [what, bad, reason] of [
            ['garbage', 'not-a-token', /not one/],
            ['another version', `v2.${payload}.${signature}`, /not one/],
            ['another tenant', `${version}.${forged}.${signature}`, /signature/],
            ['another secret', foreign, /signature/],
            ['a cut signature', `${version}.${payload}.${signature.slice(0, 10)}`, /signature/],
          ] as const) {
            const answer = await portalClient(app.origin, bad).get('endpoints');
            expect(answer.status, what).toBe(401);
            expect(answer.body.message, what).toMatch(reason);
          }
        } finally {
          await other.close();
        }
      });

      it('refuses an expired link', async () => {
        const { token, expiresAt } = await app.portal.createLink('acme', { expiresIn: 1_000 });
        expect((await portalClient(app.origin, token).get('session')).status).toBe(200);
        await sleep(expiresAt.getTime() - Date.now() + 50);
        const answer = await portalClient(app.origin, token).get('session');
        expect(answer.status).toBe(401);
        expect(answer.body.message).toContain(expiresAt.toISOString());
      });

      it('refuses links issued before revokeLinks, and accepts those made after', async () => {
        const old = await app.portal.createLink('revoked');
        const other = await app.portal.createLink('kept');
        await app.portal.revokeLinks('revoked');
        const fresh = await app.portal.createLink('revoked');

        const refused = await portalClient(app.origin, old.token).get('session');
        expect(refused.status).toBe(401);
        expect(refused.body.message).toMatch(/revoked/);
        expect((await portalClient(app.origin, fresh.token).get('session')).status).toBe(200);
        expect((await portalClient(app.origin, other.token).get('session')).status).toBe(200);
      });

      it('lets a read-only link look, and refuses it every change and the secrets', async () => {
        const endpoint = await addEndpoint(acme, ['ping'], 'read-only');
        const reader = portalClient(
          app.origin,
          (await app.portal.createLink('acme', { readOnly: true })).token,
        );
        expect((await reader.get('endpoints')).status).toBe(200);
        expect((await reader.get(`endpoints/${endpoint.id}`)).status).toBe(200);
        expect((await reader.get('deliveries')).status).toBe(200);
        const writes = [
          () => reader.post('endpoints', { url: `${receiver.url}/ro`, events: ['ping'] }),
          () => reader.patch(`endpoints/${endpoint.id}`, { description: 'x' }),
          () => reader.delete(`endpoints/${endpoint.id}`),
          () => reader.post(`endpoints/${endpoint.id}/disable`),
          () => reader.post(`endpoints/${endpoint.id}/secret/rotate`),
          () => reader.post(`endpoints/${endpoint.id}/test`),
          () => reader.get(`endpoints/${endpoint.id}/secret`),
        ];
        for (const write of writes) {
          const answer = await write();
          expect(answer.status).toBe(403);
          expect(answer.body.message).toMatch(/read-only/);
        }
        expect((await acme.get(`endpoints/${endpoint.id}`)).body.disabled).toBe(false);
      });
    });

    it('serves the page with a strict CSP, its assets, and an OpenAPI 3.1 document of the API', async () => {
      const page = await fetch(`${app.origin}/webhooks/portal`);
      expect(page.status).toBe(200);
      expect(page.headers.get('content-type')).toMatch(/^text\/html/);
      const csp = page.headers.get('content-security-policy')!;
      expect(csp).toContain("default-src 'none'");
      expect(csp).toContain("script-src 'self'");
      expect(csp).not.toContain('unsafe-inline');
      const html = await page.text();
      expect(html).toContain('src="/webhooks/portal/assets/portal.js"');
      expect(html).not.toMatch(/<script>|<script [^>]*>[^<]|\sstyle=|\son[a-z]+=/);
      const script = await fetch(`${app.origin}/webhooks/portal/assets/portal.js`);
      expect(script.headers.get('content-type')).toMatch(/^text\/javascript/);
      expect((await script.text()).length).toBeGreaterThan(1000);
      const style = await fetch(`${app.origin}/webhooks/portal/assets/portal.css`);
      expect(style.headers.get('content-type')).toMatch(/^text\/css/);

      const answer = await fetch(`${app.origin}/webhooks/portal/api/openapi.json`);
      const document = (await answer.json()) as {
        servers: unknown;
        paths: Record<string, Record<string, { operationId: string }>>;
      };
      await assertValidOpenApi31(document);
      expect(document.servers).toEqual([{ url: '/webhooks/portal/api' }]);
      const operations = Object.values(document.paths).flatMap((item) =>
        Object.values(item).map((operation) => operation.operationId),
      );
      expect(operations).toHaveLength(18);
      expect(new Set(operations).size).toBe(18);
    });

    it("is left out of the app's own Swagger document", async () => {
      const document = publishedDocument(app.app);
      expect(Object.keys(document.paths)).toEqual(['/app/health']);
      expect(JSON.stringify(document)).not.toContain('portal');
    });
  });
}

describe('the portal behind the app’s own login (authorize)', () => {
  let app: PortalApp;
  let receiver: Receiver;

  beforeAll(async () => {
    receiver = await startReceiver();
    app = await startPortalApp({
      adapter: 'express',
      globalPrefix: 'api',
      portal: {
        path: '/account/webhooks/',
        authorize: (request) => {
          const user = (request as { headers: Record<string, string | undefined> }).headers[
            'x-test-user'
          ];
          if (user === 'reader') return { tenant: 'acme', readOnly: true };
          if (user === 'broken') return 42 as unknown as string;
          return user ?? null;
        },
      },
    });
  });

  afterAll(async () => {
    await app?.close();
    await receiver?.close();
  });

  const as = (user?: string) => ({
    ...(user && { 'x-test-user': user }),
  });
  const api = () => portalClient(app.origin, undefined, 'account/webhooks');

  it('mounts at its own path, outside the global prefix', async () => {
    expect((await fetch(`${app.origin}/account/webhooks`)).status).toBe(200);
    expect((await fetch(`${app.origin}/api/app/health`)).status).toBe(200);
    expect((await fetch(`${app.origin}/api/account/webhooks`)).status).toBe(404);
  });

  it('takes the tenant from authorize, and refuses a request it gives none', async () => {
    const session = await api().get('session', as('acme'));
    expect(session.body).toEqual({ tenant: 'acme', readOnly: false, expiresAt: null });
    const refused = await api().get('session', as());
    expect(refused.status).toBe(401);
    expect(refused.body.message).toMatch(/authorize/);
  });

  it('needs x-webhooks-portal on writes (no cross-site form can set it)', async () => {
    const body = { url: `${receiver.url}/login`, events: ['ping'] };
    const forged = await api().post('endpoints', body, as('acme'));
    expect(forged.status).toBe(403);
    expect(forged.body.message).toContain('x-webhooks-portal');
    const added = await api().post('endpoints', body, { ...as('acme'), 'x-webhooks-portal': '1' });
    expect(added.status).toBe(201);
    expect((await api().get(`endpoints/${added.body.id}`, as('globex'))).status).toBe(404);
  });

  it('honours readOnly from authorize, and answers 500 for what authorize should not return', async () => {
    const write = await api().post(
      'endpoints',
      { url: `${receiver.url}/r`, events: ['ping'] },
      { ...as('reader'), 'x-webhooks-portal': '1' },
    );
    expect(write.status).toBe(403);
    expect((await api().get('endpoints', as('reader'))).status).toBe(200);
    const broken = await api().get('session', as('broken'));
    expect(broken.status).toBe(500);
    expect(broken.body.message).not.toContain('42');
  });

  it('refuses createLink without a secret, naming the option', async () => {
    await expect(app.portal.createLink('acme')).rejects.toThrow(/'secret'/);
  });
});

describe('WebhooksPortalModule options and WebhookPortal arguments', () => {
  const refusal = async (portal: unknown) => {
    try {
      const app = await startPortalApp({ portal: portal as never });
      await app.close();
    } catch (error) {
      return (error as Error).message;
    }
    throw new Error('expected the app to refuse the options');
  };

  it('refuses a short secret without showing it, and no secret nor authorize', async () => {
    const message = await refusal({ secret: 'short-secret-value' });
    expect(message).toContain('at least 32 characters (got 18)');
    expect(message).not.toContain('short-secret-value');
    expect(await refusal({})).toMatch(/'secret'.*'authorize'/s);
  });

  it('refuses unknown options with a suggestion, and bad values naming them', async () => {
    expect(await refusal({ secret: PORTAL_SECRET, linkTTL: 1000 })).toContain(
      "did you mean 'linkTtl'",
    );
    expect(await refusal({ secret: PORTAL_SECRET, path: 'portal/:id' })).toContain("'path'");
    expect(await refusal({ secret: PORTAL_SECRET, linkTtl: 10 })).toContain("'linkTtl'");
    expect(await refusal({ secret: PORTAL_SECRET, baseUrl: 'example.com' })).toContain("'baseUrl'");
    expect(await refusal({ secret: PORTAL_SECRET, authorize: 'yes' })).toContain("'authorize'");
  });

  it('takes forRootAsync, and says WebhooksModule is needed when it is missing', async () => {
    @Module({
      imports: [
        WebhooksModule.forRoot(),
        WebhooksPortalModule.forRootAsync({
          useFactory: async () => ({ secret: PORTAL_SECRET, path: 'async/portal' }),
        }),
      ],
    })
    class AsyncModule {}
    const moduleRef = await Test.createTestingModule({ imports: [AsyncModule] }).compile();
    const app = moduleRef.createNestApplication({ logger: false });
    await app.listen(0, '127.0.0.1');
    try {
      const origin = (await app.getUrl()).replace('[::1]', '127.0.0.1');
      const { token } = await app.get(WebhookPortal).createLink('acme');
      const session = await portalClient(origin, token, 'async/portal').get('session');
      expect(session.body.tenant).toBe('acme');
    } finally {
      await app.close();
    }

    const alone = Test.createTestingModule({
      imports: [WebhooksPortalModule.forRoot({ secret: PORTAL_SECRET })],
    }).compile();
    await expect(alone).rejects.toThrow(/needs WebhooksModule/);
  });

  it('puts baseUrl in front of the links', async () => {
    const app = await startPortalApp({
      portal: { secret: PORTAL_SECRET, baseUrl: 'https://api.example.com/', linkTtl: 5_000 },
    });
    try {
      const link = await app.portal.createLink('acme');
      expect(link.url).toBe(`https://api.example.com/webhooks/portal#token=${link.token}`);
      expect(link.expiresAt.getTime() - Date.now()).toBeLessThanOrEqual(5_000);
      await expect(app.portal.createLink('')).rejects.toThrow(/tenant/);
      await expect(app.portal.createLink('acme', { expiresIn: 5 })).rejects.toThrow(
        /options\.expiresIn/,
      );
      await expect(
        app.portal.createLink('acme', { readOnly: 'yes' as unknown as boolean }),
      ).rejects.toThrow(/options\.readOnly/);
      await expect(
        app.portal.createLink('acme', { expiresin: 1 } as unknown as { expiresIn: number }),
      ).rejects.toThrow(/did you mean 'expiresIn'/);
    } finally {
      await app.close();
    }
  });
});

describe('the portal, as the review of its first version probed it', () => {
  it('forgets no revocation across a restart of the memory store: no earlier link opens it', async () => {
    const first = await startPortalApp();
    const link = await first.portal.createLink('acme', { expiresIn: 24 * 3_600_000 });
    await first.portal.revokeLinks('acme');
    await first.close();
    const second = await startPortalApp();
    try {
      expect((await portalClient(second.origin, link.token).get('session')).status).toBe(401);
      const fresh = await second.portal.createLink('acme');
      expect((await portalClient(second.origin, fresh.token).get('session')).status).toBe(200);
    } finally {
      await second.close();
    }
  });

  it('refuses a token with anything after its signature', async () => {
    const app = await startPortalApp();
    try {
      const { token } = await app.portal.createLink('acme');
      for (const spelled of [`${token}!!`, `${token}A`, `${token}=`]) {
        expect((await portalClient(app.origin, spelled).get('session')).status).toBe(401);
      }
    } finally {
      await app.close();
    }
  });

  it("answers an authorize refusal with its own status, and leaves the app's bearer tokens to it", async () => {
    const app = await startPortalApp({
      portal: {
        secret: PORTAL_SECRET,
        authorize: (request) => {
          const { headers } = request as { headers: Record<string, string | undefined> };
          if (headers['x-test-user'] === 'banned') throw new ForbiddenException('banned here');
          if (headers['x-test-user'] === 'nobody') return false as unknown as null;
          return headers.authorization === 'Bearer app-jwt.payload' ? 'acme' : null;
        },
      },
    });
    try {
      const api = portalClient(app.origin);
      const banned = await api.get('session', { 'x-test-user': 'banned' });
      expect(banned).toMatchObject({ status: 403, body: { message: 'banned here' } });
      expect((await api.get('session', { 'x-test-user': 'nobody' })).status).toBe(401);
      const jwt = await api.get('session', { authorization: 'Bearer app-jwt.payload' });
      expect(jwt.body).toMatchObject({ tenant: 'acme', expiresAt: null });
      // A link's token still goes by the link.
      const { token } = await app.portal.createLink('globex');
      expect((await portalClient(app.origin, token).get('session')).body.tenant).toBe('globex');
    } finally {
      await app.close();
    }
  });

  it('answers 204 with no content type, and documents every status it answers', async () => {
    const app = await startPortalApp({ adapter: 'fastify' });
    try {
      const receiver = await startReceiver();
      const api = portalClient(app.origin, (await app.portal.createLink('acme')).token);
      const added = await api.post('endpoints', { url: `${receiver.url}/x`, events: ['ping'] });
      const removed = await api.delete(`endpoints/${added.body.id}`);
      expect(removed.status).toBe(204);
      expect(removed.headers.get('content-type')).toBeNull();
      await receiver.close();
      const document = (await (
        await fetch(`${app.origin}/webhooks/portal/api/openapi.json`)
      ).json()) as { paths: Record<string, Record<string, { responses: object }>> };
      const statuses = (path: string, method: string) =>
        Object.keys(document.paths[path][method].responses);
      expect(statuses('/endpoints/{id}/secret', 'get')).toEqual(
        expect.arrayContaining(['200', '401', '403', '404', '409', '503']),
      );
      expect(statuses('/endpoints/{id}/test', 'post')).toContain('409');
      expect(statuses('/deliveries/{id}/redeliver', 'post')).toContain('409');
    } finally {
      await app.close();
    }
  });
});
