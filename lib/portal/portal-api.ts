import type { WebhookDeliveries } from '../delivery/webhook-deliveries.js';
import type { WebhookTestSender } from '../delivery/webhook-test-sender.js';
import type { WebhookEndpoints } from '../endpoints/webhook-endpoints.js';
import {
  portalDeliveryPending,
  portalEndpointDisabled,
  portalFieldInvalid,
  portalNotFound,
  portalReadOnly,
  portalRevealReadOnly,
  portalSecretUnreadable,
} from '../webhooks.messages.js';
import { PortalHttpError } from './portal-errors.js';
import { WebhookNotFoundError } from '../webhooks.errors.js';
import type { PortalCatalog } from './portal-catalog.js';
import {
  readBody,
  readCursor,
  readEvents,
  readLimit,
  readOptionalString,
  readSince,
  readStatus,
  readUrl,
  readBoolean,
  readDescription,
  isId,
} from './portal-input.js';
import type {
  StoredWebhookEndpoint,
  WebhookEndpoint,
} from '../interfaces/webhook-endpoint.interface.js';
import type {
  WebhookAttempt,
  WebhookDelivery,
  WebhookMessage,
} from '../interfaces/webhook-message.interface.js';
import type { WebhookDeliveryFilter, WebhookStore } from '../interfaces/webhook-store.interface.js';

/** Who is asking: the tenant a link or `authorize` gave, and whether it may change anything. */
export interface PortalSession {
  tenant: string;
  readOnly: boolean;
  /** When the link ends; `null` for a session of `authorize`. */
  expiresAt: Date | null;
}

/** One API request, as the routes hand it over. */
export interface PortalRequest {
  session: PortalSession;
  params: Record<string, string>;
  query: Record<string, unknown>;
  body: unknown;
}

/** What a route answers: a status and a JSON body (none for 204). */
export interface PortalReply {
  status: number;
  body?: unknown;
}

/** How many of an endpoint's latest deliveries its health shows. */
const RECENT_DELIVERIES = 5;
/** A response body is shown up to this many characters. */
const RESPONSE_EXCERPT = 2048;
/** Failed deliveries read per round trip by a recover. */
const RECOVER_PAGE = 500;
/**
 * The most failed deliveries one recover queues again, so that a request stays short however
 * large the backlog; those it queued are pending then, and the next call goes on with the rest.
 */
export const RECOVER_LIMIT = 1_000;

/**
 * The portal's JSON API, one method per route, every one scoped to the session's tenant: an id
 * of another tenant's endpoint, message or delivery is answered as if it did not exist, and
 * every listing is filtered by the tenant in the store. Writes go through the same public
 * services as the app's own code (URL policy, events checked against the catalog).
 */
export class PortalApi {
  constructor(
    private readonly store: WebhookStore,
    private readonly endpoints: WebhookEndpoints,
    private readonly deliveries: WebhookDeliveries,
    private readonly tests: WebhookTestSender,
    private readonly catalog: PortalCatalog,
  ) {}

  session({ session }: PortalRequest): PortalReply {
    return {
      status: 200,
      body: {
        tenant: session.tenant,
        readOnly: session.readOnly,
        expiresAt: session.expiresAt?.toISOString() ?? null,
      },
    };
  }

  events(): PortalReply {
    return { status: 200, body: { items: this.catalog.all() } };
  }

  // Endpoints.

  async listEndpoints({ session, query }: PortalRequest): Promise<PortalReply> {
    const page = await this.store.listEndpoints(
      { tenant: session.tenant },
      { limit: readLimit(query), after: readCursor(query) },
    );
    const items = await Promise.all(page.items.map((endpoint) => this.endpointView(endpoint)));
    return { status: 200, body: { items, next: page.next } };
  }

  async getEndpoint(request: PortalRequest): Promise<PortalReply> {
    const endpoint = await this.ownEndpoint(request);
    return { status: 200, body: await this.endpointView(endpoint) };
  }

