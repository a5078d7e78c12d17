import type { Type } from '@nestjs/common';
import type {
  WebhookMethod,
  WebhookOperationOptions,
  WebhookOptions,
} from './webhook-options.interface.js';

/** One HTTP operation of a declared webhook, as the catalog holds it. */
export interface WebhookOperation {
  webhook: string;
  method: WebhookMethod;
  /** The body DTO class (the element class when `isArray`). */
  body: Type<unknown>;
  isArray: boolean;
  options: WebhookOperationOptions;
  /** The declaring provider class and method, for messages and default names. */
  target: Type<unknown>;
  methodName: string;
}

/** One declared webhook (event) with its operations. */
export interface WebhookDefinition {
  name: string;
  options: WebhookOptions;
  target: Type<unknown>;
  operations: ReadonlyMap<WebhookMethod, WebhookOperation>;
}
