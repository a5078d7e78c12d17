import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { Webhook as StandardWebhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../support/free-port.js';
import { startReceiver, type ReceivedRequest, type Receiver } from '../../support/receiver.js';
import { startSampleServer, type SampleServer } from '../../support/sample-server.js';

// The flow the README walks through (`npm start`, `npm run sample:receiver`, curl), against the
// sample app booted in this process on a free loopback port. Only loopback traffic.

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
// `npm run sample:receiver` compiles lib/ and sample/ with tsc first: slow on a 2-core machine.
const RECEIVER_SCRIPT_TIMEOUT = 120_000;

interface HttpAnswer<T> {
  status: number;
  body: T;
}

async function call<T = unknown>(
  baseUrl: string,
  method: 'GET' | 'POST',
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<HttpAnswer<T>> {
  const init: RequestInit =
    body === undefined
      ? { method, headers }
      : {
          method,
          headers: { ...headers, 'content-type': 'application/json' },
          body: JSON.stringify(body),
        };
  const response = await fetch(`${baseUrl}${path}`, init);
  const text = await response.text();
  return { status: response.status, body: (text ? JSON.parse(text) : undefined) as T };
}

/** Polls `check` until it returns something truthy (a liveness bound, not a speed check). */
async function eventually<T>(
  check: () => Promise<T | undefined | false>,
  what: string,
): Promise<T> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function verify(secret: string, request: ReceivedRequest): unknown {
  return new StandardWebhook(secret).verify(request.body, {
    'webhook-id': String(request.headers['webhook-id']),
    'webhook-timestamp': String(request.headers['webhook-timestamp']),
    'webhook-signature': String(request.headers['webhook-signature']),
  });
}

interface RegisteredEndpoint {
  id: string;
  url: string;
  events: string[];
  secret: string;
  disabled: boolean;
  createdAt: string;
}

interface CreatedSubscription {
  subscription: { username: string; monthly_fee: number; start_date: string };
  webhookId: string;
  endpoints: number;
}

interface DeliveryLogEntry {
  id: string;
  messageId: string;
  endpointId: string;
  event: string;
  status: string;
  attempts: number;
  attemptLog: { attempt: number; statusCode: number | null; outcome: string }[];
}

describe('sample app: register in the portal, subscribe, receive, inspect, replay', () => {
  let server: SampleServer;
  let receiver: Receiver;
  let endpoint: RegisteredEndpoint;
  let created: CreatedSubscription;
  let token: string;

  /** A call to the portal's API as the tenant `demo`, with the token of its demo link. */
  const portal = <T = unknown>(method: 'GET' | 'POST', route: string, body?: unknown) =>
    call<T>(server.baseUrl, method, `/webhooks/portal/api/${route}`, body, {
      authorization: `Bearer ${token}`,
    });

  beforeAll(async () => {
    receiver = await startReceiver();
    server = await startSampleServer();
  });

  afterAll(async () => {
    await server?.close();
    await receiver?.close();
  });

  it('GET /portal-link?tenant=demo (demo only) answers a link to the portal page', async () => {
    const answer = await call<{ url: string; expiresAt: string }>(
      server.baseUrl,
      'GET',
      '/portal-link?tenant=demo',
    );
    expect(answer.status).toBe(200);
    const url = new URL(answer.body.url);
    expect(`${url.origin}${url.pathname}`).toBe(`${server.baseUrl}/webhooks/portal`);
    token = url.hash.replace('#token=', '');
    const page = await fetch(`${url.origin}${url.pathname}`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('/webhooks/portal/assets/portal.js');
    expect((await call(server.baseUrl, 'GET', '/portal-link')).status).toBe(400);
  });

  it('registers a receiver through the portal and answers its secret once', async () => {
    const answer = await portal<RegisteredEndpoint>('POST', 'endpoints', {
      url: `${receiver.url}/webhooks`,
      events: ['new-subscription'],
      description: 'test receiver',
    });
    expect(answer.status).toBe(201);
    endpoint = answer.body;
    expect(endpoint).toMatchObject({
      url: `${receiver.url}/webhooks`,
      events: ['new-subscription'],
      disabled: false,
    });
    expect(endpoint.secret).toMatch(/^whsec_[A-Za-z0-9+/]+={0,2}$/);
  });

  it("lists the endpoint in the portal without its secret, and not in another tenant's", async () => {
    const answer = await portal<{ items: Record<string, unknown>[] }>('GET', 'endpoints');
    expect(answer.status).toBe(200);
    expect(answer.body.items).toHaveLength(1);
    expect(answer.body.items[0]).toMatchObject({ id: endpoint.id, url: endpoint.url });
    expect(answer.body.items[0]).not.toHaveProperty('secret');
    expect(JSON.stringify(answer.body)).not.toContain(endpoint.secret);
    const other = await call<{ url: string }>(server.baseUrl, 'GET', '/portal-link?tenant=other');
    const otherToken = new URL(other.body.url).hash.replace('#token=', '');
    const listed = await call<{ items: unknown[] }>(
      server.baseUrl,
      'GET',
      '/webhooks/portal/api/endpoints',
      undefined,
      { authorization: `Bearer ${otherToken}` },
    );
    expect(listed.body.items).toEqual([]);
  });

  it('POST /subscriptions sends the new subscription, signed, to the receiver', async () => {
    const answer = await call<CreatedSubscription>(server.baseUrl, 'POST', '/subscriptions', {
      username: 'rick',
      monthly_fee: 9.99,
    });
    expect(answer.status).toBe(201);
    created = answer.body;
    expect(created).toMatchObject({
      subscription: { username: 'rick', monthly_fee: 9.99 },
      endpoints: 1,
    });
    expect(created.webhookId).toMatch(/^msg_/);

    const [request] = await receiver.waitFor(1);
    expect(request.method).toBe('POST');
    expect(request.url).toBe('/webhooks');
    expect(request.headers['webhook-id']).toBe(created.webhookId);
    expect(request.headers['content-type']).toMatch(/^application\/json/);
    expect(JSON.parse(request.body)).toEqual(created.subscription);
    expect(verify(endpoint.secret, request)).toEqual(created.subscription);
  });

  it('sends a body that the published schema at /docs-json accepts', async () => {
    const { body: document } = await call<Record<string, unknown>>(
      server.baseUrl,
      'GET',
      '/docs-json',
    );
    const ajv = new Ajv2020({ allErrors: true, strict: false });
    ajv.addFormat('date-time', (value: string) => !Number.isNaN(Date.parse(value)));
    ajv.addSchema({ ...document, $id: 'https://sample.test/openapi.json' });
    const validate = ajv.compile({
      $ref: 'https://sample.test/openapi.json#/webhooks/new-subscription/post/requestBody/content/application~1json/schema',
    });
    const body: unknown = JSON.parse(receiver.requests[0].body);
    expect(validate(body), JSON.stringify(validate.errors)).toBe(true);
  });

  it("the portal's log shows the message delivered after one attempt", async () => {
    const delivery = await eventually(async () => {
      const { body } = await portal<{ items: DeliveryLogEntry[] }>('GET', 'deliveries');
      const entry = body.items.find((item) => item.messageId === created.webhookId);
      return entry?.status === 'delivered' ? entry : undefined;
    }, 'the delivery to be logged as delivered');
    expect(delivery).toMatchObject({
      endpointId: endpoint.id,
      event: 'new-subscription',
      attempts: 1,
    });
    expect(delivery.attemptLog).toHaveLength(1);
    expect(delivery.attemptLog[0]).toMatchObject({
      attempt: 1,
      statusCode: 204,
      outcome: 'delivered',
    });
  });

  it('refuses a private-network URL with 400 naming the URL, and keeps no endpoint for it', async () => {
    const answer = await portal<{ message: string }>('POST', 'endpoints', {
      url: 'http://10.0.0.1/x',
      events: ['new-subscription'],
    });
    expect(answer.status).toBe(400);
    expect(answer.body.message).toContain('http://10.0.0.1/x');
    const listed = await portal<{ items: { url: string }[] }>('GET', 'endpoints');
    expect(listed.body.items.map((item) => item.url)).toEqual([endpoint.url]);
  });

  it("answers 400 to the portal's log with a status it does not know", async () => {
    const answer = await portal<{ message: string }>('GET', 'deliveries?status=done');
    expect(answer.status).toBe(400);
    expect(answer.body.message).toContain("'status' must be one of");
  });

  it('answers 400 to POST /subscriptions with bad input and emits nothing', async () => {
    for (const input of [
      { username: 'rick' },
      { username: 42, monthly_fee: 9.99 },
      { username: 'rick', monthly_fee: -1 },
      { username: 'rick', monthly_fee: 'free' },
    ]) {
      const answer = await call<{ message: string[] }>(
        server.baseUrl,
        'POST',
        '/subscriptions',
        input,
      );
      expect(answer.status, JSON.stringify(input)).toBe(400);
      expect(Array.isArray(answer.body.message)).toBe(true);
    }
    const { body } = await portal<{ items: DeliveryLogEntry[] }>('GET', 'deliveries');
    expect(body.items.map((item) => item.messageId)).toEqual([created.webhookId]);
  });

  it('a replay from the portal sends the same webhook-id again', async () => {
    const before = receiver.requests.length;
    const { body: log } = await portal<{ items: DeliveryLogEntry[] }>(
      'GET',
      `deliveries?message=${created.webhookId}`,
    );
    const answer = await portal<{ deliveries: number }>(
      'POST',
      `deliveries/${log.items[0].id}/redeliver`,
    );
    expect(answer.status).toBe(202);
    expect(answer.body).toEqual({ deliveries: 1 });

    const requests = await receiver.waitFor(before + 1);
    const again = requests[before];
    expect(again.headers['webhook-id']).toBe(created.webhookId);
    expect(again.body).toBe(receiver.requests[0].body);
    expect(verify(endpoint.secret, again)).toEqual(created.subscription);

    const unknown = await portal('POST', 'deliveries/dlv_nope/redeliver');
    expect(unknown.status).toBe(404);
  });
});

describe('sample receiver script (npm run sample:receiver) against the sample app', () => {
  let server: SampleServer;
  let child: ChildProcess | undefined;
  let output = '';
  const lineWaiters = new Set<() => void>();

  function waitForOutput(pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const match = output.match(pattern);
        if (match) {
          lineWaiters.delete(check);
          clearTimeout(timer);
          resolve(match);
        }
      };
      const timer = setTimeout(() => {
        lineWaiters.delete(check);
        reject(new Error(`no output matching ${pattern}; the receiver printed:\n${output}`));
      }, timeoutMs);
      lineWaiters.add(check);
      check();
    });
  }

  beforeAll(async () => {
    server = await startSampleServer();
    const receiverPort = await freePort();
    // Its own process group, so afterAll can stop npm, its shell and node together.
    child = spawn('npm', ['run', '--silent', 'sample:receiver'], {
      cwd: REPO,
      env: { ...process.env, RECEIVER_PORT: String(receiverPort), APP_URL: server.baseUrl },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    const collect = (chunk: Buffer) => {
      output += chunk.toString('utf8');
      for (const waiter of lineWaiters) waiter();
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    child.on('exit', (code, signal) => {
      output += `\n[receiver exited: code ${code}, signal ${signal}]\n`;
      for (const waiter of lineWaiters) waiter();
    });
  }, RECEIVER_SCRIPT_TIMEOUT);

  afterAll(async () => {
    if (child?.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child?.once('exit', resolve));
      try {
        process.kill(-child.pid, 'SIGTERM');
      } catch {
        // already gone
      }
      await exited;
    }
    await server?.close();
  });

  it(
    'registers itself, then prints `verified <webhook-id>` for a new subscription',
    async () => {
      await waitForOutput(
        /Listening on http:\/\/127\.0\.0\.1:\d+\/webhooks/,
        RECEIVER_SCRIPT_TIMEOUT,
      );
      expect(output).toMatch(/Registered endpoint \S+ for http:\/\/127\.0\.0\.1:\d+\/webhooks/);

      const answer = await call<CreatedSubscription>(server.baseUrl, 'POST', '/subscriptions', {
        username: 'rick',
        monthly_fee: 9.99,
      });
      expect(answer.status).toBe(201);
      expect(answer.body.endpoints).toBe(1);

      const id = answer.body.webhookId.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      // The payload is printed with util.inspect, which may wrap it over several lines.
      const [line] = await waitForOutput(new RegExp(`verified ${id}: \\{[^}]*\\}`), 15_000);
      expect(line).toContain("username: 'rick'");
      expect(line).toContain('monthly_fee: 9.99');
      expect(output).not.toContain('REJECTED');
    },
    RECEIVER_SCRIPT_TIMEOUT + 30_000,
  );
});
