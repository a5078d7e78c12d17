import {
  RECOVER_LIMIT,
  type PortalApi,
  type PortalReply,
  type PortalRequest,
} from './portal-api.js';

/** One route of the portal's JSON API, with what its OpenAPI document says of it. */
export interface PortalRoute {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  /** Below `<path>/api/`, with `:id` for the id. */
  path: string;
  operationId: string;
  summary: string;
  /** Changes something: refused to read-only links. */
  write: boolean;
  run: (request: PortalRequest) => PortalReply | Promise<PortalReply>;
  /** Query parameters it reads. */
  query?: readonly PortalQueryParameter[];
  /** The component schema of its JSON body, if it takes one; `optional` when it may be left out. */
  body?: { schema: string; optional?: boolean };
  /** Its success status and the component schema of that answer (none for 204). */
  success: { status: number; schema?: string; description: string };
  /** Refusals of its own beyond those of every route (401, 403 of writes, 400 and 404 of input). */
  conflicts?: string;
  /** Refused to read-only links although it changes nothing (it reveals a secret). */
  forbiddenToReaders?: boolean;
}

export type PortalQueryParameter = 'limit' | 'cursor' | 'event' | 'status' | 'endpoint' | 'message';

const PAGED: readonly PortalQueryParameter[] = ['limit', 'cursor'];

