import { Subject, type Observable } from 'rxjs';
import type { WebhookLifecycleEvent } from '../interfaces/webhook-events.interface.js';

/** The stream of lifecycle events, published by the dispatcher and read by user code. */
export class WebhookLifecycle {
  private readonly subject = new Subject<WebhookLifecycleEvent>();
  readonly events: Observable<WebhookLifecycleEvent> = this.subject.asObservable();

  /**
   * Hands `event` to subscribers as it is, uncopied: its delivery and attempt are records the
   * store made for this read (see `WebhookStore`), its endpoint ref and dates the dispatcher's
   * own, none of them kept by the store. The publisher hands them over: it must not change
   * them afterwards.
   */
  publish(event: WebhookLifecycleEvent): void {
    if (this.subject.observed) this.subject.next(event);
  }

  /** Ends the stream: subscribers' `complete` runs. */
  complete() {
    this.subject.complete();
  }
}
