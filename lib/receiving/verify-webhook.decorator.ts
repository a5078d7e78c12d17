import {
  applyDecorators,
  createParamDecorator,
  SetMetadata,
  UseGuards,
  UseInterceptors,
  type ExecutionContext,
} from '@nestjs/common';
import { PATH_METADATA } from '@nestjs/common/constants.js';
import { VERIFY_WEBHOOK_METADATA } from '../webhooks.constants.js';
import { verifyWebhookOptionsInvalid, webhookHeadersWithoutVerify } from '../webhooks.messages.js';
import {
  checkVerifyOptions,
  type CheckedVerifyOptions,
  type VerifyWebhookOptions,
} from './verify-webhook.options.js';
import { WebhookDedupeInterceptor } from './webhook-dedupe.interceptor.js';
import { verifiedWebhookOf, WebhookVerificationGuard } from './webhook-verification.guard.js';
import type { VerifiedWebhookHeaders } from './webhook-verifier.js';

/**
 * Verifies each request of the route (or of every route of the controller) as a Standard
 * Webhooks request before its handler runs: the signature over the raw body (the app is made
 * with `rawBody: true`), the timestamp within `tolerance`, and, after both, a repeat of a
 * `webhook-id` already handled answered 200 without running the handler. A route's options
 * are laid over its controller's.
 */
export function VerifyWebhook(
  options: VerifyWebhookOptions = {},
): ClassDecorator & MethodDecorator {
  const checked = checkVerifyOptions(options);
  const apply = applyDecorators(
    SetMetadata(VERIFY_WEBHOOK_METADATA, checked),
    UseGuards(WebhookVerificationGuard),
    UseInterceptors(WebhookDedupeInterceptor),
  );
  return (target: object, key?: string | symbol, descriptor?: PropertyDescriptor) => {
    // On a class, its methods are decorated already: each route must have a secret from
    // somewhere, which a mistake would otherwise show only at its first request.
    if (key === undefined && !checked.source) checkRoutesHaveSecrets(target as Function);
    apply(target, key as string | symbol, descriptor as PropertyDescriptor);
  };
}

function checkRoutesHaveSecrets(controller: Function) {
  const without = Object.getOwnPropertyNames(controller.prototype).filter((name) => {
    const method: unknown = Object.getOwnPropertyDescriptor(controller.prototype, name)?.value;
    // Routes only: what `@Post()` and its siblings mark.
    if (typeof method !== 'function' || Reflect.getMetadata(PATH_METADATA, method) === undefined) {
      return false;
    }
    const own = Reflect.getMetadata(VERIFY_WEBHOOK_METADATA, method) as
      CheckedVerifyOptions | undefined;
    return own?.source === undefined;
  });
  if (without.length > 0) {
    throw new Error(
      verifyWebhookOptionsInvalid(
        `${controller.name} is given no secret, secrets or resolveSecrets, and neither are its ` +
          `routes ${without.join(', ')}; give one on the controller or on each route`,
      ),
    );
  }
}

/**
 * The verified `webhook-id` and `webhook-timestamp` of the request, for a handler of a route
 * under `@VerifyWebhook`.
 */
export const WebhookHeaders = createParamDecorator(
  (_data: unknown, context: ExecutionContext): VerifiedWebhookHeaders => {
    const verified = verifiedWebhookOf(context.switchToHttp().getRequest());
    if (!verified) throw new Error(webhookHeadersWithoutVerify(context.getHandler().name));
    return verified.headers;
  },
);
