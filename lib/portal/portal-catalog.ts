import type { OpenAPIObject } from '@nestjs/swagger';
import type { WebhookCatalog } from '../catalog/webhook-catalog.js';
import { documentWebhooks } from '../openapi/with-webhooks.js';
import { exampleOf, inlineSchema } from './schema-example.js';
import type { WebhookMethod } from '../interfaces/webhook-options.interface.js';

/** One operation of a webhook as the portal shows it. */
export interface PortalEventOperation {
  method: WebhookMethod;
  summary: string | null;
  description: string | null;
  deprecated: boolean;
  /** The request body's JSON schema, as the app's document has it, with its `$ref`s inlined. */
  schema: unknown;
  /** A body that schema describes: what a test event sends. */
  example: unknown;
}

/** One declared webhook (event type) as the portal shows it. */
export interface PortalEvent {
  name: string;
  summary: string | null;
  description: string | null;
  deprecated: boolean;
  tags: string[];
  operations: PortalEventOperation[];
}

const METHODS: readonly WebhookMethod[] = ['post', 'put', 'patch', 'delete'];

/**
 * The event catalog from the same document `withWebhooks` builds, made once on first use: the
 * declarations do not change while the app runs.
 */
export class PortalCatalog {
  private events?: PortalEvent[];

  constructor(private readonly catalog: WebhookCatalog) {}

  all(): PortalEvent[] {
    this.events ??= this.build();
    return this.events;
  }

  /** The operation of `event` (its only one, or the one of `method`), if declared. */
  operation(event: string, method?: string): PortalEventOperation | undefined {
    const found = this.all().find(({ name }) => name === event);
    if (!found) return undefined;
    if (method === undefined)
      return found.operations.length === 1 ? found.operations[0] : undefined;
    return found.operations.find((operation) => operation.method === method.toLowerCase());
  }

  private build(): PortalEvent[] {
    const document = documentWebhooks(this.catalog, {
      openapi: '3.0.0',
      info: { title: 'webhooks', version: '1' },
      paths: {},
    } as OpenAPIObject);
    const schemas = (document.components?.schemas ?? {}) as Record<string, Record<string, unknown>>;
    return this.catalog.all().map((definition): PortalEvent => {
      const item = (document.webhooks?.[definition.name] ?? {}) as Record<string, any>;
      const operations = METHODS.filter((method) => item[method]).map((method) => {
        const operation = item[method];
        const schema = inlineSchema(
          operation.requestBody?.content?.['application/json']?.schema,
          schemas,
        );
        return {
          method,
          summary: operation.summary ?? null,
          description: operation.description ?? null,
          deprecated: operation.deprecated === true,
          schema,
          example: exampleOf(schema),
        };
      });
      const { options } = definition;
      return {
        name: definition.name,
        summary: options.summary ?? null,
        description: options.description ?? null,
        deprecated: options.deprecated === true,
        tags: [...(options.tags ?? [])],
        operations,
      };
    });
  }
}
