import {
  ConflictException,
  Injectable,
  Logger,
  ServiceUnavailableException,
  type CallHandler,
  type ExecutionContext,
  type NestInterceptor,
} from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { catchError, from, mergeMap, of, throwError, type Observable } from 'rxjs';
import { WEBHOOKS_LOGGER_CONTEXT } from '../webhooks.constants.js';
import {
  webhookDedupeCompleteFailed,
  webhookDedupeUnavailable,
  webhookInProgress,
} from '../webhooks.messages.js';
import { verifiedWebhookOf } from './webhook-verification.guard.js';

const DEDUPED = Symbol('nestjs-webhooks:deduped');
/** The shortest a mark lasts, for a request at the very edge of the window. */
const MIN_MARK_MS = 1_000;

/**
 * `@VerifyWebhook`'s deduplication, after the guard verified the request: a `webhook-id`
 * handled already is answered 200 `{ duplicate: true }` without the handler; one still being
 * handled, 409 with `Retry-After`; a handler that fails unmarks its id, so a retry runs it.
 */
@Injectable()
export class WebhookDedupeInterceptor implements NestInterceptor {
  private readonly logger = new Logger(WEBHOOKS_LOGGER_CONTEXT);

  constructor(private readonly adapterHost: HttpAdapterHost) {}

  async intercept(context: ExecutionContext, next: CallHandler): Promise<Observable<unknown>> {
    const http = context.switchToHttp();
    const request = http.getRequest<Record<symbol, unknown>>();
    const verified = verifiedWebhookOf(request);
    if (!verified || !verified.options.dedupe || request[DEDUPED]) return next.handle();
    request[DEDUPED] = true;
    const { dedupe: store, route, tolerance } = verified.options;
    const { id, timestamp } = verified.headers;
    // Past this, the request's timestamp is out of the window and a repeat is refused anyway.
    const ttl = Math.max(MIN_MARK_MS, timestamp.getTime() + tolerance * 1000 - Date.now());
    let state: Awaited<ReturnType<typeof store.claim>>;
    try {
      state = await store.claim(id, ttl);
    } catch (error) {
      this.logger.error(webhookDedupeUnavailable(route, (error as Error).message));
      throw new ServiceUnavailableException(
        'The receiver cannot check this webhook for repeats now; retry later.',
      );
    }
    const adapter = this.adapterHost.httpAdapter;
    if (state === 'done') {
      adapter.status(http.getResponse(), 200);
      return of({ duplicate: true, id });
    }
    if (state === 'processing') {
      adapter.setHeader(http.getResponse(), 'retry-after', '1');
      throw new ConflictException(webhookInProgress(id));
    }
    return next.handle().pipe(
      mergeMap(async (value: unknown) => {
        await store.complete(id, ttl).catch((error: unknown) => {
          this.logger.warn(webhookDedupeCompleteFailed(id, (error as Error).message));
        });
        return value;
      }),
      catchError((error: unknown) =>
        from(store.release(id).catch(() => undefined)).pipe(
          mergeMap(() => throwError(() => error)),
        ),
      ),
    );
  }
}
