import { applyDecorators, SetMetadata } from '@nestjs/common';
import { markDeclaringClass } from './declaring-classes.js';
import { WEBHOOK_METADATA } from '../../webhooks.constants.js';
import type { WebhookOptions } from '../../interfaces/webhook-options.interface.js';

/** Marks a provider class as the declaration of the webhook (event) `name`. */
export function Webhook(name: string, options?: Omit<WebhookOptions, 'name'>): ClassDecorator;
export function Webhook(options: WebhookOptions): ClassDecorator;
export function Webhook(
  nameOrOptions: string | WebhookOptions,
  options: Omit<WebhookOptions, 'name'> = {},
): ClassDecorator {
  const metadata: WebhookOptions =
    typeof nameOrOptions === 'string' ? { ...options, name: nameOrOptions } : { ...nameOrOptions };
  return applyDecorators(SetMetadata(WEBHOOK_METADATA, metadata), markDeclaringClass);
}
