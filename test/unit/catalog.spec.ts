import 'reflect-metadata';
import { Injectable, Logger, Module, Scope, type Provider, type Type } from '@nestjs/common';
import { ApiProperty } from '@nestjs/swagger';
import { Test, type TestingModule } from '@nestjs/testing';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Webhook } from '../../lib/catalog/decorators/webhook.decorator.js';
import {
  WebhookDelete,
  WebhookPost,
  WebhookPut,
} from '../../lib/catalog/decorators/webhook-operation.decorator.js';
import { WebhookCatalog } from '../../lib/catalog/webhook-catalog.js';
import { WebhooksExplorer } from '../../lib/catalog/webhooks.explorer.js';
import { UnknownWebhookError } from '../../lib/webhooks.errors.js';
import {
  conflictingWebhookOptions,
  duplicateWebhookOperation,
  invalidWebhookName,
  operationDeclaredTwice,
  operationWithoutWebhook,
  requestScopedWebhook,
  staticWebhookOperation,
  undocumentedWebhookBody,
  unknownWebhook,
  unknownWebhookBody,
  webhookMethodRequired,
  webhookMethodUndeclared,
  webhookWithoutOperations,
} from '../../lib/webhooks.messages.js';
import { WebhooksModule } from '../../lib/webhooks.module.js';
import type { WebhookMethod } from '../../lib/interfaces/webhook-options.interface.js';

// Documented, as every body DTO should be: an undocumented one is warned about at bootstrap.
class Subscription {
  @ApiProperty()
  username: string;
}

class Invoice {
  @ApiProperty()
  total: number;
}

class Order {
  @ApiProperty()
  id: string;
}

interface Untyped {
  anything: unknown;
}

@Webhook('new-subscription', { summary: 'New subscription' })
class NewSubscriptionWebhook {
  @WebhookPost({ description: 'Sent when a user subscribes.' })
  newSubscription(_body: Subscription) {}

  notAnOperation(_body: Subscription) {}
}

@Webhook('invoice.paid')
class InvoicePaidWebhook {
  @WebhookPost()
  paid(_body: Invoice) {}
}

@Webhook({ name: 'user.deleted', tags: ['users'] })
class UserDeletedWebhook {
  @WebhookDelete({ body: Subscription })
  deleted() {}
}

@Webhook('order')
class OrderWebhook {
  @WebhookPost()
  created(_body: Order) {}

  @WebhookPut()
  replaced(_body: Order) {}

  @WebhookDelete()
  removed(_body: Order) {}
}

@Webhook('invoices.batch')
class InvoiceBatchWebhook {
  @WebhookPost({ body: [Invoice] })
  batch(_body: Invoice[]) {}

  // options.body wins over the parameter's type.
  @WebhookPut({ body: Invoice })
  single(_body: Untyped) {}
}

@Module({ providers: [InvoiceBatchWebhook] })
class FeatureModule {}

class NotAWebhook {}

const moduleRefs: TestingModule[] = [];

async function compile(providers: Provider[], imports: Type<unknown>[] = []) {
  const moduleRef = await Test.createTestingModule({
    imports: [WebhooksModule.forRoot(), ...imports],
    providers,
  }).compile();
  moduleRefs.push(moduleRef);
  return moduleRef;
}

async function bootstrap(providers: Provider[], imports: Type<unknown>[] = []) {
  const moduleRef = await compile(providers, imports);
  await moduleRef.init();
  return moduleRef.get(WebhookCatalog);
}

/** The declaration error that stops `init()`. */
async function bootstrapError(providers: Provider[]): Promise<Error> {
  const moduleRef = await compile(providers);
  try {
    await moduleRef.init();
  } catch (error) {
    if (error instanceof Error) return error;
  }
  throw new Error('expected init() to throw');
}

afterEach(async () => {
  vi.restoreAllMocks();
  await Promise.all(moduleRefs.splice(0).map((moduleRef) => moduleRef.close()));
});

