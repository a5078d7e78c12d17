import 'reflect-metadata';
import { Reflector } from '@nestjs/core';
import { describe, expect, it } from 'vitest';
import { Webhook } from '../../lib/catalog/decorators/webhook.decorator.js';
import {
  WebhookPatch,
  WebhookPost,
} from '../../lib/catalog/decorators/webhook-operation.decorator.js';
import { WebhooksMetadataAccessor } from '../../lib/catalog/webhooks-metadata.accessor.js';

class Subscription {
  username: string;
}

class Refund {
  amount: number;
}

interface Shapeless {
  anything: unknown;
}

@Webhook('new-subscription', { summary: 'New subscription' })
class NewSubscriptionWebhook {
  @WebhookPost({ description: 'Sent on subscribe' })
  newSubscription(_body: Subscription, _tenant: string) {}

  @WebhookPatch()
  refunded(_body: Refund) {}

  // Decorated only so that TypeScript emits its parameter types.
  @WebhookPost()
  shapeless(_body: Shapeless) {}

  @WebhookPost()
  empty() {}

  helper(_body: Subscription) {}

  get computed(): string {
    return 'value';
  }
}

class Undecorated {
  send(_body: Subscription) {}
}

const accessor = new WebhooksMetadataAccessor(new Reflector());

describe('WebhooksMetadataAccessor', () => {
  describe('getWebhook', () => {
    it('reads the class metadata', () => {
      expect(accessor.getWebhook(NewSubscriptionWebhook)).toStrictEqual({
        name: 'new-subscription',
        summary: 'New subscription',
      });
    });

    it('returns undefined for an undecorated class', () => {
      expect(accessor.getWebhook(Undecorated)).toBeUndefined();
    });
  });

  describe('getOperation', () => {
    it('reads the operation metadata of a decorated method', () => {
      expect(accessor.getOperation(NewSubscriptionWebhook, 'newSubscription')).toStrictEqual({
        method: 'post',
        options: { description: 'Sent on subscribe' },
      });
      expect(accessor.getOperation(NewSubscriptionWebhook, 'refunded')).toStrictEqual({
        method: 'patch',
        options: {},
      });
    });

    it('returns undefined for an undecorated method, a missing method and a getter', () => {
      expect(accessor.getOperation(NewSubscriptionWebhook, 'helper')).toBeUndefined();
      expect(accessor.getOperation(NewSubscriptionWebhook, 'missing')).toBeUndefined();
      expect(accessor.getOperation(NewSubscriptionWebhook, 'computed')).toBeUndefined();
      expect(accessor.getOperation(Undecorated, 'send')).toBeUndefined();
    });
  });

  describe('getParameterTypes', () => {
    it('reads design:paramtypes, the DTO class first', () => {
      const types = accessor.getParameterTypes(NewSubscriptionWebhook, 'newSubscription');
      expect(types).toHaveLength(2);
      expect(types[0]).toBe(Subscription);
      expect(types[1]).toBe(String);
      expect(accessor.getParameterTypes(NewSubscriptionWebhook, 'refunded')[0]).toBe(Refund);
    });

    it('sees an interface-typed parameter as Object', () => {
      expect(accessor.getParameterTypes(NewSubscriptionWebhook, 'shapeless')).toStrictEqual([
        Object,
      ]);
    });

    it('returns an empty list for a method without parameters', () => {
      expect(accessor.getParameterTypes(NewSubscriptionWebhook, 'empty')).toStrictEqual([]);
    });

    it('returns an empty list when no types were emitted', () => {
      expect(accessor.getParameterTypes(NewSubscriptionWebhook, 'helper')).toStrictEqual([]);
      expect(accessor.getParameterTypes(Undecorated, 'send')).toStrictEqual([]);
      expect(accessor.getParameterTypes(NewSubscriptionWebhook, 'missing')).toStrictEqual([]);
    });
  });
});
