import 'reflect-metadata';
import { readFileSync } from 'node:fs';
import type { INestApplication } from '@nestjs/common';
import type { OpenAPIObject, OperationObject, ParameterObject } from '@nestjs/swagger';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withWebhooks } from '../../../lib/index.js';
import { AppModule } from '../../../sample/app.module.js';
import { setupDocs } from '../../../sample/setup-docs.js';
import { assertValidOpenApi31 } from '../../support/openapi-validators.js';
import { createApp, danglingRefs, swaggerDocument } from './docs-helpers.js';

type Json = Record<string, unknown>;

// What FastAPI 0.115 (pydantic 2) serves at /openapi.json for the seed's code.
const fastapi = JSON.parse(
  readFileSync(new URL('../../fixtures/docs/fastapi-seed-openapi.json', import.meta.url), 'utf8'),
) as Json & {
  webhooks: Record<string, Record<string, Json>>;
  components: { schemas: Record<string, Json> };
};

/** Drops pydantic's `title` annotations, keeping properties that happen to be named `title`. */
function withoutTitles(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(withoutTitles);
  if (typeof schema !== 'object' || schema === null) return schema;
  return Object.fromEntries(
    Object.entries(schema)
      .filter(([key, value]) => !(key === 'title' && typeof value === 'string'))
      .map(([key, value]) => [
        key,
        key === 'properties' && typeof value === 'object' && value !== null
          ? Object.fromEntries(Object.entries(value).map(([n, s]) => [n, withoutTitles(s)]))
          : withoutTitles(value),
      ]),
  );
}

const without = (object: Json, ...keys: string[]) =>
  Object.fromEntries(Object.entries(object).filter(([key]) => !keys.includes(key)));

const STANDARD_WEBHOOKS_HEADERS = ['webhook-id', 'webhook-timestamp', 'webhook-signature'];

describe('the seed app: parity with FastAPI', () => {
  let app: INestApplication;
  let document: OpenAPIObject;
  let operation: OperationObject;

  beforeAll(async () => {
    app = await createApp({ imports: [AppModule] });
    // As sample/main.ts does: the docs are set up before the app initializes.
    setupDocs(app);
    await app.init();
    // As sample/setup-docs.ts builds it.
    document = withWebhooks(app, swaggerDocument(app));
    operation = document.webhooks!['new-subscription']!.post!;
  });

  afterAll(async () => {
    await app?.close();
  });

  it('declares OpenAPI 3.1.0', () => {
    expect(document.openapi).toBe('3.1.0');
  });

  it('documents new-subscription as FastAPI does, minus its responses and plus our headers', () => {
    const ours = without(operation as unknown as Json, 'responses', 'parameters');
    const theirs = without(fastapi.webhooks['new-subscription']!.post!, 'responses');
    expect(ours).toEqual(theirs);
    expect(Object.keys(document.webhooks!['new-subscription']!)).toEqual(['post']);
  });

  it('gives Subscription the schema pydantic gives it, minus the titles', () => {
    expect(document.components?.schemas?.Subscription).toEqual(
      withoutTitles(fastapi.components.schemas.Subscription),
    );
  });

  it('replaces FastAPI’s responses with what the sender does, without a 422', () => {
    const responses = operation.responses as Record<string, { description?: unknown }>;
    expect(Object.keys(responses).sort()).toEqual(['2XX', '410', 'default']);
    expect(responses).not.toHaveProperty('422');
    expect(responses).not.toHaveProperty('200');
    for (const response of Object.values(responses)) {
      expect(response.description).toEqual(expect.stringMatching(/\w{3,}/));
    }
  });

  it('documents the Standard Webhooks headers as required header parameters', () => {
    const parameters = operation.parameters as ParameterObject[];
    expect(parameters.map((parameter) => parameter.name)).toEqual(STANDARD_WEBHOOKS_HEADERS);
    for (const parameter of parameters) {
      expect(parameter).toMatchObject({ in: 'header', required: true });
      expect(parameter.description).toEqual(expect.stringMatching(/\w+ \w+ \w+/));
      expect(parameter.schema).toBeDefined();
    }
    const signature = parameters.find((parameter) => parameter.name === 'webhook-signature');
    expect(signature?.description).toMatch(/HMAC-SHA256/);
  });

  it('is valid OpenAPI 3.1 with every reference resolvable, as is the FastAPI fixture', async () => {
    expect(danglingRefs(document)).toEqual([]);
    await assertValidOpenApi31(document);
    await assertValidOpenApi31(fastapi);
  });

  it('answers GET /users/ with ["Rick", "Morty"]', async () => {
    const response = await request(app.getHttpServer()).get('/users/').expect(200);
    expect(response.body).toEqual(['Rick', 'Morty']);
  });

  it.each(['/new-subscription', '/webhooks/new-subscription', '/newSubscription'])(
    'exposes no route for the webhook: POST %s is 404',
    async (path) => {
      await request(app.getHttpServer()).post(path).send({ username: 'Rick' }).expect(404);
    },
  );

  it('documents no webhook under paths', () => {
    const paths = Object.keys(document.paths);
    expect(paths).toContain('/users');
    expect(paths.filter((path) => /new-subscription|newSubscription/.test(path))).toEqual([]);
  });

  it('serves the same document, webhook included, at /docs-json', async () => {
    const response = await request(app.getHttpServer()).get('/docs-json').expect(200);
    expect(response.body.openapi).toBe('3.1.0');
    expect(response.body.webhooks['new-subscription'].post.operationId).toBe(
      'new_subscriptionnew_subscription_post',
    );
    expect(response.body.webhooks).toEqual(document.webhooks);
    expect(response.body.components.schemas).toEqual(document.components?.schemas);
  });
});
