import { RECOVER_LIMIT } from './portal-api.js';
import type { PortalQueryParameter, PortalRoute } from './portal-routes.js';

type Json = Record<string, unknown>;

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const time = { type: 'string', format: 'date-time' };
const nullable = (schema: Json) => ({ ...schema, type: [schema.type, 'null'] });
const page = (item: string) => ({
  type: 'object',
  required: ['items', 'next'],
  properties: {
    items: { type: 'array', items: ref(item) },
    next: {
      type: ['string', 'null'],
      description: 'The `cursor` of the next page; `null` on the last.',
    },
  },
});
const STATUS = { type: 'string', enum: ['pending', 'delivered', 'failed'] };

const SCHEMAS: Record<string, Json> = {
  Session: {
    type: 'object',
    required: ['tenant', 'readOnly', 'expiresAt'],
    properties: {
      tenant: { type: 'string' },
      readOnly: { type: 'boolean' },
      expiresAt: { ...nullable(time), description: 'When the link ends; null behind a login.' },
    },
  },
  EventList: {
    type: 'object',
    required: ['items'],
    properties: { items: { type: 'array', items: ref('Event') } },
  },
  Event: {
    type: 'object',
    required: ['name', 'summary', 'description', 'deprecated', 'tags', 'operations'],
    properties: {
      name: { type: 'string' },
      summary: { type: ['string', 'null'] },
      description: { type: ['string', 'null'] },
      deprecated: { type: 'boolean' },
      tags: { type: 'array', items: { type: 'string' } },
      operations: {
        type: 'array',
        items: {
          type: 'object',
          required: ['method', 'schema', 'example'],
          properties: {
            method: { type: 'string', enum: ['post', 'put', 'patch', 'delete'] },
            summary: { type: ['string', 'null'] },
            description: { type: ['string', 'null'] },
            deprecated: { type: 'boolean' },
            schema: { description: 'The JSON schema of the request body.' },
            example: { description: 'An example body: what a test event sends.' },
          },
        },
      },
    },
  },
  RecentDelivery: {
    type: 'object',
    properties: {
      id: { type: 'string' },
      messageId: { type: 'string' },
      event: { type: 'string' },
      status: STATUS,
      attempts: { type: 'integer' },
      lastError: { type: ['string', 'null'] },
      updatedAt: time,
    },
  },
  Endpoint: {
    type: 'object',
    required: ['id', 'url', 'events', 'disabled', 'createdAt', 'updatedAt', 'recent'],
    properties: {
      id: { type: 'string' },
      url: { type: 'string' },
      events: { type: 'array', items: { type: 'string' } },
      description: { type: ['string', 'null'] },
      disabled: { type: 'boolean' },
      disabledReason: { type: ['string', 'null'] },
      failingSince: nullable(time),
      createdAt: time,
      updatedAt: time,
      recent: {
        type: 'array',
        items: ref('RecentDelivery'),
        description: 'Its latest deliveries, newest first: its health.',
      },
    },
  },
  AddedEndpoint: {
    allOf: [
      ref('Endpoint'),
      {
        type: 'object',
        required: ['secret'],
        properties: { secret: { type: 'string', description: 'The `whsec_…` signing secret.' } },
      },
    ],
  },
  EndpointPage: page('Endpoint'),
  NewEndpoint: {
    type: 'object',
    required: ['url', 'events'],
    additionalProperties: false,
    properties: {
      url: { type: 'string', format: 'uri', example: 'https://example.com/webhooks' },
      events: { type: 'array', minItems: 1, items: { type: 'string' } },
      description: { type: ['string', 'null'], maxLength: 1000 },
    },
  },
  EndpointPatch: {
    type: 'object',
    additionalProperties: false,
    properties: {
      url: { type: 'string', format: 'uri' },
      events: { type: 'array', minItems: 1, items: { type: 'string' } },
      description: { type: ['string', 'null'], maxLength: 1000 },
      disabled: { type: 'boolean' },
    },
  },
  Secret: {
    type: 'object',
    required: ['secret'],
    properties: { secret: { type: 'string' } },
  },
  TestEvent: {
    type: 'object',
    additionalProperties: false,
    properties: {
      event: { type: 'string', description: "Default: the endpoint's first event." },
      method: { type: 'string', description: 'Needed when the event declares several.' },
    },
  },
  SentTestEvent: {
    type: 'object',
    required: ['messageId', 'deliveryId'],
    properties: { messageId: { type: 'string' }, deliveryId: { type: ['string', 'null'] } },
  },
  Recover: {
    type: 'object',
    required: ['since'],
    additionalProperties: false,
    properties: { since: time },
  },
  Recovered: {
    type: 'object',
    required: ['deliveries', 'more'],
    properties: {
      deliveries: { type: 'integer', description: 'How many were queued.' },
      more: {
        type: 'boolean',
        description:
          `Whether failed deliveries since that time may be left: one call queues at most ` +
          `${RECOVER_LIMIT}. ` +
          'Call again to go on (those queued are pending now).',
      },
    },
  },
  Redelivered: {
    type: 'object',
    required: ['deliveries'],
    properties: { deliveries: { type: 'integer', description: 'How many were queued.' } },
  },
  Message: {
    type: 'object',
    required: ['id', 'event', 'method', 'body', 'test', 'createdAt'],
    properties: {
      id: { type: 'string', description: 'The `webhook-id` header of every attempt.' },
      event: { type: 'string' },
      method: { type: 'string' },
      body: { type: 'string', description: 'The JSON body exactly as sent.' },
      test: { type: 'boolean' },
      createdAt: time,
    },
  },
  MessagePage: page('Message'),
  MessageLog: {
    allOf: [
      ref('Message'),
      {
        type: 'object',
        required: ['deliveries'],
        properties: { deliveries: { type: 'array', items: ref('Delivery') } },
      },
    ],
  },
  Attempt: {
    type: 'object',
    properties: {
      attempt: { type: 'integer' },
      startedAt: time,
      durationMs: { type: 'integer' },
      statusCode: { type: ['integer', 'null'] },
      outcome: { type: 'string', enum: ['delivered', 'failed'] },
      error: { type: ['string', 'null'] },
      responseExcerpt: {
        type: ['string', 'null'],
        description: "The start of the receiver's answer, as text.",
      },
    },
  },
  Delivery: {
    type: 'object',
    properties: {
      id: { type: 'string' },
      messageId: { type: 'string' },
      endpointId: { type: 'string' },
      event: { type: 'string' },
      status: STATUS,
      test: { type: 'boolean' },
      attempts: { type: 'integer' },
      nextAttemptAt: nullable(time),
      lastError: { type: ['string', 'null'] },
      createdAt: time,
      updatedAt: time,
      attemptLog: { type: 'array', items: ref('Attempt') },
    },
  },
  DeliveryPage: page('Delivery'),
  Error: {
    type: 'object',
    required: ['statusCode', 'error', 'message'],
    properties: {
      statusCode: { type: 'integer' },
      error: { type: 'string' },
      message: { type: 'string', description: 'What was wrong, and what to do.' },
    },
  },
};

