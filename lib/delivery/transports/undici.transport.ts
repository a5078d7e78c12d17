import { Agent, type Dispatcher } from 'undici';
import { AddressPolicy } from '../../endpoints/address-policy.js';
import { assertConnectAllowed, guardedLookup } from '../../endpoints/connect-guard.js';
import { answeredResponse, BodyCap, failedResponse, lateAnswer } from './transport-response.js';
import { transportClosed } from '../../webhooks.messages.js';
import type {
  WebhookRequest,
  WebhookResponse,
  WebhookTransport,
} from '../../interfaces/webhook-transport.interface.js';

const TARGET_CACHE_LIMIT = 10_000;

interface ParsedTarget {
  origin: string;
  path: string;
  hostname: string;
}

/**
 * The throughput transport (`transport: 'undici'`): an undici agent with pooled connections,
 * made on the first attempt so that an app which never delivers does not pay for it at bootstrap.
 *
 * Requests go through `agent.dispatch()` with a handler of our own rather than
 * `agent.request()`: the response body arrives as chunks the handler keeps (up to the cap)
 * instead of through a stream and its promises, and the attempt's timer aborts through the
 * handler's controller instead of an abort signal, which costs undici as much again per
 * request as the rest of its work on loopback (see `npm run bench:delivery`).
 */
export class UndiciWebhookTransport implements WebhookTransport {
  private pool?: Agent;
  private closed = false;
  private readonly targets = new Map<string, ParsedTarget>();

  constructor(
    private readonly policy: AddressPolicy,
    private readonly maxResponseBodyBytes: number,
    private readonly connectionsPerOrigin: number,
  ) {}

  private get agent(): Agent {
    return (this.pool ??= new Agent({
      connections: this.connectionsPerOrigin,
      connect: { lookup: guardedLookup(this.policy) },
    }));
  }

  send(request: WebhookRequest): Promise<WebhookResponse> {
    return new Promise((resolve) => {
      let target: ParsedTarget;
      try {
        // Made lazily, the agent would otherwise come back to life, never to be destroyed.
        if (this.closed) throw new Error(transportClosed());
        target = this.target(request.url);
        assertConnectAllowed(this.policy, target.hostname);
      } catch (error) {
        resolve(failedResponse(error, request.timeoutMs));
        return;
      }
      const attempt = new AttemptHandler(request.timeoutMs, this.maxResponseBodyBytes, resolve);
      try {
        this.agent.dispatch(
          {
            origin: target.origin,
            path: target.path,
            method: request.method as Dispatcher.HttpMethod,
            headers: request.headers,
            body: request.body,
            // Backstops only: the attempt's own timer ends it on time.
            headersTimeout: request.timeoutMs,
            bodyTimeout: request.timeoutMs,
          },
          attempt,
        );
      } catch (error) {
        attempt.onResponseError(undefined, error as Error);
      }
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    // The dispatcher calls this after waiting its shutdownTimeout for attempts in flight; what
    // is still running must be aborted. `agent.close()` would wait for it, up to `timeout`.
    await this.pool?.destroy();
  }

  /**
   * The URL split as the agent wants it, parsed once per endpoint URL rather than per attempt
   * (bounded, like the signer cache: URLs come from the endpoints, which may be many).
   */
  private target(url: string): ParsedTarget {
    let target = this.targets.get(url);
    if (!target) {
      const parsed = new URL(url);
      target = {
        origin: parsed.origin,
        path: `${parsed.pathname}${parsed.search}`,
        hostname: parsed.hostname,
      };
      if (this.targets.size >= TARGET_CACHE_LIMIT) this.targets.clear();
      this.targets.set(url, target);
    }
    return target;
  }
}

/**
 * One attempt as undici reports it: the status and headers, the first `cap` bytes of the body
 * (the rest is read and dropped, so the connection stays reusable), and an exact deadline.
 * Settles once, whatever undici reports after that.
 */
class AttemptHandler implements Dispatcher.DispatchHandler {
  private readonly deadline: number;
  private readonly timer: NodeJS.Timeout;
  private controller?: Dispatcher.DispatchController;
  /** Why the attempt was aborted before undici handed over its controller. */
  private pendingAbort?: Error;
  private statusCode?: number;
  private headers: WebhookResponse['headers'] = {};
  private readonly body: BodyCap;
  private settled = false;

  constructor(
    private readonly timeoutMs: number,
    cap: number,
    private readonly resolve: (response: WebhookResponse) => void,
  ) {
    this.body = new BodyCap(cap);
    this.deadline = Date.now() + timeoutMs;
    this.timer = setTimeout(
      () => this.abort(new DOMException('no answer in time', 'TimeoutError')),
      timeoutMs,
    );
    this.timer.unref();
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.pendingAbort) controller.abort(this.pendingAbort);
  }

  onResponseStart(
    controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: WebhookResponse['headers'],
  ): void {
    // Informational answers (100 Continue) are not the answer.
    if (statusCode < 200) return;
    const late = lateAnswer(this.deadline);
    if (late) {
      controller.abort(late);
      return;
    }
    this.statusCode = statusCode;
    this.headers = headers;
  }

  onResponseData(_controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.body.push(chunk);
  }

  onResponseEnd(): void {
    this.settle(undefined);
  }

  onResponseError(_controller: Dispatcher.DispatchController | undefined, error: Error): void {
    this.settle(error);
  }

  private abort(reason: Error): void {
    if (this.controller) {
      this.controller.abort(reason);
      return;
    }
    // Not started yet: still connecting (DNS, TCP, a TLS handshake that never completes) or
    // waiting for a pooled connection. undici would only give up at its own connect timeout
    // (10 s), so the attempt ends now, and the request is aborted if it ever starts.
    this.pendingAbort = reason;
    this.settle(reason);
  }

  private settle(error: Error | undefined): void {
    if (this.settled) return;
    this.settled = true;
    clearTimeout(this.timer);
    if (this.statusCode === undefined) {
      this.resolve(failedResponse(error ?? new Error('no answer'), this.timeoutMs));
      return;
    }
    // A 2xx whose body then broke off is still an answer: the status decides.
    const read = { body: this.body.text(), error };
    this.resolve(answeredResponse(this.statusCode, this.headers, read, this.timeoutMs));
  }
}
