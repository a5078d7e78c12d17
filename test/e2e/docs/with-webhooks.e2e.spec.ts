import 'reflect-metadata';
import type { INestApplication } from '@nestjs/common';
import type {
  OpenAPIObject,
  OperationObject,
  ParameterObject,
  RequestBodyObject,
  SchemaObject,
} from '@nestjs/swagger';
import { Ajv2020 } from 'ajv/dist/2020.js';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebhooksModule, withWebhooks } from '../../../lib/index.js';
import { moduleNotImported } from '../../../lib/webhooks.messages.js';
import { ItemsShippedWebhook } from '../../fixtures/docs/items-shipped.webhook.js';
import { LegacyController } from '../../fixtures/docs/legacy.controller.js';
import { OrderUpdatedWebhook } from '../../fixtures/docs/order-events.webhook.js';
import { PaymentsController } from '../../fixtures/docs/payments.controller.js';
import { PlanChangedWebhook } from '../../fixtures/docs/plan-changed.webhook.js';
import { ProfileUpdatedWebhook } from '../../fixtures/docs/profile-updated.webhook.js';
import { providerShapes } from '../../fixtures/docs/provider-shapes.webhooks.js';
import { assertValidOpenApi31, redoclyProblems } from '../../support/openapi-validators.js';
import {
  collectRefs,
  createApp,
  danglingRefs,
  operationIds,
  swaggerDocument,
} from './docs-helpers.js';

const WEBHOOKS = [
  'invoice-paid',
  'items-shipped',
  'order-updated',
  'plan-changed',
  'profile-updated',
  'refund-issued',
];
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });

const bodySchema = (operation: OperationObject | undefined) =>
  (operation?.requestBody as RequestBodyObject | undefined)?.content['application/json']?.schema;

const order = {
  id: 'o-1',
  shippingAddress: { street: '1 Main St', city: 'Paris', country: { code: 'FR' } },
  items: [{ sku: 'A-1', quantity: 2 }],
  status: 'paid',
  priority: 2,
  total: 12.5,
  createdAt: '2024-05-01T10:00:00.000Z',
};

/** Validates `value` against a schema of `document`, resolving its `#/components` references. */
function accepts(document: OpenAPIObject, schemaName: string, value: unknown): boolean {
  const ajv = new Ajv2020({ strict: false, validateFormats: false, allErrors: true });
  const validate = ajv.compile({ ...ref(schemaName), components: document.components });
  return validate(value);
}