/** Every route of the API: what the server mounts and what its OpenAPI document describes. */
export function portalRoutes(api: PortalApi): PortalRoute[] {
  return [
    {
      method: 'GET',
      path: 'session',
      operationId: 'getSession',
      summary: 'The tenant of this session, and whether it is read-only',
      write: false,
      run: (request) => api.session(request),
      success: { status: 200, schema: 'Session', description: 'The session.' },
    },
    {
      method: 'GET',
      path: 'events',
      operationId: 'listEvents',
      summary: 'The event catalog: every webhook with its schema and an example payload',
      write: false,
      run: () => api.events(),
      success: { status: 200, schema: 'EventList', description: 'Every declared event.' },
    },
    {
      method: 'GET',
      path: 'endpoints',
      operationId: 'listEndpoints',
      summary: "The tenant's endpoints, oldest first, with their latest deliveries",
      write: false,
      run: (request) => api.listEndpoints(request),
      query: PAGED,
      success: { status: 200, schema: 'EndpointPage', description: 'A page of endpoints.' },
    },
    {
      method: 'POST',
      path: 'endpoints',
      operationId: 'addEndpoint',
      summary: 'Adds an endpoint; the answer holds its signing secret',
      write: true,
      run: (request) => api.addEndpoint(request),
      body: { schema: 'NewEndpoint' },
      success: { status: 201, schema: 'AddedEndpoint', description: 'The endpoint, with secret.' },
    },
    {
      method: 'GET',
      path: 'endpoints/:id',
      operationId: 'getEndpoint',
      summary: 'One endpoint with its latest deliveries',
      write: false,
      run: (request) => api.getEndpoint(request),
      success: { status: 200, schema: 'Endpoint', description: 'The endpoint.' },
    },
    {
      method: 'PATCH',
      path: 'endpoints/:id',
      operationId: 'updateEndpoint',
      summary: "Changes an endpoint's URL, events or description, or disables it",
      write: true,
      run: (request) => api.updateEndpoint(request),
      body: { schema: 'EndpointPatch' },
      success: { status: 200, schema: 'Endpoint', description: 'The endpoint as it is now.' },
    },
    {
      method: 'DELETE',
      path: 'endpoints/:id',
      operationId: 'removeEndpoint',
      summary: 'Removes an endpoint; its pending deliveries fail',
      write: true,
      run: (request) => api.removeEndpoint(request),
      success: { status: 204, description: 'Removed.' },
    },
    {
      method: 'POST',
      path: 'endpoints/:id/enable',
      operationId: 'enableEndpoint',
      summary: 'Enables an endpoint',
      write: true,
      run: api.setDisabled(false),
      success: { status: 200, schema: 'Endpoint', description: 'The endpoint as it is now.' },
    },
    {
      method: 'POST',
      path: 'endpoints/:id/disable',
      operationId: 'disableEndpoint',
      summary: 'Disables an endpoint: it receives nothing until enabled',
      write: true,
      run: api.setDisabled(true),
      success: { status: 200, schema: 'Endpoint', description: 'The endpoint as it is now.' },
    },
    {
      method: 'GET',
      path: 'endpoints/:id/secret',
      operationId: 'revealEndpointSecret',
      summary: "Reveals an endpoint's signing secret (not to read-only links)",
      write: false,
      run: (request) => api.revealSecret(request),
      forbiddenToReaders: true,
      conflicts: 'The secret cannot be read by the server: rotate it.',
      success: { status: 200, schema: 'Secret', description: 'The secret.' },
    },
    {
      method: 'POST',
      path: 'endpoints/:id/secret/rotate',
      operationId: 'rotateEndpointSecret',
      summary: 'Replaces the secret; the old one keeps signing for the grace period',
      write: true,
      run: (request) => api.rotateSecret(request),
      success: { status: 200, schema: 'Secret', description: 'The new secret.' },
    },
    {
      method: 'POST',
      path: 'endpoints/:id/test',
      operationId: 'sendTestEvent',
      summary: "Sends an event's example payload to the endpoint, marked as a test",
      write: true,
      run: (request) => api.sendTest(request),
      conflicts: 'The endpoint is disabled.',
      body: { schema: 'TestEvent', optional: true },
      success: { status: 202, schema: 'SentTestEvent', description: 'The test message.' },
    },
    {
      method: 'POST',
      path: 'endpoints/:id/recover',
      operationId: 'recoverEndpoint',
      summary: `Redelivers the failed deliveries of the endpoint made since a time, ${RECOVER_LIMIT} at most`,
      write: true,
      run: (request) => api.recover(request),
      body: { schema: 'Recover' },
      success: {
        status: 202,
        schema: 'Recovered',
        description: 'How many were queued, and whether more are left.',
      },
    },
    {
      method: 'GET',
      path: 'messages',
      operationId: 'listMessages',
      summary: "The tenant's messages, newest first",
      write: false,
      run: (request) => api.listMessages(request),
      query: ['event', ...PAGED],
      success: { status: 200, schema: 'MessagePage', description: 'A page of messages.' },
    },
    {
      method: 'GET',
      path: 'messages/:id',
      operationId: 'getMessage',
      summary: 'One message with its deliveries and every attempt',
      write: false,
      run: (request) => api.getMessage(request),
      success: { status: 200, schema: 'MessageLog', description: 'The message.' },
    },
    {
      method: 'GET',
      path: 'deliveries',
      operationId: 'listDeliveries',
      summary: 'Deliveries with every attempt, newest first, filtered',
      write: false,
      run: (request) => api.listDeliveries(request),
      query: ['event', 'status', 'endpoint', 'message', ...PAGED],
      success: { status: 200, schema: 'DeliveryPage', description: 'A page of deliveries.' },
    },
    {
      method: 'GET',
      path: 'deliveries/:id',
      operationId: 'getDelivery',
      summary: 'One delivery with every attempt',
      write: false,
      run: (request) => api.getDelivery(request),
      success: { status: 200, schema: 'Delivery', description: 'The delivery.' },
    },
    {
      method: 'POST',
      path: 'deliveries/:id/redeliver',
      operationId: 'redeliver',
      summary: 'Sends a finished delivery again, with the same webhook-id',
      write: true,
      run: (request) => api.redeliver(request),
      conflicts: 'The delivery is still pending.',
      success: { status: 202, schema: 'Redelivered', description: 'How many were queued.' },
    },
  ];
}
