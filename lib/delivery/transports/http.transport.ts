import { HttpService } from '@nestjs/axios';
import axios, {
  type AxiosInstance,
  type AxiosRequestConfig,
  type AxiosResponse,
  type GenericAbortSignal,
} from 'axios';
import {
  Agent as HttpAgent,
  request as httpRequest,
  type ClientRequest,
  type IncomingMessage,
  type RequestOptions,
} from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { LookupFunction } from 'node:net';
import { finished, type Duplex, type Readable } from 'node:stream';
import { firstValueFrom } from 'rxjs';
import { AddressPolicy } from '../../endpoints/address-policy.js';
import { assertConnectAllowed, guardedLookup } from '../../endpoints/connect-guard.js';
import { transportClosed } from '../../webhooks.messages.js';
import { DeadlineList, type Expiring } from './deadline-list.js';
import {
  answeredResponse,
  BodyCap,
  failedResponse,
  lateAnswer,
  switchedProtocols,
} from './transport-response.js';
import type {
  WebhookRequest,
  WebhookResponse,
  WebhookTransport,
} from '../../interfaces/webhook-transport.interface.js';

/**
 * How long a keep-alive connection is kept idle for the next attempt, or less if the receiver's
 * `Keep-Alive` header says so: undici's default, so both transports hold connections alike.
 * Without it, a receiver that never closes idle connections would keep them open until
 * shutdown, as many as the agent allows for each of its host and port.
 */
export const HTTP_IDLE_SOCKET_MS = 4_000;

/** What the transport sends with, made on its first attempt. */
interface HttpClient {
  service: HttpService;
  httpAgent: HttpAgent;
  httpsAgent: HttpsAgent;
  transport: NodeRequests;
}

/**
 * The default transport: `HttpService` from `@nestjs/axios` on an axios instance of its own,
 * over keep-alive agents whose DNS lookup enforces the address policy at connect time.
 *
 * Its own instance, not the app's, with none of the process-wide axios defaults: the app's
 * global axios defaults and interceptors (and those of a global HttpModule) must not reach
 * deliveries, where they could send the app's own credentials to a customer's receiver, or swap
 * the adapter or the agents that enforce the address policy. Made on the first attempt, so that
 * an app which never delivers does not pay for it at bootstrap.
 *
 * Each attempt ends at its timeout whatever the receiver does (an answer that never comes, 1xx
 * answers without end, headers or a body dripped a byte at a time): its deadline is in one
 * `DeadlineList`, one timer for every attempt, and fires the abort signal axios is given, which
 * destroys the request and its socket in whichever phase it is. axios' own `timeout` is not
 * used: it misses some of those phases (an answer of 101 Switching Protocols, for one) and costs
 * timers of its own per attempt. Answers are read as they came over the wire, never decoded.
 */
export class HttpWebhookTransport implements WebhookTransport {
  private readonly lookup: LookupFunction;
  private readonly deadlines = new DeadlineList<HttpAttempt>();
  private client?: HttpClient;
  private closed = false;

  constructor(
    private readonly policy: AddressPolicy,
    private readonly maxResponseBodyBytes: number,
    private readonly maxSocketsPerHost: number,
    private readonly idleSocketMs = HTTP_IDLE_SOCKET_MS,
  ) {
    this.lookup = guardedLookup(policy);
  }

  private get http(): HttpClient {
    if (this.client) return this.client;
    const agentOptions = {
      keepAlive: true,
      maxSockets: this.maxSocketsPerHost,
      // An idle socket's timeout, which destroys it; one in use only tells its request, which
      // does not listen: an attempt ends at its own deadline.
      timeout: this.idleSocketMs,
      lookup: this.lookup,
    };
    return (this.client = {
      service: new HttpService(isolatedAxios()),
      httpAgent: new HttpAgent(agentOptions),
      httpsAgent: new HttpsAgent(agentOptions),
      transport: new NodeRequests(),
    });
  }

