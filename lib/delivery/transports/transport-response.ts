import { finished, type Readable } from 'node:stream';
import { backgroundTimer } from '../background-timer.js';
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
 * The first `cap` bytes of a response body, for the delivery log: chunks past the cap are
 * dropped as they come, so a huge answer is never buffered. Both transports feed it.
 */
export class BodyCap {
  private readonly kept: Buffer[] = [];
  private size = 0;

  constructor(private readonly cap: number) {}

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
    return (kept.length === 1 ? kept[0] : Buffer.concat(kept)).toString('utf8');
  }
}

/**
 * Why an answer whose headers were handled at `now` counts as a timeout, if it does: after the
 * attempt's deadline (both on one clock: epoch ms, unless the caller gives `now` on another).
 * When the event loop is busy, a late answer can be read before the timeout timer gets to run,
 * and the outcome must not depend on which of the two Node handles first.
 */
export function lateAnswer(deadline: number, now = Date.now()): DOMException | undefined {
  return now > deadline
    ? new DOMException('answered after the deadline', 'TimeoutError')
    : undefined;
}

/**
 * Reads a response body stream until `deadline` (epoch ms), keeping at most `cap` bytes for the
 * delivery log and draining the rest without buffering it, so keep-alive connections stay
 * reusable. Never rejects: a body that breaks off (reset, timeout) comes back as what arrived
 * so far, with the error.
 */
function readCapped(stream: Readable, cap: number, deadline: number): Promise<CappedBody> {
  return new Promise((resolve) => {
    const body = new BodyCap(cap);
    // The attempt's timeout covers the body too: a receiver that drips it slowly is cut off.
    const timer = backgroundTimer(
      () => stream.destroy(new DOMException('the response body took too long', 'TimeoutError')),
      deadline - Date.now(),
    );
    // Listeners rather than `for await`: no promise per chunk on the path of every attempt.
    const onData = (chunk: Buffer | string) => body.push(chunk);
    stream.on('data', onData);
    // `finished` also reports a stream closed before its end, as an error.
    const cleanup = finished(stream, (error) => {
      cleanup();
      clearTimeout(timer);
      stream.off('data', onData);
      // Whatever the stream still raises after this is nobody's business.
      stream.on('error', () => undefined);
      resolve({ body: body.text(), error: error ?? undefined });
    });
  });
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

/** An answer handled too late (see `lateAnswer`): its body is dropped unread. */
function answeredTooLate(
  body: Readable,
  deadline: number,
  timeoutMs: number,
): WebhookResponse | undefined {
  const late = lateAnswer(deadline);
  if (!late) return undefined;
  // Nobody reads this body: drop the connection, and the error destroying it raises.
  body.on('error', () => undefined);
  body.destroy();
  return failedResponse(late, timeoutMs);
}

/** When an attempt ends, and how much of an answer's body the log keeps. */
export interface AnswerTiming {
  /** Epoch ms the attempt ends at: an answer handled later counts as a timeout. */
  deadline: number;
  timeoutMs: number;
  maxBodyBytes: number;
}

/**
 * The response of an attempt whose status and headers arrived: a timeout when they came too
 * late, else the status with what was read of the body.
 */
export async function readAnswer(
  statusCode: number,
  headers: WebhookResponse['headers'],
  body: Readable,
  { deadline, timeoutMs, maxBodyBytes }: AnswerTiming,
): Promise<WebhookResponse> {
  const late = answeredTooLate(body, deadline, timeoutMs);
  if (late) return late;
  const read = await readCapped(body, maxBodyBytes, deadline);
  return answeredResponse(statusCode, headers, read, timeoutMs);
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
