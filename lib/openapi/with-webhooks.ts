import type { INestApplicationContext, Type } from '@nestjs/common';
import type { OpenAPIObject, PathItemObject, SchemaObject } from '@nestjs/swagger';
import { WebhookCatalog } from '../catalog/webhook-catalog.js';
import { moduleNotImported } from '../webhooks.messages.js';
import { normalizeDocument } from './openapi-31.normalizer.js';
import { addBodySchemas, createWebhookOperation } from './webhook-operation.factory.js';

/**
 * Returns the Swagger document with every declared webhook under `webhooks`, `openapi` set to
 * `3.1.0`, and the whole document made valid OpenAPI 3.1. The input is not modified.
 */
export function withWebhooks(app: INestApplicationContext, document: OpenAPIObject): OpenAPIObject {
  const catalog = findCatalog(app);
  const result = structuredClone(document);
  const schemas: Record<string, SchemaObject> = {
    ...(result.components?.schemas as Record<string, SchemaObject> | undefined),
  };
  const webhooks: Record<string, PathItemObject> = { ...result.webhooks };
  const definitions = catalog.all();
  // Operations about to be replaced (the input already went through withWebhooks) must not
  // keep their operationIds taken, or a second pass would suffix every one of them.
  const replaced = new Set<unknown>(
    definitions.flatMap((definition) =>
      [...definition.operations.keys()].map((method) => webhooks[definition.name]?.[method]),
    ),
  );
  const operationIds = new Set(collectOperationIds(result, replaced));

  const bodies = new Set<Type<unknown>>();
  for (const definition of definitions) {
    const pathItem: PathItemObject = { ...webhooks[definition.name] };
    for (const operation of definition.operations.values()) {
      if (!bodies.has(operation.body)) {
        bodies.add(operation.body);
        addBodySchemas(operation.body, schemas);
      }
      const operationObject = createWebhookOperation(definition, operation);
      operationObject.operationId = unique(operationObject.operationId!, operationIds);
      pathItem[operation.method] = operationObject;
    }
    webhooks[definition.name] = pathItem;
  }

  result.webhooks = webhooks;
  if (Object.keys(schemas).length > 0) {
    result.components = { ...result.components, schemas };
  }
  return normalizeDocument(result);
}

function findCatalog(app: INestApplicationContext): WebhookCatalog {
  try {
    return app.get(WebhookCatalog, { strict: false });
  } catch {
    throw new Error(moduleNotImported());
  }
}

function collectOperationIds(document: OpenAPIObject, replaced: Set<unknown>): string[] {
  const items = [...Object.values(document.paths ?? {}), ...Object.values(document.webhooks ?? {})];
  return items.flatMap((item) =>
    Object.values(item ?? {}).flatMap((operation) =>
      typeof operation === 'object' &&
      operation &&
      'operationId' in operation &&
      !replaced.has(operation)
        ? [String(operation.operationId)]
        : [],
    ),
  );
}

// Deterministic: the same declarations always get the same suffixes, in catalog order.
function unique(operationId: string, taken: Set<string>): string {
  let candidate = operationId;
  for (let n = 2; taken.has(candidate); n++) candidate = `${operationId}_${n}`;
  taken.add(candidate);
  return candidate;
}