  async send(request: WebhookRequest): Promise<WebhookResponse> {
    // Made lazily, the client would otherwise come back to life, never to be destroyed.
    if (this.closed) return failedResponse(new Error(transportClosed()), request.timeoutMs);
    const attempt = new HttpAttempt(request.timeoutMs, this.deadlines);
    let response: AxiosResponse<Readable>;
    try {
      assertConnectAllowed(this.policy, new URL(request.url).hostname);
      const http = this.http;
      // Answers are never decoded (see `BodyCap`): a receiver is asked not to encode them, where
      // axios would otherwise offer gzip, deflate and brotli.
      request.headers['accept-encoding'] = 'identity';
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
          signal: attempt,
          // The attempt's deadline is the only one.
          timeout: 0,
          // Inflating an answer only to drop it would let a small gzip body cost gigabytes.
          decompress: false,
          maxRedirects: 0,
          validateStatus: () => true,
          // Everything below keeps the connection on the guarded path whatever axios defaults
          // the process sets: only Node's HTTP/1 adapter uses our agents (fetch and xhr ignore
          // them, HTTP/2 opens its own sessions), Node's own `request` functions (see
          // `NodeRequests`) rather than any other transport, `lookup` guards even a replaced
          // agent, a socket path would skip DNS and the address check, and an environment proxy
          // would hide the destination from the connect-time check.
          adapter: 'http',
          httpVersion: 1,
          transport: http.transport,
          socketPath: null,
          // Node's lookup signature; axios types `family` narrower (4 | 6) than Node's number.
          lookup: this.lookup as AxiosRequestConfig['lookup'],
          proxy: false,
          httpAgent: http.httpAgent,
          httpsAgent: http.httpsAgent,
        }),
      );
    } catch (error) {
      return attempt.fail(error);
    }
    return attempt.read(
      response.status,
      response.headers as WebhookResponse['headers'],
      response.data,
      this.maxResponseBodyBytes,
    );
  }

  async close(): Promise<void> {
    this.closed = true;
    this.client?.httpAgent.destroy();
    this.client?.httpsAgent.destroy();
    // Destroying the agents ends the attempts on their sockets; one still looking up its host
    // or waiting for a socket ends here, not at its deadline.
    for (const attempt of this.deadlines.takeAll()) attempt.abort(new Error(transportClosed()));
  }
}

/**
 * An axios instance that starts from nothing. `axios.create()` starts from `axios.defaults`,
 * which an app may have filled for its own API calls: a bearer token in `headers.common`,
 * `auth`, `params`, a `timeout` or a `maxContentLength`. Each would reach every receiver, or cut
 * its attempts short; every request here says all it needs itself.
 */
function isolatedAxios(): AxiosInstance {
  const instance = axios.create();
  // Emptied in place: the instance's requests read this object (a copy of `axios.defaults`
  // made for it), not the property.
  const defaults = instance.defaults as unknown as Record<string, unknown>;
  for (const key of Object.keys(defaults)) delete defaults[key];
  defaults.headers = {};
  return instance;
}

/**
 * One attempt: its deadline in the transport's `DeadlineList`, and the abort signal axios is
 * given. axios takes any object shaped like an `AbortSignal` (`GenericAbortSignal`), so the
 * attempt is its own signal, with no `AbortController` and no timer of its own. axios listens
 * to it until the answer's body has been read to its end; aborting it rejects the request with
 * the reason before the answer, and destroys the request (its socket with it) at any point.
 */
class HttpAttempt implements Expiring<HttpAttempt>, GenericAbortSignal {
  readonly deadline: number;
  older?: HttpAttempt;
  newer?: HttpAttempt;
  aborted = false;
  /** Why the attempt was aborted: what it ends with, whatever axios reports after that. */
  private reason?: Error;
  /** axios' listener: it takes the reason as its argument. */
  private onAbort?: (reason: Error) => void;
  /** The answer's body, once it is being read. */
  private body?: Readable;

