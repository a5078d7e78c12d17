import 'reflect-metadata';
import { createHmac, randomBytes } from 'node:crypto';
import { Controller, Post } from '@nestjs/common';
import { Webhook as StandardWebhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import {
  MemoryWebhookDedupeStore,
  signWebhook,
  VerifyWebhook,
  WebhookArgumentError,
} from '../../lib/index.js';
import {
  readWebhookHeaders,
  verifyWebhook,
  type WebhookRequestHeaders,
} from '../../lib/receiving/webhook-verifier.js';

const SECRET = `whsec_${randomBytes(32).toString('base64')}`;

describe('@VerifyWebhook() options', () => {
  it.each([
    [{ secret: SECRET, secrets: [SECRET] }, 'give one of secret, secrets and resolveSecrets'],
    [{ secret: undefined }, 'secret is undefined (is its environment variable set?)'],
    [{ secret: 'hunter2' }, "secret: Webhook secret is malformed: it does not start with 'whsec_'"],
    [{ secrets: [] }, "secrets must be a non-empty list of 'whsec_…' strings"],
    [{ secrets: [SECRET, 'whsec_abc'] }, 'secrets[1]: Webhook secret is malformed'],
    [{ resolveSecrets: 'acme' }, 'resolveSecrets must be a function'],
    [{ secret: SECRET, tolerance: 0 }, 'tolerance must be a positive number of seconds (got 0)'],
    [{ secret: SECRET, dedupeTtl: -5 }, 'dedupeTtl must be a positive number of seconds (got -5)'],
    [{ secret: SECRET, dedupe: new Map() }, 'dedupe must be false, or a store with claim()'],
    [{ secret: SECRET, toleranceSeconds: 5 }, "there is no option 'toleranceSeconds'"],
  ])('refuses %j at decoration, saying what to fix', (options, text) => {
    expect(() => VerifyWebhook(options as never)).toThrow(text);
  });

  it('never shows a secret in its errors', () => {
    const almost = `whsec_${randomBytes(20).toString('base64')}`;
    expect(() => VerifyWebhook({ secret: almost })).toThrow('decodes to 20 bytes');
    try {
      VerifyWebhook({ secrets: [SECRET, almost] });
    } catch (error) {
      expect((error as Error).message).not.toContain(almost.slice(6));
    }
  });

  it('refuses a controller with no secret whose routes have none either, at startup', () => {
    const define = () => {
      @Controller('hooks')
      @VerifyWebhook({ tolerance: 60 })
      class HooksController {
        @Post('a')
        @VerifyWebhook({ secret: SECRET })
        a() {}

        @Post('b')
        b() {}

        helper() {}
      }
      return HooksController;
    };
    expect(define).toThrow(
      '@VerifyWebhook(): HooksController is given no secret, secrets or resolveSecrets, and ' +
        'neither are its routes b;',
    );
  });
});

describe('the verifier', () => {
  const body = Buffer.from('{"a":1}');
  const key = Buffer.from(SECRET.slice(6), 'base64');
  const at = (timestamp: number) =>
    readWebhookHeaders(
      signWebhook(SECRET, body.toString(), { id: 'msg_x', timestamp }),
    ) as WebhookRequestHeaders;

  it('takes a timestamp within the tolerance to the millisecond, and not one after', () => {
    const ts = 1_800_000_000;
    expect(verifyWebhook(body, at(ts), [key], 300, ts * 1000 + 300_000)).toMatchObject({
      headers: { id: 'msg_x' },
    });
    expect(verifyWebhook(body, at(ts), [key], 300, ts * 1000 + 300_001)).toMatchObject({
      status: 401,
    });
    expect(verifyWebhook(body, at(ts), [key], 300, ts * 1000 - 300_001)).toMatchObject({
      status: 401,
    });
  });

  it('says which keys signed, in the order of the list, and only those', () => {
    const other = randomBytes(32);
    const stranger = randomBytes(32);
    const ts = Math.floor(Date.now() / 1000);
    const signers = (keys: Buffer[], headers: WebhookRequestHeaders) => {
      const verified = verifyWebhook(body, headers, keys, 300, Date.now());
      return 'signers' in verified ? verified.signers : verified;
    };
    expect(signers([stranger, other, key], at(ts))).toEqual([key]);
    // Signed with both, as a sender rotating its secret signs.
    const both = at(ts);
    const otherSignature = createHmac('sha256', other).update(`msg_x.${ts}.`).update(body).digest();
    both.signatures.push(otherSignature);
    expect(signers([key, stranger, other], both)).toEqual([key, other]);
    expect(signers([other, key], both)).toEqual([other, key]);
  });
});

describe('signWebhook()', () => {
  it('signs as the reference package verifies, with the id and timestamp given', () => {
    const body = '{"a":1}';
    const at = new Date('2026-12-02T10:00:00Z');
    const headers = signWebhook(SECRET, body, { id: 'msg_x', timestamp: at });
    expect(headers['webhook-id']).toBe('msg_x');
    expect(headers['webhook-timestamp']).toBe(String(at.getTime() / 1000));
    expect(signWebhook(SECRET, body, { id: 'msg_x', timestamp: at.getTime() / 1000 })).toEqual(
      headers,
    );
    expect(new StandardWebhook(SECRET).sign('msg_x', at, body)).toBe(headers['webhook-signature']);
    expect(signWebhook(SECRET, body)['webhook-id']).toMatch(/^msg_/);
  });

  it.each([
    [[SECRET, { a: 1 }], 'signWebhook(): body must be a string (got an object)'],
    [[SECRET, '{}', { id: '' }], 'signWebhook(): options.id must be a non-empty string'],
    [[SECRET, '{}', { when: 1 }], "signWebhook(): options has no field 'when'"],
    [['secret', '{}'], "Webhook secret is malformed: it does not start with 'whsec_'"],
    [[SECRET, '{}', { timestamp: 1.5 }], 'Webhook timestamp must be a non-negative integer'],
  ])('refuses %j with a clear error', (args, text) => {
    expect(() => (signWebhook as (...a: unknown[]) => unknown)(...args)).toThrow(text);
  });

  it('throws WebhookArgumentError for arguments of the wrong type', () => {
    expect(() => signWebhook(SECRET, 1 as never)).toThrow(WebhookArgumentError);
  });
});

describe('MemoryWebhookDedupeStore', () => {
  it('marks an id once, reports its mark, forgets it when released or expired', async () => {
    const store = new MemoryWebhookDedupeStore();
    expect(await store.claim('a', 1_000)).toBe('new');
    expect(await store.claim('a', 1_000)).toBe('processing');
    await store.complete('a', 1_000);
    expect(await store.claim('a', 1_000)).toBe('done');
    await store.release('a');
    expect(await store.claim('a', 1_000)).toBe('new');
    expect(await store.claim('b', 1)).toBe('new');
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(await store.claim('b', 1_000)).toBe('new');
  });

  it('forgets expired marks as it goes, so its size stays bounded', async () => {
    const store = new MemoryWebhookDedupeStore();
    for (let i = 0; i < 1_500; i++) await store.claim(`x${i}`, 1);
    await new Promise((resolve) => setTimeout(resolve, 5));
    for (let i = 0; i < 1_000; i++) await store.claim(`y${i}`, 60_000);
    expect(store.size).toBeLessThan(1_600);
  });
});
