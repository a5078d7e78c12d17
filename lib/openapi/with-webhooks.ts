import type { INestApplicationContext } from '@nestjs/common';
import type { OpenAPIObject, OperationObject, PathItemObject, SchemaObject } from '@nestjs/swagger';
import { WebhookCatalog } from '../catalog/webhook-catalog.js';
import {
  documentNotCloneable,
  moduleNotImported,
  operationIdConflict,
} from '../webhooks.messages.js';
import { normalizeDocument } from './openapi-31.normalizer.js';
import {
  addBodySchemas,
  createBodySchemaContext,
  createWebhookOperation,
} from './webhook-operation.factory.js';
import type { WebhookOperation } from '../interfaces/webhook-definition.interface.js';

const OPERATION_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

/**
 * Returns the Swagger document with every declared webhook under `webhooks`, `openapi` set to
 * `3.1.0`, and the whole document made valid OpenAPI 3.1. The input is not modified.
 */
export function withWebhooks(app: INestApplicationContext, document: OpenAPIObject): OpenAPIObject {
  return documentWebhooks(findCatalog(app), document);
}

/** `withWebhooks` with the catalog at hand (the portal documents its event catalog with it). */
export function documentWebhooks(catalog: WebhookCatalog, document: OpenAPIObject): OpenAPIObject {
  const result = cloneDocument(document);
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
  const operationIds = collectOperationIds(result, replaced);

  const context = createBodySchemaContext(catalog.accessor);
  const created: [WebhookOperation, OperationObject][] = [];
  for (const definition of definitions) {
    const pathItem: PathItemObject = { ...webhooks[definition.name] };
    for (const operation of definition.operations.values()) {
      addBodySchemas(operation.body, schemas, context);
      const operationObject = createWebhookOperation(definition, operation);
      created.push([operation, operationObject]);
      pathItem[operation.method] = operationObject;
    }
    webhooks[definition.name] = pathItem;
  }
  assignOperationIds(created, operationIds);

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

function cloneDocument(document: OpenAPIObject): OpenAPIObject {
  try {
    return structuredClone(document);
  } catch (error) {
    // structuredClone names neither where the culprit sits nor, for a symbol, what it is.
    const reason =
      findUncloneable(document, 'document') ??
      (error instanceof Error ? error.message : String(error));
    throw new Error(documentNotCloneable(reason), { cause: error });
  }
}

/** The path of the first function or symbol inside `value`, e.g. `document.paths./a.get.x`. */
function findUncloneable(
  value: unknown,
  path: string,
  seen = new Set<object>(),
): string | undefined {
  if (typeof value === 'function') return `${path} is a function`;
  if (typeof value === 'symbol') return `${path} is a symbol`;
  if (typeof value !== 'object' || value === null || seen.has(value)) return undefined;
  seen.add(value);
  for (const [key, inner] of Object.entries(value)) {
    const found = findUncloneable(inner, `${path}.${key}`, seen);
    if (found) return found;
  }
  return undefined;
}

/** operationId -> what uses it, for every operation of the input that stays as it is. */
function collectOperationIds(document: OpenAPIObject, replaced: Set<unknown>): Map<string, string> {
  const taken = new Map<string, string>();
  const collect = (
    items: object | undefined,
    describe: (method: string, key: string) => string,
  ) => {
    for (const [key, item] of Object.entries(items ?? {})) {
      for (const method of OPERATION_METHODS) {
        const operation: unknown = (item as Record<string, unknown> | undefined)?.[method];
        if (
          typeof operation === 'object' &&
          operation !== null &&
          'operationId' in operation &&
          !replaced.has(operation)
        ) {
          taken.set(String(operation.operationId), describe(method.toUpperCase(), key));
        }
      }
    }
  };
  collect(document.paths, (method, path) => `the path operation ${method} ${path}`);
  collect(document.webhooks, (method, name) => `the ${method} operation of webhook '${name}'`);
  return taken;
}

/**
 * Operation ids chosen by the user are kept as they are, and must be free; default ids then
 * take a deterministic `_2`, `_3`… suffix, in catalog order, when theirs is taken.
 */
function assignOperationIds(
  created: [WebhookOperation, OperationObject][],
  taken: Map<string, string>,
): void {
  for (const [operation] of created) {
    const chosen = operation.options.operationId;
    if (chosen === undefined) continue;
    const where = describeOperation(operation);
    const other = taken.get(chosen);
    if (other !== undefined) throw new Error(operationIdConflict(chosen, where, other));
    taken.set(chosen, where);
  }
  for (const [operation, operationObject] of created) {
    if (operation.options.operationId !== undefined) continue;
    const base = operationObject.operationId!;
    let candidate = base;
    for (let n = 2; taken.has(candidate); n++) candidate = `${base}_${n}`;
    taken.set(candidate, describeOperation(operation));
    operationObject.operationId = candidate;
  }
}

const describeOperation = (operation: WebhookOperation) =>
  `${operation.target.name}.${operation.methodName}() ` +
  `(${operation.method.toUpperCase()} of webhook '${operation.webhook}')`;
