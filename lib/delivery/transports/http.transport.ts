import { HttpService } from '@nestjs/axios';
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import type { Readable } from 'node:stream';
import { firstValueFrom } from 'rxjs';
import { AddressPolicy } from '../../endpoints/address-policy.js';
import { assertConnectAllowed, guardedLookup } from '../../endpoints/connect-guard.js';
import { describeFailure, readCapped } from './read-capped.js';
import type {
  WebhookRequest,
  WebhookResponse,
  WebhookTransport,
} from '../../interfaces/webhook-transport.interface.js';

/**
 * The default transport: `HttpService` from `@nestjs/axios`, over keep-alive agents whose
 * DNS lookup enforces the address policy at connect time.
 */
export class HttpWebhookTransport implements WebhookTransport {
  private readonly httpAgent: HttpAgent;
  private readonly httpsAgent: HttpsAgent;

  constructor(
    private readonly http: HttpService,
    private readonly policy: AddressPolicy,
    private readonly maxResponseBodyBytes: number,
    maxSocketsPerHost: number,
  ) {
    const agentOptions = {
      keepAlive: true,
      maxSockets: maxSocketsPerHost,
      lookup: guardedLookup(policy),
    };
    this.httpAgent = new HttpAgent(agentOptions);
    this.httpsAgent = new HttpsAgent(agentOptions);
  }

  async send(request: WebhookRequest): Promise<WebhookResponse> {
    try {
      assertConnectAllowed(this.policy, new URL(request.url).hostname);
      const signal = AbortSignal.timeout(request.timeoutMs);
      const response = await firstValueFrom(
        this.http.request<Readable>({
          url: request.url,
          method: request.method,
          headers: request.headers,
          data: request.body,
          // The body is already JSON; axios would parse it again to "stringify" it.
          transformRequest: [(data: unknown) => data],
          responseType: 'stream',
          timeout: request.timeoutMs,
          signal,
          maxRedirects: 0,
          // An environment proxy would bypass the connect-time address check.
          proxy: false,
          validateStatus: () => true,
          httpAgent: this.httpAgent,
          httpsAgent: this.httpsAgent,
        }),
      );
      const body = await readCapped(response.data, this.maxResponseBodyBytes);
      return {
        statusCode: response.status,
        headers: response.headers as WebhookResponse['headers'],
        body,
        error: null,
      };
    } catch (error) {
      return {
        statusCode: null,
        headers: {},
        body: null,
        error: describeFailure(error, request.timeoutMs),
      };
    }
  }

  async close(): Promise<void> {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }
}