  async addEndpoint({ session, body }: PortalRequest): Promise<PortalReply> {
    const fields = readBody(body, ['url', 'events', 'description']);
    const added = await this.endpoints.add({
      url: readUrl(fields, true)!,
      events: readEvents(fields, true)!,
      description: readDescription(fields) ?? null,
      tenant: session.tenant,
    });
    // The only answer that holds the secret without asking for it: the page shows it once. A
    // new endpoint has no deliveries and no failures yet: nothing more to read.
    return { status: 201, body: { ...newEndpointView(added), secret: added.secret } };
  }

  async updateEndpoint(request: PortalRequest): Promise<PortalReply> {
    const fields = readBody(request.body, ['url', 'events', 'description', 'disabled']);
    const patch = {
      url: readUrl(fields, false),
      events: readEvents(fields, false),
      description: readDescription(fields),
      disabled: readBoolean(fields, 'disabled'),
    };
    return this.changeEndpoint(request, patch);
  }

  setDisabled(disabled: boolean) {
    return (request: PortalRequest) => this.changeEndpoint(request, { disabled });
  }

  async removeEndpoint(request: PortalRequest): Promise<PortalReply> {
    const { id } = await this.ownEndpoint(request);
    await this.endpoints.remove(id);
    return { status: 204 };
  }

  async revealSecret(request: PortalRequest): Promise<PortalReply> {
    if (request.session.readOnly) throw new PortalHttpError(403, portalRevealReadOnly());
    const endpoint = await this.ownEndpoint(request);
    // The store marks a secret its keys cannot open, rather than fail the read.
    if (endpoint.unreadableSecret) {
      throw new PortalHttpError(409, portalSecretUnreadable(endpoint.id));
    }
    return { status: 200, body: { secret: endpoint.secret } };
  }

  async rotateSecret(request: PortalRequest): Promise<PortalReply> {
    const { id } = await this.ownEndpoint(request);
    return { status: 200, body: { secret: await this.endpoints.rotateSecret(id) } };
  }

  /** Sends the example payload of an event to the endpoint, marked as a test. */
  async sendTest(request: PortalRequest): Promise<PortalReply> {
    const endpoint = await this.ownEndpoint(request);
    const fields = readBody(request.body ?? {}, ['event', 'method']);
    const event = readOptionalString(fields, 'event') ?? endpoint.events[0];
    const method = readOptionalString(fields, 'method');
    const operation = this.catalog.operation(event, method);
    if (!operation) {
      const expected =
        `a declared webhook (${this.catalog
          .all()
          .map(({ name }) => `'${name}'`)
          .join(', ')}), ` + `with 'method' when it declares several`;
      throw new PortalHttpError(400, portalFieldInvalid('event', expected, event));
    }
    if (endpoint.disabled) throw new PortalHttpError(409, portalEndpointDisabled(endpoint.id));
    const sent = await this.tests.send({
      event,
      method: operation.method,
      tenant: request.session.tenant,
      endpointId: endpoint.id,
      body: JSON.stringify(operation.example),
    });
    return { status: 202, body: sent };
  }

  /**
   * Redelivers the failed deliveries of the endpoint made since a time (Svix's "recover"), up to
   * `RECOVER_LIMIT` of them, newest first; `more` says that some are left for another call.
   */
  async recover(request: PortalRequest): Promise<PortalReply> {
    const endpoint = await this.ownEndpoint(request);
    const since = readSince(readBody(request.body, ['since']));
    const filter: WebhookDeliveryFilter = {
      endpointId: endpoint.id,
      tenant: request.session.tenant,
      status: 'failed',
    };
    let redelivered = 0;
    let taken = 0;
    let after: string | null = null;
    // Newest first: the first delivery older than `since` ends the walk.
    walk: do {
      const page = await this.store.listDeliveries(filter, {
        limit: Math.min(RECOVER_PAGE, RECOVER_LIMIT - taken),
        after,
      });
      for (const delivery of page.items) {
        if (delivery.createdAt < since) break walk;
        taken++;
        redelivered += await this.redeliverFound(delivery.messageId, endpoint.id);
      }
      after = page.next;
    } while (after !== null && taken < RECOVER_LIMIT);
    // Whether one older than `since` would have ended the walk there is not known: the next
    // call finds out, at the cost of one page.
    const more = taken === RECOVER_LIMIT && after !== null;
    return { status: 202, body: { deliveries: redelivered, more } };
  }

