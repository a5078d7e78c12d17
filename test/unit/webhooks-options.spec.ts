import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { AddressPolicy } from '../../lib/endpoints/address-policy.js';
import { MAX_TIMER_DELAY } from '../../lib/delivery/background-timer.js';
import { resolveOptions } from '../../lib/webhooks.options.js';

const KEY_A = randomBytes(32).toString('base64');

const refusal = (options: unknown) => {
  try {
    resolveOptions(options);
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error('expected the options to be refused');
};

describe('resolveOptions', () => {
  it('fills in every default for an empty object', () => {
    expect(resolveOptions({})).toMatchObject({
      timeout: 15_000,
      concurrency: 100,
      endpointConcurrency: 10,
      maxResponseBodyBytes: 65_536,
      maxStoreBytes: 128 * 1024 * 1024,
      transport: 'http',
    });
  });

  it.each([
    ['retryDelay', 'retryDelays'],
    ['timeOut', 'timeout'],
    ['allowedNetwork', 'allowedNetworks'],
    ['Concurrency', 'concurrency'],
    ['endpointConcurency', 'endpointConcurrency'],
    ['maxStoreByte', 'maxStoreBytes'],
  ])('refuses the misspelt %s, suggesting %s', (typo, meant) => {
    const message = refusal({ [typo]: 1 });
    expect(message).toContain(`no option '${typo}'`);
    expect(message).toContain(`did you mean '${meant}'?`);
  });

  it('refuses an unrelated unknown name without a suggestion, listing the known ones', () => {
    const message = refusal({ database: 'x' });
    expect(message).toContain("no option 'database'.");
    expect(message).not.toContain('did you mean');
    expect(message).toContain("'retention'");
  });

  it.each([
    ['concurrency', 1.5, 'a whole number of at least 1'],
    ['concurrency', 0, 'a whole number of at least 1'],
    ['endpointConcurrency', '10', 'a whole number of at least 1'],
    ['maxResponseBodyBytes', 100.5, 'a whole number of bytes'],
    ['maxStoreBytes', 0, 'a whole number of bytes, at least 1'],
    ['timeout', MAX_TIMER_DELAY + 1, `from 1 to ${MAX_TIMER_DELAY}`],
    ['timeout', 0, `from 1 to ${MAX_TIMER_DELAY}`],
    ['timeout', Number.NaN, `from 1 to ${MAX_TIMER_DELAY}`],
    ['shutdownTimeout', 2 ** 32, `from 0 to ${MAX_TIMER_DELAY}`],
    ['retention', -1, 'from 0 to 100 years'],
    ['idempotencyTtl', Infinity, 'from 0 to 100 years'],
    ['secretRotationGracePeriod', 1e20, 'from 0 to 100 years'],
    ['disableEndpointAfter', 10n, 'from 0 to 100 years'],
    ['retryDelays', [5_000, 'soon'], 'an array of milliseconds'],
    ['retryDelays', 5_000, 'an array of milliseconds'],
    ['transport', 'fetch', "'http' or 'undici'"],
    ['allowedNetworks', '127.0.0.0/8', 'an array of CIDR strings'],
  ])('refuses %s: %s, saying it must be %s', (name, value, expected) => {
    const message = refusal({ [name]: value });
    expect(message).toContain(`option '${name}' must be `);
    expect(message).toContain(expected);
  });

  it('shows a refused value without printing objects, and without throwing on a BigInt', () => {
    expect(refusal({ timeout: 10n })).toContain('(got 10n)');
    expect(refusal({ timeout: { ms: 5 } })).toContain('(got an object)');
    expect(refusal({ retryDelays: [1, 'x'] })).toContain('(got [1, "x"])');
  });

  it.each([null, 'fast', [], 42])('refuses %j as the options, saying what to pass', (value) => {
    expect(refusal(value)).toContain('WebhooksModule options must be an object');
  });

  it('refuses undefined too (a forRootAsync factory that forgot to return)', () => {
    expect(refusal(undefined)).toContain('make useFactory return such an object');
  });

  it('accepts the store in its memory and postgres forms, filling in the defaults', () => {
    expect(
      resolveOptions({ store: { type: 'memory' }, queue: { type: 'memory' }, worker: true }),
    ).toMatchObject({ store: { type: 'memory' }, worker: true, sweepInterval: 5000 });
    expect(
      resolveOptions({ store: { type: 'postgres', connectionString: 'postgres://db/app' } }).store,
    ).toEqual({
      type: 'postgres',
      connectionString: 'postgres://db/app',
      schema: 'webhooks',
      migrate: true,
      encryptionKeys: [],
    });
    const pool = { query: () => undefined, connect: () => undefined, on: () => undefined };
    expect(
      resolveOptions({
        store: { type: 'postgres', pool, schema: 'hooks_2', migrate: false },
        worker: false,
      }),
    ).toMatchObject({ store: { pool, schema: 'hooks_2', migrate: false }, worker: false });
  });

  it.each([
    [{ store: { type: 'redis' } }, "option 'store' of type 'redis' is not a store"],
    [{ store: 'postgres' }, "option 'store' set to a string is not a store"],
    [{ store: { type: 'postgres' } }, "needs 'pool' (the app's own pg Pool) or 'connectionString'"],
    [
      { store: { type: 'postgres', pool: {}, connectionString: 'postgres://db' } },
      "has both 'pool' and 'connectionString'",
    ],
    [{ store: { type: 'postgres', pool: {} } }, "'store.pool' must be a pg Pool"],
    [{ store: { type: 'postgres', connectionString: 5 } }, "'store.connectionString' must be"],
    [
      { store: { type: 'postgres', connectionString: '' } },
      "'store.connectionString' must be a non-empty string, e.g. 'postgres://user@host:5432/db' (got an empty string)",
    ],
    [
      { store: { type: 'postgres', connectionString: 'x', schema: 'Web-Hooks' } },
      "'store.schema' must be a lower-case PostgreSQL identifier",
    ],
    [{ store: { type: 'postgres', connectionString: 'x', migrate: 'yes' } }, "'store.migrate'"],
    [
      { store: { type: 'postgres', connectionString: 'x', shema: 'a' } },
      "has no field 'shema'; did you mean 'schema'?",
    ],
    [{ store: { type: 'memory', schema: 'a' } }, "(type 'memory') has no field 'schema'"],
    [
      { store: { type: 'memory', encryptionKey: KEY_A } },
      "(type 'memory') has no field 'encryptionKey'",
    ],
    [
      { store: { type: 'postgres', connectionString: 'x', encryptionKey: 'k' } },
      "'store.encryptionKey' is not padded standard base64. It takes 32 bytes",
    ],
    [
      { store: { type: 'postgres', connectionString: 'x', encryptionKey: [] } },
      "'store.encryptionKey' is an empty list (leave it out to store secrets as given)",
    ],
    [
      {
        store: {
          type: 'postgres',
          connectionString: 'x',
          encryptionKey: [KEY_A, Buffer.alloc(16)],
        },
      },
      "'store.encryptionKey[1]' holds 16 bytes. It takes 32 bytes",
    ],
    [
      { store: { type: 'postgres', connectionString: 'x', encryptionKey: 32 } },
      "'store.encryptionKey' is number",
    ],
    [{ queue: { type: 'bullmq' } }, "'queue' of type 'bullmq' is not available"],
    [{ worker: 'no' }, `'worker' must be true or false (got "no")`],
    [{ worker: false }, "'worker: false' needs a store that worker processes share"],
    [{ sweepInterval: 0 }, "'sweepInterval' must be a number of milliseconds from 10"],
  ])('refuses %j, saying what to give', (options, text) => {
    expect(refusal(options)).toContain(text);
  });

  it('decodes store.encryptionKey, one key or a list of base64 strings and Buffers, newest first', () => {
    const keys = (encryptionKey: unknown) =>
      (
        resolveOptions({ store: { type: 'postgres', connectionString: 'x', encryptionKey } })
          .store as { encryptionKeys: Buffer[] }
      ).encryptionKeys.map((key) => key.toString('base64'));
    const b = randomBytes(32);
    expect(keys(KEY_A)).toEqual([KEY_A]);
    expect(keys([b, KEY_A])).toEqual([b.toString('base64'), KEY_A]);
    expect(keys(new Uint8Array(b))).toEqual([b.toString('base64')]);
  });

  it('never shows an encryption key', () => {
    const short = randomBytes(31).toString('base64');
    const loose = KEY_A.replace(/=+$/, '');
    for (const encryptionKey of [short, loose, [KEY_A, short], [KEY_A, { key: KEY_A }]]) {
      const text = refusal({ store: { type: 'postgres', connectionString: 'x', encryptionKey } });
      expect(text).toContain("'store.encryptionKey");
      expect(text).not.toContain(short);
      expect(text).not.toContain(loose);
    }
  });

  it('takes a pool of one connection, with a worker or not, and queue fields left undefined', () => {
    const pool = { query: () => 1, connect: () => 1, on: () => 1, options: { max: 1 } };
    expect(resolveOptions({ store: { type: 'postgres', pool }, worker: false }).worker).toBe(false);
    // A worker listens on a connection of its own, beside the pool.
    expect(resolveOptions({ store: { type: 'postgres', pool } }).worker).toBe(true);
    expect(() => resolveOptions({ queue: { type: 'memory', prefix: undefined } })).not.toThrow();
  });

  it('never shows a connection string, which may hold a password', () => {
    const secret = 'postgres://app:hunter2@db/app';
    for (const store of [
      { type: 'postgres', connectionString: secret, pool: {} },
      { type: 'postgres', connectionString: secret, schema: '1' },
      { type: 'postgres', connectionString: secret, sceme: 'a' },
      { type: 'postgres', pool: secret },
      { type: 'redis', connectionString: secret },
      secret,
    ]) {
      expect(refusal({ store })).not.toContain('hunter2');
    }
    expect(refusal({ store: secret })).toContain("option 'store' set to a string is not a store");
    expect(refusal({ queue: { type: 'bullmq', connection: secret } })).not.toContain('hunter2');
  });

  it('keeps the values given', () => {
    const resolved = resolveOptions({ timeout: 500, concurrency: 3, retryDelays: [10] });
    expect(resolved).toMatchObject({ timeout: 500, concurrency: 3, retryDelays: [10] });
  });
});

describe('AddressPolicy catch-all entries', () => {
  it.each([
    ['0.0.0.0/0', 'IPv4'],
    ['::/0', 'IPv6'],
    ['::ffff:0:0/96', 'IPv4'],
    [' 0.0.0.0/0 ', 'IPv4'],
  ])('names %j as allowing every %s address', (entry, family) => {
    expect(new AddressPolicy([entry]).catchAll).toEqual([{ entry: entry.trim(), family }]);
  });

  it('names none for ordinary networks', () => {
    expect(new AddressPolicy(['127.0.0.0/8', '10.0.0.0/8', '::1/128']).catchAll).toEqual([]);
  });
});
