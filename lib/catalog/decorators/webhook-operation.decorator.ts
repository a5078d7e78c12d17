import { applyDecorators, SetMetadata } from '@nestjs/common';
import {
  WEBHOOK_OPERATION_METADATA,
  WEBHOOK_OPERATIONS_METADATA,
} from '../../webhooks.constants.js';
import type {
  WebhookMethod,
  WebhookOperationMetadata,
  WebhookOperationOptions,
} from '../../interfaces/webhook-options.interface.js';

const operation =
  (method: WebhookMethod) =>
  (options: WebhookOperationOptions = {}): MethodDecorator =>
    applyDecorators(
      SetMetadata<string, WebhookOperationMetadata>(WEBHOOK_OPERATION_METADATA, {
        method,
        options: { ...options, ...(options.tags && { tags: [...options.tags] }) },
      }),
      listOnClass,
    );

// Also lists the method on its class, so discovery reads one key per provider instead of
// scanning every method of every provider in the application. On a static method the target is
// the class itself, not its prototype: `target.constructor` would be `Function`, shared by every
// class. A static one is listed on its class too, so the explorer can refuse it by name instead
// of dropping it without a word (an operation is a method of the provider instance).
const listOnClass: MethodDecorator = (target, methodName) => {
  const owner = typeof target === 'function' ? target : target.constructor;
  const listed: (string | symbol)[] =
    Reflect.getOwnMetadata(WEBHOOK_OPERATIONS_METADATA, owner) ?? [];
  Reflect.defineMetadata(WEBHOOK_OPERATIONS_METADATA, [...listed, methodName], owner);
};

/** Declares a POST operation of the class's webhook; the body DTO is the first parameter's type. */
export const WebhookPost = operation('post');
/** Declares a PUT operation of the class's webhook; the body DTO is the first parameter's type. */
export const WebhookPut = operation('put');
/** Declares a PATCH operation of the class's webhook; the body DTO is the first parameter's type. */
export const WebhookPatch = operation('patch');
/** Declares a DELETE operation of the class's webhook; the body DTO is the first parameter's type. */
export const WebhookDelete = operation('delete');
