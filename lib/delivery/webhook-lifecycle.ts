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
import { describeError } from './describe-error.js';
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
      logger.error(eventPublishFailed(event.type, describeError(error)), stackOf(error));
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
    if (isSubscriber(observerOrNext)) return super.subscribe(observerOrNext);
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

/**
 * The application's callbacks, each run so that what it throws, and what a promise it returns
 * rejects with (an `async` subscriber), is logged rather than rethrown.
 */
function guarded<T>(
  observerOrNext: Partial<Observer<T>> | ((value: T) => void) | null | undefined,
  error: ((error: unknown) => void) | null | undefined,
  complete: (() => void) | null | undefined,
): Partial<Observer<T>> {
  const observer: Partial<Observer<T>> =
    typeof observerOrNext === 'function' || !observerOrNext
      ? {
          next: observerOrNext ?? undefined,
          error: error ?? undefined,
          complete: complete ?? undefined,
        }
      : observerOrNext;
  return {
    next(value) {
      try {
        settled('next', observer.next?.call(observer, value));
      } catch (thrown) {
        reportSubscriberError('next', thrown);
      }
    },
    error(failure) {
      // Without a handler of its own, RxJS would rethrow it as an uncaught exception.
      if (!observer.error) return reportSubscriberError('error', failure);
      try {
        settled('error', observer.error.call(observer, failure));
      } catch (thrown) {
        reportSubscriberError('error', thrown);
      }
    },
    complete() {
      try {
        settled('complete', observer.complete?.call(observer));
      } catch (thrown) {
        reportSubscriberError('complete', thrown);
      }
    },
  };
}

/** Logs the rejection of what an `async` callback returned; nothing else is awaited. */
function settled(callback: string, returned: unknown): void {
  if (typeof (returned as PromiseLike<unknown> | undefined)?.then === 'function') {
    (returned as PromiseLike<unknown>).then(undefined, (rejection: unknown) =>
      reportSubscriberError(callback, rejection),
    );
  }
}

function reportSubscriberError(callback: string, error: unknown): void {
  logger.error(eventSubscriberFailed(callback, describeError(error)), stackOf(error));
}

/**
 * Whether `value` is a subscriber RxJS made (of this copy of RxJS or another), which the guard
 * passes through: RxJS itself recognises one by its shape, not only by its class.
 */
function isSubscriber(value: unknown): value is Subscriber<unknown> {
  if (value instanceof Subscriber) return true;
  const candidate = value as Partial<Subscriber<unknown>> | null | undefined;
  return (
    typeof candidate?.next === 'function' &&
    typeof candidate.error === 'function' &&
    typeof candidate.complete === 'function' &&
    typeof candidate.unsubscribe === 'function' &&
    typeof candidate.add === 'function' &&
    'closed' in candidate
  );
}

const stackOf = (error: unknown) => (error instanceof Error ? error.stack : undefined);
