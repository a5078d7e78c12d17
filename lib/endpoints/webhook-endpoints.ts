import { Logger } from '@nestjs/common';
import type { WebhookCatalog } from '../catalog/webhook-catalog.js';
import { createId } from '../storage/ids.js';
import { copyEndpoint } from '../storage/record-copies.js';
import {
  ANY_STRING,
  checkBooleanField,
  checkFields,
  checkId,
  checkNamesField,
  checkStringField,
  NON_EMPTY,
  NULLABLE,
  requireStringField,
  type ArgumentSite,
} from '../webhooks.arguments.js';
import { WEBHOOKS_LOGGER_CONTEXT } from '../webhooks.constants.js';
import { WebhookNotFoundError } from '../webhooks.errors.js';
import {
  disabledByUpdate,
  endpointNotFound,
  endpointUnavailable,
  reencryptNeedsKey,
  unreadableSecretReplaced,
} from '../webhooks.messages.js';
import { generateSecret, parseSecret } from './endpoint-secret.js';
import type { UrlPolicy } from './url-policy.js';
import type {
  CreateWebhookEndpoint,
  StoredWebhookEndpoint,
  UpdateWebhookEndpoint,
  WebhookEndpoint,
  WebhookEndpointFilter,
} from '../interfaces/webhook-endpoint.interface.js';
import type { WebhookEventPublisher } from '../interfaces/webhook-events.interface.js';
import type { WebhookStore } from '../interfaces/webhook-store.interface.js';
import type { ResolvedWebhooksOptions } from '../webhooks.options.js';

/** The registry of destination URLs: who receives which webhooks, and with which secret. */
export class WebhookEndpoints {
  private readonly logger = new Logger(WEBHOOKS_LOGGER_CONTEXT);

  constructor(
    private readonly catalog: WebhookCatalog,
    private readonly urls: UrlPolicy,
    private readonly store: WebhookStore,
    private readonly options: ResolvedWebhooksOptions,
    private readonly events: WebhookEventPublisher,
  ) {}

  /** Registers an endpoint; generates a `whsec_` secret when none is given. */
  async add(input: CreateWebhookEndpoint): Promise<WebhookEndpoint> {
    checkEndpointFields(input, ADD, CREATE_FIELDS, true);
    const events = this.checkEvents(input.events);
    const url = await this.urls.assertAllowed(input.url);
    if (input.secret !== undefined) parseSecret(input.secret);
    const now = new Date();
    const endpoint: StoredWebhookEndpoint = {
      id: createId('ep'),
      url: url.href,
      events,
      secret: input.secret ?? generateSecret(),
      tenant: input.tenant ?? null,
      description: input.description ?? null,
      disabled: false,
      disabledReason: null,
      createdAt: now,
      updatedAt: now,
      retiredSecrets: [],
      failingSince: null,
    };
    await this.store.insertEndpoint(endpoint);
    return toPublic(endpoint);
  }

  /** The endpoint, or `undefined` when no endpoint has this id. */
  async get(id: string): Promise<WebhookEndpoint | undefined> {
    checkId(id, { call: 'WebhookEndpoints.get', argument: 'id' });
    const endpoint = await this.store.getEndpoint(id);
    return endpoint && toPublic(endpoint);
  }

  /** Endpoints, optionally of one tenant (`null`: those without one) or one event. */
  async list(filter: WebhookEndpointFilter = {}): Promise<WebhookEndpoint[]> {
    const site = { call: 'WebhookEndpoints.list', argument: 'filter' };
    const fields = checkFields(filter, site, FILTER_FIELDS);
    checkStringField(fields, 'tenant', site, NULLABLE);
    checkStringField(fields, 'event', site, ANY_STRING);
    checkBooleanField(fields, 'disabled', site);
    const found: WebhookEndpoint[] = [];
    let after: string | null = null;
    do {
      const page = await this.store.listEndpoints(filter, { limit: PAGE_SIZE, after });
      for (const endpoint of page.items) found.push(toPublic(endpoint));
      after = page.next;
    } while (after !== null);
    return found;
  }

  /** Changes URL, events, description, or re-enables (`disabled: false`) an endpoint. */
  async update(id: string, patch: UpdateWebhookEndpoint): Promise<WebhookEndpoint> {
    checkId(id, { call: 'WebhookEndpoints.update', argument: 'id' });
    checkEndpointFields(patch, UPDATE, UPDATE_FIELDS, false);
    await this.require(id);
    const changes: Partial<StoredWebhookEndpoint> = { updatedAt: new Date() };
    if (patch.events !== undefined) changes.events = this.checkEvents(patch.events);
    if (patch.url !== undefined) changes.url = (await this.urls.assertAllowed(patch.url)).href;
    if (patch.description !== undefined) changes.description = patch.description;
    if (patch.disabled !== undefined) {
      changes.disabled = patch.disabled;
      changes.disabledReason = patch.disabled ? disabledByUpdate() : null;
      if (!patch.disabled) changes.failingSince = null;
    }
    const updated = await this.store.updateEndpoint(id, changes);
    // Removed while the new URL was being checked.
    if (!updated) throw notFound(id);
    return toPublic(updated);
  }