  /** How many deliveries a redeliver queued; none for a message pruned meanwhile. */
  private async redeliverFound(messageId: string, endpointId: string): Promise<number> {
    try {
      return (await this.deliveries.redeliver(messageId, endpointId)).deliveries;
    } catch (error) {
      if (error instanceof WebhookNotFoundError) return 0;
      throw error;
    }
  }

  // The log.

  async listMessages({ session, query }: PortalRequest): Promise<PortalReply> {
    const event = readOptionalString(query, 'event');
    const page = await this.store.listMessages(
      { tenant: session.tenant, ...(event !== undefined && { event }) },
      { limit: readLimit(query), after: readCursor(query) },
    );
    return { status: 200, body: { items: page.items.map(messageView), next: page.next } };
  }

  async getMessage({ session, params }: PortalRequest): Promise<PortalReply> {
    if (!isId(params.id)) throw notFound('message', String(params.id));
    const log = await this.deliveries.getMessage(params.id);
    if (!log || log.tenant !== session.tenant) throw notFound('message', params.id);
    const { deliveries, ...message } = log;
    return {
      status: 200,
      body: {
        ...messageView(message),
        deliveries: deliveries.map(({ attemptLog, ...delivery }) =>
          deliveryView(delivery, attemptLog, message),
        ),
      },
    };
  }

  async listDeliveries({ session, query }: PortalRequest): Promise<PortalReply> {
    const filter: WebhookDeliveryFilter = { tenant: session.tenant };
    const event = readOptionalString(query, 'event');
    const status = readStatus(query);
    const endpointId = readOptionalString(query, 'endpoint');
    const messageId = readOptionalString(query, 'message');
    if (event !== undefined) filter.event = event;
    if (status !== undefined) filter.status = status;
    if (endpointId !== undefined) filter.endpointId = endpointId;
    if (messageId !== undefined) filter.messageId = messageId;
    const page = await this.store.listDeliveries(filter, {
      limit: readLimit(query),
      after: readCursor(query),
    });
    const items = await this.deliveryViews(page.items);
    return { status: 200, body: { items, next: page.next } };
  }

  async getDelivery(request: PortalRequest): Promise<PortalReply> {
    const delivery = await this.ownDelivery(request);
    const [view] = await this.deliveryViews([delivery]);
    return { status: 200, body: view };
  }

  async redeliver(request: PortalRequest): Promise<PortalReply> {
    const delivery = await this.ownDelivery(request);
    const { deliveries } = await this.deliveries.redeliver(delivery.messageId, delivery.endpointId);
    if (deliveries === 0) throw new PortalHttpError(409, portalDeliveryPending(delivery.id));
    return { status: 202, body: { deliveries } };
  }

  // Scoping and views.

  /** The endpoint of `params.id`, if it is the session's tenant's. */
  private async ownEndpoint({ session, params }: PortalRequest): Promise<StoredWebhookEndpoint> {
    if (!isId(params.id)) throw notFound('endpoint', String(params.id));
    const endpoint = await this.store.getEndpoint(params.id);
    if (!endpoint || endpoint.tenant !== session.tenant) throw notFound('endpoint', params.id);
    return endpoint;
  }

  private async ownDelivery({ session, params }: PortalRequest): Promise<WebhookDelivery> {
    if (!isId(params.id)) throw notFound('delivery', String(params.id));
    const delivery = await this.store.getDelivery(params.id);
    if (!delivery || delivery.tenant !== session.tenant) throw notFound('delivery', params.id);
    return delivery;
  }

