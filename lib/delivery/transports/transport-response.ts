import {
  responseBodyUnreadable,
  transportFailure,
  transportTimeout,
} from '../../webhooks.messages.js';
import type { WebhookResponse } from '../../interfaces/webhook-transport.interface.js';

/** What was read of a response body, and why the rest could not be. */
export interface CappedBody {
  body: string;
  error: unknown;
}

/**
 * Reads a response body stream, keeping at most `cap` bytes for the delivery log and draining
 * the rest without buffering it, so keep-alive connections stay reusable. Never rejects: a body
 * that breaks off (reset, timeout) comes back as what arrived so far, with the error.
 */
export async function readCapped(
  stream: AsyncIterable<Uint8Array | string>,
  cap: number,
): Promise<CappedBody> {
  const kept: Buffer[] = [];
  let size = 0;
  let error: unknown;
  try {
    for await (const chunk of stream) {
      if (size >= cap) continue;
      const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk);
      const room = cap - size;
      kept.push(buffer.length > room ? buffer.subarray(0, room) : buffer);
      size += Math.min(buffer.length, room);
    }
  } catch (caught) {
    error = caught ?? new Error('aborted');
  }
  return { body: Buffer.concat(kept).toString('utf8'), error };
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
  if (err?.cause && !err.code) return describeFailure(err.cause, timeoutMs);
  return transportFailure(err?.code, err?.message ?? String(error));
}

/**
 * An abort signal that fires after `timeoutMs`, for the whole attempt (answer and body), with a
 * `TimeoutError` reason. Unlike `AbortSignal.timeout()` its timer is cleared by `done()`, so
 * finished attempts do not leave a live timer behind for the rest of the timeout.
 */
export function attemptDeadline(timeoutMs: number): { signal: AbortSignal; done: () => void } {
  const controller = new AbortController();
  const timer = setTimeout(
    () => controller.abort(new DOMException(`no answer within ${timeoutMs} ms`, 'TimeoutError')),
    timeoutMs,
  );
  timer.unref();
  return { signal: controller.signal, done: () => clearTimeout(timer) };
}
