// Deduplication of received webhooks by `webhook-id`, which the Standard Webhooks spec asks of
// receivers: the sender retries a message whose answer it did not get, with the same id. An id
// is marked `processing` atomically before the handler runs, `done` once it has succeeded, and
// unmarked when it fails, so that the sender's retry runs it again. A `done` mark lasts while
// the request's timestamp is in the tolerance window (a replay of that very request is stale
// after it) or for the route's `dedupeTtl`, for retries, which senders sign anew.

/** What an id is marked as. */
export type WebhookDedupeState = 'processing' | 'done';

/** Where `@VerifyWebhook` keeps the ids it has seen (see `MemoryWebhookDedupeStore`, `RedisWebhookDedupeStore`). */
export interface WebhookDedupeStore {
  /**
   * Marks `id` as `processing` for `ttlMs`, in one atomic step, unless it is marked already:
   * resolves to `'new'` when this call marked it, or to the mark it found.
   */
  claim(id: string, ttlMs: number): Promise<'new' | WebhookDedupeState>;
  /** Marks `id` as `done` for `ttlMs`: its handler has succeeded. */
  complete(id: string, ttlMs: number): Promise<void>;
  /** Unmarks `id`: its handler failed, and a retry should run it. */
  release(id: string): Promise<void>;
}

/** Ids kept in this process's memory: enough for a receiver of one replica. */
export class MemoryWebhookDedupeStore implements WebhookDedupeStore {
  private readonly marks = new Map<string, { state: WebhookDedupeState; until: number }>();
  private claims = 0;

  async claim(id: string, ttlMs: number): Promise<'new' | WebhookDedupeState> {
    const now = Date.now();
    // Now and then, forget what has expired: marks are short-lived.
    if (++this.claims % 1_000 === 0) this.forgetExpired(now);
    const mark = this.marks.get(id);
    if (mark && mark.until > now) return mark.state;
    this.marks.set(id, { state: 'processing', until: now + ttlMs });
    return 'new';
  }

  async complete(id: string, ttlMs: number): Promise<void> {
    this.marks.set(id, { state: 'done', until: Date.now() + ttlMs });
  }

  async release(id: string): Promise<void> {
    this.marks.delete(id);
  }

  /** How many ids are marked now (expired ones not yet forgotten included). */
  get size(): number {
    return this.marks.size;
  }

  private forgetExpired(now: number) {
    for (const [id, mark] of this.marks) if (mark.until <= now) this.marks.delete(id);
  }
}

/**
 * What `RedisWebhookDedupeStore` needs of a Redis client: an ioredis instance (`new Redis()`),
 * described by its shape so that nestjs-webhooks does not depend on ioredis.
 */
export interface WebhookDedupeRedis {
  set(key: string, value: string, px: 'PX', ttl: number, nx?: 'NX'): Promise<unknown>;
  get(key: string): Promise<string | null>;
  del(key: string): Promise<unknown>;
}

/** Ids in Redis, shared by every replica of the receiver: `SET NX PX` marks one atomically. */
export class RedisWebhookDedupeStore implements WebhookDedupeStore {
  private readonly prefix: string;

  /** `prefix`: of every key, default `webhooks:received:`. */
  constructor(
    private readonly redis: WebhookDedupeRedis,
    options: { prefix?: string } = {},
  ) {
    this.prefix = options.prefix ?? 'webhooks:received:';
  }

  async claim(id: string, ttlMs: number): Promise<'new' | WebhookDedupeState> {
    const key = this.prefix + id;
    // Twice at most: a mark may expire between the SET that found it and the GET that reads it.
    for (let tries = 0; tries < 2; tries++) {
      if ((await this.redis.set(key, 'processing', 'PX', ttlMs, 'NX')) === 'OK') return 'new';
      const state = await this.redis.get(key);
      if (state === 'processing' || state === 'done') return state;
    }
    return 'processing';
  }

  async complete(id: string, ttlMs: number): Promise<void> {
    await this.redis.set(this.prefix + id, 'done', 'PX', ttlMs);
  }

  async release(id: string): Promise<void> {
    await this.redis.del(this.prefix + id);
  }
}
