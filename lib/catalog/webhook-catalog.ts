import type { Type } from '@nestjs/common';
import type { WebhooksMetadataAccessor } from './webhooks-metadata.accessor.js';
import type { WebhooksExplorer } from './webhooks.explorer.js';
import { UnknownWebhookError } from '../webhooks.errors.js';
import { webhookMethodRequired, webhookMethodUndeclared } from '../webhooks.messages.js';
import type {
  WebhookDefinition,
  WebhookOperation,
} from '../interfaces/webhook-definition.interface.js';
import type { WebhookMethod } from '../interfaces/webhook-options.interface.js';

/**
 * What webhooks the application declares: filled from the explorer once, at `onModuleInit`
 * (the runtime's), or earlier on first use (`withWebhooks()` before `app.init()`); declaration
 * errors are thrown there, and at every later use.
 */
export class WebhookCatalog {
  private byName?: Map<string, WebhookDefinition>;
  private byClass?: Map<Type<unknown>, WebhookDefinition>;

  constructor(
    private readonly explorer: WebhooksExplorer,
    /** Reads the declarations' metadata; `withWebhooks` documents the bodies through it. */
    readonly accessor: WebhooksMetadataAccessor,
  ) {}

  /** Every declared webhook, sorted by name. */
  all(): WebhookDefinition[] {
    return [...this.load().values()];
  }

  names(): string[] {
    return [...this.load().keys()];
  }

  /** The webhook with this name or declaring class, if any. */
  find(nameOrClass: string | Type<unknown>): WebhookDefinition | undefined {
    const byName = this.load();
    return typeof nameOrClass === 'string'
      ? byName.get(nameOrClass)
      : this.byClass!.get(nameOrClass);
  }

  /** The webhook with this name or declaring class; `UnknownWebhookError` when none. */
  get(nameOrClass: string | Type<unknown>): WebhookDefinition {
    const definition = this.find(nameOrClass);
    if (!definition) {
      const label = typeof nameOrClass === 'string' ? nameOrClass : nameOrClass?.name;
      throw new UnknownWebhookError(String(label), this.names());
    }
    return definition;
  }

  /** The operation to send for a webhook; `method` is needed only when it declares several. */
  operation(nameOrClass: string | Type<unknown>, method?: WebhookMethod): WebhookOperation {
    const { name, operations } = this.get(nameOrClass);
    if (method === undefined) {
      // Every emit comes here: the single operation without building the list of methods.
      if (operations.size === 1) return operations.values().next().value!;
      throw new Error(webhookMethodRequired(name, [...operations.keys()]));
    }
    const operation = operations.get(method.toLowerCase() as WebhookMethod);
    if (!operation) throw new Error(webhookMethodUndeclared(name, method, [...operations.keys()]));
    return operation;
  }

  private load(): Map<string, WebhookDefinition> {
    if (!this.byName) {
      const definitions = this.explorer.explore();
      this.byName = new Map(definitions.map((definition) => [definition.name, definition]));
      this.byClass = new Map();
      for (const definition of definitions) {
        for (const operation of definition.operations.values()) {
          this.byClass.set(operation.target, definition);
        }
      }
    }
    return this.byName;
  }
}
