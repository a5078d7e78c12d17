import { Logger } from '@nestjs/common';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { WEBHOOKS_LOGGER_CONTEXT } from '../webhooks.constants.js';
import {
  attemptCrashed,
  attemptFailed,
  claimTooSlow,
  deliveredRecordFailed,
  attemptRecoveryFailed,
  deliveryExhausted,
  endpointDisabled,
  endpointFailingTooLong,
  endpointGone,
  endpointUnavailable,
  httpStatusError,
  leaseReleaseFailed,
  messageUnavailable,
  queueStopped,
  sweepFailed,
  unexpectedAttemptError,
  watchFailed,
  unreadableSecretNotSent,
} from '../webhooks.messages.js';
import type { WebhookEncryptionKeyError } from '../webhooks.errors.js';
import { backgroundTimer } from './background-timer.js';
import { describeError } from './describe-error.js';
import { classifyResponse, type ResponseClassification } from './response-classifier.js';
import { RetryPolicy, parseRetryAfter } from './retry-policy.js';
import { StoreOutage } from './store-outage.js';
import type { WebhookLifecycle } from './webhook-lifecycle.js';
import { WebhookSigner } from './webhook-signer.js';
import { attemptId, createId } from '../storage/ids.js';
import type { StoredWebhookEndpoint } from '../interfaces/webhook-endpoint.interface.js';
import type { WebhookAttempt, WebhookDelivery } from '../interfaces/webhook-message.interface.js';
import type { WebhookJob, WebhookQueue } from '../interfaces/webhook-queue.interface.js';
import type {
  ClaimedDelivery,
  WebhookDeliveryOutcome,
  WebhookMessageContent,
  WebhookStore,
} from '../interfaces/webhook-store.interface.js';
import type {
  WebhookRequest,
  WebhookResponse,
  WebhookTransport,
} from '../interfaces/webhook-transport.interface.js';
import type { ResolvedWebhooksOptions } from '../webhooks.options.js';

const USER_AGENT = `${userAgentProduct()} (+https://www.standardwebhooks.com)`;
const SIGNER_CACHE_LIMIT = 10_000;
/** The request line's method of each operation: made once, not per attempt. */
const HTTP_METHODS = { post: 'POST', put: 'PUT', patch: 'PATCH', delete: 'DELETE' } as const;
/**
 * A claim's lease outlasts the attempt's timeout by this much: time to record the outcome. A
 * lease that runs out while its attempt is still recording lets another worker send it again
 * (a duplicate, never a loss).
 */
const LEASE_MARGIN_MS = 5_000;
/** What must be left of a lease, past the attempt's timeout, for the attempt to start on it. */
const LEASE_RECORD_MS = 1_000;
/**
 * The least an attempt waits after an unexpected error (a store that fails, say), whatever the
 * retry schedule: with no retries, or a first delay of 0, it would be queued again at once,
 * claimed and failed again, round after round, without the event loop ever turning.
 */
const RECOVERY_DELAY_MS = 1_000;
/** Most deliveries one sweep claims, whatever the queue's capacity. */
const SWEEP_BATCH = 500;

/** A failed attempt, not yet recorded, and what decides whether it is retried. */
interface FailedAttempt {
  claimed: ClaimedDelivery & { endpoint: StoredWebhookEndpoint };
  attempt: WebhookAttempt;
  verdict: ResponseClassification;
  /** The answer's `Retry-After` header, if any. */
  retryAfter: string | string[] | undefined;
  /** When the attempt ended. */
  now: Date;
}

/**
 * Runs delivery attempts as the queue hands them out: claim, sign, send, then record the
 * attempt with the delivery's next state (delivered, failed, or its retry). With a store that
 * other processes share, it also sweeps the store for due deliveries that no queue handed it,
 * and listens for their writes. Starts with the application, drains on shutdown.
 */
