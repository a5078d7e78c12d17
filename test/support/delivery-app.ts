import 'reflect-metadata';
import type { INestApplication, LoggerService, LogLevel, Provider } from '@nestjs/common';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { Test } from '@nestjs/testing';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import { Webhook as StandardWebhook } from 'standardwebhooks';
import {
  WebhookDeliveries,
  WebhookEmitter,
  WebhookEndpoints,
  WebhooksModule,
  withWebhooks,
  type WebhookDeliveryLog,
  type WebhookMethod,
  type WebhooksModuleOptions,
} from '../../lib/index.js';
import { WebhooksRuntime } from '../../lib/webhooks.runtime.js';
import type { WebhookStore } from '../../lib/interfaces/webhook-store.interface.js';
import type { ReceivedRequest } from './receiver.js';

/** What `bootDeliveryApp` needs: module options, the webhook providers, and a logger. */
/** Options for delivery tests: the receiver is on loopback, and retries come quickly. */
export const LOOPBACK_TEST_OPTIONS: WebhooksModuleOptions = {
  allowedNetworks: ['127.0.0.0/8'],
  retryDelays: [20, 40],
};

/** A payload of the fixtures' `ping` webhook. */
export const ping = (sequence = 1) => ({ message: 'ping', sequence });

export interface DeliveryAppSetup {
  /** `WebhooksModule.forRoot(options)`; tests normally allow `127.0.0.0/8`. */
  options?: WebhooksModuleOptions;
  /** The `@Webhook` providers (and anything else the app needs). */
  providers?: Provider[];
  /** Passed to `createNestApplication({ logger })`; silent by default. */
  logger?: LoggerService | LogLevel[] | false;
}

/** An initialized app with the library's services at hand. */
export interface DeliveryApp {
  app: INestApplication;
  emitter: WebhookEmitter;
  endpoints: WebhookEndpoints;
  deliveries: WebhookDeliveries;
  /** The store behind the services, for tests that must bypass `WebhookEndpoints`. */
  store: WebhookStore;
  close(): Promise<void>;
}

/** Boots a real Nest app with `WebhooksModule.forRoot(options)` and `providers`, initialized. */
export async function bootDeliveryApp(setup: DeliveryAppSetup = {}): Promise<DeliveryApp> {
  const moduleRef = await Test.createTestingModule({
    imports: [WebhooksModule.forRoot(setup.options ?? {})],
    providers: setup.providers ?? [],
  }).compile();
  const app = moduleRef.createNestApplication({ logger: setup.logger ?? false });
  await app.init();
  return {
    app,
    emitter: app.get(WebhookEmitter),
    endpoints: app.get(WebhookEndpoints),
    deliveries: app.get(WebhookDeliveries),
    store: app.get(WebhooksRuntime).store,
    close: () => app.close(),
  };
}

/** `T` without the falsy values `waitUntil` keeps polling past. */
export type Truthy<T> = Exclude<T, false | null | undefined | 0 | ''>;

/**
 * Polls `check` until it returns something truthy and resolves to that; rejects after
 * `timeoutMs` saying what was awaited. For asynchronous delivery, never a fixed sleep.
 */
export async function waitUntil<T>(
  check: () => T | Promise<T>,
  what: string,
  { timeoutMs = 10_000, intervalMs = 10 }: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<Truthy<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value as Truthy<T>;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** What `promise` rejects with; throws if it resolves instead. */
export async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected the promise to reject, but it resolved');
}

/** Waits until every delivery of `messageId` has left `pending`, and returns them. */
export function settledDeliveries(
  deliveries: WebhookDeliveries,
  messageId: string,
  options?: { timeoutMs?: number },
): Promise<WebhookDeliveryLog[]> {
  return waitUntil(
    async () => {
      const log = await deliveries.list({ messageId, limit: Infinity });
      return log.length > 0 && log.every((delivery) => delivery.status !== 'pending') && log;
    },
    `the deliveries of ${messageId} to settle`,
    options,
  );
}

/** The Standard Webhooks headers of a received request, as `standardwebhooks` reads them. */
export function signatureHeaders(request: ReceivedRequest): Record<string, string> {
  return {
    'webhook-id': String(request.headers['webhook-id']),
    'webhook-timestamp': String(request.headers['webhook-timestamp']),
    'webhook-signature': String(request.headers['webhook-signature']),
  };
}

/** Verifies a received request with the reference `standardwebhooks` package; throws if bad. */
export function verifyWithStandardWebhooks(secret: string, request: ReceivedRequest): unknown {
  return new StandardWebhook(secret).verify(request.body, signatureHeaders(request));
}

/** The Swagger document of the app with `withWebhooks` applied, as an application serves it. */
export function publishedDocument(app: INestApplication) {
  const config = new DocumentBuilder().setTitle('Delivery tests').setVersion('1.0.0').build();
  return withWebhooks(app, SwaggerModule.createDocument(app, config));
}

/**
 * The request body schema that the document publishes for one webhook operation, made
 * self-contained for a JSON Schema validator: components become `$defs`.
 */
export function publishedBodySchema(
  app: INestApplication,
  webhook: string,
  method: WebhookMethod = 'post',
): Record<string, unknown> {
  const document = publishedDocument(app);
  const operation = document.webhooks?.[webhook]?.[method];
  if (!operation || !operation.requestBody || !('content' in operation.requestBody)) {
    throw new Error(`the document publishes no ${method} request body for webhook '${webhook}'`);
  }
  const schema = operation.requestBody.content['application/json']?.schema;
  if (!schema) throw new Error(`webhook '${webhook}' publishes no application/json schema`);
  const rewritten = JSON.parse(
    JSON.stringify({ ...schema, $defs: document.components?.schemas ?? {} }).replaceAll(
      '"#/components/schemas/',
      '"#/$defs/',
    ),
  ) as Record<string, unknown>;
  return { $schema: 'https://json-schema.org/draft/2020-12/schema', ...rewritten };
}

/**
 * An ajv (draft 2020-12) validator for what a receiver gets from this webhook, compiled from
 * the published schema. `date-time` is checked as an ISO 8601 instant. With `closed`, every
 * object schema also refuses properties it does not declare, so a leaked field fails.
 */
export function publishedBodyValidator(
  app: INestApplication,
  webhook: string,
  { method = 'post', closed = false }: { method?: WebhookMethod; closed?: boolean } = {},
): ValidateFunction {
  const ajv = new Ajv2020({ allErrors: true, strict: false });
  ajv.addFormat('date-time', (value: string) =>
    /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(value),
  );
  const schema = publishedBodySchema(app, webhook, method);
  return ajv.compile(closed ? closeObjects(schema) : schema);
}

/** A copy of `schema` where every object schema with `properties` forbids any other property. */
function closeObjects<T>(schema: T): T {
  if (Array.isArray(schema)) return schema.map(closeObjects) as T;
  if (typeof schema !== 'object' || schema === null) return schema;
  const copy: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(schema)) copy[key] = closeObjects(value);
  if (typeof copy.properties === 'object' && copy.additionalProperties === undefined) {
    copy.additionalProperties = false;
  }
  return copy as T;
}

/** The requests that carried message `id`, once `count` of them have arrived. */
export function receivedMessage(
  receiver: { requests: ReceivedRequest[] },
  id: string,
  count = 1,
): Promise<ReceivedRequest[]> {
  return waitUntil(() => {
    const found = receiver.requests.filter((request) => request.headers['webhook-id'] === id);
    return found.length >= count && found;
  }, `${count} request(s) of message ${id}`);
}