describe('withWebhooks on an app with nested DTOs, several methods and provider shapes', () => {
  let app: INestApplication;
  let input: OpenAPIObject;
  let beforeInit: OpenAPIObject;
  let document: OpenAPIObject;
  let schemas: Record<string, SchemaObject>;

  beforeAll(async () => {
    app = await createApp({
      imports: [WebhooksModule.forRoot()],
      controllers: [LegacyController],
      providers: [
        OrderUpdatedWebhook,
        ItemsShippedWebhook,
        PlanChangedWebhook,
        ProfileUpdatedWebhook,
        ...providerShapes,
      ],
    });
    beforeInit = withWebhooks(app, swaggerDocument(app));
    await app.init();
    input = swaggerDocument(app);
    document = withWebhooks(app, input);
    schemas = document.components!.schemas as Record<string, SchemaObject>;
  });

  afterAll(async () => {
    await app?.close();
  });

  it('documents every declared webhook, and only under webhooks', () => {
    expect(Object.keys(document.webhooks!).sort()).toEqual(WEBHOOKS);
    expect(Object.keys(document.paths)).toEqual(['/legacy']);
  });

  it('documents POST and PUT of one webhook name with distinct operationIds', () => {
    const item = document.webhooks!['order-updated']!;
    expect(Object.keys(item).sort()).toEqual(['post', 'put']);
    expect(item.post).toMatchObject({
      summary: 'Order Updated',
      description: 'An order changed; the body is the whole order.',
      operationId: 'order_updatedorder_updated_post',
    });
    expect(item.put).toMatchObject({
      summary: 'Order Replaced',
      description: 'An order was replaced; the body is the new order.',
      operationId: 'order_replacedorder_updated_put',
    });
    expect(bodySchema(item.post)).toEqual(ref('Order'));
    expect(bodySchema(item.put)).toEqual(ref('Order'));
    const ids = operationIds(document);
    expect(ids).toHaveLength(new Set(ids).size);
    expect(ids).toHaveLength(1 + 8);
  });

  it('suffixes a default operationId already taken by a route, and shares the route’s DTO schema', () => {
    expect(document.paths['/legacy']!.post!.operationId).toBe(
      'profile_updatedprofile_updated_post',
    );
    const operation = document.webhooks!['profile-updated']!.post;
    expect(operation?.operationId).toBe('profile_updatedprofile_updated_post_2');
    expect(bodySchema(operation)).toEqual(ref('LegacyProfile'));
    expect(bodySchema(document.paths['/legacy']!.post)).toEqual(ref('LegacyProfile'));
  });

  it('documents the Standard Webhooks headers on every webhook operation', () => {
    for (const item of Object.values(document.webhooks!)) {
      for (const operation of Object.values(item) as OperationObject[]) {
        const parameters = operation.parameters as ParameterObject[];
        expect(parameters.map((p) => [p.name, p.in, p.required])).toEqual([
          ['webhook-id', 'header', true],
          ['webhook-timestamp', 'header', true],
          ['webhook-signature', 'header', true],
        ]);
        expect(Object.keys(operation.responses).sort()).toEqual(['2XX', '410', 'default']);
      }
    }
  });

  it('puts every nested DTO and named enum under components.schemas', () => {
    expect(Object.keys(schemas)).toEqual(
      expect.arrayContaining(['Order', 'Address', 'Country', 'LineItem', 'OrderStatus']),
    );
    expect(schemas).not.toHaveProperty('Priority');
    expect(danglingRefs(document)).toEqual([]);

    const properties = schemas.Order!.properties as Record<string, SchemaObject>;
    expect(properties.shippingAddress).toEqual(ref('Address'));
    expect(schemas.Address!.properties!.country).toEqual(ref('Country'));
    expect(properties.items).toEqual({ type: 'array', items: ref('LineItem') });
    expect(collectRefs(properties.status)).toEqual([ref('OrderStatus').$ref]);
    expect(schemas.OrderStatus).toEqual({ type: 'string', enum: ['pending', 'paid', 'shipped'] });
    expect(properties.priority).toEqual({ type: 'number', enum: [1, 2] });
    expect(properties.createdAt).toEqual({ type: 'string', format: 'date-time' });
    expect(properties.total).toEqual({ type: 'number', exclusiveMinimum: 0 });
    expect(collectRefs(properties.billingAddress)).toEqual([ref('Address').$ref]);
    expect(schemas.Order!.required).not.toContain('billingAddress');
    expect(schemas.Country!.properties!.code).toEqual({ type: 'string', examples: ['FR'] });
  });

  it('is valid OpenAPI 3.1 for both validators', async () => {
    await assertValidOpenApi31(document);
  });

  it('publishes schemas that accept what the DTOs accept, a null nullable included', () => {
    expect(accepts(document, 'Order', order)).toBe(true);
    expect(accepts(document, 'Order', { ...order, billingAddress: null })).toBe(true);
    expect(accepts(document, 'Order', { ...order, billingAddress: order.shippingAddress })).toBe(
      true,
    );
    expect(accepts(document, 'Order', { ...order, billingAddress: { street: 'x' } })).toBe(false);
    expect(accepts(document, 'Order', { ...order, total: 0 })).toBe(false);
    expect(accepts(document, 'Order', { ...order, status: 'lost' })).toBe(false);
    expect(accepts(document, 'Order', { ...order, shippingAddress: null })).toBe(false);
  });

  it('documents options.body [Dto] as an array of references', () => {
    const operation = document.webhooks!['items-shipped']!.post!;
    expect(bodySchema(operation)).toEqual({ type: 'array', items: ref('LineItem') });
    expect((operation.requestBody as RequestBodyObject).required).toBe(true);
  });

  it('documents webhooks declared by useValue and useFactory providers', () => {
    expect(bodySchema(document.webhooks!['invoice-paid']!.post)).toEqual(ref('Invoice'));
    expect(bodySchema(document.webhooks!['refund-issued']!.post)).toEqual(ref('Refund'));
    expect(schemas.Refund!.properties!.invoice).toEqual(ref('Invoice'));
  });

  it('takes tags, deprecated, summary, description and operationId from class and method', () => {
    const item = document.webhooks!['plan-changed']!;
    expect(item.post).toMatchObject({
      summary: 'A plan was changed',
      description: 'Sent when a customer switches plans.',
      operationId: 'notifyPlanChanged',
      tags: ['billing', 'plans'],
      deprecated: true,
    });
    expect(item.delete).toMatchObject({
      summary: 'Plan Cancelled',
      description: 'Something happened to a plan.',
      operationId: 'plan_cancelledplan_changed_delete',
      tags: ['billing'],
    });
    expect(item.delete).not.toHaveProperty('deprecated');
    expect(document.webhooks!['order-updated']!.post).not.toHaveProperty('tags');
  });

  it('gives the same document before and after app.init()', () => {
    expect(beforeInit).toStrictEqual(document);
  });

  it('gives the same output when called twice, and leaves its input untouched', () => {
    const fresh = swaggerDocument(app);
    const snapshot = structuredClone(fresh);
    const first = withWebhooks(app, fresh);
    const second = withWebhooks(app, fresh);
    expect(JSON.stringify(second)).toBe(JSON.stringify(first));
    expect(fresh).toStrictEqual(snapshot);
    expect(fresh).not.toHaveProperty('webhooks');
    expect(fresh.openapi).toBe('3.0.0');
  });

  it('changes nothing when given its own output', () => {
    expect(withWebhooks(app, document)).toStrictEqual(document);
  });

  it('turns a 3.0 input whose controller DTO is nullable into valid 3.1', async () => {
    expect(input.openapi).toBe('3.0.0');
    // The input itself would not pass as 3.1: the conversion is what makes it valid.
    expect(await redoclyProblems({ ...input, openapi: '3.1.0' })).toEqual(
      expect.arrayContaining([expect.stringMatching(/LegacyProfile\/properties\/\w+\/nullable/)]),
    );
    const properties = schemas.LegacyProfile!.properties as Record<string, SchemaObject>;
    expect(properties.nickname).toEqual({ type: ['string', 'null'] });
    expect(properties.tier).toEqual({ type: ['string', 'null'], enum: ['free', 'pro', null] });
    expect(properties.aliases).toEqual({ type: ['array', 'null'], items: { type: 'string' } });
    expect(properties.score).toEqual({ type: 'number', exclusiveMaximum: 100, examples: [42] });
    expect(JSON.stringify(document)).not.toMatch(/"nullable"|"example"/);
    expect(
      accepts(document, 'LegacyProfile', {
        nickname: null,
        home: null,
        tier: null,
        aliases: null,
        score: 99.5,
      }),
    ).toBe(true);
    expect(
      accepts(document, 'LegacyProfile', {
        nickname: 'x',
        home: null,
        tier: 'gold',
        aliases: [],
        score: 100,
      }),
    ).toBe(false);
    await assertValidOpenApi31(document);
  });

  it.each([
    ['post', '/order-updated'],
    ['put', '/order-updated'],
    ['post', '/items-shipped'],
    ['post', '/invoice-paid'],
    ['post', '/refund-issued'],
    ['post', '/plan-changed'],
    ['delete', '/plan-changed'],
    ['post', '/webhooks/order-updated'],
  ] as const)('exposes no route for a webhook: %s %s is 404', async (method, path) => {
    await request(app.getHttpServer())[method](path).send(order).expect(404);
  });

  it('still serves the controller route (the 404s above are not a dead server)', async () => {
    const profile = { nickname: null, home: null, tier: 'pro', aliases: [], score: 1 };
    const response = await request(app.getHttpServer()).post('/legacy').send(profile).expect(201);
    expect(response.body).toEqual(profile);
  });
});

