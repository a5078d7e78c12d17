/** What one delivery attempt's result means for the delivery and its endpoint. */
export type ResponseClassification =
  { outcome: 'delivered' } | { outcome: 'gone' } | { outcome: 'retry'; honourRetryAfter: boolean };

// One object per verdict, shared: every attempt is classified.
const DELIVERED: ResponseClassification = Object.freeze({ outcome: 'delivered' });
const GONE: ResponseClassification = Object.freeze({ outcome: 'gone' });
const RETRY: ResponseClassification = Object.freeze({ outcome: 'retry', honourRetryAfter: false });
const RETRY_AFTER: ResponseClassification = Object.freeze({
  outcome: 'retry',
  honourRetryAfter: true,
});

/**
 * Classifies an attempt by its HTTP status (`undefined` when no response arrived): 2xx
 * delivered, 410 gone, anything else retried, honouring `Retry-After` on 429 and 503.
 */
export function classifyResponse(status: number | undefined): ResponseClassification {
  // The status decides whenever there is one: a receiver that answered 2xx has accepted the
  // message even if reading the rest of its response then failed, and retrying would deliver
  // it twice. No status (timeout, refused, reset, SSRF block at connect time) is always worth
  // retrying.
  if (status === undefined || !Number.isInteger(status) || status < 100 || status > 599) {
    return RETRY;
  }
  if (status >= 200 && status < 300) {
    return DELIVERED;
  }
  if (status === 410) {
    return GONE;
  }
  // 3xx lands here too: following a redirect would send a signed payload to a URL that was
  // never checked against the SSRF policy.
  return status === 429 || status === 503 ? RETRY_AFTER : RETRY;
}
