import { Logger } from '@nestjs/common';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { WEBHOOKS_LOGGER_CONTEXT } from '../webhooks.constants.js';
import {
  attemptCrashed,
  attemptFailed,
  attemptRecoveryFailed,
  deliveryExhausted,
  endpointDisabled,
  endpointFailingTooLong,
  endpointGone,
  endpointUnavailable,
  httpStatusError,
  messageUnavailable,
  queueStopped,
  unexpectedAttemptError,
} from '../webhooks.messages.js';
import { classifyResponse, type ResponseClassification } from './response-classifier.js';
import { RetryPolicy, parseRetryAfter } from './retry-policy.js';
import type { WebhookLifecycle } from './webhook-lifecycle.js';
import { WebhookSigner } from './webhook-signer.js';
import type { StoredWebhookEndpoint } from '../interfaces/webhook-endpoint.interface.js';
import { attemptId } from '../storage/ids.js';
import type { WebhookAttempt } from '../interfaces/webhook-message.interface.js';
import type { WebhookJob, WebhookQueue } from '../interfaces/webhook-queue.interface.js';
import type {
  WebhookDeliveryProgress,
  WebhookMessageContent,
  WebhookStore,
} from '../interfaces/webhook-store.interface.js';
import type {
  WebhookRequest,
  WebhookTransport,
} from '../interfaces/webhook-transport.interface.js';
import type { ResolvedWebhooksOptions } from '../webhooks.options.js';

const USER_AGENT = `${userAgentProduct()} (+https://www.standardwebhooks.com)`;
const SIGNER_CACHE_LIMIT = 10_000;
/** The request line's method of each operation: made once, not per attempt. */
const HTTP_METHODS = { post: 'POST', put: 'PUT', patch: 'PATCH', delete: 'DELETE' } as const;

/** A failed attempt, logged already, and what decides whether it is retried. */
interface FailedAttempt {
  job: WebhookJob;
  /** The delivery as read when the attempt began. */
  delivery: WebhookDeliveryProgress;
  attempt: WebhookAttempt;
  verdict: ResponseClassification;
  /** The answer's `Retry-After` header, if any. */
  retryAfter: string | string[] | undefined;
  /** The endpoint the attempt was sent to. */
  endpoint: StoredWebhookEndpoint;
  /**
   * The endpoint as stored after logging the attempt, not as it was when the attempt started:
   * another delivery may have succeeded meanwhile and stopped the failing clock.
   */
  current: StoredWebhookEndpoint | undefined;
  /** When the attempt ended. */
  now: Date;
}

/**
 * Runs delivery attempts as the queue hands them out: sign, send, record the attempt, then
 * finish the delivery or schedule its retry. Starts with the application, drains on shutdown.
 */
export class WebhookDispatcher {
  private readonly logger = new Logger(WEBHOOKS_LOGGER_CONTEXT);
  private readonly retries: RetryPolicy;
  private readonly signers = new Map<string, WebhookSigner>();

  constructor(
    private readonly store: WebhookStore,
    private readonly queue: WebhookQueue,
    private readonly transport: WebhookTransport,
    private readonly options: ResolvedWebhooksOptions,
    private readonly lifecycle: WebhookLifecycle,
  ) {
    this.retries = new RetryPolicy({ retryDelays: options.retryDelays });
  }

  /** Starts taking jobs from the queue. */
  start() {
    this.queue.start((job) => this.attempt(job));
  }

  /** Stops the queue, waiting (bounded) for attempts in flight, then closes the transport. */
  async stop() {
    const { running, pending } = await this.queue.stop(this.options.shutdownTimeout);
    if (running > 0 || pending > 0) this.logger.warn(queueStopped(running, pending));
    await this.transport.close();
  }