export class WebhookDispatcher {
  private readonly logger = new Logger(WEBHOOKS_LOGGER_CONTEXT);
  /** Logs a store that cannot be reached once, not at every attempt and sweep it fails. */
  private readonly outage = new StoreOutage(this.logger);
  private readonly retries: RetryPolicy;
  private readonly signers = new Map<string, WebhookSigner>();
  /** Endpoints whose unreadable secret has been logged. */
  private readonly unreadableLogged = new Set<string>();
  /** Who this dispatcher is to the store: the owner of its claims. */
  private readonly owner = createId('wrk');
  private readonly leaseMs: number;
  /**
   * Deliveries this process is attempting now. A delivery may be queued twice here (queued,
   * then swept as well), and a second claim by the same owner succeeds: the set keeps the
   * second job from sending it a second time at once (it runs once the first attempt ends).
   */
  private readonly inFlight = new Set<string>();
  /**
   * Deliveries whose job came while their attempt was in flight (a retry due at once, a
   * redelivery): queued again when that attempt ends, for their own claim to decide.
   */
  private readonly again = new Set<string>();
  /**
   * Deliveries a sweep claimed and queued, with what it read, until their attempt starts: an
   * attempt that starts while the sweep's lease has at least `timeout` left runs on that claim
   * instead of claiming again (one statement per swept delivery saved). No more than the queue
   * had room for: each leaves as its attempt starts. What is left at shutdown is handed back.
   */
  private readonly swept = new Map<string, { claimed: ClaimedDelivery; until: number }>();
  /**
   * Deliveries whose attempt ended while a sweep ran: what that sweep read of them may predate
   * the attempt, so their swept jobs claim again.
   */
  private readonly endedDuringSweep = new Set<string>();
  private sweepTimer?: NodeJS.Timeout;
  private sweeping?: Promise<void>;
  /** A sweep was asked for while one ran, or the last one filled its batch: sweep again. */
  private sweepAgain = false;
  /**
   * The last sweep skipped endpoints that had no room, and may have left their due deliveries
   * behind: sweep again once an attempt ends and makes room (not at once: they are still full).
   */
  private sweepWhenRoom = false;
  private started = false;

  constructor(
    private readonly store: WebhookStore,
    private readonly queue: WebhookQueue,
    private readonly transport: WebhookTransport,
    private readonly options: ResolvedWebhooksOptions,
    private readonly lifecycle: WebhookLifecycle,
  ) {
    this.retries = new RetryPolicy({ retryDelays: options.retryDelays });
    this.leaseMs = options.timeout + LEASE_MARGIN_MS;
  }

  /**
   * Starts taking jobs from the queue; with a shared store, sweeps at once (what a restart left
   * pending), then every `sweepInterval` and whenever another process writes.
   */
  async start() {
    this.started = true;
    this.queue.start((job) => this.attempt(job));
    if (!this.store.shared) return;
    this.sweepSoon();
    try {
      await this.store.watch(() => this.sweepSoon());
    } catch (error) {
      this.logger.warn(watchFailed(describeError(error)));
    }
  }

