import { Logger } from '@nestjs/common';
import {
  Observable,
  Subject,
  Subscriber,
  type Observer,
  type OperatorFunction,
  type Subscription,
} from 'rxjs';
import { WEBHOOKS_LOGGER_CONTEXT } from '../webhooks.constants.js';
import { eventPublishFailed, eventSubscriberFailed } from '../webhooks.messages.js';
import type { WebhookLifecycleEvent } from '../interfaces/webhook-events.interface.js';

const logger = new Logger(WEBHOOKS_LOGGER_CONTEXT);

/** The stream of lifecycle events, published by the dispatcher and read by user code. */
export class WebhookLifecycle {
  private readonly subject = new Subject<WebhookLifecycleEvent>();
  readonly events: Observable<WebhookLifecycleEvent> = new IsolatedObservable(this.subject);

  /**
   * Hands `event` to subscribers as it is, uncopied: its delivery and attempt are records the
   * store made for this read (see `WebhookStore`), its endpoint ref and dates the dispatcher's
   * own, none of them kept by the store. The publisher hands them over: it must not change
   * them afterwards. Never throws: what a subscriber does is not the delivery's business.
   */
  publish(event: WebhookLifecycleEvent): void {
    if (!this.subject.observed) return;
    try {
      this.subject.next(event);
    } catch (error) {
      // Only with RxJS's deprecated synchronous error handling does a subscriber's error get here.
      logger.error(eventPublishFailed(event.type, describe(error)), stackOf(error));
    }
  }

  /** Ends the stream: subscribers' `complete` runs. */
  complete() {
    this.subject.complete();
  }
}

/**
 * An Observable whose subscribers cannot hurt each other or the delivery: what a subscriber's
 * `next`, `error` or `complete` throws, and an error it has no handler for, is logged and goes
 * no further. RxJS itself would rethrow either on a timer, as an uncaught exception that ends
 * the process. `pipe()` keeps the guard, so `events.pipe(filter(...)).subscribe(...)` is
 * guarded too; the subscriber stays subscribed after its callback threw (RxJS's behaviour).
 *
 * The guard sits where an application subscribes: a `Subscriber` handed in by an operator or
 * another Observable belongs to RxJS and is passed through as it is.
 */
class IsolatedObservable<T> extends Observable<T> {
  constructor(source: Observable<T>) {
    super((subscriber) => source.subscribe(subscriber));
  }

  override subscribe(
    observerOrNext?: Partial<Observer<T>> | ((value: T) => void) | null,
    error?: ((error: unknown) => void) | null,
    complete?: (() => void) | null,
  ): Subscription {
    if (observerOrNext instanceof Subscriber) return super.subscribe(observerOrNext);
    return super.subscribe(guarded(observerOrNext, error, complete));
  }

  // Every `pipe` overload of Observable at once: what the operators make of the values is theirs.
  override pipe(...operations: OperatorFunction<any, any>[]): Observable<any> {
    const piped = super.pipe as (
      ...ops: OperatorFunction<unknown, unknown>[]
    ) => Observable<unknown>;
    return new IsolatedObservable(piped.apply(this, operations));
  }
}

/** The application's callbacks, each run so that what it throws is logged, not rethrown. */
function guarded<T>(
  observerOrNext: Partial<Observer<T>> | ((value: T) => void) | null | undefined,
  error: ((error: unknown) => void) | null | undefined,
  complete: (() => void) | null | undefined,
): Partial<Observer<T>> {
  const observer =
    typeof observerOrNext === 'function' || !observerOrNext
      ? { next: observerOrNext ?? undefined, error: error ?? undefined, complete }
      : observerOrNext;
  const run = (callback: string, call: () => void) => {
    try {
      call();
    } catch (thrown) {
      logger.error(eventSubscriberFailed(callback, describe(thrown)), stackOf(thrown));
    }
  };
  return {
    next: (value) => run('next', () => observer.next?.call(observer, value)),
    error: (failure) =>
      run('error', () => {
        if (!observer.error) throw failure;
        observer.error.call(observer, failure);
      }),
    complete: () => run('complete', () => observer.complete?.call(observer)),
  };
}

const describe = (error: unknown) =>
  error instanceof Error ? `${error.name}: ${error.message}` : String(error);

const stackOf = (error: unknown) => (error instanceof Error ? error.stack : undefined);
