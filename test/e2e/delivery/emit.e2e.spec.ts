import 'reflect-metadata';
import type { ValidationError } from 'class-validator';
import { readFileSync } from 'node:fs';
import { inspect } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  UnknownWebhookError,
  WebhookPayloadValidationError,
  type EmitResult,
  type WebhookEndpoint,
  type WebhooksModuleOptions,
} from '../../../lib/index.js';
import { undocumentedWebhookBody } from '../../../lib/webhooks.messages.js';
import {
  AccountUpdatedWebhook,
  AuditEntryWebhook,
  accountRecord,
  accountWireBody,
} from '../../fixtures/delivery/account.webhook.js';
import { customerEntity, customerWireBody } from '../../fixtures/delivery/customer.entity.js';
import {
  CustomerGraphWebhook,
  customerNode,
  linkedCustomerEntity,
  linkedCustomerRecord,
} from '../../fixtures/delivery/graph.webhook.js';
import {
  CustomerCreatedWebhook,
  NotAWebhook,
  UnregisteredWebhook,
  deliveryWebhooks,
} from '../../fixtures/delivery/delivery.webhooks.js';
import {
  bootDeliveryApp,
  publishedBodyValidator,
  settledDeliveries,
  verifyWithStandardWebhooks,
  receivedMessage,
  waitUntil,
  type DeliveryApp,
  LOOPBACK_TEST_OPTIONS,
  rejection,
} from '../../support/delivery-app.js';
import { startReceiver, type ReceivedRequest, type Receiver } from '../../support/receiver.js';
import { CaptureLogger } from '../../fixtures/retry/capture-logger.js';

/** A payload that passes every rule of `CustomerDto`, as an application would build it. */
function validCustomer(id = 'cus_1') {
  return {
    id,
    email: 'ada@example.com',
    age: 36,
    address: { city: 'London', country: 'GB' },
    orders: [{ sku: 'engine-1', quantity: 2, shippedAt: new Date('2026-03-04T05:06:07.089Z') }],
    createdAt: new Date('2026-01-02T03:04:05.000Z'),
  };
}