  /** Stops sweeping and the queue, waiting (bounded) for attempts in flight, then the transport. */
  async stop() {
    this.started = false;
    clearTimeout(this.sweepTimer);
    this.sweepTimer = undefined;
    // Bounded like the attempts: a sweep stuck on a database that stopped answering must not
    // hold up the shutdown. What it claimed stays leased until its lease ends.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.sweeping,
      new Promise<void>(
        (resolve) => (timer = backgroundTimer(resolve, this.options.shutdownTimeout)),
      ),
    ]);
    clearTimeout(timer);
    const { running, pending } = await this.queue.stop(this.options.shutdownTimeout);
    if (running > 0 || pending > 0) {
      this.logger.warn(queueStopped(running, pending, this.store.shared));
    }
    // The queue starts nothing more: what is left of the sweeps' claims will not be used.
    await this.releaseSwept();
    await this.transport.close();
  }

  /** Hands back the leases of swept deliveries whose attempt never started. */
  private async releaseSwept() {
    const unused = [...this.swept.keys()];
    this.swept.clear();
    if (unused.length === 0) return;
    try {
      await this.store.release(unused, this.owner);
    } catch (error) {
      this.logger.warn(leaseReleaseFailed(unused.length, describeError(error), this.leaseMs));
    }
  }

  /**
   * One attempt of one delivery. Never rejects: an unexpected error (a failing store, say) is
   * logged, and the attempt is retried on the delivery's schedule, or the delivery failed once
   * the schedule is used up.
   *
   * The way of every delivered attempt is this one function: claim, sign, send, record. What is
   * not on that way (a failure, an endpoint gone) is in functions of its own.
   */
  async attempt(job: WebhookJob): Promise<void> {
    if (this.inFlight.has(job.deliveryId)) {
      this.again.add(job.deliveryId);
      return;
    }
    this.inFlight.add(job.deliveryId);
    // How far the attempt got, for `recover`: the claim, and the attempt once it was sent.
    let claimed: ClaimedDelivery | undefined;
    let sent: WebhookAttempt | undefined;
    try {
      claimed = this.takeSwept(job.deliveryId) ?? (await this.claim(job.deliveryId));
      if (!claimed) return;
      const { delivery, message, endpoint } = claimed;
      if (!message) return await this.giveUp(delivery, messageUnavailable(delivery.messageId));
      if (!endpoint || endpoint.disabled) {
        return await this.giveUp(
          delivery,
          endpointUnavailable(delivery.endpointId, endpoint?.disabledReason),
        );
      }

      const startedAt = new Date();
      const started = performance.now();
      // An endpoint whose secret its store cannot decrypt gets nothing: a failed attempt that
      // says why, retried on its schedule (the key may be put back meanwhile).
      const response = endpoint.unreadableSecret
        ? this.unsendable(endpoint, endpoint.unreadableSecret)
        : await this.transport.send(this.request(message, endpoint, startedAt));
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
      sent = attempt;
      const now = new Date();
      if (verdict.outcome !== 'delivered') {
        return await this.failed({
          claimed: { delivery, message, endpoint },
          attempt,
          verdict,
          retryAfter: response.headers['retry-after'],
          now,
        });
      }

      const {
        delivery: done,
        applied,
        endpointFailingSince,
      } = await this.store.record(delivery.id, this.owner, attempt, {
        status: 'delivered',
        scheduleAttempts: delivery.scheduleAttempts,
        nextAttemptAt: null,
        lastError: null,
        updatedAt: now,
      });
      // The endpoint as stored now, not as claimed: a delivery that failed while this one was
      // in flight may have started the failing clock since. A write per success only when there
      // is a clock to stop.
      if (endpointFailingSince) {
        await this.store.updateEndpoint(endpoint.id, { failingSince: null });
      }
      if (done && applied) this.lifecycle.publish({ type: 'delivered', delivery: done, attempt });
    } catch (error) {
      await this.recover(job, claimed?.delivery, sent, error);
    } finally {
      this.inFlight.delete(job.deliveryId);
      // A sweep may have claimed it meanwhile (taking its own lease) and queued a job: that
      // job claims again, since what the sweep read is out of date once this attempt ended.
      this.swept.delete(job.deliveryId);
      if (this.sweeping) this.endedDuringSweep.add(job.deliveryId);
      if (this.again.delete(job.deliveryId)) this.requeue(job);
      if ((this.sweepAgain || this.sweepWhenRoom) && !this.sweeping) this.sweepSoon();
    }
  }

  private requeue(job: WebhookJob) {
    this.queue.enqueue(job, 0).catch((error: unknown) => {
      this.logger.error(
        attemptRecoveryFailed(job.deliveryId, job.endpointId, describeError(error)),
      );
    });
  }

  /**
   * Claims the delivery for an attempt. A claim that waited so long (for a pool connection, say)
   * that its lease no longer covers an attempt is taken again, with a whole lease; if the second
   * is as slow, the attempt is put off (its lease is the owner's meanwhile) rather than sent on a
   * lease that could run out mid-send and let another worker send it too.
   */
  private async claim(deliveryId: string): Promise<ClaimedDelivery | undefined> {
    for (let tries = 0; tries < 2; tries++) {
      const now = new Date();
      const until = now.getTime() + this.leaseMs;
      const claimed = await this.store.claim(deliveryId, {
        owner: this.owner,
        now,
        until: new Date(until),
      });
      this.outage.answered();
      if (!claimed || until - Date.now() >= this.options.timeout + LEASE_RECORD_MS) return claimed;
    }
    throw new Error(claimTooSlow(deliveryId, this.leaseMs));
  }

  /** The sweep's claim of the delivery, if it still covers a whole attempt. */
  private takeSwept(deliveryId: string): ClaimedDelivery | undefined {
    const swept = this.swept.get(deliveryId);
    if (!swept) return undefined;
    this.swept.delete(deliveryId);
    return swept.until - Date.now() >= this.options.timeout + LEASE_RECORD_MS
      ? swept.claimed
      : undefined;
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
   * After a failed attempt: disables the endpoint on 410, or when it has been failing for too
   * long; else records the attempt with the next one scheduled, or the delivery failed once its
   * schedule is used up.
   */
  private async failed({ claimed, attempt, verdict, retryAfter, now }: FailedAttempt) {
    const { delivery, endpoint } = claimed;
    // The status when there is one: a body that broke off is not why the attempt failed.
    const lastError =
      attempt.statusCode !== null ? httpStatusError(attempt.statusCode) : String(attempt.error);
    if (verdict.outcome === 'gone') {
      await this.disableEndpoint(endpoint, endpointGone());
      return this.fail(delivery, attempt, lastError, now);
    }
    // Judged against the endpoint as claimed, except before disabling it: a success that came
    // while this attempt was in flight may have stopped the failing clock since, and a change
    // may have disabled it, so it is read again then (a read on that rare path only).
    let current: StoredWebhookEndpoint | undefined = endpoint;
    let failingSince = current.failingSince ?? now;
    if (current.failingSince && this.failingTooLong(failingSince, now)) {
      current = await this.store.getEndpoint(endpoint.id);
      if (!current || current.disabled) {
        return this.fail(
          delivery,
          attempt,
          endpointUnavailable(endpoint.id, current?.disabledReason),
          now,
        );
      }
      failingSince = current.failingSince ?? now;
    }
    if (this.failingTooLong(failingSince, now)) {
      await this.disableEndpoint(current, endpointFailingTooLong(failingSince));
      return this.fail(delivery, attempt, lastError, now);
    }
    // Only the first failure of a run starts the clock: of concurrent ones, one sets it.
    if (!current.failingSince) {
      await this.store.updateEndpoint(endpoint.id, { failingSince }, { failingSince: null });
    }

    const honoured =
      verdict.outcome === 'retry' && verdict.honourRetryAfter
        ? parseRetryAfter(retryAfter, now.getTime())
        : undefined;
    const delay = this.retries.nextDelay(delivery.scheduleAttempts + 1, honoured);
    if (delay === undefined) return this.fail(delivery, attempt, lastError, now);

    const nextAttemptAt = new Date(now.getTime() + delay);
    const { delivery: updated, applied } = await this.store.record(
      delivery.id,
      this.owner,
      attempt,
      {
        status: 'pending',
        scheduleAttempts: delivery.scheduleAttempts + 1,
        nextAttemptAt,
        lastError,
        updatedAt: now,
      },
    );
    // Ended while this attempt ran (its endpoint was removed): nothing more to send.
    if (!updated || !applied) return;
    this.logger.debug(
      attemptFailed(attempt.messageId, endpoint.id, attempt.attempt, lastError, delay),
    );
    this.lifecycle.publish({ type: 'attempt-failed', delivery: updated, attempt, nextAttemptAt });
    await this.scheduleRetry({ deliveryId: delivery.id, endpointId: endpoint.id }, delay);
  }

  /**
   * Queues a retry whose schedule the store holds. With a shared store, one due later than the
   * next sweep is left to the sweep, which claims it once due, at most one `sweepInterval` late:
   * else every delivery waiting for its retry would be a job in this process's memory (or in
   * Redis), and a backlog at an endpoint that is down would grow the process with it.
   */
  private async scheduleRetry(job: WebhookJob, delay: number): Promise<void> {
    if (this.store.shared && delay > this.options.sweepInterval) return;
    await this.queue.enqueue(job, delay);
  }

  private failingTooLong(failingSince: Date, now: Date): boolean {
    return now.getTime() - failingSince.getTime() >= this.options.disableEndpointAfter;
  }

  /** The answer of an attempt not sent, since the endpoint's secret cannot be read. */
  private unsendable(
    endpoint: StoredWebhookEndpoint,
    unreadable: WebhookEncryptionKeyError,
  ): WebhookResponse {
    const error = unreadableSecretNotSent(endpoint.id, unreadable.keyId);
    // Once per endpoint and process: each attempt's log says it too.
    if (!this.unreadableLogged.has(endpoint.id)) {
      this.unreadableLogged.add(endpoint.id);
      this.logger.error(error);
    }
    return { statusCode: null, headers: {}, body: null, error };
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

  /** Ends a claimed delivery as failed, and reports it; `attempt` is its last one, if any. */
  private async fail(
    delivery: WebhookDelivery,
    attempt: WebhookAttempt | null,
    lastError: string,
    now: Date,
  ) {
    const outcome: WebhookDeliveryOutcome = {
      status: 'failed',
      scheduleAttempts: delivery.scheduleAttempts,
      nextAttemptAt: null,
      lastError,
      updatedAt: now,
    };
    const { delivery: failed, applied } = await this.store.record(
      delivery.id,
      this.owner,
      attempt,
      outcome,
    );
    // Ended while the attempt ran (its endpoint was removed, which reported it already).
    if (!failed || !applied) return;
    this.logger.warn(deliveryExhausted(failed.messageId, failed.endpointId, lastError));
    this.lifecycle.publish({ type: 'delivery-exhausted', delivery: failed, attempt });
  }

  /** Fails a claimed delivery without an attempt: its message or endpoint is gone. */
  private giveUp(delivery: WebhookDelivery, reason: string) {
    return this.fail(delivery, null, reason, new Date());
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
   * the delivery when its schedule is used up. The next attempt claims the delivery again and
   * sends only if it is still pending and due, so queueing it is safe even when its outcome was
   * stored; with a shared store, a job lost here is found by the sweep.
   */
  private async recover(
    job: WebhookJob,
    delivery: WebhookDelivery | undefined,
    sent: WebhookAttempt | undefined,
    error: unknown,
  ) {
    if (delivery && sent?.outcome === 'delivered') {
      return this.recordDelivered(job, delivery, sent, error);
    }
    // Without the delivery (claiming it is what failed) its schedule is unknown: it is retried
    // after the first retry delay, which keeps it alive through a store outage without
    // hammering the store. With the delivery, a schedule used up fails it.
    const scheduleAttempts = (delivery?.scheduleAttempts ?? 0) + 1;
    const scheduled = this.retries.nextDelay(scheduleAttempts);
    const exhausted = delivery !== undefined && scheduled === undefined;
    // Queued again after `delay` even when the delivery is to fail, should failing it fail.
    const delay = Math.max(scheduled ?? this.retries.nextDelay(1) ?? 0, RECOVERY_DELAY_MS);
    const reason = describeError(error);
    if (!this.outage.absorbs(error)) {
      this.logger.error(
        attemptCrashed(job.deliveryId, job.endpointId, reason, exhausted ? undefined : delay),
        error instanceof Error ? error.stack : undefined,
      );
    }
    const now = new Date();
    const lastError = unexpectedAttemptError(reason);
    try {
      if (delivery && exhausted) {
        return await this.fail(delivery, sent ?? null, lastError, now);
      }
      if (delivery) {
        const { applied } = await this.store.record(delivery.id, this.owner, sent ?? null, {
          status: 'pending',
          scheduleAttempts,
          nextAttemptAt: new Date(now.getTime() + delay),
          lastError,
          updatedAt: now,
        });
        // Finished already (the error came after its outcome was stored): nothing to retry.
        if (!applied) return;
      }
    } catch (recoveryError) {
      // Queued all the same: left out, the delivery would wait for a sweep, or forever.
      if (!this.outage.absorbs(recoveryError)) {
        this.logger.error(
          attemptRecoveryFailed(job.deliveryId, job.endpointId, describeError(recoveryError)),
        );
      }
    }
    try {
      await this.queue.enqueue(job, delay);
    } catch (queueError) {
      this.logger.error(
        attemptRecoveryFailed(job.deliveryId, job.endpointId, describeError(queueError)),
      );
    }
  }

  /**
   * After a delivered attempt whose record failed: the receiver has the message, so the record
   * is tried again, rather than the attempt. Only if that fails too is the delivery left pending
   * for its next retry (a duplicate: the store could not be told).
   */
  private async recordDelivered(
    job: WebhookJob,
    delivery: WebhookDelivery,
    sent: WebhookAttempt,
    error: unknown,
  ) {
    if (!this.outage.absorbs(error)) {
      this.logger.error(
        deliveredRecordFailed(job.deliveryId, job.endpointId, describeError(error)),
      );
    }
    try {
      const now = new Date();
      const { delivery: done, applied } = await this.store.record(delivery.id, this.owner, sent, {
        status: 'delivered',
        scheduleAttempts: delivery.scheduleAttempts,
        nextAttemptAt: null,
        lastError: null,
        updatedAt: now,
      });
      if (done && applied)
        this.lifecycle.publish({ type: 'delivered', delivery: done, attempt: sent });
    } catch (recordError) {
      if (!this.outage.absorbs(recordError)) {
        this.logger.error(
          attemptRecoveryFailed(job.deliveryId, job.endpointId, describeError(recordError)),
        );
      }
      const delay = Math.max(
        this.retries.nextDelay(delivery.scheduleAttempts + 1) ?? 0,
        RECOVERY_DELAY_MS,
      );
      await this.queue.enqueue(job, delay).catch((queueError: unknown) => {
        this.logger.error(
          attemptRecoveryFailed(job.deliveryId, job.endpointId, describeError(queueError)),
        );
      });
    }
  }

  /**
   * Sweeps at the next turn, unless a sweep is running (it sweeps again when done). The next
   * turn, so that the queue has freed the slots of the attempts that asked for it as they ended.
   */
  private sweepSoon() {
    if (!this.started) return;
    if (this.sweeping) {
      this.sweepAgain = true;
      return;
    }
    clearTimeout(this.sweepTimer);
    this.sweepTimer = undefined;
    this.sweeping = new Promise((resolve) => setImmediate(resolve))
      .then(() => this.sweep())
      .finally(() => {
        this.sweeping = undefined;
        // An attempt that ended while this sweep skipped busy endpoints may have made the room
        // it lacked, and asked for no sweep since one was running.
        const roomMade = this.sweepWhenRoom && this.endedDuringSweep.size > 0;
        this.endedDuringSweep.clear();
        if (!this.started) return;
        if ((this.sweepAgain || roomMade) && this.queue.capacity > 0) return this.sweepSoon();
        this.sweepTimer = backgroundTimer(() => this.sweepSoon(), this.options.sweepInterval);
      });
  }

  /**
   * Claims as many due deliveries as the queue can start now, and queues them; their attempts
   * run on the sweep's claim. A batch that found anything may have left more behind: the next
   * sweep comes as soon as the queue has room again.
   */
  private async sweep() {
    if (!this.started) return;
    this.sweepAgain = false;
    this.sweepWhenRoom = false;
    const limit = Math.min(this.queue.capacity, SWEEP_BATCH);
    if (limit === 0) {
      this.sweepAgain = true;
      return;
    }
    try {
      const now = new Date();
      const until = new Date(now.getTime() + this.leaseMs);
      // Fair between endpoints: one slow endpoint's oldest due deliveries must not fill every
      // batch while the others wait.
      const skipEndpoints = this.queue.busyEndpoints;
      const claimed = await this.store.sweep({ owner: this.owner, now, until }, limit, {
        perEndpoint: this.options.endpointConcurrency,
        skipEndpoints,
      });
      this.outage.answered();
      // A fair batch may be short with more due behind it: again until one finds nothing.
      if (claimed.length > 0) this.sweepAgain = true;
      else if (skipEndpoints.length > 0) this.sweepWhenRoom = true;
      if (claimed.length === 0) return;
      for (const one of claimed) {
        const { id } = one.delivery;
        if (this.inFlight.has(id) || this.endedDuringSweep.has(id)) continue;
        this.swept.set(id, { claimed: one, until: until.getTime() });
      }
      const jobs = claimed.map(({ delivery }) => ({
        deliveryId: delivery.id,
        endpointId: delivery.endpointId,
      }));
      await this.queue.enqueueAll(jobs).catch((error: unknown) => {
        // Not queued: no attempt will take these claims (their leases end on their own).
        for (const job of jobs) this.swept.delete(job.deliveryId);
        throw error;
      });
    } catch (error) {
      if (this.outage.absorbs(error)) return;
      this.logger.warn(sweepFailed(describeError(error), this.options.sweepInterval));
    }
  }
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
