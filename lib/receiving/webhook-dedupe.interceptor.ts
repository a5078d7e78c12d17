import {
  ConflictException,
  Injectable,
  Logger,
  ServiceUnavailableException,
  type CallHandler,
  type ExecutionContext,
  type NestInterceptor,
} from '@nestjs/common';
import { ROUTE_ARGS_METADATA } from '@nestjs/common/constants.js';
import { RouteParamtypes } from '@nestjs/common/enums/route-paramtypes.enum.js';
import { HttpAdapterHost } from '@nestjs/core';
import { catchError, from, mergeMap, of, throwError, type Observable } from 'rxjs';
import { WEBHOOKS_LOGGER_CONTEXT } from '../webhooks.constants.js';
import {
  webhookDedupeCompleteFailed,
  webhookDedupeUnavailable,
  webhookInProgress,
} from '../webhooks.messages.js';
import type { WebhookDedupeState, WebhookDedupeStore } from './webhook-dedupe.js';
import { verifiedWebhookOf } from './webhook-verification.guard.js';

const DEDUPED = Symbol('nestjs-webhooks:deduped');
/** The shortest a mark lasts, for a request at the very edge of the window. */
const MIN_MARK_MS = 1_000;
const CLOCK_MARGIN_MS = 1_000;
/** The least an id stays marked as being handled: longer than any sane handler. */
const PROCESSING_MARK_MS = 5 * 60_000;

/** Whether the route's handler takes the response itself: `@Res()` or `@Next()`, no passthrough. */
function takesResponse(context: ExecutionContext): boolean {
  const args = (Reflect.getMetadata(
    ROUTE_ARGS_METADATA,
    context.getClass(),
    context.getHandler().name,
  ) ?? {}) as Record<string, { data?: { passthrough?: boolean } }>;
  return Object.entries(args).some(
    ([key, arg]) =>
      (key.startsWith(`${RouteParamtypes.RESPONSE}:`) ||
        key.startsWith(`${RouteParamtypes.NEXT}:`)) &&
      arg.data?.passthrough !== true,
  );
}

/** What the marks of a request's keys said: the strongest mark found, and the keys it marked. */
interface Claim {
  state: 'new' | WebhookDedupeState;
  marked: string[];
}

/**
 * Claims every key, in order: `done` if any was handled already, else `processing` if any is
 * being handled, else `new`. A store that fails midway leaves none of this request's marks.
 */
async function claimAll(store: WebhookDedupeStore, keys: string[], ttlMs: number): Promise<Claim> {
  const found = new Set<'new' | WebhookDedupeState>();
  const marked: string[] = [];
  try {
    for (const key of keys) {
      const state = await store.claim(key, ttlMs);
      found.add(state);
      if (state === 'new') marked.push(key);
    }
  } catch (error) {
    await releaseAll(store, marked);
    throw error;
  }
  const state = found.has('done') ? 'done' : found.has('processing') ? 'processing' : 'new';
  return { state, marked };
}

/** Unmarks `keys`, as far as the store lets it: a mark left behind only expires. */
const releaseAll = (store: WebhookDedupeStore, keys: string[]) =>
  Promise.all(keys.map((key) => store.release(key).catch(() => undefined)));

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
    const { dedupe: store, route, tolerance, dedupeTtl } = verified.options;
    const { id, timestamp } = verified.headers;
    // One mark per key that signed: while a sender rotates its secret, a retry signed with the
    // new key and the old one is the message that the old key alone signed before.
    const keys = verified.scopes.map((scope) => `${scope}:${id}`);
    // The guard takes a request while its timestamp is within the window (to the millisecond):
    // a replay of it cannot come after, plus a second for clocks of replicas sharing a store.
    const windowMs = timestamp.getTime() + tolerance * 1000 + CLOCK_MARGIN_MS - Date.now();
    // Whole milliseconds: Redis takes no other.
    const ttl = Math.ceil(Math.max(MIN_MARK_MS, windowMs, (dedupeTtl ?? 0) * 1000));
    // A slow handler is still running after the window: its mark must outlast it.
    const processingTtl = Math.max(ttl, PROCESSING_MARK_MS);
    let claim: Claim;
    try {
      claim = await claimAll(store, keys, processingTtl);
    } catch (error) {
      this.logger.error(webhookDedupeUnavailable(route, (error as Error).message));
      throw new ServiceUnavailableException(
        'The receiver cannot check this webhook for repeats now; retry later.',
      );
    }
    const complete = (marks: string[]) =>
      Promise.all(marks.map((key) => store.complete(key, ttl))).catch((error: unknown) => {
        this.logger.warn(webhookDedupeCompleteFailed(id, (error as Error).message));
      });
    const adapter = this.adapterHost.httpAdapter;
    const response = http.getResponse();
    if (claim.state === 'done') {
      // Handled under another of its keys: a later retry signed with this one alone is a repeat.
      await complete(claim.marked);
      const answer = { duplicate: true, id };
      // A handler that takes the response itself (`@Res()`) would have sent it: so do we.
      if (takesResponse(context)) {
        adapter.reply(response, answer, 200);
        return of(undefined);
      }
      adapter.status(response, 200);
      return of(answer);
    }
    if (claim.state === 'processing') {
      await releaseAll(store, claim.marked);
      adapter.setHeader(response, 'retry-after', '1');
      throw new ConflictException(webhookInProgress(id));
    }
    return next.handle().pipe(
      mergeMap(async (value: unknown) => {
        await complete(keys);
        return value;
      }),
      catchError((error: unknown) =>
        from(releaseAll(store, keys)).pipe(mergeMap(() => throwError(() => error))),
      ),
    );
  }
}
