import { randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import { Webhook, WebhookVerificationError } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { WebhookSigner } from '../../lib/delivery/webhook-signer.js';
import { generateSecret, parseSecret } from '../../lib/endpoints/endpoint-secret.js';

const nowSeconds = () => Math.floor(Date.now() / 1000);
const body = JSON.stringify({ username: 'ada', monthly_fee: 12.5, start_date: '2024-01-01' });
const id = 'msg_2KWPBgLlAfxdpx2AI54pPJ85f4W';

describe('webhook signer', () => {
  it('produces headers that the reference standardwebhooks package verifies', () => {
    const secret = generateSecret();
    const headers = new WebhookSigner([secret]).headers(id, nowSeconds(), body);

    expect(Object.keys(headers).sort()).toEqual([
      'webhook-id',
      'webhook-signature',
      'webhook-timestamp',
    ]);
    expect(headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]{43}=$/);
    expect(new Webhook(secret).verify(body, { ...headers })).toEqual(JSON.parse(body));
  });

  it('matches the Standard Webhooks reference vector', () => {
    const signature = new WebhookSigner(['whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw']).sign(
      'msg_p5jXN8AQM9LWM0D4loKWxJek',
      1614265330,
      '{"test": 2432232314}',
    );
    expect(signature).toBe('v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=');
  });

  it('signs once per secret during rotation, and each secret alone verifies', () => {
    const oldSecret = generateSecret();
    const newSecret = generateSecret();
    const headers = new WebhookSigner([newSecret, oldSecret]).headers(id, nowSeconds(), body);

    expect(headers['webhook-signature'].split(' ')).toHaveLength(2);
    expect(headers['webhook-signature']).toMatch(/^v1,\S+ v1,\S+$/);
    expect(new Webhook(oldSecret).verify(body, { ...headers })).toEqual(JSON.parse(body));
    expect(new Webhook(newSecret).verify(body, { ...headers })).toEqual(JSON.parse(body));
    expect(() => new Webhook(generateSecret()).verify(body, { ...headers })).toThrow(
      WebhookVerificationError,
    );
  });

  it('fails verification when the body, id or timestamp is tampered with', () => {
    const secret = generateSecret();
    const timestamp = nowSeconds();
    const headers = new WebhookSigner([secret]).headers(id, timestamp, body);
    const receiver = new Webhook(secret);

    expect(() => receiver.verify(body.replace('12.5', '1.25'), { ...headers })).toThrow(
      WebhookVerificationError,
    );
    expect(() => receiver.verify(body, { ...headers, 'webhook-id': 'msg_other' })).toThrow(
      WebhookVerificationError,
    );
    expect(() =>
      receiver.verify(body, { ...headers, 'webhook-timestamp': String(timestamp - 1) }),
    ).toThrow(WebhookVerificationError);
  });

  it('signs non-ASCII bodies as UTF-8, as receivers do', () => {
    const secret = generateSecret();
    const unicode = JSON.stringify({ username: 'Zoë 🚀', note: 'naïve — ok' });
    const headers = new WebhookSigner([secret]).headers(id, nowSeconds(), unicode);
    expect(new Webhook(secret).verify(Buffer.from(unicode), { ...headers })).toEqual(
      JSON.parse(unicode),
    );
  });

  it('accepts decoded key bytes and signs the same as with the secret string', () => {
    const secret = generateSecret();
    const timestamp = nowSeconds();
    expect(new WebhookSigner([parseSecret(secret)]).sign(id, timestamp, body)).toBe(
      new WebhookSigner([secret]).sign(id, timestamp, body),
    );
  });

  it('refuses to sign without a secret or with a timestamp receivers cannot parse', () => {
    expect(() => new WebhookSigner([]).sign(id, nowSeconds(), body)).toThrow(/at least one/);
    const signer = new WebhookSigner([generateSecret()]);
    for (const timestamp of [Date.now() / 1000, -1, Number.NaN, Infinity]) {
      expect(() => signer.sign(id, timestamp, body)).toThrow(/non-negative integer/);
    }
    expect(() => new WebhookSigner([randomBytes(16)]).sign(id, nowSeconds(), body)).toThrow(
      /16 bytes/,
    );
  });

  it('does not print its keys when logged', () => {
    const secret = generateSecret();
    const printed = inspect(new WebhookSigner([secret]), { depth: 10, showHidden: true });
    expect(printed).not.toContain(secret.slice('whsec_'.length, 20));
  });
});

describe('generateSecret', () => {
  it("is 'whsec_' and the base64 of 32 random bytes", () => {
    const secret = generateSecret();
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(parseSecret(secret)).toHaveLength(32);
    expect(Buffer.from(secret.slice(6), 'base64')).toHaveLength(32);
  });

  it('never repeats', () => {
    const secrets = new Set(Array.from({ length: 1000 }, generateSecret));
    expect(secrets.size).toBe(1000);
  });
});

describe('parseSecret', () => {
  const encode = (bytes: number) => `whsec_${randomBytes(bytes).toString('base64')}`;

  it('decodes secrets of 24 to 64 bytes', () => {
    expect(parseSecret(encode(24))).toHaveLength(24);
    expect(parseSecret(encode(64))).toHaveLength(64);
    const key = randomBytes(32);
    expect(parseSecret(`whsec_${key.toString('base64')}`).equals(key)).toBe(true);
  });

  const malformed: [string, string, RegExp][] = [
    ['without the prefix', randomBytes(32).toString('base64'), /does not start with 'whsec_'/],
    ['with another prefix', `whsk_${randomBytes(32).toString('base64')}`, /'whsec_'/],
    ['that is empty', 'whsec_', /0 bytes/],
    ['too short', encode(23), /23 bytes/],
    ['too long', encode(65), /65 bytes/],
    ['in url-safe base64', 'whsec_' + 'ab-_'.repeat(8), /standard base64/],
    ['with whitespace', `whsec_${randomBytes(32).toString('base64').slice(0, 20)} abc=`, /base64/],
    ['without padding', encode(32).replace(/=+$/, ''), /padded standard base64/],
    ['with garbage', 'whsec_not*a*secret!!', /standard base64/],
  ];

  it.each(malformed)('rejects a secret %s, without quoting it', (_, secret, reason) => {
    let error: unknown;
    try {
      parseSecret(secret);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(Error);
    const { message } = error as Error;
    expect(message).toMatch(reason);
    expect(message).toMatch(/^Webhook secret is malformed/);
    const encoded = secret.replace(/^whsec_/, '');
    if (encoded.length >= 4) {
      expect(message).not.toContain(encoded);
      expect(message).not.toContain(encoded.slice(0, 8));
    }
  });

  it('rejects a non-string without printing it', () => {
    const key = randomBytes(32);
    expect(() => parseSecret(key as unknown as string)).toThrow(/expected a string, got object/);
  });
});
