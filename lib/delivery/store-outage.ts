import type { Logger } from '@nestjs/common';
import { WebhookStoreError } from '../webhooks.errors.js';
import { storeReachableAgain, storeUnreachable } from '../webhooks.messages.js';
import { describeError } from './describe-error.js';

/**
 * Keeps a store outage to two lines of log. While the store cannot be reached, every delivery
 * that comes due fails its claim and is tried again a second or more later, and every sweep
 * fails: logged one by one, an outage of a minute with thousands of deliveries due would write
 * hundreds of thousands of lines, each with its stack. The first failure is logged; the ones
 * after it are counted, and the count is logged once a store call works again. Only a store
 * that cannot be reached (`WebhookStoreError.transient`) counts: a statement the database
 * refuses is a fault of its own, logged where it happens.
 */
export class StoreOutage {
  /** When the outage began (`Date.now()`), while there is one. */
  private since: number | undefined;
  private unlogged = 0;

  constructor(private readonly logger: Logger) {}

  /**
   * Whether `error` is the store being unreachable. If it is, it is logged (the first of an
   * outage) or counted, and the caller logs nothing of its own.
   */
  absorbs(error: unknown): boolean {
    if (!(error instanceof WebhookStoreError) || !error.transient) return false;
    if (this.since === undefined) {
      this.since = Date.now();
      this.logger.error(storeUnreachable(describeError(error)));
    } else {
      this.unlogged++;
    }
    return true;
  }

  /** A store call worked: ends the outage, if there was one, saying what it kept quiet. */
  answered(): void {
    if (this.since === undefined) return;
    this.logger.log(storeReachableAgain(Date.now() - this.since, this.unlogged));
    this.since = undefined;
    this.unlogged = 0;
  }
}
