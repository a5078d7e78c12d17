/** Options of `WebhooksModule.forRoot()` / `forRootAsync()`; every one is optional. */
export interface WebhooksModuleOptions {
  /**
   * CIDR ranges exempt from the SSRF block, e.g. `['127.0.0.0/8']` for local development.
   * Default: none, so loopback, private, link-local, CGNAT, multicast and reserved ranges are refused.
   */
  allowedNetworks?: string[];
  /** Milliseconds one delivery attempt may take. Default 15000. */
  timeout?: number;
  /**
   * Milliseconds to wait before each retry (±20% jitter applied).
   * Default: the Standard Webhooks schedule 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h, 24 h.
   */
  retryDelays?: number[];
  /** `'http'` (default) sends with `HttpService` from `@nestjs/axios`; `'undici'` with an undici pool. */
  transport?: 'http' | 'undici';
  /** Attempts in flight in total. Default 100. */
  concurrency?: number;
  /** Attempts in flight per endpoint. Default 10. */
  endpointConcurrency?: number;
  /** Milliseconds an old secret keeps signing after `rotateSecret`. Default 24 h. */
  secretRotationGracePeriod?: number;
  /** Milliseconds an endpoint may keep failing every delivery before it is disabled. Default 5 days. */
  disableEndpointAfter?: number;
  /** Milliseconds a repeated `idempotencyKey` returns the original message. Default 24 h. */
  idempotencyTtl?: number;
  /**
   * Bytes of each response body kept in the delivery log; of a 2xx answer, 1024 at most.
   * Default 65536.
   */
  maxResponseBodyBytes?: number;
  /** Milliseconds `app.close()` waits for attempts in flight. Default 10000. */
  shutdownTimeout?: number;
  /**
   * Milliseconds the store keeps finished messages (and their attempts) for the delivery log.
   * Default 24 h.
   */
  retention?: number;
  /**
   * Bytes the in-memory store may hold, as it estimates them (see the README for what a
   * message and an attempt cost). When full, it forgets the oldest finished messages before
   * their `retention` is up; when what is left is all pending (or keeps an idempotency key),
   * `emit` rejects with `WebhookStoreFullError` rather than drop anything. Default 128 MiB.
   */
  maxStoreBytes?: number;
  /**
   * Where endpoints, messages and attempts live: `{ type: 'memory' }` (the default, this
   * process only, lost on restart) or `{ type: 'postgres', ... }` (durable, shared by every
   * process on the same database).
   */
  store?: WebhooksMemoryStoreOptions | WebhooksPostgresStoreOptions;
  /** When attempts run. Only the in-memory default, `{ type: 'memory' }`, is available yet. */
  queue?: { type: 'memory' };
  /**
   * Whether this process runs delivery attempts (default `true`). `false`: it only emits and
   * manages, beside worker processes on the same PostgreSQL store, which it wakes on every emit.
   */
  worker?: boolean;
  /**
   * Milliseconds between a worker's looks for due deliveries that no queue handed it (left by a
   * crash or a restart, or written by another process), with a shared store. Default 5000.
   * A retry due later than the next sweep is left to the sweep: up to this much late.
   */
  sweepInterval?: number;
}

/** The embedded default store. */
export interface WebhooksMemoryStoreOptions {
  type: 'memory';
}

/** The PostgreSQL store: give `pool` or `connectionString`. */
export interface WebhooksPostgresStoreOptions {
  type: 'postgres';
  /** The app's own `pg` Pool (of 2 connections or more); the module never ends it. */
  pool?: WebhooksPgPool;
  /** A connection string; the module makes a Pool of its own and ends it at shutdown. */
  connectionString?: string;
  /** The schema of the library's tables. Default `webhooks`. */
  schema?: string;
  /**
   * Whether to create and upgrade the tables at bootstrap (default `true`), under an advisory
   * lock, so any number of processes may start at once. `false`: the app runs the SQL of
   * `webhookMigrations()` with its own migration tool, and bootstrap checks it has.
   */
  migrate?: boolean;
  /**
   * Encrypts endpoint secrets at rest (AES-256-GCM): a 32-byte key as a base64 string or a
   * Buffer, or a list of them, newest first. Secrets are sealed under the first; the others
   * still open what they sealed (see `WebhookEndpoints.reencryptSecrets()`). Without it,
   * secrets are stored as given.
   */
  encryptionKey?: string | Uint8Array | readonly (string | Uint8Array)[];
}

/**
 * What the PostgreSQL store takes as `pool`: a `pg` Pool (`new Pool()` from 'pg'), described by
 * its shape so that the options' types need no `@types/pg` (`pg` is an optional peer).
 */
export interface WebhooksPgPool {
  query(...args: never[]): Promise<unknown>;
  connect(...args: never[]): unknown;
  on(event: 'error', listener: (error: Error) => void): unknown;
}
