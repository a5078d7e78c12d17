import 'reflect-metadata';
import { Reflector } from '@nestjs/core';
import { describe, expect, it } from 'vitest';
import { Webhook } from '../../lib/catalog/decorators/webhook.decorator.js';
import {
  WebhookDelete,
  WebhookPatch,
  WebhookPost,
  WebhookPut,
} from '../../lib/catalog/decorators/webhook-operation.decorator.js';
import { declaresWebhooks } from '../../lib/catalog/decorators/declaring-classes.js';
import { WebhooksMetadataAccessor } from '../../lib/catalog/webhooks-metadata.accessor.js';
import { WEBHOOK_OPERATIONS_METADATA } from '../../lib/webhooks.constants.js';
import type {
  WebhookOperationOptions,
  WebhookOptions,
} from '../../lib/interfaces/webhook-options.interface.js';

class Payload {
  id: string;
}

class OtherPayload {
  id: string;
}

const accessor = new WebhooksMetadataAccessor(new Reflector());

describe('@Webhook()', () => {
  it('records the name alone', () => {
    @Webhook('new-subscription')
    class NamedOnly {}

    expect(accessor.getWebhook(NamedOnly)).toStrictEqual({ name: 'new-subscription' });
  });

  it('records the name with the options of the second argument', () => {
    @Webhook('new-subscription', {
      summary: 'New subscription',
      description: 'Sent when a user subscribes.',
      tags: ['billing'],
      deprecated: false,
    })
    class NamedWithOptions {}

    expect(accessor.getWebhook(NamedWithOptions)).toStrictEqual({
      name: 'new-subscription',
      summary: 'New subscription',
      description: 'Sent when a user subscribes.',
      tags: ['billing'],
      deprecated: false,
    });
  });

  it('records an options object that carries the name', () => {
    @Webhook({ name: 'invoice.paid', tags: ['billing', 'invoices'], deprecated: true })
    class FromOptions {}

    expect(accessor.getWebhook(FromOptions)).toStrictEqual({
      name: 'invoice.paid',
      tags: ['billing', 'invoices'],
      deprecated: true,
    });
  });

  it('lets the positional name win over a name smuggled into the options', () => {
    const options = { name: 'smuggled', summary: 'S' } as Omit<WebhookOptions, 'name'>;

    @Webhook('positional', options)
    class Positional {}

    expect(accessor.getWebhook(Positional)).toStrictEqual({ name: 'positional', summary: 'S' });
  });

  it('neither mutates nor keeps the options object it was given', () => {
    const shared: Omit<WebhookOptions, 'name'> = { summary: 'Shared', tags: ['t'] };

    @Webhook('first', shared)
    class First {}
    @Webhook('second', shared)
    class Second {}

    expect(shared).toStrictEqual({ summary: 'Shared', tags: ['t'] });
    const first = accessor.getWebhook(First);
    const second = accessor.getWebhook(Second);
    expect(first).toStrictEqual({ name: 'first', summary: 'Shared', tags: ['t'] });
    expect(second).toStrictEqual({ name: 'second', summary: 'Shared', tags: ['t'] });
    expect(first).not.toBe(shared);
    expect(first).not.toBe(second);

    shared.summary = 'Changed later';
    expect(accessor.getWebhook(First)?.summary).toBe('Shared');
    expect(accessor.getWebhook(Second)?.summary).toBe('Shared');
  });

  it('copies an options-object argument instead of keeping it', () => {
    const options: WebhookOptions = { name: 'copied', summary: 'Before' };

    @Webhook(options)
    class Copied {}

    options.name = 'renamed';
    options.summary = 'After';
    expect(accessor.getWebhook(Copied)).toStrictEqual({ name: 'copied', summary: 'Before' });
  });

  it('records nothing on a class without it', () => {
    class Plain {}

    expect(accessor.getWebhook(Plain)).toBeUndefined();
  });
});