const QUERY: Record<PortalQueryParameter, Json> = {
  limit: {
    name: 'limit',
    in: 'query',
    schema: { type: 'integer', minimum: 1, maximum: 100, default: 20 },
  },
  cursor: {
    name: 'cursor',
    in: 'query',
    description: 'The `next` of the page before.',
    schema: { type: 'string' },
  },
  event: { name: 'event', in: 'query', schema: { type: 'string' } },
  status: { name: 'status', in: 'query', schema: STATUS },
  endpoint: {
    name: 'endpoint',
    in: 'query',
    description: 'An endpoint id.',
    schema: { type: 'string' },
  },
  message: {
    name: 'message',
    in: 'query',
    description: 'A message id.',
    schema: { type: 'string' },
  },
};

const errorAnswer = (description: string) => ({
  description,
  content: { 'application/json': { schema: ref('Error') } },
});

/** The OpenAPI 3.1 document of the portal's API, served at `<path>/api/openapi.json`. */
export function portalDocument(routes: readonly PortalRoute[], apiPath: string): Json {
  const paths: Record<string, Record<string, Json>> = {};
  for (const route of routes) {
    const path = `/${route.path.replace(/:id/g, '{id}')}`;
    const hasId = route.path.includes(':id');
    const responses: Record<string, Json> = {
      [route.success.status]: route.success.schema
        ? {
            description: route.success.description,
            content: { 'application/json': { schema: ref(route.success.schema) } },
          }
        : { description: route.success.description },
      '401': errorAnswer('No session, or an expired, altered or revoked link.'),
    };
    if (route.write || route.forbiddenToReaders) {
      responses['403'] = errorAnswer(
        route.write
          ? 'A read-only link, or a write behind the login without x-webhooks-portal.'
          : 'A read-only link.',
      );
    }
    if (route.body || route.query) responses['400'] = errorAnswer('Invalid input; says why.');
    if (hasId) responses['404'] = errorAnswer("No such id for this session's tenant.");
    if (route.conflicts) responses['409'] = errorAnswer(route.conflicts);
    responses['503'] = errorAnswer('Shutting down, or the database is unreachable: try again.');
    (paths[path] ??= {})[route.method.toLowerCase()] = {
      operationId: route.operationId,
      summary: route.summary,
      parameters: [
        ...(hasId ? [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }] : []),
        ...(route.query ?? []).map((name) => QUERY[name]),
      ],
      ...(route.body && {
        requestBody: {
          required: !route.body.optional,
          content: { 'application/json': { schema: ref(route.body.schema) } },
        },
      }),
      responses,
    };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Webhooks portal API',
      version: '1',
      description:
        "A tenant's webhook endpoints and delivery log. Authenticate with the token of a portal " +
        "link as `Authorization: Bearer <token>`, or through the application's own login.",
    },
    servers: [{ url: apiPath }],
    security: [{ portalLink: [] }],
    paths,
    components: {
      schemas: SCHEMAS,
      securitySchemes: {
        portalLink: {
          type: 'http',
          scheme: 'bearer',
          description: 'The token of a link from WebhookPortal.createLink().',
        },
      },
    },
  };
}