describe('WebhookEmitter.emit', () => {
  let ctx: DeliveryApp;
  let receiver: Receiver;

  const boot = async (options: WebhooksModuleOptions = {}) => {
    ctx = await bootDeliveryApp({
      options: { ...LOOPBACK_TEST_OPTIONS, ...options },
      providers: deliveryWebhooks,
    });
  };

  const subscribe = (events: string[], path = '/hooks', tenant?: string) =>
    ctx.endpoints.add({ url: `${receiver.url}${path}`, events, tenant });

  /** The requests that carried message `id`, once they have arrived. */
  const received = (id: string, count = 1) => receivedMessage(receiver, id, count);

  beforeEach(async () => {
    receiver = await startReceiver();
  });

  afterEach(async () => {
    await ctx?.close();
    await receiver.close();
  });

  describe('payload validation', () => {
    beforeEach(() => boot());

    it('rejects a payload that breaks the DTO rules, carrying the class-validator errors', async () => {
      await subscribe(['customer-created']);
      const error = await rejection(
        ctx.emitter.emit('customer-created', {
          ...validCustomer(),
          email: 'not-an-email',
          age: -1,
        }),
      );

      expect(error).toBeInstanceOf(WebhookPayloadValidationError);
      const failure = error as WebhookPayloadValidationError;
      expect(failure.event).toBe('customer-created');
      const byProperty = Object.fromEntries(
        failure.errors.map((item) => [item.property, Object.keys(item.constraints ?? {})]),
      );
      expect(byProperty).toEqual({ email: ['isEmail'], age: ['min'] });
      expect(failure.message).toContain('email');
      expect(failure.message).toContain('age');
    });

    it('names nested properties and array items in the message', async () => {
      const payload = validCustomer();
      payload.address.city = '';
      payload.orders.push({ sku: 'x', quantity: 0, shippedAt: new Date() });
      const error = (await rejection(
        ctx.emitter.emit('customer-created', payload),
      )) as WebhookPayloadValidationError;

      expect(error).toBeInstanceOf(WebhookPayloadValidationError);
      expect(error.errors.map((item) => item.property).sort()).toEqual(['address', 'orders']);
      expect(error.message).toContain('address.city');
      expect(error.message).toContain('orders.1.quantity');
    });

    it('stores nothing and sends nothing for an invalid payload', async () => {
      await subscribe(['customer-created']);
      await rejection(ctx.emitter.emit('customer-created', { ...validCustomer(), age: 'old' }));
      await rejection(ctx.emitter.emit('customer-created', 'not even an object'));

      expect(await ctx.deliveries.list()).toEqual([]);
      // A valid message emitted afterwards is the only one the receiver ever gets.
      const valid = await ctx.emitter.emit('customer-created', validCustomer());
      await received(valid.id);
      await settledDeliveries(ctx.deliveries, valid.id);
      expect(receiver.requests.map((request) => request.headers['webhook-id'])).toEqual([valid.id]);
      expect((await ctx.deliveries.list()).map((delivery) => delivery.messageId)).toEqual([
        valid.id,
      ]);
    });

    it.each([
      ['a string', 'hello'],
      ['a number', 42],
      ['null', null],
      ['undefined', undefined],
      ['an array', [validCustomer()]],
    ])('rejects %s where an object is declared', async (_label, payload) => {
      const error = (await rejection(
        ctx.emitter.emit('customer-created', payload),
      )) as WebhookPayloadValidationError;

      expect(error).toBeInstanceOf(WebhookPayloadValidationError);
      expect(error.errors).toHaveLength(1);
      expect(error.errors[0].property).toBe('payload');
      expect(Object.keys(error.errors[0].constraints ?? {})).toEqual(['isObject']);
      expect(error.message).toContain('CustomerDto');
      expect(await ctx.deliveries.list()).toEqual([]);
    });

    it('rejects a non-array payload, and a non-object item, where an array is declared', async () => {
      const notArray = (await rejection(
        ctx.emitter.emit('customers-imported', validCustomer()),
      )) as WebhookPayloadValidationError;
      expect(notArray).toBeInstanceOf(WebhookPayloadValidationError);
      expect(Object.keys(notArray.errors[0].constraints ?? {})).toEqual(['isArray']);

      const badItem = (await rejection(
        ctx.emitter.emit('customers-imported', [validCustomer(), 'not a customer']),
      )) as WebhookPayloadValidationError;
      expect(badItem).toBeInstanceOf(WebhookPayloadValidationError);
      expect(badItem.errors[0].property).toBe('1');

      const invalidItem = (await rejection(
        ctx.emitter.emit('customers-imported', [validCustomer(), { ...validCustomer(), age: -5 }]),
      )) as WebhookPayloadValidationError;
      expect(invalidItem).toBeInstanceOf(WebhookPayloadValidationError);
      expect(invalidItem.errors.map((item) => item.property)).toEqual(['1']);
      expect(invalidItem.message).toContain('1.age');
      expect(await ctx.deliveries.list()).toEqual([]);
    });
  });

  describe('choosing the webhook and operation', () => {
    beforeEach(() => boot());

    it.each([
      ['an undeclared name', 'no-such-event'],
      ['a class that is not a webhook', NotAWebhook],
      ['a @Webhook class that is not a provider of the app', UnregisteredWebhook],
    ])('rejects %s with UnknownWebhookError', async (_label, event) => {
      await subscribe(['ping']);
      const error = await rejection(ctx.emitter.emit(event, { message: 'hi', sequence: 1 }));

      expect(error).toBeInstanceOf(UnknownWebhookError);
      const message = (error as Error).message;
      expect(message).toContain(typeof event === 'string' ? event : event.name);
      // The message lists what is declared, so the user can spot the typo.
      expect(message).toContain("'customer-created'");
      expect(await ctx.deliveries.list()).toEqual([]);
    });

    it('emits by the decorated class', async () => {
      await subscribe(['customer-created']);
      const result = await ctx.emitter.emit(CustomerCreatedWebhook, validCustomer());

      expect(result).toMatchObject({ event: 'customer-created', endpoints: 1 });
      const [request] = await received(result.id);
      expect(JSON.parse(request.body)).toMatchObject({ id: 'cus_1' });
    });

    it('requires `method` when the webhook declares POST and PUT, and sends the one asked for', async () => {
      await subscribe(['customer-synced']);
      const error = await rejection(ctx.emitter.emit('customer-synced', validCustomer()));
      expect(error).toBeInstanceOf(Error);
      expect((error as Error).message).toMatch(/customer-synced.*POST, PUT.*method/s);
      const undeclared = await rejection(
        ctx.emitter.emit('customer-synced', validCustomer(), { method: 'patch' }),
      );
      expect((undeclared as Error).message).toContain('PATCH');
      expect(await ctx.deliveries.list()).toEqual([]);

      const put = await ctx.emitter.emit('customer-synced', validCustomer('cus_put'), {
        method: 'put',
      });
      const post = await ctx.emitter.emit('customer-synced', validCustomer('cus_post'), {
        method: 'post',
      });
      const [putRequest] = await received(put.id);
      const [postRequest] = await received(post.id);
      expect(putRequest.method).toBe('PUT');
      expect(JSON.parse(putRequest.body).id).toBe('cus_put');
      expect(postRequest.method).toBe('POST');
      expect(JSON.parse(postRequest.body).id).toBe('cus_post');
      expect(
        publishedBodyValidator(ctx.app, 'customer-synced', { method: 'put' })(
          JSON.parse(putRequest.body),
        ),
      ).toBe(true);
    });
  });

  describe('serialization', () => {
    beforeEach(() => boot());

    it('sends only what the DTO declares: no password hash, nested and array items stripped, dates as ISO strings', async () => {
      const endpoint = await subscribe(['customer-created']);
      const entity = customerEntity();
      const result = await ctx.emitter.emit('customer-created', entity);

      const [request] = await received(result.id);
      expect(JSON.parse(request.body)).toEqual(customerWireBody());
      for (const leaked of [
        'passwordHash',
        'SECRET-HASH',
        'geoHash',
        'costPrice',
        'internalNotes',
      ]) {
        expect(request.body).not.toContain(leaked);
      }
      // The stored message is what was sent, and the caller's entity is left alone.
      const message = await ctx.deliveries.getMessage(result.id);
      expect(message?.body).toBe(request.body);
      expect(entity.passwordHash).toContain('SECRET-HASH');
      expect(entity.createdAt).toBeInstanceOf(Date);
      expect(verifyWithStandardWebhooks(endpoint.secret, request)).toEqual(customerWireBody());
    });

    it('sends a body that validates against the schema withWebhooks publishes', async () => {
      await subscribe(['customer-created']);
      const result = await ctx.emitter.emit('customer-created', {
        ...customerEntity(),
        nickname: 'Countess',
      });
      const [request] = await received(result.id);
      const validate = publishedBodyValidator(ctx.app, 'customer-created', { closed: true });
      const body: unknown = JSON.parse(request.body);

      expect(validate(body), JSON.stringify(validate.errors)).toBe(true);
      expect(body).toMatchObject({ nickname: 'Countess' });
      // The closed schema does catch a leaked field, so the check above means something.
      expect(validate({ ...(body as object), passwordHash: 'x' })).toBe(false);
    });

    it('sends an array body (`body: [Dto]`) item by item stripped, valid against its schema', async () => {
      await subscribe(['customers-imported']);
      const result = await ctx.emitter.emit('customers-imported', [
        customerEntity('cus_1'),
        customerEntity('cus_2'),
      ]);
      const [request] = await received(result.id);
      const body: unknown = JSON.parse(request.body);

      expect(body).toEqual([customerWireBody('cus_1'), customerWireBody('cus_2')]);
      const validate = publishedBodyValidator(ctx.app, 'customers-imported', { closed: true });
      expect(validate(body), JSON.stringify(validate.errors)).toBe(true);
      expect(request.body).not.toContain('passwordHash');
    });

    it('sends an empty array for an empty array payload', async () => {
      await subscribe(['customers-imported']);
      const result = await ctx.emitter.emit('customers-imported', []);
      const [request] = await received(result.id);
      expect(request.body).toBe('[]');
    });
  });

  describe('only documented properties', () => {
    beforeEach(async () => {
      ctx = await bootDeliveryApp({
        options: LOOPBACK_TEST_OPTIONS,
        providers: [...deliveryWebhooks, AccountUpdatedWebhook],
      });
    });

    it('sends neither an @ApiHideProperty nor a validated-only property, nested ones included', async () => {
      const endpoint = await subscribe(['account-updated']);
      const result = await ctx.emitter.emit('account-updated', accountRecord());
      const [request] = await received(result.id);

      expect(JSON.parse(request.body)).toEqual(accountWireBody());
      for (const leaked of ['passwordHash', 'SECRET-HASH', 'internalNote', 'INTERNAL-NOTE']) {
        expect(request.body).not.toContain(leaked);
      }
      expect(verifyWithStandardWebhooks(endpoint.secret, request)).toEqual(accountWireBody());
      const validate = publishedBodyValidator(ctx.app, 'account-updated', { closed: true });
      expect(validate(JSON.parse(request.body)), JSON.stringify(validate.errors)).toBe(true);
    });

    it('still validates the undocumented properties it does not send', async () => {
      const error = await rejection(
        ctx.emitter.emit('account-updated', { ...accountRecord(), internalNote: 42 }),
      );
      expect(error).toBeInstanceOf(WebhookPayloadValidationError);
      expect((error as WebhookPayloadValidationError).errors.map((item) => item.property)).toEqual([
        'internalNote',
      ]);
    });

    it('keeps the payload out of validation errors: no target, no whole payload as value', async () => {
      const invalid = (await rejection(
        ctx.emitter.emit('account-updated', {
          ...accountRecord(),
          email: 'not-an-email',
          profile: { displayName: 7, internalNote: 'PROFILE-INTERNAL-NOTE' },
        }),
      )) as WebhookPayloadValidationError;
      expect(invalid).toBeInstanceOf(WebhookPayloadValidationError);
      expect(invalid.errors.map((item) => item.property).sort()).toEqual(['email', 'profile']);
      const everyError = (errors: typeof invalid.errors): typeof invalid.errors =>
        errors.flatMap((item) => [item, ...everyError(item.children ?? [])]);
      for (const item of everyError(invalid.errors)) expect(item.target).toBeUndefined();
      expect(JSON.stringify(invalid.errors)).not.toContain('SECRET-HASH');

      // An object where an array is declared: the root error names the problem, not the payload.
      const notArray = (await rejection(
        ctx.emitter.emit('customers-imported', { ...customerEntity() }),
      )) as WebhookPayloadValidationError;
      expect(notArray).toBeInstanceOf(WebhookPayloadValidationError);
      expect(notArray.errors[0]).not.toHaveProperty('value');
      expect(JSON.stringify(notArray.errors)).not.toContain('SECRET-HASH');
      expect(notArray.message).not.toContain('SECRET-HASH');
    });
  });

  describe('payloads as ORMs load them: cycles and what the DTO leaves out', () => {
    beforeEach(async () => {
      ctx = await bootDeliveryApp({
        options: LOOPBACK_TEST_OPTIONS,
        providers: [...deliveryWebhooks, CustomerGraphWebhook],
      });
    });

    it('sends an entity whose undeclared relations point back at it, as instances and as plain objects', async () => {
      const endpoint = await subscribe(['customer-created', 'customers-imported']);
      const entity = linkedCustomerEntity('cus_entity');
      const fromEntity = await ctx.emitter.emit('customer-created', entity);
      const fromRecord = await ctx.emitter.emit(
        'customer-created',
        linkedCustomerRecord('cus_record'),
      );
      const batch = await ctx.emitter.emit('customers-imported', [
        linkedCustomerEntity('cus_1'),
        linkedCustomerRecord('cus_2'),
      ]);

      const [entityRequest] = await received(fromEntity.id);
      const [recordRequest] = await received(fromRecord.id);
      const [batchRequest] = await received(batch.id);
      expect(verifyWithStandardWebhooks(endpoint.secret, entityRequest)).toEqual(
        customerWireBody('cus_entity'),
      );
      expect(JSON.parse(recordRequest.body)).toEqual(customerWireBody('cus_record'));
      expect(JSON.parse(batchRequest.body)).toEqual([
        customerWireBody('cus_1'),
        customerWireBody('cus_2'),
      ]);
      // The caller's graph is left as it was.
      expect(entity.orders[0]).toHaveProperty('customer', entity);
    });

    it('refuses a cycle through documented properties, naming its path: nothing stored, nothing sent', async () => {
      await subscribe(['customer-graph']);
      const error = (await rejection(
        ctx.emitter.emit('customer-graph', customerNode()),
      )) as WebhookPayloadValidationError;

      expect(error).toBeInstanceOf(WebhookPayloadValidationError);
      expect(error.message).toContain(
        "Payload of webhook 'customer-graph' failed validation, nothing was sent: " +
          'orders.0.customer refers back to an enclosing object (the payload itself)',
      );
      expect(await ctx.deliveries.list()).toEqual([]);
      // A valid message emitted afterwards is the only one the receiver ever gets.
      const valid = await ctx.emitter.emit('customer-graph', {
        id: 'cus_ok',
        orders: [{ sku: 'engine-1' }],
      });
      const [request] = await received(valid.id);
      await settledDeliveries(ctx.deliveries, valid.id);
      expect(JSON.parse(request.body)).toEqual({ id: 'cus_ok', orders: [{ sku: 'engine-1' }] });
      expect(receiver.requests.map((item) => item.headers['webhook-id'])).toEqual([valid.id]);
    });

    it('keeps every value out of validation errors, at every depth: nested DTOs and array items', async () => {
      const apiKey = 'sk_live_E2E-SECRET-API-KEY';
      const payload = {
        ...validCustomer(),
        apiKey,
        email: 'not-an-email',
        address: { city: '', country: 'GB', apiKey },
        orders: [{ sku: 'x', quantity: 0, shippedAt: new Date(), apiKey }],
      };
      const everyError = (errors: ValidationError[]): ValidationError[] =>
        errors.flatMap((item) => [item, ...everyError(item.children ?? [])]);

      for (const [event, body, at] of [
        ['customer-created', payload, ''],
        ['customers-imported', [validCustomer(), payload], '1.'],
      ] as const) {
        const error = (await rejection(
          ctx.emitter.emit(event, body),
        )) as WebhookPayloadValidationError;

        expect(error).toBeInstanceOf(WebhookPayloadValidationError);
        for (const item of everyError(error.errors)) {
          expect(item.value).toBeUndefined();
          expect(item.target).toBeUndefined();
        }
        expect(JSON.stringify(error)).not.toContain(apiKey);
        expect(inspect(error, { depth: null })).not.toContain(apiKey);
        expect(error.message).not.toContain(apiKey);
        expect(error.message).toContain(`${at}address.city`);
        expect(error.message).toContain(`${at}orders.0.quantity`);
      }
      expect(await ctx.deliveries.list()).toEqual([]);
    });
  });

  describe('a body DTO that documents nothing', () => {
    it('is reported at bootstrap, once, naming the DTO, the webhook and the fix', async () => {
      const logger = new CaptureLogger();
      ctx = await bootDeliveryApp({
        options: LOOPBACK_TEST_OPTIONS,
        providers: [...deliveryWebhooks, AuditEntryWebhook],
        logger,
      });
      await ctx.emitter.emit('ping', { message: 'first use', sequence: 1 });

      const warning = undocumentedWebhookBody(
        'AuditEntryDto',
        'audit-entry',
        'AuditEntryWebhook.auditEntry()',
      );
      expect(logger.at('warn')).toContainEqual({
        level: 'warn',
        message: warning,
        context: 'Webhooks',
      });
      // The documented bodies of the other webhooks are not reported.
      const undocumented = logger.at('warn').filter((line) => /Dto\b/.test(line.message));
      expect(undocumented.map((line) => line.message)).toEqual([warning]);
      expect(warning).toContain('@ApiProperty()');
      expect(warning).toContain('CLI plugin');
    });
  });

  describe('tenants', () => {
    beforeEach(() => boot());

    it('reaches only the endpoints of the tenant emitted for (none: only tenant-less ones)', async () => {
      const acme = await subscribe(['ping'], '/acme', 'acme');
      const globex = await subscribe(['ping'], '/globex', 'globex');
      const shared = await subscribe(['ping'], '/none');
      const byPath = (id: string) =>
        receiver.requests
          .filter((request) => request.headers['webhook-id'] === id)
          .map((request) => request.url);

      const untenanted = await ctx.emitter.emit('ping', { message: 'all', sequence: 1 });
      const forAcme = await ctx.emitter.emit(
        'ping',
        { message: 'acme', sequence: 2 },
        { tenant: 'acme' },
      );
      const forNobody = await ctx.emitter.emit(
        'ping',
        { message: 'initech', sequence: 3 },
        { tenant: 'initech' },
      );

      expect(untenanted.endpoints).toBe(1);
      expect(forAcme.endpoints).toBe(1);
      expect(forNobody.endpoints).toBe(0);
      const untenantedLog = await settledDeliveries(ctx.deliveries, untenanted.id);
      const acmeLog = await settledDeliveries(ctx.deliveries, forAcme.id);
      expect(untenantedLog.map((delivery) => [delivery.endpointId, delivery.tenant])).toEqual([
        [shared.id, null],
      ]);
      expect(acmeLog.map((delivery) => [delivery.endpointId, delivery.tenant])).toEqual([
        [acme.id, 'acme'],
      ]);
      expect(byPath(untenanted.id)).toEqual(['/none']);
      expect(byPath(forAcme.id)).toEqual(['/acme']);
      expect(byPath(forNobody.id)).toEqual([]);
      expect(await ctx.deliveries.list({ endpointId: globex.id })).toEqual([]);
      expect(receiver.requests.some((request) => request.url === '/globex')).toBe(false);
    });
  });

  describe('idempotency', () => {
    it('returns the first message for a repeated key and sends nothing new', async () => {
      await boot();
      await subscribe(['ping']);
      const first = await ctx.emitter.emit(
        'ping',
        { message: 'once', sequence: 1 },
        { idempotencyKey: 'order-42' },
      );
      await received(first.id);
      await settledDeliveries(ctx.deliveries, first.id);
      const again = await ctx.emitter.emit(
        'ping',
        { message: 'twice', sequence: 2 },
        { idempotencyKey: 'order-42' },
      );

      expect(again).toEqual<EmitResult>(first);
      expect(await ctx.deliveries.list()).toHaveLength(1);
      // A later message arrives alone: the repeat queued nothing before it.
      const later = await ctx.emitter.emit('ping', { message: 'later', sequence: 3 });
      await received(later.id);
      await settledDeliveries(ctx.deliveries, later.id);
      expect(receiver.requests.map((request) => request.headers['webhook-id'])).toEqual([
        first.id,
        later.id,
      ]);
      expect(JSON.parse(receiver.requests[0].body)).toEqual({ message: 'once', sequence: 1 });
    });

    it('keeps keys apart per tenant', async () => {
      await boot();
      await subscribe(['ping'], '/none');
      await subscribe(['ping'], '/acme', 'acme');
      const untenanted = await ctx.emitter.emit(
        'ping',
        { message: 'a', sequence: 1 },
        { idempotencyKey: 'same-key' },
      );
      const acme = await ctx.emitter.emit(
        'ping',
        { message: 'b', sequence: 2 },
        { idempotencyKey: 'same-key', tenant: 'acme' },
      );

      expect(acme.id).not.toBe(untenanted.id);
      expect(acme.endpoints).toBe(1);
      const [toNone] = await received(untenanted.id);
      const [toAcme] = await received(acme.id);
      expect(toNone.url).toBe('/none');
      expect(toAcme.url).toBe('/acme');
    });

    it('makes a new message once the key is older than idempotencyTtl', async () => {
      await boot({ idempotencyTtl: 50 });
      await subscribe(['ping']);
      const first = await ctx.emitter.emit(
        'ping',
        { message: 'a', sequence: 1 },
        { idempotencyKey: 'k' },
      );
      const createdAt = (await ctx.deliveries.getMessage(first.id))!.createdAt.getTime();
      await waitUntil(() => Date.now() > createdAt + 60, 'the idempotency TTL to pass');
      const second = await ctx.emitter.emit(
        'ping',
        { message: 'b', sequence: 2 },
        { idempotencyKey: 'k' },
      );

      expect(second.id).not.toBe(first.id);
      expect(second.endpoints).toBe(1);
      const [request] = await received(second.id);
      expect(JSON.parse(request.body)).toEqual({ message: 'b', sequence: 2 });
      await received(first.id);
    });

    it('still deduplicates when retention is shorter than idempotencyTtl', async () => {
      await boot({ retention: 0 });
      const first = await ctx.emitter.emit(
        'ping',
        { message: 'a', sequence: 1 },
        { idempotencyKey: 'k' },
      );
      // With no endpoint the message is finished at once, and pruned on the next run (every
      // second for this retention); its key stays behind.
      await waitUntil(
        async () => !(await ctx.deliveries.getMessage(first.id)),
        'the message to be pruned',
        { timeoutMs: 5_000 },
      );
      const again = await ctx.emitter.emit(
        'ping',
        { message: 'b', sequence: 2 },
        { idempotencyKey: 'k' },
      );
      expect(again).toEqual<EmitResult>(first);
    });
  });

  describe.each(['http', 'undici'] as const)('on the wire (transport: %s)', (transport) => {
    let endpoint: WebhookEndpoint;
    let result: EmitResult;
    let request: ReceivedRequest;

    beforeEach(async () => {
      await boot({ transport });
      endpoint = await subscribe(['customer-created'], '/wire');
      result = await ctx.emitter.emit('customer-created', customerEntity());
      [request] = await received(result.id);
    });

    it('sends the serialized body, as POST, to the endpoint URL', () => {
      expect(request.method).toBe('POST');
      expect(request.url).toBe('/wire');
      expect(JSON.parse(request.body)).toEqual(customerWireBody());
      const validate = publishedBodyValidator(ctx.app, 'customer-created', { closed: true });
      expect(validate(JSON.parse(request.body)), JSON.stringify(validate.errors)).toBe(true);
    });

    it('carries webhook-id = the emit result id, and a signature standardwebhooks accepts', () => {
      expect(result).toMatchObject({ event: 'customer-created', endpoints: 1 });
      expect(request.headers['webhook-id']).toBe(result.id);
      expect(verifyWithStandardWebhooks(endpoint.secret, request)).toEqual(customerWireBody());
      const timestamp = Number(request.headers['webhook-timestamp']);
      expect(Number.isInteger(timestamp)).toBe(true);
      expect(Math.abs(timestamp - Date.now() / 1000)).toBeLessThan(300);
      expect(String(request.headers['webhook-signature'])).toMatch(/^v1,[A-Za-z0-9+/]+={0,2}$/);
    });

    it('is refused by standardwebhooks with another secret or a tampered body', async () => {
      const other = await ctx.endpoints.add({ url: `${receiver.url}/other`, events: ['ping'] });
      expect(() => verifyWithStandardWebhooks(other.secret, request)).toThrow();
      const tampered = { ...request, body: request.body.replace('London', 'Paris') };
      expect(tampered.body).not.toBe(request.body);
      expect(() => verifyWithStandardWebhooks(endpoint.secret, tampered)).toThrow();
    });

    it('sends content-type application/json and a user-agent naming the library', () => {
      expect(request.headers['content-type']).toMatch(/^application\/json\b/);
      // The version is the package's own, read at runtime.
      const { version } = JSON.parse(
        readFileSync(new URL('../../../package.json', import.meta.url), 'utf8'),
      ) as { version: string };
      expect(request.headers['user-agent']).toBe(
        `nestjs-webhooks/${version} (+https://www.standardwebhooks.com)`,
      );
    });

    it('records the delivery as delivered with one 2xx attempt', async () => {
      const [log] = await settledDeliveries(ctx.deliveries, result.id);
      expect(log).toMatchObject({ status: 'delivered', endpointId: endpoint.id, attempts: 1 });
      expect(log.attemptLog).toHaveLength(1);
      expect(log.attemptLog[0]).toMatchObject({
        statusCode: 204,
        error: null,
        outcome: 'delivered',
      });
    });
  });
});