  /**
   * One attempt of one delivery. Never rejects: an unexpected error (a failing store, say) is
   * logged, and the attempt is retried on the delivery's schedule, or the delivery failed once
   * the schedule is used up.
   *
   * The way of every delivered attempt is this one function: read, sign, send, record. Each
   * async function an attempt passes through costs a frame and a promise, about a fifth of what
   * the library allocates per delivery (see `npm run bench:delivery`); what is not on that way
   * (a failure, an endpoint gone) is in functions of its own.
   */
  async attempt(job: WebhookJob): Promise<void> {
    // How far the attempt got, for `recover`: the delivery as read when it began, and the
    // attempt once it is in the store's log.
    let delivery: WebhookDeliveryProgress | undefined;
    let recorded: WebhookAttempt | undefined;
    try {
      const context = await this.store.getAttemptContext(job.messageId, job.endpointId);
      if (!context || context.delivery.status !== 'pending') return;
      delivery = context.delivery;
      const { message, endpoint } = context;
      if (!message) return await this.abandon(delivery, messageUnavailable(delivery.messageId));
      if (!endpoint || endpoint.disabled) {
        return await this.abandon(
          delivery,
          endpointUnavailable(delivery.endpointId, endpoint?.disabledReason),
        );
      }

      const startedAt = new Date();
      const started = performance.now();
      const response = await this.transport.send(this.request(message, endpoint, startedAt));
      const durationMs = Math.round((performance.now() - started) * 100) / 100;
      const verdict = classifyResponse(response.statusCode ?? undefined);
      const number = delivery.attempts + 1;
      const attempt: WebhookAttempt = {
        id: attemptId(delivery.id, number),
        deliveryId: delivery.id,
        messageId: message.id,
        endpointId: endpoint.id,
        attempt: number,
        startedAt,
        durationMs,
        statusCode: response.statusCode,
        error: response.error,
        responseBody: response.body,
        outcome: verdict.outcome === 'delivered' ? 'delivered' : 'failed',
      };
      const now = new Date();
      if (verdict.outcome !== 'delivered') {
        // The count with the log, so that a crash before the delivery's update cannot reuse
        // the attempt's number.
        const { endpoint: current } = await this.store.recordAttempt(attempt, {
          attempts: number,
        });
        recorded = attempt;
        return await this.retryOrFail({
          job,
          delivery,
          attempt,
          verdict,
          retryAfter: response.headers['retry-after'],
          endpoint,
          current,
          now,
        });
      }

      // Whatever happened to the delivery meanwhile (its endpoint removed, say): the receiver
      // has the message, and the log says so.
      const { delivery: done, endpoint: current } = await this.store.recordAttempt(attempt, {
        status: 'delivered',
        attempts: number,
        nextAttemptAt: null,
        lastError: null,
        updatedAt: now,
      });
      recorded = attempt;
      // The endpoint as stored now, not the snapshot this attempt began with: a delivery that
      // failed while this one was in flight may have started the failing clock since. Reading
      // it comes with recording the attempt; clearing without reading would cost a write per
      // success instead, all contending for the endpoint's row in a durable store, for a field
      // that is null in the common case.
      if (current?.failingSince) {
        await this.store.updateEndpoint(endpoint.id, { failingSince: null });
      }
      if (done) this.lifecycle.publish({ type: 'delivered', delivery: done, attempt });
    } catch (error) {
      await this.recover(job, delivery, recorded, error);
    }
  }

  /** The signed request of one attempt, sent at `startedAt`. */
  private request(
    message: WebhookMessageContent,
    endpoint: StoredWebhookEndpoint,
    startedAt: Date,
  ): WebhookRequest {
    const timestamp = Math.floor(startedAt.getTime() / 1000);
    // A fresh object per call: completed in place rather than copied into another.
    const headers = this.signerFor(endpoint, startedAt).headers(
      message.id,
      timestamp,
      message.body,
    );
    headers['content-type'] = 'application/json';
    headers['user-agent'] = USER_AGENT;
    return {
      endpointId: endpoint.id,
      url: endpoint.url,
      method: HTTP_METHODS[message.method],
      headers,
      body: message.body,
      timeoutMs: this.options.timeout,
    };
  }

