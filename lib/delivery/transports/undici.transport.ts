import { Agent, type Dispatcher } from 'undici';
import { AddressPolicy } from '../../endpoints/address-policy.js';
import { assertConnectAllowed, guardedLookup } from '../../endpoints/connect-guard.js';
import {
  answeredResponse,
  attemptDeadline,
  failedResponse,
  readCapped,
} from './transport-response.js';
import type {
  WebhookRequest,
  WebhookResponse,
  WebhookTransport,
} from '../../interfaces/webhook-transport.interface.js';

/** The throughput transport (`transport: 'undici'`): an undici agent with pooled connections. */
export class UndiciWebhookTransport implements WebhookTransport {
  private readonly agent: Agent;

  constructor(
    private readonly policy: AddressPolicy,
    private readonly maxResponseBodyBytes: number,
    connectionsPerOrigin: number,
  ) {
    this.agent = new Agent({
      connections: connectionsPerOrigin,
      connect: { lookup: guardedLookup(policy) },
    });
  }

  async send(request: WebhookRequest): Promise<WebhookResponse> {
    const deadline = attemptDeadline(request.timeoutMs);
    try {
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
          signal: deadline.signal,
        });
      } catch (error) {
        return failedResponse(error, request.timeoutMs);
      }
      const body = await readCapped(response.body, this.maxResponseBodyBytes);
      return answeredResponse(response.statusCode, response.headers, body, request.timeoutMs);
    } finally {
      deadline.done();
    }
  }

  async close(): Promise<void> {
    // The dispatcher calls this after waiting its shutdownTimeout for attempts in flight; what
    // is still running must be aborted. `agent.close()` would wait for it, up to `timeout`.
    await this.agent.destroy();
  }
}
