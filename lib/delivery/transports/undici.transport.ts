import { EventEmitter } from 'node:events';
import { Agent, type Dispatcher } from 'undici';
import { AddressPolicy } from '../../endpoints/address-policy.js';
import { assertConnectAllowed, guardedLookup } from '../../endpoints/connect-guard.js';
import { failedResponse, readAnswer } from './transport-response.js';
import type {
  WebhookRequest,
  WebhookResponse,
  WebhookTransport,
} from '../../interfaces/webhook-transport.interface.js';

const TARGET_CACHE_LIMIT = 10_000;

/**
 * The abort signal of one attempt, as the EventEmitter that undici accepts in place of an
 * AbortSignal: an AbortController costs several microseconds per attempt (EventTarget
 * listeners), a sizeable share of a loopback request.
 */
class AttemptAbort extends EventEmitter {
  aborted = false;
  reason: unknown = undefined;

  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    this.emit('abort');
  }
}

interface ParsedTarget {
  origin: string;
  path: string;
  hostname: string;
}

/**
 * The throughput transport (`transport: 'undici'`): an undici agent with pooled connections,
 * made on the first attempt so that an app which never delivers does not pay for it at bootstrap.
 */
export class UndiciWebhookTransport implements WebhookTransport {
  private pool?: Agent;
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

  async send(request: WebhookRequest): Promise<WebhookResponse> {
    const deadline = Date.now() + request.timeoutMs;
    // undici's own headersTimeout runs on a coarse timer and starts late (once the request is
    // written): an abort signal keeps the attempt's timeout exact. One timer for the whole
    // attempt: aborted after the headers, undici destroys the body stream with the reason.
    const abort = new AttemptAbort();
    const timer = setTimeout(
      () => abort.abort(new DOMException('no answer in time', 'TimeoutError')),
      request.timeoutMs,
    );
    timer.unref();
    try {
      let response: Dispatcher.ResponseData;
      try {
        const target = this.target(request.url);
        assertConnectAllowed(this.policy, target.hostname);
        response = await this.agent.request({
          origin: target.origin,
          path: target.path,
          method: request.method as Dispatcher.HttpMethod,
          headers: request.headers,
          body: request.body,
          signal: abort,
          headersTimeout: request.timeoutMs,
          bodyTimeout: request.timeoutMs,
        });
      } catch (error) {
        return failedResponse(error, request.timeoutMs);
      }
      return await readAnswer(response.statusCode, response.headers, response.body, {
        deadline,
        timeoutMs: request.timeoutMs,
        maxBodyBytes: this.maxResponseBodyBytes,
        // The abort timer above stops the body too.
        bodyTimer: false,
      });
    } finally {
      clearTimeout(timer);
    }
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

  async close(): Promise<void> {
    // The dispatcher calls this after waiting its shutdownTimeout for attempts in flight; what
    // is still running must be aborted. `agent.close()` would wait for it, up to `timeout`.
    await this.pool?.destroy();
  }
}