  /**
   * After a failed attempt, logged already: disables the endpoint on 410, or when it has been
   * failing for too long; else schedules the next attempt, or fails the delivery once its
   * schedule is used up.
   */
  private async retryOrFail({
    job,
    delivery,
    attempt,
    verdict,
    retryAfter,
    endpoint,
    current,
    now,
  }: FailedAttempt): Promise<void> {
    // The status when there is one: a body that broke off is not why the attempt failed.
    const lastError =
      attempt.statusCode !== null ? httpStatusError(attempt.statusCode) : String(attempt.error);
    if (verdict.outcome === 'gone') {
      await this.disableEndpoint(endpoint, endpointGone());
      return this.fail(delivery.id, attempt, lastError, now);
    }

    if (!current || current.disabled) {
      // Removed or disabled while this attempt ran: no retry for it.
      return this.fail(
        delivery.id,
        attempt,
        endpointUnavailable(endpoint.id, current?.disabledReason),
        now,
      );
    }
    const failingSince = current.failingSince ?? now;
    if (now.getTime() - failingSince.getTime() >= this.options.disableEndpointAfter) {
      await this.disableEndpoint(current, endpointFailingTooLong(failingSince));
      return this.fail(delivery.id, attempt, lastError, now);
    }
    if (!current.failingSince) await this.store.updateEndpoint(endpoint.id, { failingSince });

    const honoured =
      verdict.outcome === 'retry' && verdict.honourRetryAfter
        ? parseRetryAfter(retryAfter, now.getTime())
        : undefined;
    const delay = this.retries.nextDelay(delivery.scheduleAttempts + 1, honoured);
    if (delay === undefined) return this.fail(delivery.id, attempt, lastError, now);

    const nextAttemptAt = new Date(now.getTime() + delay);
    const updated = await this.store.updateDelivery(
      delivery.id,
      {
        attempts: attempt.attempt,
        scheduleAttempts: delivery.scheduleAttempts + 1,
        nextAttemptAt,
        lastError,
        updatedAt: now,
      },
      { status: 'pending' },
    );
    // Ended while this attempt ran (its endpoint was removed): nothing more to send.
    if (!updated) return this.countOnly(delivery.id, attempt, now);
    this.logger.debug(
      attemptFailed(attempt.messageId, endpoint.id, attempt.attempt, lastError, delay),
    );
    this.lifecycle.publish({ type: 'attempt-failed', delivery: updated, attempt, nextAttemptAt });
    await this.queue.enqueue(job, delay);
  }

  /** Current secret first, then retired ones still inside their grace period. */
  private signerFor(endpoint: StoredWebhookEndpoint, now: Date): WebhookSigner {
    // The common case, no rotation under way, builds no array and no key.
    const secrets =
      endpoint.retiredSecrets.length === 0
        ? [endpoint.secret]
        : [
            endpoint.secret,
            ...endpoint.retiredSecrets.filter((r) => r.expiresAt > now).map((r) => r.secret),
          ];
    const key = secrets.length === 1 ? endpoint.secret : secrets.join(' ');
    let signer = this.signers.get(key);
    if (!signer) {
      if (this.signers.size >= SIGNER_CACHE_LIMIT) this.signers.clear();
      signer = new WebhookSigner(secrets);
      this.signers.set(key, signer);
    }
    return signer;
  }

  /** Ends a pending delivery as failed, and reports it; `attempt` is its last one, if any. */
  private async fail(
    deliveryId: string,
    attempt: WebhookAttempt | null,
    lastError: string,
    now: Date,
  ) {
    const failed = await this.store.updateDelivery(
      deliveryId,
      {
        status: 'failed',
        ...(attempt && { attempts: attempt.attempt }),
        nextAttemptAt: null,
        lastError,
        updatedAt: now,
      },
      { status: 'pending' },
    );
    // Ended while the attempt ran (its endpoint was removed, which reported it already).
    if (!failed) return attempt ? this.countOnly(deliveryId, attempt, now) : undefined;
    this.logger.warn(deliveryExhausted(failed.messageId, failed.endpointId, lastError));
    this.lifecycle.publish({ type: 'delivery-exhausted', delivery: failed, attempt });
  }

  /** Keeps the attempt count in step with the log for a delivery that ended elsewhere. */
  private async countOnly(deliveryId: string, attempt: WebhookAttempt, now: Date) {
    await this.store.updateDelivery(deliveryId, { attempts: attempt.attempt, updatedAt: now });
  }

  private abandon(delivery: WebhookDeliveryProgress, reason: string) {
    return this.fail(delivery.id, null, reason, new Date());
  }