describe('WebhookCatalog', () => {
  const everyShape: Provider[] = [
    NewSubscriptionWebhook,
    { provide: 'NEW_SUBSCRIPTION_ALIAS', useExisting: NewSubscriptionWebhook },
    { provide: 'INVOICE_PAID', useValue: new InvoicePaidWebhook() },
    { provide: 'USER_DELETED', useFactory: () => new UserDeletedWebhook() },
    { provide: 'ORDER', useFactory: async () => new OrderWebhook() },
    { provide: 'PLAIN_VALUE', useValue: { send: () => undefined } },
    { provide: 'PRIMITIVE', useValue: 42 },
    { provide: 'CLASS_AS_VALUE', useValue: NotAWebhook },
    NotAWebhook,
  ];

  describe('discovery', () => {
    it('finds class, useValue and useFactory providers and providers of imported modules', async () => {
      const catalog = await bootstrap(everyShape, [FeatureModule]);

      expect(catalog.names()).toStrictEqual([
        'invoice.paid',
        'invoices.batch',
        'new-subscription',
        'order',
        'user.deleted',
      ]);
      expect(catalog.all().map((definition) => definition.target)).toStrictEqual([
        InvoicePaidWebhook,
        InvoiceBatchWebhook,
        NewSubscriptionWebhook,
        OrderWebhook,
        UserDeletedWebhook,
      ]);
    });

    it('skips a useExisting alias instead of reporting a duplicate', async () => {
      const catalog = await bootstrap([
        { provide: 'FIRST_ALIAS', useExisting: NewSubscriptionWebhook },
        NewSubscriptionWebhook,
        { provide: 'SECOND_ALIAS', useExisting: 'FIRST_ALIAS' },
      ]);

      expect(catalog.names()).toStrictEqual(['new-subscription']);
      expect([...catalog.get('new-subscription').operations.keys()]).toStrictEqual(['post']);
    });

    it('reads a class once even when several providers are instances of it', async () => {
      const catalog = await bootstrap([
        InvoicePaidWebhook,
        { provide: 'ANOTHER_INSTANCE', useClass: InvoicePaidWebhook },
        { provide: 'A_VALUE', useValue: new InvoicePaidWebhook() },
      ]);

      expect(catalog.names()).toStrictEqual(['invoice.paid']);
    });

    it('records the whole definition of a class provider', async () => {
      const catalog = await bootstrap(everyShape);

      const definition = catalog.get('new-subscription');
      expect(definition).toStrictEqual({
        name: 'new-subscription',
        options: { name: 'new-subscription', summary: 'New subscription' },
        target: NewSubscriptionWebhook,
        operations: new Map([
          [
            'post',
            {
              webhook: 'new-subscription',
              method: 'post',
              options: { description: 'Sent when a user subscribes.' },
              target: NewSubscriptionWebhook,
              methodName: 'newSubscription',
              body: Subscription,
              isArray: false,
            },
          ],
        ]),
      });
    });

    it('takes the body from options.body when the method has no parameter', async () => {
      const catalog = await bootstrap(everyShape);

      const operation = catalog.operation('user.deleted');
      expect(operation.method).toBe('delete');
      expect(operation.body).toBe(Subscription);
      expect(operation.isArray).toBe(false);
      expect(operation.methodName).toBe('deleted');
    });

    it('marks options.body: [Dto] as an array of Dto', async () => {
      const catalog = await bootstrap([InvoiceBatchWebhook]);

      const batch = catalog.operation('invoices.batch', 'post');
      expect(batch.body).toBe(Invoice);
      expect(batch.isArray).toBe(true);
      const single = catalog.operation('invoices.batch', 'put');
      expect(single.body).toBe(Invoice);
      expect(single.isArray).toBe(false);
    });

    it('finds a request-scoped provider from its class and warns about it', async () => {
      const warn = vi.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);

      @Injectable({ scope: Scope.REQUEST })
      @Webhook('scoped')
      class ScopedWebhook {
        @WebhookPost()
        send(_body: Order) {}
      }

      const catalog = await bootstrap([ScopedWebhook]);

      expect(catalog.names()).toStrictEqual(['scoped']);
      expect(catalog.operation('scoped').body).toBe(Order);
      expect(catalog.get(ScopedWebhook).target).toBe(ScopedWebhook);
      expect(warn).toHaveBeenCalledTimes(1);
      expect(warn).toHaveBeenCalledWith(requestScopedWebhook('ScopedWebhook'));
      expect(requestScopedWebhook('ScopedWebhook')).toBe(
        'ScopedWebhook is request-scoped; webhook declarations are read from its class, which is ' +
          'fine, but the provider itself is never instantiated by the webhooks module.',
      );
    });

    it('finds a transient provider', async () => {
      @Injectable({ scope: Scope.TRANSIENT })
      @Webhook('transient')
      class TransientWebhook {
        @WebhookPost()
        send(_body: Order) {}
      }

      const catalog = await bootstrap([TransientWebhook]);

      expect(catalog.names()).toStrictEqual(['transient']);
    });

    it('warns once about a body DTO that documents no property, and not about documented ones', async () => {
      const warn = vi.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
      class Bare {
        username: string;
      }
      @Webhook('bare')
      class BareWebhook {
        @WebhookPost()
        send(_body: Bare) {}

        @WebhookPut({ body: [Bare] })
        replace() {}
      }

      (await bootstrap([BareWebhook, NewSubscriptionWebhook, InvoiceBatchWebhook])).all();

      expect(warn.mock.calls).toStrictEqual([
        [undocumentedWebhookBody('Bare', 'bare', 'BareWebhook.send()')],
        [undocumentedWebhookBody('Bare', 'bare', 'BareWebhook.replace()')],
      ]);
      expect(warn.mock.calls[0]?.[0]).toBe(
        "The body of webhook 'bare' (BareWebhook.send()) is Bare, which documents no property: " +
          'the document shows an empty object and every delivery sends {}. Add @ApiProperty() ' +
          'to the properties of Bare, or enable the @nestjs/swagger CLI plugin in nest-cli.json.',
      );
    });

    it('explores once however often it is asked', async () => {
      const explore = vi.spyOn(WebhooksExplorer.prototype, 'explore');
      const catalog = await bootstrap(everyShape);

      const first = catalog.all();
      const second = catalog.all();
      catalog.names();
      catalog.get('order');

      expect(second).toStrictEqual(first);
      expect(second.map((definition) => definition.name)).toStrictEqual(
        first.map((definition) => definition.name),
      );
      second.forEach((definition, index) => expect(definition).toBe(first[index]));
      expect(explore).toHaveBeenCalledTimes(1);
    });

    it('explores once, at bootstrap', async () => {
      const explore = vi.spyOn(WebhooksExplorer.prototype, 'explore');
      const catalog = await bootstrap([NewSubscriptionWebhook]);

      expect(explore).toHaveBeenCalledTimes(1);
      expect(catalog.names()).toStrictEqual(['new-subscription']);
      expect(explore).toHaveBeenCalledTimes(1);
    });

    it('explores on demand when used before init()', async () => {
      const explore = vi.spyOn(WebhooksExplorer.prototype, 'explore');
      const moduleRef = await compile([NewSubscriptionWebhook]);
      const catalog = moduleRef.get(WebhookCatalog);

      expect(explore).not.toHaveBeenCalled();
      expect(catalog.names()).toStrictEqual(['new-subscription']);
      await moduleRef.init();
      expect(catalog.names()).toStrictEqual(['new-subscription']);
      expect(explore).toHaveBeenCalledTimes(1);
    });
  });

  describe('lookup', () => {
    it('finds by name and by class alike', async () => {
      const catalog = await bootstrap(everyShape);

      expect(catalog.find('order')).toBe(catalog.get(OrderWebhook));
      expect(catalog.find(OrderWebhook)?.name).toBe('order');
      expect(catalog.get('invoice.paid').target).toBe(InvoicePaidWebhook);
      expect(catalog.get(UserDeletedWebhook).name).toBe('user.deleted');
    });

    it('finds nothing for an unknown name or an undecorated class', async () => {
      const catalog = await bootstrap(everyShape);

      expect(catalog.find('nope')).toBeUndefined();
      expect(catalog.find(NotAWebhook)).toBeUndefined();
    });

    it('get() of an unknown name throws UnknownWebhookError naming it and the declared ones', async () => {
      const catalog = await bootstrap(everyShape);

      let error: unknown;
      try {
        catalog.get('new-subscriptoin');
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(UnknownWebhookError);
      const unknown = error as UnknownWebhookError;
      expect(unknown.name).toBe('UnknownWebhookError');
      expect(unknown.event).toBe('new-subscriptoin');
      expect(unknown.declared).toStrictEqual([
        'invoice.paid',
        'new-subscription',
        'order',
        'user.deleted',
      ]);
      expect(unknown.message).toBe(
        "Unknown webhook 'new-subscriptoin': no @Webhook declares it. Declared webhooks: " +
          "'invoice.paid', 'new-subscription', 'order', 'user.deleted'. Fix the name if it is a " +
          "typo; otherwise add @Webhook('new-subscriptoin') to a provider class with a " +
          '@WebhookPost() method, and list that class in the providers of a module.',
      );
      expect(unknown.message).toBe(unknownWebhook('new-subscriptoin', unknown.declared));
    });

    it('get() of an undecorated class names the class', async () => {
      const catalog = await bootstrap([InvoicePaidWebhook]);

      expect(() => catalog.get(NotAWebhook)).toThrowError(
        new UnknownWebhookError('NotAWebhook', ['invoice.paid']),
      );
      expect(() => catalog.get(NotAWebhook)).toThrowError(
        "Unknown webhook 'NotAWebhook': no @Webhook declares it. Declared webhooks: 'invoice.paid'. " +
          "Fix the name if it is a typo; otherwise add @Webhook('NotAWebhook') to a provider " +
          'class with a @WebhookPost() method, and list that class in the providers of a module.',
      );
    });

    it('get() in an app without webhooks says none are declared', async () => {
      const catalog = await bootstrap([NotAWebhook]);

      expect(catalog.all()).toStrictEqual([]);
      expect(() => catalog.get('anything')).toThrowError(
        "Unknown webhook 'anything': no @Webhook declares it. Declared webhooks: (none). Fix the " +
          "name if it is a typo; otherwise add @Webhook('anything') to a provider class with a " +
          '@WebhookPost() method, and list that class in the providers of a module.',
      );
    });
  });

  describe('operation()', () => {
    it('returns the only operation without a method', async () => {
      const catalog = await bootstrap(everyShape);

      const operation = catalog.operation('new-subscription');
      expect(operation.method).toBe('post');
      expect(operation.methodName).toBe('newSubscription');
      expect(catalog.operation(NewSubscriptionWebhook)).toBe(operation);
      expect(catalog.operation('new-subscription', 'post')).toBe(operation);
    });

    it('asks for `method` when the webhook declares several', async () => {
      const catalog = await bootstrap(everyShape);

      expect(() => catalog.operation('order')).toThrowError(
        "Webhook 'order' declares several operations (POST, PUT, DELETE); say which one to send " +
          "with emit(event, payload, { method: 'post' }).",
      );
      expect(() => catalog.operation('order')).toThrowError(
        webhookMethodRequired('order', ['post', 'put', 'delete']),
      );
    });

    it('returns the operation of the method asked for, in any case', async () => {
      const catalog = await bootstrap(everyShape);

      expect(catalog.operation('order', 'put').methodName).toBe('replaced');
      expect(catalog.operation('order', 'DELETE' as WebhookMethod).methodName).toBe('removed');
      expect(catalog.operation(OrderWebhook, 'post').methodName).toBe('created');
    });

    it('names the declared methods when the one asked for is not', async () => {
      const catalog = await bootstrap(everyShape);

      expect(() => catalog.operation('order', 'patch')).toThrowError(
        "Webhook 'order' declares no PATCH operation; it declares POST, PUT, DELETE. Send one of " +
          "those, e.g. emit(event, payload, { method: 'post' }).",
      );
      expect(() => catalog.operation('order', 'patch')).toThrowError(
        webhookMethodUndeclared('order', 'patch', ['post', 'put', 'delete']),
      );
    });

    it('throws UnknownWebhookError for an unknown webhook', async () => {
      const catalog = await bootstrap(everyShape);

      expect(() => catalog.operation('nope', 'post')).toThrowError(UnknownWebhookError);
    });
  });

  describe('errors at bootstrap', () => {
    it('rejects the same name and method declared in two classes, naming both', async () => {
      @Webhook('duplicated')
      class FirstDeclaration {
        @WebhookPost()
        send(_body: Order) {}
      }
      @Webhook('duplicated')
      class SecondDeclaration {
        @WebhookPost()
        announce(_body: Order) {}
      }

      const error = await bootstrapError([FirstDeclaration, SecondDeclaration]);

      expect(error.message).toBe(
        "Webhook 'duplicated' declares POST twice: in FirstDeclaration.send() and in " +
          'SecondDeclaration.announce(). Keep one of them, or give the other a different HTTP ' +
          'method or webhook name.',
      );
      expect(error.message).toBe(
        duplicateWebhookOperation(
          'duplicated',
          'post',
          'FirstDeclaration.send()',
          'SecondDeclaration.announce()',
        ),
      );
    });

    it('merges different methods of one name declared in two classes', async () => {
      @Webhook('split')
      class SplitPost {
        @WebhookPost()
        send(_body: Order) {}
      }
      @Webhook('split')
      class SplitPut {
        @WebhookPut()
        replace(_body: Order) {}
      }

      const catalog = await bootstrap([SplitPost, SplitPut]);

      expect(catalog.names()).toStrictEqual(['split']);
      expect(catalog.operation('split', 'post').target).toBe(SplitPost);
      expect(catalog.operation('split', 'put').target).toBe(SplitPut);
      expect(catalog.get(SplitPut)).toBe(catalog.get('split'));
    });

    it('rejects one name declared by two classes with different @Webhook options, naming both', async () => {
      @Webhook('shared', { summary: 'Shared', tags: ['a'] })
      class SharedPost {
        @WebhookPost()
        send(_body: Order) {}
      }
      @Webhook('shared', { summary: 'Shared', tags: ['b'], deprecated: true })
      class SharedPut {
        @WebhookPut()
        replace(_body: Order) {}
      }

      const error = await bootstrapError([SharedPost, SharedPut]);

      expect(error.message).toBe(
        conflictingWebhookOptions('shared', 'SharedPost', 'SharedPut', ['tags', 'deprecated']),
      );
      expect(error.message).toBe(
        "Webhook 'shared' is declared by SharedPost and by SharedPut with different @Webhook() " +
          'options (tags, deprecated), and only one set can document it. Give both classes the ' +
          'same options, or move what differs to the options of their @WebhookPost() (or ' +
          'sibling) methods.',
      );
    });

    it('merges one name declared by two classes with the same @Webhook options', async () => {
      @Webhook('agreed', { description: 'Same words.', tags: ['x', 'y'] })
      class AgreedPost {
        @WebhookPost()
        send(_body: Order) {}
      }
      @Webhook({ name: 'agreed', tags: ['x', 'y'], description: 'Same words.' })
      class AgreedDelete {
        @WebhookDelete()
        remove(_body: Order) {}
      }

      const catalog = await bootstrap([AgreedPost, AgreedDelete]);

      expect([...catalog.get('agreed').operations.keys()]).toStrictEqual(['post', 'delete']);
    });

    it('rejects a static method decorated as an operation', async () => {
      @Webhook('static-operation')
      class StaticOperation {
        @WebhookPost()
        send(_body: Order) {}

        @WebhookPut()
        static replace(_body: Order) {}
      }

      const error = await bootstrapError([StaticOperation]);

      expect(error.message).toBe(staticWebhookOperation('StaticOperation.replace()'));
      expect(error.message).toBe(
        'StaticOperation.replace() is a static method decorated as a webhook operation, but ' +
          "operations are instance methods of the @Webhook provider. Remove 'static' from it.",
      );
    });

    it('rejects a static operation on a class without @Webhook, or with nothing else', async () => {
      class StaticOnly {
        @WebhookPost()
        static send(_body: Order) {}
      }

      const error = await bootstrapError([StaticOnly]);

      expect(error.message).toBe(staticWebhookOperation('StaticOnly.send()'));
    });

    it('rejects the same method declared twice in one class', async () => {
      @Webhook('twice')
      class Twice {
        @WebhookPost()
        one(_body: Order) {}

        @WebhookPost()
        two(_body: Order) {}
      }

      const error = await bootstrapError([Twice]);

      expect(error.message).toBe(
        duplicateWebhookOperation('twice', 'post', 'Twice.one()', 'Twice.two()'),
      );
    });

    it('rejects one method decorated as two operations, naming both', async () => {
      @Webhook('two-on-one')
      class TwoOnOne {
        @WebhookPost()
        @WebhookPut()
        send(_body: Order) {}
      }

      const error = await bootstrapError([TwoOnOne]);

      // Decorators apply bottom-up: PUT is recorded first.
      expect(error.message).toBe(operationDeclaredTwice('TwoOnOne.send()', ['put', 'post']));
      expect(error.message).toBe(
        'TwoOnOne.send() is decorated as PUT and POST: one method declares one operation. ' +
          'Keep one decorator, or declare the other operation on a method of its own.',
      );
    });

    it('rejects a method without a parameter and without options.body', async () => {
      @Webhook('no-parameter')
      class NoParameter {
        @WebhookPost()
        send() {}
      }

      const error = await bootstrapError([NoParameter]);

      expect(error.message).toBe(
        'Cannot tell the request body of webhook operation NoParameter.send(): its first ' +
          "parameter's type is unknown (the method has no parameter). Type the first parameter " +
          'with a DTO class (not an interface), or pass { body: YourDto } (or { body: [YourDto] } ' +
          'for an array) to the decorator.',
      );
    });

    it('rejects an interface-typed parameter (emitted as Object)', async () => {
      @Webhook('interface-parameter')
      class InterfaceParameter {
        @WebhookPost()
        send(_body: Untyped) {}
      }

      const error = await bootstrapError([InterfaceParameter]);

      expect(error.message).toBe(
        unknownWebhookBody(
          'InterfaceParameter.send()',
          'Object (an interface, a type alias or any)',
        ),
      );
    });

    it.each([
      ['String', String],
      ['Number', Number],
      ['Array', Array],
    ] as const)('rejects a %s-typed parameter', async (typeName, type) => {
      @Webhook('primitive-parameter')
      class PrimitiveParameter {
        @WebhookPost()
        send(_body: unknown) {}
      }
      Reflect.defineMetadata('design:paramtypes', [type], PrimitiveParameter.prototype, 'send');

      const error = await bootstrapError([PrimitiveParameter]);

      expect(error.message).toBe(unknownWebhookBody('PrimitiveParameter.send()', typeName));
    });

    it('rejects a string-typed parameter as TypeScript emits it', async () => {
      @Webhook('string-parameter')
      class StringParameter {
        @WebhookPut()
        send(_body: string) {}
      }

      const error = await bootstrapError([StringParameter]);

      expect(error.message).toBe(unknownWebhookBody('StringParameter.send()', 'String'));
    });

    it('rejects options.body that is an empty or a two-class array', async () => {
      @Webhook('bad-array')
      class BadArray {
        @WebhookPost({ body: [Order, Invoice] as unknown as [Type<unknown>] })
        send(_body: Order) {}
      }

      const error = await bootstrapError([BadArray]);

      expect(error.message).toBe(unknownWebhookBody('BadArray.send()', '[Order, Invoice]'));
    });

    it('rejects an operation on a class without @Webhook', async () => {
      class Orphan {
        @WebhookPost()
        send(_body: Order) {}
      }

      const error = await bootstrapError([Orphan]);

      expect(error.message).toBe(
        'Orphan.send() is decorated as a webhook operation, but its class has no ' +
          "@Webhook(name). Add @Webhook('event-name') to the class.",
      );
      expect(error.message).toBe(operationWithoutWebhook('Orphan.send()'));
    });

    it('rejects a @Webhook without operations', async () => {
      @Webhook('silent')
      class Silent {
        send(_body: Order) {}
      }

      const error = await bootstrapError([Silent]);

      expect(error.message).toBe(webhookWithoutOperations('silent', 'Silent'));
    });

    it('rejects an empty webhook name', async () => {
      @Webhook('  ')
      class Blank {
        @WebhookPost()
        send(_body: Order) {}
      }

      const error = await bootstrapError([Blank]);

      expect(error.message).toBe(invalidWebhookName('  ', 'Blank'));
      expect(error.message).toBe(
        '@Webhook() on Blank needs a non-empty string name (got "  "), ' +
          "e.g. @Webhook('new-subscription').",
      );
    });

    it('throws at every use before init() too, until the declaration is fixed', async () => {
      class Orphan {
        @WebhookDelete()
        remove(_body: Order) {}
      }

      const catalog = (await compile([Orphan])).get(WebhookCatalog);

      const error = operationWithoutWebhook('Orphan.remove()');
      expect(() => catalog.names()).toThrowError(error);
      expect(() => catalog.get('anything')).toThrowError(error);
    });
  });
});
