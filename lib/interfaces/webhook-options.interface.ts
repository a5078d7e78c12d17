import type { Type } from '@nestjs/common';

/** Options of `@Webhook()`: documentation shared by every operation of the webhook. */
export interface WebhookOptions {
  /** The webhook (event) name, e.g. `'new-subscription'`. */
  name: string;
  summary?: string;
  description?: string;
  tags?: string[];
  deprecated?: boolean;
}

/** HTTP methods a webhook operation can use. */
export type WebhookMethod = 'post' | 'put' | 'patch' | 'delete';

/** A body DTO class, or `[Dto]` for an array of them. */
export type WebhookBody = Type<unknown> | [Type<unknown>];

/** Options of `@WebhookPost()` and its siblings. */
export interface WebhookOperationOptions {
  summary?: string;
  description?: string;
  /** The request body DTO when the first parameter's type cannot say it; `[Dto]` for an array. */
  body?: WebhookBody;
  operationId?: string;
  tags?: string[];
  deprecated?: boolean;
}

/** What `@WebhookPost()` and its siblings record on a method. */
export interface WebhookOperationMetadata {
  method: WebhookMethod;
  options: WebhookOperationOptions;
}

/** What an operation decorator lists on its class: one read finds every operation of a class. */
export interface WebhookOperationDeclaration {
  methodName: string | symbol;
  /** Declared on a static method, which cannot be an operation (the explorer refuses it). */
  isStatic: boolean;
  metadata: WebhookOperationMetadata;
}