describe('@WebhookPost/Put/Patch/Delete()', () => {
  @Webhook('order')
  class OrderWebhook {
    @WebhookPost({ summary: 'Created', operationId: 'orderCreated' })
    created(_body: Payload) {}

    @WebhookPut({ description: 'Replaced', tags: ['orders'] })
    replaced(_body: Payload) {}

    @WebhookPatch({ body: [OtherPayload], deprecated: true })
    patched() {}

    @WebhookDelete()
    removed(_body: Payload) {}

    undecorated(_body: Payload) {}
  }

  it.each([
    ['created', 'post', { summary: 'Created', operationId: 'orderCreated' }],
    ['replaced', 'put', { description: 'Replaced', tags: ['orders'] }],
    ['patched', 'patch', { body: [OtherPayload], deprecated: true }],
    ['removed', 'delete', {}],
  ] as const)('%s() records method %s and its options', (methodName, method, options) => {
    expect(accessor.getOperation(OrderWebhook, methodName)).toStrictEqual({ method, options });
  });

  it('keeps the body class given in options by identity', () => {
    const body = accessor.getOperation(OrderWebhook, 'patched')?.options.body;
    expect(Array.isArray(body)).toBe(true);
    expect((body as unknown[])[0]).toBe(OtherPayload);
  });

  it('records nothing on an undecorated method', () => {
    expect(accessor.getOperation(OrderWebhook, 'undecorated')).toBeUndefined();
  });

  it('neither mutates nor shares an options object used twice', () => {
    const shared: WebhookOperationOptions = { summary: 'Shared' };

    @Webhook('shared-options')
    class SharedOptions {
      @WebhookPost(shared)
      one(_body: Payload) {}

      @WebhookPut(shared)
      two(_body: Payload) {}
    }

    expect(shared).toStrictEqual({ summary: 'Shared' });
    const one = accessor.getOperation(SharedOptions, 'one');
    const two = accessor.getOperation(SharedOptions, 'two');
    expect(one).toStrictEqual({ method: 'post', options: { summary: 'Shared' } });
    expect(two).toStrictEqual({ method: 'put', options: { summary: 'Shared' } });
    expect(one?.options).not.toBe(shared);
    expect(one?.options).not.toBe(two?.options);

    shared.summary = 'Changed later';
    one!.options.description = 'written by a consumer';
    expect(accessor.getOperation(SharedOptions, 'one')?.options.summary).toBe('Shared');
    expect(accessor.getOperation(SharedOptions, 'two')).toStrictEqual({
      method: 'put',
      options: { summary: 'Shared' },
    });
  });

  it('gives each option-less use its own empty options', () => {
    @Webhook('no-options')
    class NoOptions {
      @WebhookPost()
      one(_body: Payload) {}

      @WebhookDelete()
      two(_body: Payload) {}
    }

    const one = accessor.getOperation(NoOptions, 'one');
    const two = accessor.getOperation(NoOptions, 'two');
    expect(one).toStrictEqual({ method: 'post', options: {} });
    expect(two).toStrictEqual({ method: 'delete', options: {} });
    expect(one?.options).not.toBe(two?.options);
  });

  it('lists a static operation on its own class, never on Function, and not as an instance one', () => {
    @Webhook('with-static')
    class WithStatic {
      @WebhookPost()
      send(_body: Payload) {}

      @WebhookPut()
      static replace(_body: Payload) {}
    }

    // On a static member the decorator's target is the class: its `constructor` is Function,
    // which every class shares.
    expect(Reflect.getOwnMetadata(WEBHOOK_OPERATIONS_METADATA, Function)).toBeUndefined();
    expect(
      accessor.getOperations(WithStatic).map(({ methodName, isStatic, metadata }) => ({
        methodName,
        isStatic,
        method: metadata.method,
      })),
    ).toStrictEqual([
      { methodName: 'send', isStatic: false, method: 'post' },
      { methodName: 'replace', isStatic: true, method: 'put' },
    ]);
    expect(accessor.getOperation(WithStatic, 'replace')).toBeUndefined();
  });

  it('lists inherited operations once, the subclass declaration of a method winning', () => {
    class BaseWebhook {
      @WebhookPost({ summary: 'Base send' })
      send(_body: Payload) {}

      @WebhookPut()
      replace(_body: Payload) {}
    }
    @Webhook('inherited')
    class ChildWebhook extends BaseWebhook {
      @WebhookPost({ summary: 'Child send' })
      override send(_body: Payload) {}
    }

    expect(
      accessor
        .getOperations(ChildWebhook)
        .map(({ methodName, metadata }) => [methodName, metadata.options.summary]),
    ).toStrictEqual([
      ['send', 'Child send'],
      ['replace', undefined],
    ]);
    expect(accessor.declaresWebhooks(ChildWebhook)).toBe(true);
    expect(accessor.declaresWebhooks(BaseWebhook)).toBe(true);
  });

  it('finds classes decorated through another copy of the library', async () => {
    @Webhook('first-copy')
    class DeclaredHere {}

    // A second instance of the module, as a duplicate install in a monorepo would load it.
    const specifier = '../../lib/catalog/decorators/declaring-classes.js?second-copy';
    const otherCopy: { declaresWebhooks: typeof declaresWebhooks } = await import(
      /* @vite-ignore */ specifier
    );

    expect(otherCopy.declaresWebhooks).not.toBe(declaresWebhooks);
    expect(otherCopy.declaresWebhooks(DeclaredHere)).toBe(true);
    expect(otherCopy.declaresWebhooks(class Plain {})).toBe(false);
  });

  it('tells declaring classes, and their subclasses, from the others without metadata', () => {
    @Webhook('declared')
    class Declared {}
    class Inheriting extends Declared {}
    class OperationsOnly {
      @WebhookPost()
      send(_body: Payload) {}
    }
    class Plain {}

    expect(accessor.declaresWebhooks(Declared)).toBe(true);
    expect(accessor.declaresWebhooks(Inheriting)).toBe(true);
    expect(accessor.declaresWebhooks(OperationsOnly)).toBe(true);
    expect(accessor.declaresWebhooks(Plain)).toBe(false);
  });

  it('keeps the same method metadata apart across classes', () => {
    @Webhook('a')
    class A {
      @WebhookPost({ summary: 'A' })
      send(_body: Payload) {}
    }
    @Webhook('b')
    class B {
      @WebhookPost({ summary: 'B' })
      send(_body: Payload) {}
    }

    expect(accessor.getOperation(A, 'send')).toStrictEqual({
      method: 'post',
      options: { summary: 'A' },
    });
    expect(accessor.getOperation(B, 'send')).toStrictEqual({
      method: 'post',
      options: { summary: 'B' },
    });
  });
});
