import type { Socket } from 'node:net';
import { buildConnector, Pool, type Dispatcher } from 'undici';
import { AddressPolicy } from '../../endpoints/address-policy.js';
import { assertConnectAllowed, guardedLookup } from '../../endpoints/connect-guard.js';
import { DeadlineList, type Expiring } from './deadline-list.js';
import {
  answeredResponse,
  BodyCap,
  failedResponse,
  lateAnswer,
  switchedProtocols,
} from './transport-response.js';
import { transportClosed } from '../../webhooks.messages.js';
import type {
  WebhookRequest,
  WebhookResponse,
  WebhookTransport,
} from '../../interfaces/webhook-transport.interface.js';

/**
 * Where an endpoint's attempts go: its URL, split as undici wants it, and the pool of
 * connections to its origin with how many of them are open.
 */
interface EndpointTarget {
  url: string;
  origin: string;
  path: string;
  pool: Pool;
  connected: number;
  /** Set while a pool that failed to connect waits `idlePoolMs` for its next attempt. */
  idleCheck?: NodeJS.Timeout;
}

/** How the undici transport sends. */
export interface UndiciTransportOptions {
  /** Response body bytes kept per attempt (fewer for a 2xx: see `SUCCESS_BODY_BYTES`). */
  maxResponseBodyBytes: number;
  /** Connections per endpoint: the queue's limit of an endpoint's attempts in flight. */
  connectionsPerEndpoint: number;
  /** How long a connection may take to open: the attempt timeout, so none outlives its attempt. */
  connectTimeoutMs: number;
  /**
   * How long after its last failed connect a pool that could not connect is kept for its
   * endpoint's next attempt (`UNDICI_IDLE_POOL_MS` unless a test says otherwise).
   */
  idlePoolMs: number;
}

/** Four seconds, undici's own keep-alive: an unused pool goes as an idle connection would. */
export const UNDICI_IDLE_POOL_MS = 4_000;

/**
 * The throughput transport (`transport: 'undici'`): an undici pool of connections per endpoint,
 * each made on the endpoint's first attempt.
 *
 * A pool per endpoint rather than one per origin (what an undici `Agent` keeps): the queue lets
 * at most `endpointConcurrency` attempts of an endpoint run at once, so a pool that size never
 * makes an attempt wait for a connection. A pool per origin, shared by every endpoint on it
 * (one host, many paths), would have to be as large as the total limit for the same promise,
 * and undici opens more connections than there are requests in flight, up to a pool's size: on
 * the bench's one origin with 8 endpoints, 100 connections for 80 attempts, which cost about a
 * twentieth more CPU per delivery than 8 pools of 10 (see `npm run bench:delivery`).
 *
 * The price: endpoints on one host do not share connections. A host with many endpoints (one
 * per tenant, say) gets up to `endpointConcurrency` connections for each that is busy; no more
 * than `concurrency` carry attempts at once, and the idle ones close after their keep-alive.
 * Every pool connects through one connector, so TLS sessions are resumed across endpoints of a
 * host. A pool whose connections have all closed (idle past their keep-alive) is closed and
 * forgotten, as an `Agent` does with its origins, so endpoints that come and go leave nothing
 * behind. A pool that failed to connect is kept until `idlePoolMs` after its last failed
 * connect: an endpoint that refuses connections while its backlog is attempted would
 * otherwise get a new pool for each attempt, on top of the new client that undici makes in
 * place of one that failed to connect (see `npm run bench:durable`, part 3).
 *
 * Requests go through `pool.dispatch()` with a handler of our own rather than `pool.request()`:
 * the response body arrives as chunks the handler keeps (up to the cap) instead of through a
 * stream and its promises, and the attempt's deadline aborts through the handler's controller
 * instead of an abort signal, which costs undici as much again per request as the rest of its
 * work on loopback. Deadlines share one timer (`DeadlineList`) rather than a timer each, and end
 * an attempt whatever the receiver does: undici's own `headersTimeout` starts again with every
 * 1xx answer, so a receiver that sends them without end would hold the attempt for ever. undici
 * never decodes an answer through `dispatch()`: it is logged as it came over the wire.
 */
