/**
 * One delivery waiting for its next attempt: ids only. A job says *when* to look, never what to
 * do: the attempt claims its delivery from the store, so a job that runs twice, late or after
 * the delivery ended does no harm.
 */
export interface WebhookJob {
  deliveryId: string;
  /** Its endpoint, for the per-endpoint concurrency limit. */
  endpointId: string;
}

/**
 * Runs one attempt of a delivery; resolves when it is recorded (and any retry scheduled).
 * Never rejects: it handles its own failures, since the queue has nobody to report them to.
 */
export type WebhookJobHandler = (job: WebhookJob) => Promise<void>;

/**
 * Pending deliveries and when each is due. The in-memory queue is the default; a queue between
 * processes (BullMQ) implements the same contract.
 */
export interface WebhookQueue {
  /** Schedules an attempt `delayMs` from now. */
  enqueue(job: WebhookJob, delayMs: number): Promise<void>;
  /** Schedules attempts due now, in one call (one round trip for a queue between processes). */
  enqueueAll(jobs: readonly WebhookJob[]): Promise<void>;
  /**
   * How many more jobs this process could start now (within its total limit, counting those due
   * and waiting): what a sweep may claim.
   */
  readonly capacity: number;
  /**
   * The endpoints with as many jobs running or due here as their own limit allows: a sweep
   * takes none of theirs (they could not start).
   */
  readonly busyEndpoints: readonly string[];
  /** Starts calling `handler` for due jobs, within the concurrency limits. */
  start(handler: WebhookJobHandler): void;
  /**
   * Stops taking jobs, waits up to `timeoutMs` for those running, and tells how many
   * pending jobs were left behind (lost, for an in-memory queue with an in-memory store).
   */
  stop(timeoutMs: number): Promise<{ running: number; pending: number }>;
}
