import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresWebhookStore } from '../../../lib/storage/postgres/postgres-webhook.store.js';
import { WebhooksRuntime } from '../../../lib/webhooks.runtime.js';
import { waitUntil } from '../../support/delivery-app.js';
import { startDatabase, TEST_DATABASE_URL, type TestDatabase } from '../../support/postgres.js';
import { startReceiver, type Receiver } from '../../support/receiver.js';
import type { SampleServer } from '../../support/sample-server.js';

// The README's `DATABASE_URL=... npm start`: the sample on the PostgreSQL store, whose
// endpoints and log outlive a restart. The sample reads its environment when its module is
// first imported, so this file sets it before importing the sample.

describe('the sample with DATABASE_URL', () => {
  let db: TestDatabase;
  let receiver: Receiver;
  let server: SampleServer | undefined;
  let startSampleServer: () => Promise<SampleServer>;

  beforeAll(async () => {
    db = await startDatabase();
    receiver = await startReceiver();
    process.env.DATABASE_URL = TEST_DATABASE_URL;
    process.env.DATABASE_SCHEMA = db.schema;
    ({ startSampleServer } = await import('../../support/sample-server.js'));
  });
  afterAll(async () => {
    await server?.close();
    delete process.env.DATABASE_URL;
    delete process.env.DATABASE_SCHEMA;
    await receiver.close();
    await db.drop();
  });

  let token = '';
  const headers = () => ({ authorization: `Bearer ${token}`, 'content-type': 'application/json' });
  const post = async (path: string, body: unknown) => {
    const response = await fetch(`${server!.baseUrl}${path}`, {
      method: 'POST',
      headers: headers(),
      body: JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };
  /** The items of a listing of the portal's API. */
  const list = async (route: string) =>
    (
      (await (
        await fetch(`${server!.baseUrl}/webhooks/portal/api/${route}`, { headers: headers() })
      ).json()) as { items: Record<string, unknown>[] }
    ).items;

  it('stores endpoints and deliveries in PostgreSQL, and keeps them across a restart', async () => {
    server = await startSampleServer();
    expect(server.app.get(WebhooksRuntime).store).toBeInstanceOf(PostgresWebhookStore);
    const link = (await (await fetch(`${server.baseUrl}/portal-link?tenant=demo`)).json()) as {
      url: string;
    };
    token = new URL(link.url).hash.replace('#token=', '');
    const registered = await post('/webhooks/portal/api/endpoints', {
      url: `${receiver.url}/hook`,
      events: ['new-subscription'],
    });
    expect(registered.status).toBe(201);
    const created = await post('/subscriptions', { username: 'rick', monthly_fee: 9.99 });
    expect(created.body).toMatchObject({ endpoints: 1 });
    await receiver.waitFor(1);
    expect(receiver.requests[0].headers['webhook-id']).toBe(created.body.webhookId);
    await waitUntil(
      async () => (await list('deliveries'))[0]?.status === 'delivered',
      'the delivery to be recorded',
    );
    await server.close();

    // The link made before the restart still opens the portal: it is signed, not remembered.
    server = await startSampleServer();
    expect((await list('endpoints')).map((endpoint) => endpoint.id)).toEqual([registered.body.id]);
    const [delivery] = await list('deliveries');
    expect(delivery).toMatchObject({ messageId: created.body.webhookId, status: 'delivered' });
  });
});
