import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  startPortalApp,
  portalClient,
  type PortalApp,
  type PortalClient,
} from '../../fixtures/portal/portal-app.js';
import { waitUntil } from '../../support/delivery-app.js';
import { postgresModuleOptions, startDatabase, type TestDatabase } from '../../support/postgres.js';
import { startReceiver, type Receiver } from '../../support/receiver.js';

// The portal on the PostgreSQL store, with two app processes' worth of apps on one schema: a
// link made by one works on the other, and a revocation on one holds on both.

describe('the portal on the PostgreSQL store, two apps on one database', () => {
  let db: TestDatabase;
  let receiver: Receiver;
  let first: PortalApp;
  let second: PortalApp;

  beforeAll(async () => {
    db = await startDatabase();
    receiver = await startReceiver();
    const webhooks = postgresModuleOptions(db.schema, db.applicationName, { retryDelays: [50] });
    first = await startPortalApp({ webhooks });
    second = await startPortalApp({ adapter: 'fastify', webhooks });
  });

  afterAll(async () => {
    await first?.close();
    await second?.close();
    await receiver?.close();
    await db?.drop();
  });

  it('accepts on one app a link made on the other, and a revocation on either holds on both', async () => {
    const old = await first.portal.createLink('acme');
    const onSecond = portalClient(second.origin, old.token);
    expect((await onSecond.get('session')).body.tenant).toBe('acme');

    await second.portal.revokeLinks('acme');

    for (const app of [first, second]) {
      const answer = await portalClient(app.origin, old.token).get('session');
      expect(answer.status).toBe(401);
      expect(answer.body.message).toMatch(/revoked/);
    }
    const fresh = await first.portal.createLink('acme');
    expect((await portalClient(second.origin, fresh.token).get('session')).status).toBe(200);
  });

  it('adds on one app, sends a test event on the other, and both show it delivered, marked', async () => {
    const token = (await first.portal.createLink('globex')).token;
    const a: PortalClient = portalClient(first.origin, token);
    const b: PortalClient = portalClient(second.origin, token);
    const added = await a.post('endpoints', { url: `${receiver.url}/pg`, events: ['ping'] });
    expect(added.status).toBe(201);

    const sent = await b.post(`endpoints/${added.body.id}/test`, { event: 'ping' });
    expect(sent.status).toBe(202);

    const delivery = await waitUntil(async () => {
      const { body } = await a.get(`deliveries/${sent.body.deliveryId}`);
      return body.status === 'delivered' && body;
    }, 'the test event to be delivered');
    expect(delivery).toMatchObject({ test: true, event: 'ping', endpointId: added.body.id });
    const messages = await b.get('messages');
    expect(messages.body.items).toEqual([
      expect.objectContaining({ id: sent.body.messageId, test: true }),
    ]);
    const other = portalClient(second.origin, (await second.portal.createLink('acme')).token);
    expect((await other.get(`deliveries/${sent.body.deliveryId}`)).status).toBe(404);
    expect((await other.get('messages')).body.items).toEqual([]);
  });
});

describe('the portal on the PostgreSQL store, given what PostgreSQL text cannot hold', () => {
  let db: TestDatabase;
  let app: PortalApp;

  beforeAll(async () => {
    db = await startDatabase();
    app = await startPortalApp({ webhooks: postgresModuleOptions(db.schema, db.applicationName) });
  });

  afterAll(async () => {
    await app?.close();
    await db?.drop();
  });

  it('answers a NUL in an id 404, and in a filter, cursor or field 400, never 500', async () => {
    const api = portalClient(app.origin, (await app.portal.createLink('acme')).token);
    for (const route of ['endpoints/%00', 'messages/a%00b', 'deliveries/%00']) {
      expect((await api.get(route)).status, route).toBe(404);
    }
    for (const route of ['messages?event=%00', 'deliveries?endpoint=%00', 'endpoints?cursor=%00']) {
      expect((await api.get(route)).status, route).toBe(400);
    }
    const body = { url: 'http://127.0.0.1:9/x', events: ['ping'], description: 'a\u0000b' };
    const added = await api.post('endpoints', body);
    expect(added.status).toBe(400);
    expect(added.body.message).toContain("'description'");
  });
});