  constructor(
    private readonly timeoutMs: number,
    private readonly deadlines: DeadlineList<HttpAttempt>,
  ) {
    this.deadline = performance.now() + timeoutMs;
    deadlines.add(this);
  }

  addEventListener(_type: 'abort', listener: (reason: Error) => void): void {
    this.onAbort = listener;
  }

  removeEventListener(): void {
    this.onAbort = undefined;
  }

  expire(): void {
    this.abort(new DOMException('no answer in time', 'TimeoutError'));
  }

  /** Ends the attempt now, with `reason`, in whichever phase it is. */
  abort(reason: Error): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    this.deadlines.remove(this);
    // Destroyed here too, not only through axios' listener: the body's end must not depend on
    // how long an axios version keeps listening.
    this.body?.destroy(reason);
    this.onAbort?.(reason);
  }

  /**
   * The response of the attempt when no answer came. Once aborted, axios rejects with an error
   * of its own whatever the reason: the reason is what the attempt ends with.
   */
  fail(error: unknown): WebhookResponse {
    this.deadlines.remove(this);
    return failedResponse(this.reason ?? error, this.timeoutMs);
  }

  /**
   * Reads the answer's body until it ends or the deadline destroys it, keeping what `BodyCap`
   * keeps and draining the rest without buffering it, so keep-alive connections stay reusable.
   * Never rejects: a body that breaks off (reset, timeout) comes back as what arrived so far,
   * with the error. An answer handled after the deadline (see `lateAnswer`) is a timeout, and
   * a 101 is no answer at all (Node hands over the status of one that names no protocol).
   */
  read(
    statusCode: number,
    headers: WebhookResponse['headers'],
    body: Readable,
    maxBodyBytes: number,
  ): WebhookResponse | Promise<WebhookResponse> {
    const refused =
      lateAnswer(this.deadline) ?? (statusCode === 101 ? switchedProtocols() : undefined);
    if (refused) {
      // Nobody reads this body: drop the connection, and the error destroying it raises.
      body.on('error', () => undefined);
      body.destroy();
      return this.fail(refused);
    }
    this.body = body;
    const kept = new BodyCap(statusCode, headers, maxBodyBytes);
    return new Promise((resolve) => {
      // Listeners rather than `for await`: no promise per chunk on the path of every attempt.
      const onData = (chunk: Buffer | string) => kept.push(chunk);
      body.on('data', onData);
      // `finished` also reports a stream closed before its end, as an error.
      const cleanup = finished(body, (error) => {
        cleanup();
        this.deadlines.remove(this);
        body.off('data', onData);
        // Whatever the stream still raises after this is nobody's business.
        body.on('error', () => undefined);
        // A body that ended before the abort came is whole: no error to report then.
        const read = { body: kept.text(), error: error ? (this.reason ?? error) : undefined };
        resolve(answeredResponse(statusCode, headers, read, this.timeoutMs));
      });
    });
  }
}

/**
 * Node's `http.request` and `https.request`, as axios calls them when it does not follow
 * redirects, except for an answer of 101 Switching Protocols that names the protocol switched
 * to: Node hands the connection over to an `upgrade` listener, or destroys it when there is
 * none without telling axios, whose request then never settles. The listener here destroys the
 * connection (no agent holds it any more) and fails the request at once.
 *
 * A class instance rather than a plain object: axios copies plain objects of a request's
 * config on every request.
 */
class NodeRequests {
  request(options: RequestOptions, callback: (response: IncomingMessage) => void): ClientRequest {
    const request = (options.protocol === 'https:' ? httpsRequest : httpRequest)(options, callback);
    request.on('upgrade', refuseUpgrade);
    return request;
  }
}

function refuseUpgrade(this: ClientRequest, _response: IncomingMessage, socket: Duplex): void {
  socket.destroy();
  this.emit('error', switchedProtocols());
}