  private async changeEndpoint(
    request: PortalRequest,
    patch: { url?: string; events?: string[]; description?: string | null; disabled?: boolean },
  ): Promise<PortalReply> {
    const { id } = await this.ownEndpoint(request);
    await this.endpoints.update(id, patch);
    const stored = await this.store.getEndpoint(id);
    if (!stored) throw notFound('endpoint', id);
    return { status: 200, body: await this.endpointView(stored) };
  }

  /** The endpoint without its secrets, with its health: its latest deliveries. */
  private async endpointView(endpoint: StoredWebhookEndpoint) {
    const recent = await this.store.listDeliveries(
      { endpointId: endpoint.id, tenant: endpoint.tenant },
      { limit: RECENT_DELIVERIES },
    );
    return {
      ...endpointFields(endpoint),
      failingSince: endpoint.failingSince?.toISOString() ?? null,
      recent: recent.items.map((delivery) => ({
        id: delivery.id,
        messageId: delivery.messageId,
        event: delivery.event,
        status: delivery.status,
        attempts: delivery.attempts,
        lastError: delivery.lastError,
        updatedAt: delivery.updatedAt.toISOString(),
      })),
    };
  }

  /** The deliveries with their attempts (one call) and whether their message is a test. */
  private async deliveryViews(deliveries: WebhookDelivery[]) {
    if (deliveries.length === 0) return [];
    const messageIds = [...new Set(deliveries.map(({ messageId }) => messageId))];
    const [attempts, messages] = await Promise.all([
      this.store.listAttempts(deliveries.map(({ id }) => id)),
      Promise.all(messageIds.map((id) => this.store.getMessage(id))),
    ]);
    const byId = new Map(
      messages.filter((message) => message !== undefined).map((message) => [message.id, message]),
    );
    return deliveries.map((delivery) =>
      deliveryView(delivery, attempts.get(delivery.id) ?? [], byId.get(delivery.messageId)),
    );
  }
}

const notFound = (kind: string, id: string) => new PortalHttpError(404, portalNotFound(kind, id));

/** A write refused to a read-only session, for the routes to raise before any work. */
export const readOnlyRefusal = () => new PortalHttpError(403, portalReadOnly());

function endpointFields(endpoint: WebhookEndpoint | StoredWebhookEndpoint) {
  return {
    id: endpoint.id,
    url: endpoint.url,
    events: endpoint.events,
    description: endpoint.description,
    disabled: endpoint.disabled,
    disabledReason: endpoint.disabledReason,
    createdAt: endpoint.createdAt.toISOString(),
    updatedAt: endpoint.updatedAt.toISOString(),
  };
}

const newEndpointView = (endpoint: WebhookEndpoint) => ({
  ...endpointFields(endpoint),
  failingSince: null,
  recent: [],
});

const messageView = (message: WebhookMessage) => ({
  id: message.id,
  event: message.event,
  method: message.method,
  body: message.body,
  test: message.test === true,
  createdAt: message.createdAt.toISOString(),
});

function deliveryView(
  delivery: WebhookDelivery,
  attempts: WebhookAttempt[],
  message: WebhookMessage | undefined,
) {
  return {
    id: delivery.id,
    messageId: delivery.messageId,
    endpointId: delivery.endpointId,
    event: delivery.event,
    status: delivery.status,
    test: message?.test === true,
    attempts: delivery.attempts,
    nextAttemptAt: delivery.nextAttemptAt?.toISOString() ?? null,
    lastError: delivery.lastError,
    createdAt: delivery.createdAt.toISOString(),
    updatedAt: delivery.updatedAt.toISOString(),
    attemptLog: attempts.map((attempt) => ({
      attempt: attempt.attempt,
      startedAt: attempt.startedAt.toISOString(),
      durationMs: Math.round(attempt.durationMs),
      statusCode: attempt.statusCode,
      outcome: attempt.outcome,
      error: attempt.error,
      responseExcerpt:
        attempt.responseBody === null ? null : attempt.responseBody.slice(0, RESPONSE_EXCERPT),
    })),
  };
}
