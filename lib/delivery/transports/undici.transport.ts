import { Agent, type Dispatcher } from 'undici';
import { AddressPolicy } from '../../endpoints/address-policy.js';
import { assertConnectAllowed, guardedLookup } from '../../endpoints/connect-guard.js';
import {
  answeredResponse,
  answeredTooLate,
  failedResponse,
  readCapped,
} from './transport-response.js';
import type {
  WebhookRequest,
  WebhookResponse,
  WebhookTransport,
} from '../../interfaces/webhook-transport.interface.js';

/**
 * The throughput transport (`transport: 'undici'`): an undici agent with pooled connections,
 * made on the first attempt so that an app which never delivers does not pay for it at bootstrap.
 */
export class UndiciWebhookTransport implements WebhookTransport {
  private pool?: Agent;

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

  async send(request: WebhookRequest): Promise<WebhookResponse> {
    const deadline = Date.now() + request.timeoutMs;
    // undici's own headersTimeout runs on a coarse timer and starts late (once the request is
    // written): an abort signal keeps the attempt's timeout exact. Cleared once headers arrive;
    // readCapped bounds the body.
    const abort = new AbortController();
    const timer = setTimeout(
      () => abort.abort(new DOMException('no answer in time', 'TimeoutError')),
      request.timeoutMs,
    );
    timer.unref();
    let response: Dispatcher.ResponseData;
    try {
      const url = new URL(request.url);
      assertConnectAllowed(this.policy, url.hostname);
      // The agent directly, with the URL parsed once: `undici.request(url)` parses it again.
      response = await this.agent.request({
        origin: url.origin,
        path: `${url.pathname}${url.search}`,
        method: request.method as Dispatcher.HttpMethod,
        headers: request.headers,
        body: request.body,
        headersTimeout: request.timeoutMs,
        bodyTimeout: request.timeoutMs,
      });
    } catch (error) {
      return failedResponse(error, request.timeoutMs);
    } finally {
      clearTimeout(timer);
    }
    const late = answeredTooLate(response.body, deadline, request.timeoutMs);
    if (late) return late;
    const body = await readCapped(response.body, this.maxResponseBodyBytes, deadline);
    return answeredResponse(response.statusCode, response.headers, body, request.timeoutMs);
  }

  async close(): Promise<void> {
    // The dispatcher calls this after waiting its shutdownTimeout for attempts in flight; what
    // is still running must be aborted. `agent.close()` would wait for it, up to `timeout`.
    await this.pool?.destroy();
  }
}