  private async disableEndpoint(endpoint: StoredWebhookEndpoint, reason: string) {
    // Only the caller that flips it reports it: two attempts answered 410 at once disable the
    // endpoint once, with one event and the first reason.
    const disabled = await this.store.updateEndpoint(
      endpoint.id,
      { disabled: true, disabledReason: reason, updatedAt: new Date() },
      { disabled: false },
    );
    if (!disabled) return;
    this.logger.warn(endpointDisabled(disabled.id, reason));
    this.lifecycle.publish({
      type: 'endpoint-disabled',
      endpoint: { id: disabled.id, url: disabled.url, tenant: disabled.tenant },
      reason,
    });
  }

  /**
   * After an unexpected error: retry the attempt after the delivery's next retry delay, or fail
   * the delivery when its schedule is used up. The next attempt re-reads the delivery and sends
   * only if it is still pending, so queueing it is safe even when its outcome was stored.
   */
  private async recover(
    job: WebhookJob,
    delivery: WebhookDeliveryProgress | undefined,
    recorded: WebhookAttempt | undefined,
    error: unknown,
  ) {
    // Without the delivery (reading it is what failed) its schedule is unknown: the first retry
    // delay keeps it alive through a store outage without hammering the store.
    const scheduleAttempts = (delivery?.scheduleAttempts ?? 0) + 1;
    const delay = this.retries.nextDelay(scheduleAttempts);
    const reason = describeError(error);
    this.logger.error(
      attemptCrashed(job.messageId, job.endpointId, reason, delay),
      error instanceof Error ? error.stack : undefined,
    );
    const now = new Date();
    const lastError = unexpectedAttemptError(reason);
    const recoveryFailed = (recoveryError: unknown) =>
      this.logger.error(
        attemptRecoveryFailed(job.messageId, job.endpointId, describeError(recoveryError)),
      );
    try {
      if (delay === undefined) {
        const deliveryId = await this.deliveryIdOf(job, delivery);
        if (deliveryId) await this.fail(deliveryId, recorded ?? null, lastError, now);
        return;
      }
      try {
        const deliveryId = await this.deliveryIdOf(job, delivery);
        // Gone (its message pruned): nothing to retry.
        if (!deliveryId) return;
        const rescheduled = await this.store.updateDelivery(
          deliveryId,
          {
            ...(recorded && { attempts: recorded.attempt }),
            // Unknown when reading the delivery is what failed: its schedule is left as it is,
            // so that a flaky store cannot restart it over and over.
            ...(delivery && { scheduleAttempts }),
            nextAttemptAt: new Date(now.getTime() + delay),
            lastError,
            updatedAt: now,
          },
          { status: 'pending' },
        );
        // Finished already (the error came after its outcome was stored): nothing to retry.
        if (!rescheduled) return;
      } catch (storeError) {
        // Queued all the same: left out, the delivery would stay pending with nothing to run it.
        recoveryFailed(storeError);
      }
      await this.queue.enqueue(job, delay);
    } catch (recoveryError) {
      recoveryFailed(recoveryError);
    }
  }

  /** The id of the job's delivery: as the attempt read it, else read again (if that failed). */
  private async deliveryIdOf(job: WebhookJob, delivery: WebhookDeliveryProgress | undefined) {
    if (delivery) return delivery.id;
    return (await this.store.getAttemptContext(job.messageId, job.endpointId))?.delivery.id;
  }
}

/** An error's name and message: what a log line needs, without the objects it may carry. */
function describeError(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

/**
 * `nestjs-webhooks/<version>`, the version read from the package's own package.json at
 * runtime: `../../package.json` is the package root both from `lib/delivery` (sources, tests)
 * and from `dist/delivery` (the published build). A bundler may move this file elsewhere,
 * where that path is another package's manifest or nothing; the name alone then.
 */
function userAgentProduct(): string {
  const name = 'nestjs-webhooks';
  try {
    const manifest = JSON.parse(
      readFileSync(new URL('../../package.json', import.meta.url), 'utf8'),
    ) as { name?: unknown; version?: unknown };
    if (manifest.name === name && typeof manifest.version === 'string') {
      return `${name}/${manifest.version}`;
    }
  } catch {
    // Unreadable where the bundle put it: the name alone.
  }
  return name;
}