export class UndiciWebhookTransport implements WebhookTransport {
  private readonly targets = new Map<string, EndpointTarget>();
  /** Pools no longer handed out, closing once their attempts in flight are done. */
  private readonly retired = new Set<Pool>();
  private readonly deadlines = new DeadlineList<AttemptHandler>();
  private readonly connector: buildConnector.connector;
  /**
   * Connections still being opened: `pool.destroy()` leaves them to the connector's timeout
   * (the attempt's), and they would keep the process alive that long after `close()`.
   */
  private readonly connecting = new Set<Socket>();
  private closed = false;

  constructor(
    private readonly policy: AddressPolicy,
    private readonly options: UndiciTransportOptions,
  ) {
    const connect = buildConnector({
      lookup: guardedLookup(policy),
      timeout: options.connectTimeoutMs,
    }) as (options: buildConnector.Options, callback: buildConnector.Callback) => Socket;
    // undici's connector calls back from the socket's events, never before it returns.
    this.connector = (connectOptions, callback) => {
      const socket = connect(connectOptions, (...result) => {
        this.connecting.delete(socket);
        callback(...result);
      });
      this.connecting.add(socket);
    };
  }

  send(request: WebhookRequest): Promise<WebhookResponse> {
    return new Promise((resolve) => {
      let target: EndpointTarget;
      try {
        // A pool made after close would never be destroyed.
        if (this.closed) throw new Error(transportClosed());
        target = this.target(request);
      } catch (error) {
        resolve(failedResponse(error, request.timeoutMs));
        return;
      }
      // Answers are never decoded (see `BodyCap`): the receiver is asked not to encode them.
      request.headers['accept-encoding'] = 'identity';
      const attempt = new AttemptHandler(
        request.timeoutMs,
        this.options.maxResponseBodyBytes,
        this.deadlines,
        resolve,
      );
      try {
        target.pool.dispatch(
          {
            origin: target.origin,
            path: target.path,
            method: request.method as Dispatcher.HttpMethod,
            headers: request.headers,
            body: request.body,
            // Backstops only: the attempt's own deadline ends it on time.
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
    // is still running must be aborted. `pool.close()` would wait for it, up to `timeout`.
    const targets = [...this.targets.values()];
    for (const target of targets) clearTimeout(target.idleCheck);
    const pools = [...this.retired, ...targets.map((target) => target.pool)];
    this.targets.clear();
    this.retired.clear();
    await Promise.all(pools.map((pool) => pool.destroy()));
    for (const socket of this.connecting) socket.destroy();
    this.connecting.clear();
    // Destroying the pools ends the attempts they hold; any that undici did not report (a
    // request a pool had queued for a connection it gave up on) ends here, not at its deadline.
    for (const attempt of this.deadlines.takeAll()) attempt.end(new Error(transportClosed()));
  }

  /**
   * Where the request's endpoint is sent to: its URL parsed on its first attempt and again
   * only when it changes, its pool kept for as long as its origin stays the same.
   */
  private target(request: WebhookRequest): EndpointTarget {
    const { endpointId, url } = request;
    let target = this.targets.get(endpointId);
    if (target?.url === url) return target;
    const parsed = new URL(url);
    // Node and undici never resolve an IP literal: the connect-time guard would not see it.
    assertConnectAllowed(this.policy, parsed.hostname);
    const path = `${parsed.pathname}${parsed.search}`;
    if (target?.origin === parsed.origin) {
      // Attempts already dispatched took the old path with them.
      target.url = url;
      target.path = path;
      return target;
    }
    if (target) this.retire(endpointId, target);
    target = { url, origin: parsed.origin, path, pool: this.openPool(parsed.origin), connected: 0 };
    this.watch(endpointId, target);
    this.targets.set(endpointId, target);
    return target;
  }

  private openPool(origin: string): Pool {
    return new Pool(origin, {
      connections: this.options.connectionsPerEndpoint,
      connect: this.connector,
    });
  }

  /**
   * Counts the pool's open connections; retires it once it has none left, or, when it failed to
   * connect, `idlePoolMs` after its last failed connect (each refused attempt puts that off).
   */
  private watch(endpointId: string, target: EndpointTarget) {
    target.pool
      .on('connect', () => target.connected++)
      .on('disconnect', () => {
        target.connected--;
        if (target.connected <= 0) this.retire(endpointId, target);
      })
      .on('connectionError', () => {
        if (target.connected > 0) return;
        if (target.idleCheck) {
          target.idleCheck.refresh();
          return;
        }
        target.idleCheck = setTimeout(() => {
          target.idleCheck = undefined;
          // Connected since: its disconnect retires it.
          if (target.connected <= 0) this.retire(endpointId, target);
        }, this.options.idlePoolMs).unref();
      });
  }

  /**
   * Stops handing out the endpoint's pool; it closes once the attempts it holds are done (the
   * endpoint's next attempt gets a new one).
   */
  private retire(endpointId: string, target: EndpointTarget) {
    clearTimeout(target.idleCheck);
    target.idleCheck = undefined;
    if (this.targets.get(endpointId) === target) this.targets.delete(endpointId);
    const { pool } = target;
    if (this.retired.has(pool) || pool.closed || pool.destroyed) return;
    this.retired.add(pool);
    pool
      .close()
      .catch(() => undefined)
      .finally(() => this.retired.delete(pool));
  }
}

/**
 * One attempt as undici reports it: the status and headers, the first bytes of the body that
 * `BodyCap` keeps (the rest is read and dropped, so the connection stays reusable), and an
 * exact deadline. Settles once, whatever undici reports after that.
 */
class AttemptHandler implements Dispatcher.DispatchHandler, Expiring<AttemptHandler> {
  readonly deadline: number;
  older?: AttemptHandler;
  newer?: AttemptHandler;
  private controller?: Dispatcher.DispatchController;
  /** Why the attempt was aborted before undici handed over its controller. */
  private pendingAbort?: Error;
  private statusCode = 0;
  private headers: WebhookResponse['headers'] = {};
  /** Made with the final status, which decides how much of the body is kept. */
  private body?: BodyCap;
  private settled = false;

  constructor(
    private readonly timeoutMs: number,
    private readonly maxBodyBytes: number,
    private readonly deadlines: DeadlineList<AttemptHandler>,
    private readonly resolve: (response: WebhookResponse) => void,
  ) {
    this.deadline = performance.now() + timeoutMs;
    deadlines.add(this);
  }

  expire(): void {
    this.abort(new DOMException('no answer in time', 'TimeoutError'));
  }

  /** Ends the attempt now, with `reason`, whatever undici still reports about it. */
  end(reason: Error): void {
    this.pendingAbort = reason;
    this.controller?.abort(reason);
    this.settle(reason);
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
    // undici fails a 101 that names a protocol itself; one that names none arrives here.
    if (statusCode === 101) {
      controller.abort(switchedProtocols());
      return;
    }
    // Other informational answers (103 Early Hints) are not the answer.
    if (statusCode < 200) return;
    const late = lateAnswer(this.deadline);
    if (late) {
      controller.abort(late);
      return;
    }
    this.statusCode = statusCode;
    this.headers = headers;
    this.body = new BodyCap(statusCode, headers, this.maxBodyBytes);
  }

  onResponseData(_controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.body?.push(chunk);
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
    // waiting for a pooled connection. The attempt ends now, and the request is aborted if it
    // ever starts; the connection gives up at the same timeout (the connector's), rather than
    // holding one of the endpoint's connections for undici's own 10 s.
    this.pendingAbort = reason;
    this.settle(reason);
  }

  private settle(error: Error | undefined): void {
    if (this.settled) return;
    this.settled = true;
    this.deadlines.remove(this);
    const { body } = this;
    if (!body) {
      this.resolve(failedResponse(error ?? new Error('no answer'), this.timeoutMs));
      return;
    }
    // A 2xx whose body then broke off is still an answer: the status decides.
    const read = { body: body.text(), error };
    this.resolve(answeredResponse(this.statusCode, this.headers, read, this.timeoutMs));
  }
}
