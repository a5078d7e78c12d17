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
  /** Bytes of each response body kept in the delivery log. Default 65536. */
  maxResponseBodyBytes?: number;
  /** Milliseconds `app.close()` waits for attempts in flight. Default 10000. */
  shutdownTimeout?: number;
  /**
   * Milliseconds the in-memory store keeps finished messages (and their attempts) for the
   * delivery log. Default 24 h.
   */
  retention?: number;
}
