import 'reflect-metadata';
import { createHash, randomBytes } from 'node:crypto';
import { Webhook as StandardWebhook } from 'standardwebhooks';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WebhookEncryptionKeyError, type WebhookEndpoint } from '../../../lib/index.js';
import { createId } from '../../../lib/storage/ids.js';
import { PingWebhook } from '../../fixtures/retry/ping.webhook.js';
import { storedEndpoint, storedMessage } from '../../support/stored-records.js';
import {
  bootDeliveryApp,
  rejection,
  waitUntil,
  type DeliveryApp,
} from '../../support/delivery-app.js';
import { postgresModuleOptions, startDatabase, type TestDatabase } from '../../support/postgres.js';
import { startReceiver, type Receiver } from '../../support/receiver.js';

// Endpoint secrets at rest (store.encryptionKey) on a real PostgreSQL: what every table of the
// schema holds, reading and signing with what it holds, rotating the key list, and the errors
// when a key is gone.

const newKey = () => randomBytes(32).toString('base64');
/** The key id the README documents: the first 16 hex digits of the SHA-256 of the key. */
const keyId = (key: string) =>
  createHash('sha256').update(Buffer.from(key, 'base64')).digest('hex').slice(0, 16);

describe('endpoint secrets at rest (PostgreSQL, store.encryptionKey)', () => {
  let db: TestDatabase;
  let receiver: Receiver;
  const apps: DeliveryApp[] = [];
  const boot = async (encryptionKey?: string | string[]) => {
    const app = await bootDeliveryApp({
      options: postgresModuleOptions(
        db.schema,
        db.applicationName,
        { retryDelays: [50] },
        { encryptionKey },
      ),
      providers: [PingWebhook],
    });
    apps.push(app);
    return app;
  };
  const secretOf = async (app: DeliveryApp, id: string) => (await app.endpoints.get(id))?.secret;
  const add = (app: DeliveryApp) =>
    app.endpoints.add({ url: `${receiver.url}/hook`, events: ['ping'] });

  /** Every row of every table of the schema, as text, that holds a part of one of `secrets`. */
  const plainTextHits = async (secrets: string[]) => {
    const needles = secrets.flatMap((secret) => {
      const encoded = secret.slice('whsec_'.length);
      return [encoded, Buffer.from(encoded, 'base64').toString('hex')];
    });
    const tables = await db.admin<{ name: string }>(
      `SELECT table_name AS name FROM information_schema.tables WHERE table_schema = $1`,
      [db.schema],
    );
    expect(tables.map(({ name }) => name)).toEqual(
      expect.arrayContaining(['endpoints', 'messages', 'deliveries', 'attempts']),
    );
    const hits: string[] = [];
    for (const { name } of tables) {
      const rows = await db.admin<{ row: string }>(
        `SELECT t::text AS row FROM ${db.schema}.${name} t`,
      );
      for (const { row } of rows) {
        if (needles.some((needle) => row.includes(needle))) hits.push(name);
      }
    }
    return hits;
  };
  /** The key ids the endpoint's stored secrets (current and retired) are sealed under. */
  const storedKeyIds = async (id: string) => {
    const [row] = await db.admin<{ secret: string; retired: { secret: string }[] }>(
      `SELECT secret, retired_secrets AS retired FROM ${db.schema}.endpoints WHERE id = $1`,
      [id],
    );
    return [row.secret, ...row.retired.map(({ secret }) => secret)].map(
      (value) => /^enc:v1:([0-9a-f]{16}):/.exec(value)?.[1] ?? 'plain',
    );
  };

  beforeAll(async () => {
    db = await startDatabase();
    receiver = await startReceiver();
  });
  afterEach(async () => {
    await Promise.all(apps.splice(0).map((app) => app.close()));
    receiver.requests.length = 0;
    await db.truncate();
  });
  afterAll(async () => {
    await receiver.close();
    await db.drop();
  });

  it('keeps no secret in plain text in any table, and reads and signs with them', async () => {
    const key = newKey();
    const app = await boot(key);
    const given = `whsec_${randomBytes(32).toString('base64')}`;
    const chosen = await app.endpoints.add({
      url: `${receiver.url}/hook`,
      events: ['ping'],
      secret: given,
    });
    const generated = await add(app);
    const retired = (await secretOf(app, generated.id))!;
    const rotated = await app.endpoints.rotateSecret(generated.id);
    await app.emitter.emit(PingWebhook, { seq: 1 });
    const requests = await receiver.waitFor(2);

    expect(await plainTextHits([given, retired, rotated])).toEqual([]);
    expect(await storedKeyIds(chosen.id)).toEqual([keyId(key)]);
    expect(await storedKeyIds(generated.id)).toEqual([keyId(key), keyId(key)]);
    expect(await secretOf(app, chosen.id)).toBe(given);
    expect(await secretOf(app, generated.id)).toBe(rotated);
    const secrets: Record<string, string> = { [chosen.id]: given, [generated.id]: rotated };
    const listed = await app.endpoints.list();
    expect(Object.fromEntries(listed.map((e: WebhookEndpoint) => [e.id, e.secret]))).toEqual(
      secrets,
    );
    // Each request verifies with its endpoint's secret; the rotated one also signs with the old.
    for (const request of requests) {
      const verify = (secret: string) =>
        new StandardWebhook(secret).verify(request.body, request.headers as Record<string, string>);
      const signatures = String(request.headers['webhook-signature']).split(' ');
      if (signatures.length === 2) {
        expect(verify(rotated)).toEqual({ seq: 1 });
        expect(verify(retired)).toEqual({ seq: 1 });
      } else {
        expect(verify(given)).toEqual({ seq: 1 });
      }
    }
  });

  it('stores secrets as given without a key, and encrypts them once one is set', async () => {
    const plain = await boot();
    const endpoint = await add(plain);
    expect(await plainTextHits([endpoint.secret])).toEqual(['endpoints']);
    await expect(plain.endpoints.reencryptSecrets()).rejects.toThrow(
      'WebhookEndpoints.reencryptSecrets() needs the PostgreSQL store with store.encryptionKey',
    );
    await plain.close();

    const key = newKey();
    const keyed = await boot(key);
    expect(await secretOf(keyed, endpoint.id)).toBe(endpoint.secret);
    expect(await keyed.endpoints.reencryptSecrets()).toEqual({ reencrypted: 1, unreadable: [] });
    expect(await plainTextHits([endpoint.secret])).toEqual([]);
    expect(await storedKeyIds(endpoint.id)).toEqual([keyId(key)]);
    expect(await secretOf(keyed, endpoint.id)).toBe(endpoint.secret);
    expect(await keyed.endpoints.reencryptSecrets()).toEqual({ reencrypted: 0, unreadable: [] });
  });

  it('rotates to a new key list: old keys still read, writes and reencryptSecrets() use the newest', async () => {
    const [a, b] = [newKey(), newKey()];
    const first = await boot(a);
    // More than one batch of 500.
    const endpoints: WebhookEndpoint[] = [];
    for (let i = 0; i < 1_010; i++) endpoints.push(await add(first));

    // One more, whose retired secret is under the old key too.
    const retiredUnderA = await add(first);
    await first.endpoints.rotateSecret(retiredUnderA.id);
    await first.close();

    const second = await boot([b, a]);
    const [rotatedOne, ...rest] = endpoints;
    expect(await secretOf(second, rest[0].id)).toBe(rest[0].secret);
    const rotated = await second.endpoints.rotateSecret(rotatedOne.id);
    // The rotation wrote the new secret and the retired one under the newest key.
    expect(await storedKeyIds(rotatedOne.id)).toEqual([keyId(b), keyId(b)]);
    expect(await storedKeyIds(rest[0].id)).toEqual([keyId(a)]);
    expect(await second.endpoints.reencryptSecrets()).toEqual({
      reencrypted: 1_010,
      unreadable: [],
    });
    expect(await storedKeyIds(retiredUnderA.id)).toEqual([keyId(b), keyId(b)]);
    await second.close();

    // Without the old key now.
    const third = await boot(b);
    const read = await third.endpoints.list();
    expect(read).toHaveLength(1_011);
    expect(new Set(read.map((endpoint) => endpoint.secret))).toEqual(
      new Set([
        rotated,
        ...rest.map((endpoint) => endpoint.secret),
        (await secretOf(third, retiredUnderA.id))!,
      ]),
    );
    const [row] = await db.admin<{ others: number }>(
      `SELECT count(*)::int AS others FROM ${db.schema}.endpoints WHERE secret NOT LIKE $1`,
      [`enc:v1:${keyId(b)}:%`],
    );
    expect(row.others).toBe(0);
  });

  it('names the key id, never the secret, when a value was sealed under a key not in the list', async () => {
    const [a, b] = [newKey(), newKey()];
    const first = await boot(a);
    const endpoint = await add(first);
    await first.close();

    for (const [keys, known] of [
      [b, `it has '${keyId(b)}'`],
      [undefined, 'none is configured'],
    ] as const) {
      const app = await boot(keys);
      const error = await rejection(app.endpoints.get(endpoint.id));
      expect(error).toBeInstanceOf(WebhookEncryptionKeyError);
      expect((error as WebhookEncryptionKeyError).keyId).toBe(keyId(a));
      expect(error.message).toContain(
        `The secret of endpoint ${endpoint.id} is stored encrypted under key id ${keyId(a)}, ` +
          `which is not in store.encryptionKey (${known})`,
      );
      expect(error.message).not.toContain(endpoint.secret.slice(6));
      expect(error.message).not.toContain(a);
      await app.close();
    }
  });

  it('keeps delivering to the others while one endpoint’s secret cannot be read, and rotateSecret() repairs it', async () => {
    const [a, b] = [newKey(), newKey()];
    const old = await boot(a);
    const bad = await old.endpoints.add({ url: `${receiver.url}/bad`, events: ['ping'] });
    await old.close();
    const app = await boot(b);
    const good = await app.endpoints.add({ url: `${receiver.url}/good`, events: ['ping'] });

    const first = await app.emitter.emit(PingWebhook, { seq: 1 });
    await waitUntil(
      async () =>
        (await app.deliveries.list({ messageId: first.id })).every((d) => d.status !== 'pending'),
      'both deliveries to end',
    );
    const deliveries = await app.deliveries.list({ messageId: first.id });
    const of = (id: string) => deliveries.find((delivery) => delivery.endpointId === id)!;
    expect(of(good.id).status).toBe('delivered');
    expect(of(bad.id)).toMatchObject({ status: 'failed' });
    expect(of(bad.id).lastError).toContain(
      `Endpoint ${bad.id}: nothing is sent to it while its secret, stored under key id ${keyId(a)}`,
    );
    expect(receiver.requests.map((request) => request.url)).toEqual(['/good']);

    // Reads that would show its secret fail, naming it; the others' do not.
    await expect(app.endpoints.list()).rejects.toThrow(`The secret of endpoint ${bad.id}`);
    expect(await secretOf(app, good.id)).toBe(good.secret);
    await expect(app.endpoints.update(bad.id, { description: 'x' })).rejects.toThrow(
      WebhookEncryptionKeyError,
    );
    const [row] = await db.admin<{ description: string | null }>(
      `SELECT description FROM ${db.schema}.endpoints WHERE id = $1`,
      [bad.id],
    );
    expect(row.description).toBeNull();
    expect(await app.endpoints.reencryptSecrets()).toEqual({
      reencrypted: 0,
      unreadable: [bad.id],
    });

    const replaced = await app.endpoints.rotateSecret(bad.id);
    expect(await secretOf(app, bad.id)).toBe(replaced);
    expect(await storedKeyIds(bad.id)).toEqual([keyId(b)]);
    const second = await app.emitter.emit(PingWebhook, { seq: 2 });
    await waitUntil(
      async () =>
        (await app.deliveries.list({ messageId: second.id })).every(
          (d) => d.status === 'delivered',
        ),
      'both deliveries of the second message',
    );
    const toBad = receiver.requests.find((request) => request.url === '/bad')!;
    expect(
      new StandardWebhook(replaced).verify(toBad.body, toBad.headers as Record<string, string>),
    ).toEqual({ seq: 2 });
  });

  it('sweeps past an endpoint whose secret cannot be read, handing it out marked', async () => {
    const [a, b] = [randomBytes(32), randomBytes(32)];
    const old = await db.store({ encryptionKeys: [a] });
    await old.insertEndpoint(storedEndpoint({ id: 'ep_old' }));
    await old.close();
    const store = await db.store({ encryptionKeys: [b] });
    try {
      await store.insertEndpoint(storedEndpoint({ id: 'ep_new' }));
      const now = new Date();
      await store.emit({
        message: storedMessage({ id: createId('msg') }),
        idempotentSince: now,
        notify: false,
      });
      const swept = await store.sweep(
        { owner: 'w1', now: new Date(), until: new Date(Date.now() + 30_000) },
        10,
      );
      const byEndpoint = Object.fromEntries(swept.map((c) => [c.endpoint!.id, c.endpoint!]));
      expect(Object.keys(byEndpoint).sort()).toEqual(['ep_new', 'ep_old']);
      expect(byEndpoint.ep_new.secret).toBe(storedEndpoint().secret);
      expect(byEndpoint.ep_new.unreadableSecret).toBeUndefined();
      expect(byEndpoint.ep_old.secret).toBe('');
      expect(byEndpoint.ep_old.unreadableSecret).toBeInstanceOf(WebhookEncryptionKeyError);
      expect(byEndpoint.ep_old.unreadableSecret!.keyId).toBe(
        createHash('sha256').update(a).digest('hex').slice(0, 16),
      );
    } finally {
      await store.close();
    }
  });

  it('refuses reencryptSecrets() on the in-memory store, which keeps nothing at rest', async () => {
    const app = await bootDeliveryApp({ providers: [PingWebhook] });
    apps.push(app);
    await expect(app.endpoints.reencryptSecrets()).rejects.toThrow(
      'needs the PostgreSQL store with store.encryptionKey',
    );
  });

  it('refuses a sealed value copied into another endpoint’s row', async () => {
    const key = newKey();
    const app = await boot(key);
    const [victim, other] = [await add(app), await add(app)];
    await db.admin(
      `UPDATE ${db.schema}.endpoints SET secret = (SELECT secret FROM ${db.schema}.endpoints
        WHERE id = $1) WHERE id = $2`,
      [victim.id, other.id],
    );
    const error = await rejection(app.endpoints.get(other.id));
    expect(error).toBeInstanceOf(WebhookEncryptionKeyError);
    expect(error.message).toContain(
      `The secret of endpoint ${other.id}, stored under key id ${keyId(key)}, does not decrypt`,
    );
    expect(error.message).not.toContain(victim.secret.slice(6));
  });
});
