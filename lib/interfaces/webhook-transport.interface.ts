/** One signed HTTP request of a delivery attempt. */
export interface WebhookRequest {
  /**
   * The endpoint the attempt is for, so that a transport may keep connections per endpoint
   * (the queue limits attempts in flight per endpoint).
   */
  endpointId: string;
  url: string;
  method: string;
  /** Made for this attempt alone: the transport may add to them (`accept-encoding`). */
  headers: Record<string, string>;
  body: string;
  timeoutMs: number;
}

/** What came back, or why nothing did. */
export interface WebhookResponse {
  statusCode: number | null;
  headers: Record<string, string | string[] | undefined>;
  /**
   * The response body, cut to the configured cap (smaller for a 2xx: `SUCCESS_BODY_BYTES`), as
   * text; an answer sent with a content-encoding is never decoded, and comes as a marker naming
   * the encoding followed by the kept bytes in base64 (`encodedResponseBody`).
   */
  body: string | null;
  /**
   * Why no HTTP answer came (timeout, refused address, network error; `statusCode` is `null`),
   * or, beside a status, why the response body broke off (`body` holds what arrived).
   */
  error: string | null;
}

/** Sends one attempt. Implemented with `HttpService` (default) and with undici. */
export interface WebhookTransport {
  send(request: WebhookRequest): Promise<WebhookResponse>;
  close(): Promise<void>;
}
