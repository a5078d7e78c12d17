import { HttpService } from '@nestjs/axios';
import axios, { type AxiosRequestConfig, type AxiosResponse } from 'axios';
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import type { LookupFunction } from 'node:net';
import type { Readable } from 'node:stream';
import { firstValueFrom } from 'rxjs';
import { AddressPolicy } from '../../endpoints/address-policy.js';
import { assertConnectAllowed, guardedLookup } from '../../endpoints/connect-guard.js';
import { transportClosed } from '../../webhooks.messages.js';
import { failedResponse, readAnswer } from './transport-response.js';
import type {
  WebhookRequest,
  WebhookResponse,
  WebhookTransport,
} from '../../interfaces/webhook-transport.interface.js';

/** What the transport sends with, made on its first attempt. */
interface HttpClient {
  service: HttpService;
  httpAgent: HttpAgent;
  httpsAgent: HttpsAgent;
}

/**
 * The default transport: `HttpService` from `@nestjs/axios` on an axios instance of its own,
 * over keep-alive agents whose DNS lookup enforces the address policy at connect time.
 *
 * Its own instance, not the app's: the app's global axios defaults and interceptors (and those
 * of a global HttpModule) must not reach deliveries, where they could swap the adapter or the
 * agents that enforce the address policy. Made on the first attempt, so that an app which
 * never delivers does not pay for it at bootstrap.
 */
export class HttpWebhookTransport implements WebhookTransport {
  private readonly lookup: LookupFunction;
  private client?: HttpClient;
  private closed = false;

  constructor(
    private readonly policy: AddressPolicy,
    private readonly maxResponseBodyBytes: number,
    private readonly maxSocketsPerHost: number,
  ) {
    this.lookup = guardedLookup(policy);
  }

  private get http(): HttpClient {
    if (this.client) return this.client;
    const agentOptions = {
      keepAlive: true,
      maxSockets: this.maxSocketsPerHost,
      lookup: this.lookup,
    };
    return (this.client = {
      service: new HttpService(axios.create()),
      httpAgent: new HttpAgent(agentOptions),
      httpsAgent: new HttpsAgent(agentOptions),
    });
  }

  async send(request: WebhookRequest): Promise<WebhookResponse> {
    // axios's `timeout` bounds the wait for the answer, readAnswer's timer the rest of it.
    const deadline = Date.now() + request.timeoutMs;
    let response: AxiosResponse<Readable>;
    try {
      // Made lazily, the client would otherwise come back to life, never to be destroyed.
      if (this.closed) throw new Error(transportClosed());
      assertConnectAllowed(this.policy, new URL(request.url).hostname);
      const http = this.http;
      response = await firstValueFrom(
        http.service.request<Readable>({
          url: request.url,
          // An app-wide `baseURL` with `allowAbsoluteUrls: false` would send elsewhere.
          allowAbsoluteUrls: true,
          method: request.method,
          headers: request.headers,
          data: request.body,
          // The body is already JSON; axios would parse it again to "stringify" it.
          transformRequest: [(data: unknown) => data],
          responseType: 'stream',
          timeout: request.timeoutMs,
          maxRedirects: 0,
          validateStatus: () => true,
          // Everything below keeps the connection on the guarded path whatever axios defaults
          // the process sets: only Node's HTTP/1 adapter uses our agents (fetch and xhr ignore
          // them, HTTP/2 opens its own sessions), `lookup` guards even a replaced agent, a
          // socket path would skip DNS and the address check, and an environment proxy would
          // hide the destination from the connect-time check.
          adapter: 'http',
          httpVersion: 1,
          socketPath: null,
          // Node's lookup signature; axios types `family` narrower (4 | 6) than Node's number.
          lookup: this.lookup as AxiosRequestConfig['lookup'],
          proxy: false,
          httpAgent: http.httpAgent,
          httpsAgent: http.httpsAgent,
        }),
      );
    } catch (error) {
      return failedResponse(error, request.timeoutMs);
    }
    return readAnswer(
      response.status,
      response.headers as WebhookResponse['headers'],
      response.data,
      {
        deadline,
        timeoutMs: request.timeoutMs,
        maxBodyBytes: this.maxResponseBodyBytes,
      },
    );
  }

  async close(): Promise<void> {
    this.closed = true;
    this.client?.httpAgent.destroy();
    this.client?.httpsAgent.destroy();
  }
}
