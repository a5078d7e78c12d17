import { Injectable, type Type } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { WEBHOOK_METADATA, WEBHOOK_OPERATION_METADATA } from '../webhooks.constants.js';
import type {
  WebhookOperationMetadata,
  WebhookOptions,
} from '../interfaces/webhook-options.interface.js';

/** Owns every metadata read of the library, so the explorer never touches `Reflect` itself. */
@Injectable()
export class WebhooksMetadataAccessor {
  constructor(private readonly reflector: Reflector) {}

  getWebhook(target: Type<unknown>): WebhookOptions | undefined {
    return this.reflector.get<WebhookOptions | undefined>(WEBHOOK_METADATA, target);
  }

  getOperation(target: Type<unknown>, methodName: string): WebhookOperationMetadata | undefined {
    const method: unknown = target.prototype[methodName];
    if (typeof method !== 'function') return undefined;
    return this.reflector.get<WebhookOperationMetadata | undefined>(
      WEBHOOK_OPERATION_METADATA,
      method,
    );
  }

  /** The parameter types TypeScript emitted for the method (`emitDecoratorMetadata`). */
  getParameterTypes(target: Type<unknown>, methodName: string): unknown[] {
    const types: unknown = Reflect.getMetadata('design:paramtypes', target.prototype, methodName);
    return Array.isArray(types) ? types : [];
  }
}
