import type { Type } from '@nestjs/common';
import type { WebhookCatalog } from '../catalog/webhook-catalog.js';
import { createId } from '../storage/ids.js';
import {
  checkFields,
  checkString,
  checkStringField,
  NON_EMPTY,
  NULLABLE,
} from '../webhooks.arguments.js';
import { WebhookArgumentError, WebhooksShutdownError } from '../webhooks.errors.js';
import { emitAfterShutdown, transactionNeedsPostgres } from '../webhooks.messages.js';
import { describeTransaction, transactionRunner } from '../storage/transaction-runner.js';
import type { WebhookPayloadSerializer } from './webhook-payload.js';
import type { EmitResult, WebhookMessage } from '../interfaces/webhook-message.interface.js';
import type { WebhookMethod } from '../interfaces/webhook-options.interface.js';
import type { WebhookQueue } from '../interfaces/webhook-queue.interface.js';
import type { WebhookStore } from '../interfaces/webhook-store.interface.js';
import type { ResolvedWebhooksOptions } from '../webhooks.options.js';

/** Options of `WebhookEmitter.emit()`. */
export interface EmitOptions {
  /** Reach only this tenant's endpoints; without it, only endpoints without a tenant. */
  tenant?: string | null;
  /** Which operation to send, when the webhook declares several. */
  method?: WebhookMethod;
  /**
   * A repeated key (per tenant, within `idempotencyTtl`) returns the first message; sends none.
   * At most 255 characters.
   */
  idempotencyKey?: string;
  /**
   * The caller's open database transaction, with the PostgreSQL store: the message and its
   * deliveries are written through it and go out once it commits, never if it rolls back. A pg
   * `Client` or `PoolClient` inside `BEGIN`, a TypeORM `EntityManager` or `QueryRunner`, or a
   * function `(sql, params) => Promise` resolving to the rows, for any other tool.
   */
  transaction?: unknown;
}

const EMIT_OPTIONS = ['tenant', 'method', 'idempotencyKey', 'transaction'] as const;
/** The longest idempotency key: as long as a key of Stripe's `Idempotency-Key` header. */
export const MAX_IDEMPOTENCY_KEY_LENGTH = 255;
// Made once: every emit is checked.
const EVENT = { call: 'WebhookEmitter.emit', argument: 'event' };
const OPTIONS = { call: 'WebhookEmitter.emit', argument: 'options' };
const IDEMPOTENCY_KEY = { nonEmpty: true, maxLength: MAX_IDEMPOTENCY_KEY_LENGTH };

/** Sends a declared webhook to every endpoint registered for it. */
export class WebhookEmitter {
  private closed = false;

  constructor(
    private readonly catalog: WebhookCatalog,
    private readonly payloads: WebhookPayloadSerializer,
    private readonly store: WebhookStore,
    private readonly queue: WebhookQueue,
    private readonly options: ResolvedWebhooksOptions,
  ) {}

  /** Refuses every later `emit()`: called as the application shuts down, before the queue stops. */
  close() {
    this.closed = true;
  }

  /**
   * Validates `payload` against the webhook's DTO, stores the message with one delivery per
   * matching endpoint, and queues them; resolves once all of that is done (not when receivers
   * answer).
   * Rejects, storing nothing, once the application is shutting down.
   */
  async emit(
    event: string | Type<unknown>,
    payload: unknown,
    options: EmitOptions = {},
  ): Promise<EmitResult> {
    checkEmitArguments(event, options);
    this.assertOpen(event);
    const transaction =
      options.transaction === undefined ? undefined : this.transactionOf(options.transaction);
    const operation = this.catalog.operation(event, options.method);
    const body = await this.payloads.serialize(operation, payload);
    const tenant = options.tenant ?? null;
    const now = new Date();
    const message: WebhookMessage = {
      id: createId('msg'),
      event: operation.webhook,
      method: operation.method,
      tenant,
      body,
      idempotencyKey: options.idempotencyKey ?? null,
      createdAt: now,
    };
    // Only a message with a key looks back.
    const idempotentSince =
      message.idempotencyKey === null ? now : new Date(now.getTime() - this.options.idempotencyTtl);
    // Again: the shutdown may have begun while the payload was validated.
    this.assertOpen(event);
    // A process that delivers nothing itself wakes the workers that do.
    const { worker } = this.options;
    const stored = await this.store.emit({
      message,
      idempotentSince,
      notify: !worker,
      transaction,
    });
    if (!stored.inserted) {
      return { id: stored.existing.id, event: stored.existing.event, endpoints: stored.deliveries };
    }
    const { deliveries } = stored;
    // What is written in the caller's transaction cannot be claimed before it commits: the
    // workers hear of it then (LISTEN), or sweep it.
    if (worker && !transaction && deliveries.length > 0) {
      await this.queue.enqueueAll(
        deliveries.map(({ id, endpointId }) => ({ deliveryId: id, endpointId })),
      );
    }
    return { id: message.id, event: message.event, endpoints: deliveries.length };
  }

  private transactionOf(value: unknown) {
    if (this.options.store.type !== 'postgres') {
      throw new WebhookArgumentError(
        'options.transaction',
        transactionNeedsPostgres(describeTransaction(value)),
      );
    }
    return transactionRunner(value);
  }

  private assertOpen(event: string | Type<unknown>) {
    if (!this.closed) return;
    throw new WebhooksShutdownError(
      emitAfterShutdown(typeof event === 'function' ? event.name : String(event)),
    );
  }
}

function checkEmitArguments(event: unknown, options: unknown): asserts options is EmitOptions {
  if (typeof event !== 'function') checkString(event, EVENT, NON_EMPTY);
  const fields = checkFields(options, OPTIONS, EMIT_OPTIONS, true);
  checkStringField(fields, 'tenant', OPTIONS, NULLABLE);
  checkStringField(fields, 'method', OPTIONS, NON_EMPTY);
  checkStringField(fields, 'idempotencyKey', OPTIONS, IDEMPOTENCY_KEY);
}
