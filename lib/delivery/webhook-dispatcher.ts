import {
  Inject,
  Injectable,
  Logger,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { performance } from 'node:perf_hooks';
import { createId } from '../storage/ids.js';
import {
  WEBHOOK_QUEUE,
  WEBHOOK_STORE,
  WEBHOOK_TRANSPORT,
  WEBHOOKS_LOGGER_CONTEXT,
  WEBHOOKS_RESOLVED_OPTIONS,
} from '../webhooks.constants.js';
import {
  attemptFailed,
  deliveryExhausted,
  endpointDisabled,
  endpointFailingTooLong,
  endpointGone,
  endpointUnavailable,
  messageUnavailable,
  queueStopped,
} from '../webhooks.messages.js';
import { classifyResponse } from './response-classifier.js';
import { RetryPolicy, parseRetryAfter } from './retry-policy.js';
import { WebhookLifecycle } from './webhook-lifecycle.js';
import { WebhookSigner } from './webhook-signer.js';
import type { StoredWebhookEndpoint } from '../interfaces/webhook-endpoint.interface.js';
import type {
  WebhookAttempt,
  WebhookDelivery,
  WebhookMessage,
} from '../interfaces/webhook-message.interface.js';
import type { WebhookJob, WebhookQueue } from '../interfaces/webhook-queue.interface.js';
import type { WebhookStore } from '../interfaces/webhook-store.interface.js';
import type { WebhookTransport } from '../interfaces/webhook-transport.interface.js';
import type { ResolvedWebhooksOptions } from '../webhooks.options.js';

const USER_AGENT = 'nestjs-webhooks/0.1 (+https://www.standardwebhooks.com)';
const SIGNER_CACHE_LIMIT = 10_000;

/**
 * Runs delivery attempts as the queue hands them out: sign, send, record the attempt, then
 * finish the delivery or schedule its retry. Starts with the application, drains on shutdown.
 */
@Injectable()
export class WebhookDispatcher implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(WEBHOOKS_LOGGER_CONTEXT);
  private readonly retries: RetryPolicy;
  private readonly signers = new Map<string, WebhookSigner>();

  constructor(
    @Inject(WEBHOOK_STORE) private readonly store: WebhookStore,
    @Inject(WEBHOOK_QUEUE) private readonly queue: WebhookQueue,
    @Inject(WEBHOOK_TRANSPORT) private readonly transport: WebhookTransport,
    @Inject(WEBHOOKS_RESOLVED_OPTIONS) private readonly options: ResolvedWebhooksOptions,
    private readonly lifecycle: WebhookLifecycle,
  ) {
    this.retries = new RetryPolicy({ retryDelays: options.retryDelays });
  }

  onApplicationBootstrap() {
    this.queue.start((job) => this.attempt(job));
  }

  async beforeApplicationShutdown() {
    const { running, pending } = await this.queue.stop(this.options.shutdownTimeout);
    if (running > 0 || pending > 0) this.logger.warn(queueStopped(running, pending));
    await this.transport.close();
  }

  /** One attempt of one delivery; never rejects (the queue has nobody to tell). */
  async attempt(job: WebhookJob): Promise<void> {
    const delivery = await this.store.getDelivery(job.deliveryId);
    if (!delivery || delivery.status !== 'pending') return;
    const [message, endpoint] = await Promise.all([
      this.store.getMessage(delivery.messageId),
      this.store.getEndpoint(delivery.endpointId),
    ]);
    if (!message) return this.abandon(delivery, messageUnavailable(delivery.messageId));
    if (!endpoint || endpoint.disabled) {
      return this.abandon(
        delivery,
        endpointUnavailable(delivery.endpointId, endpoint?.disabledReason),
      );
    }

    const { attempt, response } = await this.send(delivery, message, endpoint);
    await this.store.insertAttempt(attempt);
    const verdict = classifyResponse(response.statusCode ?? undefined);
    const now = new Date();

    if (verdict.outcome === 'delivered') {
      const done = await this.store.updateDelivery(delivery.id, {
        status: 'delivered',
        attempts: attempt.attempt,
        nextAttemptAt: null,
        lastError: null,
        updatedAt: now,
      });
      if (endpoint.failingSince) {
        await this.store.updateEndpoint(endpoint.id, { failingSince: null });
      }
      this.lifecycle.publish({ type: 'delivered', delivery: done!, attempt });
      return;
    }

    const lastError = attempt.error ?? `HTTP ${attempt.statusCode}`;
    if (verdict.outcome === 'gone') {
      await this.disableEndpoint(endpoint, endpointGone());
      return this.fail(delivery, attempt, lastError, now);
    }

    // The endpoint as it is now, not as it was when the attempt started: another delivery may
    // have succeeded meanwhile and stopped the failing clock.
    const current = await this.store.getEndpoint(endpoint.id);
    if (!current || current.disabled) {
      // Removed or disabled while this attempt ran: no retry for it.
      return this.fail(
        delivery,
        attempt,
        endpointUnavailable(endpoint.id, current?.disabledReason),
        now,
      );
    }
    const failingSince = current.failingSince ?? now;
    if (now.getTime() - failingSince.getTime() >= this.options.disableEndpointAfter) {
      await this.disableEndpoint(current, endpointFailingTooLong(failingSince));
      return this.fail(delivery, attempt, lastError, now);
    }
    if (!current.failingSince) await this.store.updateEndpoint(endpoint.id, { failingSince });

    const retryAfter = verdict.honourRetryAfter
      ? parseRetryAfter(response.headers['retry-after'])
      : undefined;
    const delay = this.retries.nextDelay(delivery.scheduleAttempts + 1, retryAfter);
    if (delay === undefined) return this.fail(delivery, attempt, lastError, now);

    const nextAttemptAt = new Date(now.getTime() + delay);
    const updated = await this.store.updateDelivery(delivery.id, {
      attempts: attempt.attempt,
      scheduleAttempts: delivery.scheduleAttempts + 1,
      nextAttemptAt,
      lastError,
      updatedAt: now,
    });
    this.logger.debug(attemptFailed(message.id, endpoint.id, attempt.attempt, lastError, delay));
    this.lifecycle.publish({ type: 'attempt-failed', delivery: updated!, attempt, nextAttemptAt });
    await this.queue.enqueue(job, delay);
  }

  private async send(
    delivery: WebhookDelivery,
    message: WebhookMessage,
    endpoint: StoredWebhookEndpoint,
  ) {
    const startedAt = new Date();
    const timestamp = Math.floor(startedAt.getTime() / 1000);
    const headers: Record<string, string> = {
      ...this.signerFor(endpoint, startedAt).headers(message.id, timestamp, message.body),
      'content-type': 'application/json',
      'user-agent': USER_AGENT,
    };
    const started = performance.now();
    const response = await this.transport.send({
      url: endpoint.url,
      method: message.method.toUpperCase(),
      headers,
      body: message.body,
      timeoutMs: this.options.timeout,
    });
    const delivered = classifyResponse(response.statusCode ?? undefined).outcome === 'delivered';
    const attempt: WebhookAttempt = {
      id: createId('atm'),
      deliveryId: delivery.id,
      messageId: message.id,
      endpointId: endpoint.id,
      attempt: delivery.attempts + 1,
      startedAt,
      durationMs: Math.round((performance.now() - started) * 100) / 100,
      statusCode: response.statusCode,
      error: response.error,
      responseBody: response.body,
      outcome: delivered ? 'delivered' : 'failed',
    };
    return { attempt, response };
  }

  /** Current secret first, then retired ones still inside their grace period. */
  private signerFor(endpoint: StoredWebhookEndpoint, now: Date): WebhookSigner {
    const secrets = [
      endpoint.secret,
      ...endpoint.retiredSecrets.filter((r) => r.expiresAt > now).map((r) => r.secret),
    ];
    const key = secrets.join(' ');
    let signer = this.signers.get(key);
    if (!signer) {
      if (this.signers.size >= SIGNER_CACHE_LIMIT) this.signers.clear();
      signer = new WebhookSigner(secrets);
      this.signers.set(key, signer);
    }
    return signer;
  }

  private async fail(
    delivery: WebhookDelivery,
    attempt: WebhookAttempt | null,
    lastError: string,
    now: Date,
  ) {
    const failed = await this.store.updateDelivery(delivery.id, {
      status: 'failed',
      attempts: attempt?.attempt ?? delivery.attempts,
      nextAttemptAt: null,
      lastError,
      updatedAt: now,
    });
    this.logger.warn(deliveryExhausted(delivery.messageId, delivery.endpointId, lastError));
    this.lifecycle.publish({ type: 'delivery-exhausted', delivery: failed!, attempt });
  }

  private abandon(delivery: WebhookDelivery, reason: string) {
    return this.fail(delivery, null, reason, new Date());
  }

  private async disableEndpoint(endpoint: StoredWebhookEndpoint, reason: string) {
    const updated = await this.store.updateEndpoint(endpoint.id, {
      disabled: true,
      disabledReason: reason,
      updatedAt: new Date(),
    });
    if (!updated || endpoint.disabled) return;
    this.logger.warn(endpointDisabled(endpoint.id, reason));
    this.lifecycle.publish({
      type: 'endpoint-disabled',
      endpoint: { id: endpoint.id, url: endpoint.url, tenant: endpoint.tenant },
      reason,
    });
  }
}
