import 'reflect-metadata';
import { createHmac, randomBytes } from 'node:crypto';
import { Webhook as StandardWebhook } from 'standardwebhooks';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { signWebhook } from '../../../lib/index.js';
import {
  postWebhook,
  SECRET_A,
  SECRET_B,
  startReceiverApp,
  TENANT_SECRETS,
  type ReceiverApp,
} from '../../fixtures/receiving/receiver-app.js';

// @VerifyWebhook on real Nest apps, Express and Fastify alike, over real HTTP on 127.0.0.1:
// hand-made requests (signWebhook, the reference `standardwebhooks` package, and raw HMACs),
// every way a request can be wrong, and deduplication by webhook-id.

const EVENT = { username: 'rick', monthly_fee: 9.99 };
const BODY = JSON.stringify(EVENT);
const now = () => Math.floor(Date.now() / 1000);

/** `v1,<base64>` of the Standard Webhooks signed content under `secret`. */
function v1(secret: string, id: string, timestamp: number, body: string) {
  const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
  return `v1,${createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64')}`;
}

describe.each(['express', 'fastify'] as const)('@VerifyWebhook on %s', (adapter) => {
  let receiver: ReceiverApp;
  const post = (path: string, headers: Record<string, string>, body: string = BODY) =>
    postWebhook(`${receiver.url}${path}`, headers, body);
  const handledOn = (route: string) => receiver.handled.filter((h) => h.route === route);

  beforeAll(async () => {
    receiver = await startReceiverApp({ adapter });
  });
  beforeEach(() => {
    receiver.handled.length = 0;
  });
  afterAll(async () => {
    await receiver.close();
  });

  it('lets a request signed by signWebhook through, with its DTO validated and its headers', async () => {
    const timestamp = new Date(Date.now() - 5_000);
    const headers = signWebhook(SECRET_A, BODY, { id: 'msg_1', timestamp });
    expect(await post('/hooks/single', headers)).toMatchObject({ status: 204 });
    expect(handledOn('single')).toEqual([
      {
        route: 'single',
        event: EVENT,
        webhook: {
          id: 'msg_1',
          timestamp: new Date(Math.floor(timestamp.getTime() / 1000) * 1000),
        },
      },
    ]);
  });

  it('accepts what the reference standardwebhooks package signs, and it verifies signWebhook', async () => {
    const id = `msg_${randomBytes(6).toString('hex')}`;
    const date = new Date();
    const reference = new StandardWebhook(SECRET_A);
    const headers = {
      'webhook-id': id,
      'webhook-timestamp': String(Math.floor(date.getTime() / 1000)),
      'webhook-signature': reference.sign(id, date, BODY),
    };
    expect((await post('/hooks/single', headers)).status).toBe(204);
    expect(reference.verify(BODY, signWebhook(SECRET_A, BODY, { id: 'msg_2' }))).toEqual(EVENT);
    expect(reference.verify(BODY, signWebhook(SECRET_A, BODY))).toEqual(EVENT);
  });

  it('runs the ValidationPipe after verifying: a verified body that fails the DTO is a 400 of the pipe', async () => {
    const body = JSON.stringify({ username: 'rick', monthly_fee: 'free' });
    const answer = await post('/hooks/single', signWebhook(SECRET_A, body), body);
    expect(answer.status).toBe(400);
    expect(JSON.stringify(answer.body)).toContain('monthly_fee must be a number');
    expect(handledOn('single')).toEqual([]);
  });

  type Alter = (headers: Record<string, string>) => [Record<string, string>, string];
  it.each<[string, Alter]>([
    ['the body', (h) => [h, BODY.replace('9.99', '0.99')]],
    ['the id', (h) => [{ ...h, 'webhook-id': `${h['webhook-id']}x` }, BODY]],
    [
      'the timestamp',
      (h) => [{ ...h, 'webhook-timestamp': String(Number(h['webhook-timestamp']) - 1) }, BODY],
    ],
    // A proxy that parses and serializes the JSON again: same data, other bytes.
    ['the body re-serialized', (h) => [h, JSON.stringify(JSON.parse(BODY), null, 1)]],
  ])('refuses %s altered with 401, and never says what was expected', async (_, alter) => {
    const headers = signWebhook(SECRET_A, BODY);
    const [sent, body] = alter(headers);
    const answer = await post('/hooks/single', sent, body);
    expect(answer.status).toBe(401);
    expect(answer.body).toMatchObject({ statusCode: 401, error: 'Unauthorized' });
    expect(answer.body!.message).toContain('No signature of the webhook-signature header matches');
    const text = JSON.stringify(answer.body);
    expect(text).not.toContain(SECRET_A.slice(6));
    expect(text).not.toContain(
      v1(SECRET_A, sent['webhook-id'], Number(sent['webhook-timestamp']), body).slice(3),
    );
    expect(handledOn('single')).toEqual([]);
  });

  it.each([
    // A second may pass between signing and arriving.
    [-301, /30[12] s in the past, beyond the 300 s this receiver tolerates/],
    [301, /30[01] s in the future, beyond the 300 s/],
  ])('refuses a timestamp %i s away with 401', async (offset, text) => {
    const headers = signWebhook(SECRET_A, BODY, { timestamp: now() + offset });
    const answer = await post('/hooks/single', headers);
    expect(answer.status).toBe(401);
    expect(answer.body!.message).toMatch(text);
  });

  it('takes a route’s tolerance over its controller’s, and the controller’s secret', async () => {
    const headers = signWebhook(SECRET_B, BODY, { timestamp: now() - 100 });
    expect((await post('/controller/default', headers)).status).toBe(204);
    const strict = await post('/controller/strict', headers);
    expect(strict.status).toBe(401);
    expect(strict.body!.message).toContain('beyond the 60 s');
    expect((await post('/controller/strict', signWebhook(SECRET_B, BODY))).status).toBe(204);
    expect((await post('/controller/default', signWebhook(SECRET_A, BODY))).status).toBe(401);
  });

  it('passes when any of several signatures matches, and skips signatures of other versions', async () => {
    const id = 'msg_several';
    const ts = now();
    const good = v1(SECRET_A, id, ts, BODY);
    const other = v1(SECRET_B, id, ts, BODY);
    const headers = (signature: string) => ({
      'webhook-id': id,
      'webhook-timestamp': String(ts),
      'webhook-signature': signature,
    });
    expect((await post('/hooks/single', headers(`${other} ${good}`))).status).toBe(204);
    receiver.handled.length = 0;
    const v2 = `v2,${randomBytes(32).toString('base64')}`;
    expect((await post('/hooks/rotating', headers(`${v2} ${good}`))).status).toBe(201);
    const only = await post('/hooks/single', headers(v2));
    expect(only.status).toBe(401);
    expect(only.body!.message).toContain('has no v1 signature');
  });

  it('verifies with any of its secrets while rotating, and refuses others', async () => {
    expect((await post('/hooks/rotating', signWebhook(SECRET_A, BODY))).status).toBe(201);
    expect((await post('/hooks/rotating', signWebhook(SECRET_B, BODY))).status).toBe(201);
    const stranger = `whsec_${randomBytes(32).toString('base64')}`;
    expect((await post('/hooks/rotating', signWebhook(stranger, BODY))).status).toBe(401);
    expect(handledOn('rotating')).toHaveLength(2);
  });

  it('dedupes a message across a rotation of its secret: old key, then both, then the new one', async () => {
    const id = `msg_${randomBytes(4).toString('hex')}`;
    const signed = (...secrets: string[]) => {
      const ts = now();
      return {
        'webhook-id': id,
        'webhook-timestamp': String(ts),
        'webhook-signature': secrets.map((secret) => v1(secret, id, ts, BODY)).join(' '),
      };
    };
    // The route lists the new secret first; the first attempt was signed before the rotation.
    expect((await post('/hooks/rotating', signed(SECRET_A))).status).toBe(201);
    expect(await post('/hooks/rotating', signed(SECRET_B, SECRET_A))).toMatchObject({
      status: 200,
      body: { duplicate: true, id },
    });
    // Once the sender has dropped the old secret.
    expect((await post('/hooks/rotating', signed(SECRET_B))).status).toBe(200);
    expect(handledOn('rotating')).toHaveLength(1);
  });

  it('resolves the secrets per request (a secret per tenant)', async () => {
    expect((await post('/hooks/tenants/acme', signWebhook(TENANT_SECRETS.acme, BODY))).status).toBe(
      204,
    );
    expect(
      (await post('/hooks/tenants/acme', signWebhook(TENANT_SECRETS.globex, BODY))).status,
    ).toBe(401);
    const unknown = await post('/hooks/tenants/initech', signWebhook(TENANT_SECRETS.acme, BODY));
    expect(unknown.status).toBe(401);
    expect(unknown.body!.message).toContain('no secret for the request');
    expect(handledOn('tenant:acme')).toHaveLength(1);
  });

  it.each([
    [{ 'webhook-id': undefined }, 'it has no webhook-id header'],
    [
      { 'webhook-timestamp': undefined, 'webhook-signature': undefined },
      'no webhook-timestamp or webhook-signature header',
    ],
    [{ 'webhook-timestamp': '12.5' }, 'The webhook-timestamp header is malformed'],
    [{ 'webhook-timestamp': 'yesterday' }, 'The webhook-timestamp header is malformed'],
    [{ 'webhook-signature': 'v1' }, 'The webhook-signature header is malformed'],
    [{ 'webhook-id': 'msg 1' }, 'The webhook-id header is malformed'],
  ])('refuses missing or malformed headers %j with 400', async (change, text) => {
    const headers: Record<string, string> = { ...signWebhook(SECRET_A, BODY) };
    for (const [name, value] of Object.entries(change)) {
      if (value === undefined) delete headers[name];
      else headers[name] = value;
    }
    const answer = await post('/hooks/single', headers);
    expect(answer.status).toBe(400);
    expect(answer.body!.message).toContain(text);
  });

  it('answers a repeat of a handled webhook-id 200 without running the handler', async () => {
    const headers = signWebhook(SECRET_A, BODY);
    expect((await post('/hooks/single', headers)).status).toBe(204);
    const repeat = await post('/hooks/single', headers);
    expect(repeat).toMatchObject({
      status: 200,
      body: { duplicate: true, id: headers['webhook-id'] },
    });
    // Signed again, as a retry is: still the same message.
    const retry = signWebhook(SECRET_A, BODY, { id: headers['webhook-id'] });
    expect((await post('/hooks/single', retry)).status).toBe(200);
    expect(handledOn('single')).toHaveLength(1);
  });

  it('runs the handler once for 50 concurrent repeats; those that come while it runs get 409', async () => {
    const headers = signWebhook(SECRET_A, BODY);
    const answers = Promise.all(Array.from({ length: 50 }, () => post('/hooks/slow', headers)));
    await expect.poll(() => handledOn('slow').length, { timeout: 10_000 }).toBe(1);
    receiver.gate.open();
    const counts: Record<number, number> = {};
    for (const { status } of await answers) counts[status] = (counts[status] ?? 0) + 1;
    // One ran; the others came while it ran (409), or after it had finished (200).
    expect(counts[204]).toBe(1);
    expect(Object.keys(counts).filter((status) => !['200', '204', '409'].includes(status))).toEqual(
      [],
    );
    const conflict = (await answers).find((answer) => answer.status === 409);
    expect(conflict?.headers.get('retry-after')).toBe('1');
    expect(conflict?.body!.message).toContain('is being handled by an earlier request');
    expect((await post('/hooks/slow', headers)).status).toBe(200);
    expect(handledOn('slow')).toHaveLength(1);
  });

  it('runs a retry again when the handler failed', async () => {
    receiver.failures.left = 1;
    const headers = signWebhook(SECRET_A, BODY);
    expect((await post('/hooks/flaky', headers)).status).toBe(500);
    expect((await post('/hooks/flaky', headers)).status).toBe(204);
    expect((await post('/hooks/flaky', headers)).status).toBe(200);
    expect(handledOn('flaky')).toHaveLength(2);
  });

  it('never lets an unverified request mark its webhook-id as seen', async () => {
    const headers = signWebhook(SECRET_A, BODY);
    const forged = {
      ...headers,
      'webhook-signature': v1(
        SECRET_B,
        headers['webhook-id'],
        Number(headers['webhook-timestamp']),
        BODY,
      ),
    };
    expect((await post('/hooks/single', forged)).status).toBe(401);
    expect((await post('/hooks/single', headers)).status).toBe(204);
    expect(handledOn('single')).toHaveLength(1);
  });

  it('keeps the secrets of controllers that inherit one handler apart', async () => {
    expect((await post('/inherited-a', signWebhook(SECRET_A, BODY))).status).toBe(204);
    expect((await post('/inherited-b', signWebhook(SECRET_A, BODY))).status).toBe(401);
    expect((await post('/inherited-b', signWebhook(SECRET_B, BODY))).status).toBe(204);
    expect((await post('/inherited-a', signWebhook(SECRET_B, BODY))).status).toBe(401);
    expect(receiver.handled.map((h) => h.route)).toEqual(['InheritedA', 'InheritedB']);
  });

  it('answers a repeat on a route whose handler sends its own response (@Res())', async () => {
    const headers = signWebhook(SECRET_A, BODY);
    expect((await post('/edges/own-response', headers)).status).toBe(204);
    expect(await post('/edges/own-response', headers)).toMatchObject({
      status: 200,
      body: { duplicate: true, id: headers['webhook-id'] },
    });
    expect(handledOn('own-response')).toHaveLength(1);
  });

  it('keeps the ids of senders with secrets of their own apart (a secret per tenant)', async () => {
    const id = `evt_${randomBytes(4).toString('hex')}`;
    const acme = signWebhook(TENANT_SECRETS.acme, BODY, { id });
    const globex = signWebhook(TENANT_SECRETS.globex, BODY, { id });
    expect((await post('/hooks/tenants/acme', acme)).status).toBe(204);
    expect((await post('/hooks/tenants/globex', globex)).status).toBe(204);
    expect((await post('/hooks/tenants/globex', globex)).status).toBe(200);
    expect(receiver.handled.map((h) => h.route)).toEqual(['tenant:acme', 'tenant:globex']);
  });

  it('refuses a replay at the very edge of the window, and a retry signed anew after it runs again', async () => {
    // Signed 299 to 299.5 s ago, near the edge of the 300 s window: its mark lasts past the
    // window. Early in a second, so that both requests arrive within it: a timestamp is whole
    // seconds, and one signed late in a second would be 299.99 s old, stale 10 ms later.
    const fraction = Date.now() % 1000;
    if (fraction > 500) await new Promise((resolve) => setTimeout(resolve, 1000 - fraction));
    const edge = signWebhook(SECRET_A, BODY, { timestamp: now() - 299 });
    expect((await post('/hooks/single', edge)).status).toBe(204);
    expect((await post('/hooks/single', edge)).status).toBe(200);
    // A retry is signed anew: with dedupeTtl, it is still a repeat long after the window.
    const id = `msg_${randomBytes(4).toString('hex')}`;
    expect(
      (
        await post(
          '/edges/remembering',
          signWebhook(SECRET_A, BODY, { id, timestamp: now() - 299 }),
        )
      ).status,
    ).toBe(204);
    expect((await post('/edges/remembering', signWebhook(SECRET_A, BODY, { id }))).status).toBe(
      200,
    );
    expect(handledOn('remembering')).toHaveLength(1);
  });

  it('answers a body that is not JSON with 415', async () => {
    const body = 'username=rick';
    const answer = await fetch(`${receiver.url}/hooks/single`, {
      method: 'POST',
      headers: { ...signWebhook(SECRET_A, body), 'content-type': 'text/plain' },
      body,
    });
    expect(answer.status).toBe(415);
    expect(handledOn('single')).toEqual([]);
  });
});
