import type { Type } from '@nestjs/common';
import { generateSchema, getSchemaPath } from '@nestjs/swagger';
import type {
  OperationObject,
  ParameterObject,
  ResponsesObject,
  SchemaObject,
} from '@nestjs/swagger';
import type { WebhooksMetadataAccessor } from '../catalog/webhooks-metadata.accessor.js';
import { schemaNameConflict } from '../webhooks.messages.js';
import {
  WEBHOOK_ID_HEADER,
  WEBHOOK_SIGNATURE_HEADER,
  WEBHOOK_TIMESTAMP_HEADER,
} from '../webhooks.constants.js';
import { defaultOperationId, titleCase } from './webhook-naming.js';
import type {
  WebhookDefinition,
  WebhookOperation,
} from '../interfaces/webhook-definition.interface.js';

/** The Standard Webhooks headers, documented so receivers know how to authenticate a request. */
const SIGNATURE_HEADERS: ParameterObject[] = [
  {
    name: WEBHOOK_ID_HEADER,
    in: 'header',
    required: true,
    description:
      'Unique identifier of the message, the same on every retry of it: use it to ignore ' +
      'a message you have already processed.',
    schema: { type: 'string' },
  },
  {
    name: WEBHOOK_TIMESTAMP_HEADER,
    in: 'header',
    required: true,
    description:
      'Unix time in seconds at which this attempt was sent. Reject requests whose timestamp ' +
      'is too far from your clock (e.g. more than 5 minutes) to stop replays.',
    schema: { type: 'integer' },
  },
  {
    name: WEBHOOK_SIGNATURE_HEADER,
    in: 'header',
    required: true,
    description:
      'Space-separated signatures `v1,<base64>`: each is the HMAC-SHA256 of ' +
      '`{webhook-id}.{webhook-timestamp}.{raw request body}` keyed with the base64-decoded part ' +
      'of your endpoint secret (after `whsec_`). Accept the request when any one matches; ' +
      'several appear while a secret is being rotated. Any Standard Webhooks library ' +
      '(e.g. `standardwebhooks`) verifies it for you.',
    schema: { type: 'string' },
  },
];

/** What the sender does with the receiver's answer. */
const RESPONSES: ResponsesObject = {
  '2XX': {
    description:
      'Acknowledged: any 2xx status tells the sender the message was received. The response ' +
      'body is ignored.',
  },
  '410': {
    description: 'Gone: the sender disables this endpoint and sends it nothing more.',
  },
  default: {
    description:
      'Any other status (redirects are not followed), a timeout or a network error makes the ' +
      'sender retry the same message (same `webhook-id`) later, with backoff; `429` and `503` ' +
      'may set `Retry-After`.',
  },
};

/**
 * What one `withWebhooks` call has put under `components.schemas` so far: which class each
 * generated schema name stands for, so two different classes never share a name unnoticed.
 */
export interface BodySchemaContext {
  accessor: WebhooksMetadataAccessor;
  /** Schema name -> the class generated under it, and where that class was found. */
  owners: Map<string, { type: Type<unknown>; where: string }>;
  /** Classes already checked in this call. */
  seen: Set<Type<unknown>>;
}

/** A fresh context for one `withWebhooks` call. */
export function createBodySchemaContext(accessor: WebhooksMetadataAccessor): BodySchemaContext {
  return { accessor, owners: new Map(), seen: new Set() };
}

/**
 * Adds the body DTO's schema, and those of its nested DTOs and named enums, to `schemas`.
 * The body's own schema replaces a stale one; nested ones already present are kept. Throws when
 * the body or a nested DTO has the schema name of a different class met earlier in the same
 * call: swagger names schemas after classes, so the later one would silently replace the other.
 */
export function addBodySchemas(
  body: Type<unknown>,
  schemas: Record<string, SchemaObject>,
  context: BodySchemaContext,
): void {
  claimSchemaNames(body, `${body.name}, a webhook body`, context);
  // Generated alone: passing the growing map would make swagger copy it on every call.
  const generated = generateSchema(body).schemas;
  const bodyName = schemaName(body);
  for (const [name, schema] of Object.entries(generated)) {
    if (name === bodyName || !(name in schemas)) schemas[name] = schema;
  }
}

// Only classes are compared: a schema that came in with the input document has no class to
// compare with, and the same class met again is the same schema.
function claimSchemaNames(type: Type<unknown>, where: string, context: BodySchemaContext): void {
  const pending: [Type<unknown>, string][] = [[type, where]];
  for (let next = pending.pop(); next; next = pending.pop()) {
    const [current, foundAt] = next;
    if (context.seen.has(current)) continue;
    context.seen.add(current);
    const name = schemaName(current);
    const owner = context.owners.get(name);
    if (owner && owner.type !== current) {
      throw new Error(
        schemaNameConflict(
          name,
          `${owner.type.name} (${owner.where})`,
          `${current.name} (${foundAt})`,
        ),
      );
    }
    context.owners.set(name, { type: current, where: foundAt });
    for (const [property, nested] of context.accessor.getDeclaredProperties(current)) {
      if (nested) pending.push([nested, `the type of ${current.name}.${property}`]);
    }
  }
}

const schemaName = (type: Type<unknown>) => getSchemaPath(type).split('/').pop()!;

/** The OpenAPI operation for one webhook operation; its body is a `$ref` to the DTO schema. */
export function createWebhookOperation(
  definition: WebhookDefinition,
  operation: WebhookOperation,
): OperationObject {
  const ref = { $ref: getSchemaPath(operation.body) };
  const { options } = operation;
  const webhookOptions = definition.options;
  const tags = [...(webhookOptions.tags ?? []), ...(options.tags ?? [])];
  const description = options.description ?? webhookOptions.description;
  const deprecated = options.deprecated ?? webhookOptions.deprecated;

  const operationObject: OperationObject = {
    summary: options.summary ?? webhookOptions.summary ?? titleCase(operation.methodName),
    ...(description !== undefined && { description }),
    operationId:
      options.operationId ??
      defaultOperationId(definition.name, operation.methodName, operation.method),
    ...(tags.length > 0 && { tags: [...new Set(tags)] }),
    ...(deprecated !== undefined && { deprecated }),
    parameters: SIGNATURE_HEADERS.map((header) => ({ ...header, schema: { ...header.schema } })),
    requestBody: {
      required: true,
      content: {
        'application/json': {
          schema: operation.isArray ? { type: 'array', items: ref } : ref,
        },
      },
    },
    responses: structuredClone(RESPONSES),
  };
  return operationObject;
}
