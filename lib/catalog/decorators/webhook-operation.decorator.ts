import { applyDecorators, SetMetadata } from '@nestjs/common';
import { markDeclaringClass } from './declaring-classes.js';
import {
  WEBHOOK_OPERATION_METADATA,
  WEBHOOK_OPERATIONS_METADATA,
} from '../../webhooks.constants.js';
import type {
  WebhookMethod,
  WebhookOperationDeclaration,
  WebhookOperationMetadata,
  WebhookOperationOptions,
} from '../../interfaces/webhook-options.interface.js';

const operation =
  (method: WebhookMethod) =>
  (options: WebhookOperationOptions = {}): MethodDecorator => {
    const metadata: WebhookOperationMetadata = {
      method,
      options: { ...options, ...(options.tags && { tags: [...options.tags] }) },
    };
    return applyDecorators(
      SetMetadata(WEBHOOK_OPERATION_METADATA, metadata),
      listOnClass(metadata),
    );
  };

// Also lists the operation on its class, so discovery reads one key per provider instead of
// one per method. On a static method the target is the class itself, not its prototype:
// `target.constructor` would be `Function`, shared by every class. A static one is listed on its
// class too, so the explorer can refuse it by name instead of dropping it without a word (an
// operation is a method of the provider instance).
const listOnClass =
  (metadata: WebhookOperationMetadata): MethodDecorator =>
  (target, methodName) => {
    const isStatic = typeof target === 'function';
    const owner = isStatic ? target : target.constructor;
    const listed: WebhookOperationDeclaration[] =
      Reflect.getOwnMetadata(WEBHOOK_OPERATIONS_METADATA, owner) ?? [];
    Reflect.defineMetadata(
      WEBHOOK_OPERATIONS_METADATA,
      [...listed, { methodName, isStatic, metadata }],
      owner,
    );
    markDeclaringClass(owner);
  };

/** Declares a POST operation of the class's webhook; the body DTO is the first parameter's type. */
export const WebhookPost = operation('post');
/** Declares a PUT operation of the class's webhook; the body DTO is the first parameter's type. */
export const WebhookPut = operation('put');
/** Declares a PATCH operation of the class's webhook; the body DTO is the first parameter's type. */
export const WebhookPatch = operation('patch');
/** Declares a DELETE operation of the class's webhook; the body DTO is the first parameter's type. */
export const WebhookDelete = operation('delete');
