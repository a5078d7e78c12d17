import { Subject, type Observable } from 'rxjs';
import { copyAttempt, copyDelivery } from '../storage/record-copies.js';
import type { WebhookLifecycleEvent } from '../interfaces/webhook-events.interface.js';

/** The stream of lifecycle events, published by the dispatcher and read by user code. */
export class WebhookLifecycle {
  private readonly subject = new Subject<WebhookLifecycleEvent>();
  readonly events: Observable<WebhookLifecycleEvent> = this.subject.asObservable();

  /** The event's records may be the store's own: subscribers get copies. */
  publish(event: WebhookLifecycleEvent): void {
    if (this.subject.observed) this.subject.next(copyEvent(event));
  }

  /** Ends the stream: subscribers' `complete` runs. */
  complete() {
    this.subject.complete();
  }
}

function copyEvent(event: WebhookLifecycleEvent): WebhookLifecycleEvent {
  switch (event.type) {
    case 'endpoint-disabled':
      return { ...event, endpoint: { ...event.endpoint } };
    case 'attempt-failed':
      return {
        ...event,
        delivery: copyDelivery(event.delivery),
        attempt: copyAttempt(event.attempt),
        nextAttemptAt: new Date(event.nextAttemptAt.getTime()),
      };
    default:
      return {
        ...event,
        delivery: copyDelivery(event.delivery),
        attempt: event.attempt && copyAttempt(event.attempt),
      } as WebhookLifecycleEvent;
  }
}
