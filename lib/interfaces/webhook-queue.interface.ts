/**
 * One delivery waiting for its next attempt, known by its message and endpoint (a message has
 * one delivery per endpoint): strings the queue shares with the store, none made per job.
 */
export interface WebhookJob {
  messageId: string;
  endpointId: string;
}

/**
 * Runs one attempt of a delivery; resolves when it is recorded (and any retry scheduled).
 * Never rejects: it handles its own failures, since the queue has nobody to report them to.
 */
export type WebhookJobHandler = (job: WebhookJob) => Promise<void>;

/**
 * Pending deliveries and when each is due. The in-memory queue is the default; a durable queue
 * (BullMQ) implements the same contract.
 */
export interface WebhookQueue {
  /** Schedules an attempt `delayMs` from now. */
  enqueue(job: WebhookJob, delayMs: number): Promise<void>;
  /**
   * Schedules the first attempts of a message, due now, one per endpoint, in one call (one
   * round trip for a durable queue).
   */
  enqueueAll(messageId: string, endpointIds: readonly string[]): Promise<void>;
  /** Starts calling `handler` for due jobs, within the concurrency limits. */
  start(handler: WebhookJobHandler): void;
  /**
   * Stops taking jobs, waits up to `timeoutMs` for those running, and tells how many
   * pending jobs were left behind (lost, for an in-memory queue).
   */
  stop(timeoutMs: number): Promise<{ running: number; pending: number }>;
}