  /**
   * Deletes the endpoint; its pending deliveries end as failed, each with a `delivery-exhausted`
   * event. Resolves to whether it existed.
   */
  async remove(id: string): Promise<boolean> {
    checkId(id, { call: 'WebhookEndpoints.remove', argument: 'id' });
    // Its pending deliveries fail with it, in the same step; their queued jobs will find them
    // finished and send nothing.
    const { removed, failed } = await this.store.removeEndpoint(
      id,
      endpointUnavailable(id),
      new Date(),
    );
    for (const delivery of failed) {
      this.events.publish({ type: 'delivery-exhausted', delivery, attempt: null });
    }
    return removed;
  }

  /**
   * Replaces the secret and returns the new one. The old secret keeps signing beside it for the
   * grace period (`secretRotationGracePeriod`, default 24 h) so receivers can switch over.
   */
  async rotateSecret(id: string): Promise<string> {
    checkId(id, { call: 'WebhookEndpoints.rotateSecret', argument: 'id' });
    // Also the way out for an endpoint whose secret its store can no longer decrypt.
    const endpoint = await this.require(id, { unreadable: true });
    const now = new Date();
    const grace = this.options.secretRotationGracePeriod;
    const secret = generateSecret();
    const kept = endpoint.retiredSecrets.filter((retired) => retired.expiresAt > now);
    if (endpoint.unreadableSecret) {
      // What cannot be read cannot sign: it is dropped rather than retired.
      this.logger.warn(unreadableSecretReplaced(id, endpoint.unreadableSecret.keyId));
    }
    const rotated = await this.store.updateEndpoint(id, {
      secret,
      updatedAt: now,
      retiredSecrets: endpoint.unreadableSecret
        ? kept
        : [{ secret: endpoint.secret, expiresAt: new Date(now.getTime() + grace) }, ...kept],
    });
    if (!rotated) throw notFound(id);
    return secret;
  }

  /**
   * With the PostgreSQL store and `store.encryptionKey`: rewrites every stored secret (current
   * and retired) that is not encrypted under the newest key of the list, in batches of 500, and
   * resolves to how many endpoints it rewrote, and the ids of those it could not decrypt (left
   * as they are, and logged). Run it once every process has the new list, and
   * before taking an old key out of it.
   */
  async reencryptSecrets(): Promise<{ reencrypted: number; unreadable: string[] }> {
    if (!this.store.reencryptSecrets) throw new Error(reencryptNeedsKey());
    return this.store.reencryptSecrets();
  }

  /** The endpoint; unless `unreadable` is allowed, one whose secret cannot be read throws. */
  private async require(id: string, { unreadable = false } = {}): Promise<StoredWebhookEndpoint> {
    const endpoint = await this.store.getEndpoint(id);
    if (!endpoint) throw notFound(id);
    if (endpoint.unreadableSecret && !unreadable) throw endpoint.unreadableSecret;
    return endpoint;
  }

  /** Names checked to be declared webhooks (the types are checked already), each once. */
  private checkEvents(events: readonly string[]): string[] {
    for (const event of events) this.catalog.get(event);
    return [...new Set(events)];
  }
}

/** Endpoints read from the store per round trip by `list()`. */
const PAGE_SIZE = 1000;
const CREATE_FIELDS = ['url', 'events', 'secret', 'tenant', 'description'] as const;
const UPDATE_FIELDS = ['url', 'events', 'description', 'disabled'] as const;
const FILTER_FIELDS = ['tenant', 'event', 'disabled'] as const;
const ADD = { call: 'WebhookEndpoints.add', argument: 'input' };
const UPDATE = { call: 'WebhookEndpoints.update', argument: 'patch' };

/** The fields of `add`'s input (`creating`: `url` and `events` required) or `update`'s patch. */
function checkEndpointFields(
  value: unknown,
  site: ArgumentSite,
  known: readonly string[],
  creating: boolean,
): void {
  const fields = checkFields(value, site, known);
  if (creating) requireStringField(fields, 'url', site, NON_EMPTY);
  else checkStringField(fields, 'url', site, NON_EMPTY);
  checkNamesField(fields, 'events', site, !creating);
  checkStringField(fields, 'secret', site, NON_EMPTY);
  checkStringField(fields, 'tenant', site, NULLABLE);
  checkStringField(fields, 'description', site, NULLABLE);
  checkBooleanField(fields, 'disabled', site);
}

const notFound = (id: string) => new WebhookNotFoundError('endpoint', id, endpointNotFound(id));

/** The public view: no retired secrets, no health bookkeeping. */
function toPublic(endpoint: StoredWebhookEndpoint): WebhookEndpoint {
  // Its secret is part of the view: one that cannot be read fails the read, naming its key.
  if (endpoint.unreadableSecret) throw endpoint.unreadableSecret;
  const {
    retiredSecrets: _retired,
    failingSince: _failing,
    unreadableSecret: _unreadable,
    ...view
  } = copyEndpoint(endpoint);
  return view;
}
