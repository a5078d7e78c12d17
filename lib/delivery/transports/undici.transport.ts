import { Agent, request as undiciRequest, type Dispatcher } from 'undici';
import { AddressPolicy } from '../../endpoints/address-policy.js';
import { assertConnectAllowed, guardedLookup } from '../../endpoints/connect-guard.js';
import { answeredResponse, failedResponse, readCapped } from './transport-response.js';
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
    let response: Dispatcher.ResponseData;
    try {
      assertConnectAllowed(this.policy, new URL(request.url).hostname);
      response = await undiciRequest(request.url, {
        dispatcher: this.agent,
        method: request.method as 'POST',
        headers: request.headers,
        body: request.body,
        headersTimeout: request.timeoutMs,
        bodyTimeout: request.timeoutMs,
        signal: AbortSignal.timeout(request.timeoutMs),
      });
    } catch (error) {
      return failedResponse(error, request.timeoutMs);
    }
    const body = await readCapped(response.body, this.maxResponseBodyBytes);
    return answeredResponse(response.statusCode, response.headers, body, request.timeoutMs);
  }

  async close(): Promise<void> {
    // The dispatcher calls this after waiting its shutdownTimeout for attempts in flight; what
    // is still running must be aborted. `agent.close()` would wait for it, up to `timeout`.
    await this.agent.destroy();
  }
}