describe('withWebhooks next to @nestjs/swagger’s own @ApiWebhook', () => {
  let app: INestApplication;
  let document: OpenAPIObject;

  beforeAll(async () => {
    app = await createApp({
      imports: [WebhooksModule.forRoot()],
      controllers: [PaymentsController],
      providers: [OrderUpdatedWebhook],
    });
    await app.init();
    // @ApiWebhook lands under `webhooks` only when the document asks for 3.1.
    document = withWebhooks(app, swaggerDocument(app, '3.1.0'));
  });

  afterAll(async () => {
    await app?.close();
  });

  it('keeps swagger’s webhook beside ours', () => {
    expect(Object.keys(document.webhooks!).sort()).toEqual(['order-updated', 'payment-received']);
    expect(document.webhooks!['payment-received']!.post).toMatchObject({
      operationId: 'PaymentsController_paymentReceived',
    });
    expect(bodySchema(document.webhooks!['payment-received']!.post)).toEqual(ref('Payment'));
    expect(bodySchema(document.webhooks!['order-updated']!.post)).toEqual(ref('Order'));
    expect(danglingRefs(document)).toEqual([]);
  });

  it('fixes the boolean exclusiveMinimum swagger leaves in its 3.1 output', async () => {
    const amount = (document.components!.schemas!.Payment as SchemaObject).properties!.amount;
    expect(amount).toEqual({ type: 'number', exclusiveMinimum: 0 });
    await assertValidOpenApi31(document);
  });
});

describe('withWebhooks without WebhooksModule', () => {
  it('says the module is missing and how to add it', async () => {
    const app = await createApp({ controllers: [LegacyController] });
    await app.init();
    try {
      expect(() => withWebhooks(app, swaggerDocument(app))).toThrow(moduleNotImported());
      expect(moduleNotImported()).toMatch(/WebhooksModule\.forRoot\(\)/);
    } finally {
      await app.close();
    }
  });
});
