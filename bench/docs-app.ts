import 'reflect-metadata';
import { Controller, Module, Post, type Type } from '@nestjs/common';
import { ApiBody, ApiProperty, ApiWebhook } from '@nestjs/swagger';
import { Webhook, WebhookPost, WebhooksModule } from '../lib/index.js';

// Decorators are applied as plain functions so the bench compiles with tsc alone and does not
// depend on `emitDecoratorMetadata`: every type swagger or the explorer reads is set explicitly.

/** A class whose `name` is `name`; swagger keys `components.schemas` by class name. */
function namedClass(name: string): Type<unknown> {
  const holder = { [name]: class {} };
  return holder[name];
}

function property(target: Type<unknown>, key: string, options: Parameters<typeof ApiProperty>[0]) {
  ApiProperty(options)(target.prototype as object, key);
}

function method(target: Type<unknown>, key: string): PropertyDescriptor {
  const prototype = target.prototype as Record<string, unknown>;
  prototype[key] = function send() {};
  return Object.getOwnPropertyDescriptor(prototype, key)!;
}

/**
 * The payload DTO of webhook `index` (`Order<index>`): scalars, a nested `Address<index>` and an
 * array of `LineItem<index>`; `prefix` keeps both sides' schema names apart.
 */
export function createPayload(prefix: string, index: number): Type<unknown> {
  const address = namedClass(`${prefix}Address${index}`);
  property(address, 'street', { type: String });
  property(address, 'city', { type: String });
  property(address, 'postalCode', { type: String, required: false });

  const lineItem = namedClass(`${prefix}LineItem${index}`);
  property(lineItem, 'sku', { type: String });
  property(lineItem, 'quantity', { type: 'integer', minimum: 1 });
  property(lineItem, 'unitPrice', { type: Number });

  const order = namedClass(`${prefix}Order${index}`);
  property(order, 'id', { type: String, format: 'uuid' });
  property(order, 'total', { type: Number });
  property(order, 'paid', { type: Boolean });
  property(order, 'createdAt', { type: Date });
  property(order, 'note', { type: String, nullable: true, required: false });
  property(order, 'shippingAddress', { type: address });
  property(order, 'items', { type: lineItem, isArray: true });
  return order;
}

export const webhookName = (index: number) => `event-${index}`;

/** `count` `@Webhook` providers, each with one `@WebhookPost() send(body: Order<i>)`. */
export function createWebhookProviders(count: number): Type<unknown>[] {
  return Array.from({ length: count }, (_, index) => {
    const provider = namedClass(`Event${index}Webhook`);
    const descriptor = method(provider, 'send');
    Reflect.defineMetadata(
      'design:paramtypes',
      [createPayload('Ours', index)],
      provider.prototype as object,
      'send',
    );
    WebhookPost()(provider.prototype as object, 'send', descriptor);
    Webhook(webhookName(index))(provider);
    return provider;
  });
}

/** `count` controllers, each with one `@Post() @ApiWebhook(name) @ApiBody({ type: Order<i> })`. */
export function createApiWebhookControllers(count: number): Type<unknown>[] {
  return Array.from({ length: count }, (_, index) => {
    const controller = namedClass(`Event${index}Controller`);
    const descriptor = method(controller, 'send');
    const prototype = controller.prototype as object;
    Post()(prototype, 'send', descriptor);
    ApiWebhook(webhookName(index))(prototype, 'send', descriptor);
    ApiBody({ type: createPayload('Theirs', index) })(prototype, 'send', descriptor);
    Controller(`hooks/${webhookName(index)}`)(controller);
    return controller;
  });
}

export function createModule(name: string, metadata: Parameters<typeof Module>[0]): Type<unknown> {
  const module = namedClass(name);
  Module(metadata)(module);
  return module;
}

/** The root modules the bench boots, built once; every run boots a fresh app from them. */
export function createModules(count: number) {
  const providers = createWebhookProviders(count);
  return {
    /** Our declarations with `WebhooksModule`: the app `withWebhooks` documents. */
    withModule: createModule('WithWebhooksModule', {
      imports: [WebhooksModule.forRoot()],
      providers,
    }),
    /** The same providers without `WebhooksModule`: the bootstrap baseline. */
    withoutModule: createModule('WithoutWebhooksModule', { providers }),
    /** `WebhooksModule` alone: what it costs by itself, against an empty app. */
    moduleAlone: createModule('WebhooksModuleAlone', { imports: [WebhooksModule.forRoot()] }),
    empty: createModule('EmptyModule', {}),
    /** `@nestjs/swagger`'s own way: `@ApiWebhook` controller methods. */
    apiWebhook: createModule('ApiWebhookModule', {
      controllers: createApiWebhookControllers(count),
    }),
  };
}
