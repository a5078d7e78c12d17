import {
  encodedResponseBody,
  receiverSwitchedProtocols,
  responseBodyUnreadable,
  transportFailure,
  transportTimeout,
} from '../../webhooks.messages.js';
import type { WebhookResponse } from '../../interfaces/webhook-transport.interface.js';

/**
 * Response body bytes the delivery log keeps of a 2xx answer (`maxResponseBodyBytes` when that
 * is smaller): the status already says the message was accepted, and what a receiver adds to
 * it is rarely worth keeping for every delivered attempt. Other answers keep up to
 * `maxResponseBodyBytes`, since their body is where a receiver says what went wrong.
 */
export const SUCCESS_BODY_BYTES = 1024;

/** Longest content-encoding name the log shows: the header is the receiver's to fill. */
const MAX_ENCODING_NAME = 64;

/** Code of the error an attempt ends with when the receiver answers 101 Switching Protocols. */
const SWITCHED_PROTOCOLS = 'ERR_WEBHOOK_SWITCHED_PROTOCOLS';

/** What was read of a response body, and why the rest could not be. */
export interface CappedBody {
  body: string;
  error: unknown;
}

/**
 * The first bytes of a response body, for the delivery log: chunks past the cap are dropped as
 * they come, so a huge answer is never buffered. Made when the status and headers arrive, which
 * decide the cap (see `SUCCESS_BODY_BYTES`) and how the kept bytes are logged: as text, or, for
 * an answer with a content-encoding, as the raw bytes in base64 behind a marker, since the
 * transports never decode an answer. Both transports feed it.
 */
export class BodyCap {
  private readonly kept: Buffer[] = [];
  private size = 0;
  private readonly cap: number;
  /** The answer's content-encoding, unless it has none (or `identity`). */
  private readonly encoding: string | undefined;

  constructor(statusCode: number, headers: WebhookResponse['headers'], maxBodyBytes: number) {
    this.cap =
      statusCode >= 200 && statusCode < 300
        ? Math.min(SUCCESS_BODY_BYTES, maxBodyBytes)
        : maxBodyBytes;
    this.encoding = contentEncoding(headers['content-encoding']);
  }

  push(chunk: Buffer | string): void {
    if (this.size >= this.cap) return;
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    const room = this.cap - this.size;
    this.kept.push(buffer.length > room ? buffer.subarray(0, room) : buffer);
    this.size += Math.min(buffer.length, room);
  }

  text(): string {
    const { kept } = this;
    // No body (a 204, the usual answer of a receiver) is the common case.
    if (kept.length === 0) return '';
    const bytes = kept.length === 1 ? kept[0] : Buffer.concat(kept);
    if (this.encoding === undefined) return withoutNul(bytes.toString('utf8'));
    return encodedResponseBody(this.encoding, bytes.toString('base64'));
  }
}

/**
 * The text with each NUL character replaced by U+FFFD, as UTF-8 decoding does with bytes it
 * cannot read: PostgreSQL's text cannot hold NUL, and a store that refused the log of an
 * answer would have the message sent again.
 */
const withoutNul = (text: string) => (text.includes('\0') ? text.replaceAll('\0', '\uFFFD') : text);

/** The content-encoding an answer's header names, or `undefined` for none (or `identity`). */
function contentEncoding(header: string | string[] | undefined): string | undefined {
  if (header === undefined) return undefined;
  const name = (Array.isArray(header) ? header.join(', ') : header).trim().toLowerCase();
  if (name === '' || name === 'identity') return undefined;
  return name.length > MAX_ENCODING_NAME ? `${name.slice(0, MAX_ENCODING_NAME)}...` : name;
}

/**
 * Why an answer whose headers were handled at `now` counts as a timeout, if it does: after the
 * attempt's deadline (both `performance.now()` milliseconds). When the event loop is busy, a
 * late answer can be read before the deadline's timer gets to run, and the outcome must not
 * depend on which of the two Node handles first.
 */
export function lateAnswer(deadline: number, now = performance.now()): DOMException | undefined {
  return now > deadline
    ? new DOMException('answered after the deadline', 'TimeoutError')
    : undefined;
}

/**
 * The error an attempt ends with when the receiver answers 101 Switching Protocols: whatever it
 * switched the connection to, it is not an answer to the webhook, and the connection is closed.
 */
export function switchedProtocols(): Error {
  return Object.assign(new Error(receiverSwitchedProtocols()), { code: SWITCHED_PROTOCOLS });
}

/**
 * The response of an attempt that got a status. The status decides the outcome even if the
 * body then broke off: a receiver that answered 2xx has accepted the message, and treating it
 * as "no answer" would retry it and deliver it twice.
 */
export function answeredResponse(
  statusCode: number,
  headers: WebhookResponse['headers'],
  { body, error }: CappedBody,
  timeoutMs: number,
): WebhookResponse {
  return {
    statusCode,
    headers,
    body,
    error: error === undefined ? null : responseBodyUnreadable(describeFailure(error, timeoutMs)),
  };
}

/** The response of an attempt that got no HTTP answer. */
export function failedResponse(error: unknown, timeoutMs: number): WebhookResponse {
  return { statusCode: null, headers: {}, body: null, error: describeFailure(error, timeoutMs) };
}

/** A short, secret-free description of why an attempt got no (complete) HTTP answer. */
function describeFailure(error: unknown, timeoutMs: number): string {
  const err = error as { name?: string; code?: string; message?: string; cause?: unknown };
  if (
    err?.name === 'TimeoutError' ||
    err?.code === 'ECONNABORTED' ||
    err?.code === 'ETIMEDOUT' ||
    err?.code === 'UND_ERR_HEADERS_TIMEOUT' ||
    err?.code === 'UND_ERR_BODY_TIMEOUT' ||
    err?.code === 'ERR_CANCELED'
  ) {
    return transportTimeout(timeoutMs);
  }
  // undici ends a 101 that names the protocol switched to before any handler sees its status.
  if (
    err?.code === SWITCHED_PROTOCOLS ||
    (err?.code === 'UND_ERR_SOCKET' && err.message === 'bad upgrade')
  ) {
    return receiverSwitchedProtocols();
  }
  if (err?.cause && !err.code) return describeFailure(err.cause, timeoutMs);
  return transportFailure(err?.code, err?.message ?? String(error));
}
