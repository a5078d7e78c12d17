import { SetMetadata } from '@nestjs/common';
import { WEBHOOK_OPERATION_METADATA } from '../../webhooks.constants.js';
import type {
  WebhookMethod,
  WebhookOperationMetadata,
  WebhookOperationOptions,
} from '../../interfaces/webhook-options.interface.js';

const operation =
  (method: WebhookMethod) =>
  (options: WebhookOperationOptions = {}): MethodDecorator =>
    SetMetadata<string, WebhookOperationMetadata>(WEBHOOK_OPERATION_METADATA, {
      method,
      options: { ...options },
    });

/** Declares a POST operation of the class's webhook; the body DTO is the first parameter's type. */
export const WebhookPost = operation('post');
/** Declares a PUT operation of the class's webhook; the body DTO is the first parameter's type. */
export const WebhookPut = operation('put');
/** Declares a PATCH operation of the class's webhook; the body DTO is the first parameter's type. */
export const WebhookPatch = operation('patch');
/** Declares a DELETE operation of the class's webhook; the body DTO is the first parameter's type. */
export const WebhookDelete = operation('delete');
