import { Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { Subject, type Observable } from 'rxjs';
import type { WebhookLifecycleEvent } from '../interfaces/webhook-events.interface.js';

/** The stream of lifecycle events, published by the dispatcher and read by user code. */
@Injectable()
export class WebhookLifecycle implements OnApplicationShutdown {
  private readonly subject = new Subject<WebhookLifecycleEvent>();
  readonly events: Observable<WebhookLifecycleEvent> = this.subject.asObservable();

  publish(event: WebhookLifecycleEvent): void {
    if (this.subject.observed) this.subject.next(event);
  }

  onApplicationShutdown() {
    this.subject.complete();
  }
}
