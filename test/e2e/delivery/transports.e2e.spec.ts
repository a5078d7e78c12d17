import {
  createServer as createHttpServer,
  type IncomingHttpHeaders,
  type ServerResponse,
} from 'node:http';
import { createServer, type Server, type Socket } from 'node:net';
import { gzipSync } from 'node:zlib';
import { setTimeout as sleep } from 'node:timers/promises';
import axios from 'axios';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { HttpWebhookTransport } from '../../../lib/delivery/transports/http.transport.js';
import { SUCCESS_BODY_BYTES } from '../../../lib/delivery/transports/transport-response.js';
import { UndiciWebhookTransport } from '../../../lib/delivery/transports/undici.transport.js';
import { AddressPolicy } from '../../../lib/endpoints/address-policy.js';
import { freePort } from '../../support/free-port.js';
import {
  drip,
  hostileServer,
  type HostileAnswer,
  type HostileServer,
} from '../../support/hostile-server.js';
import {
  encodedResponseBody,
  receiverSwitchedProtocols,
  responseBodyUnreadable,
  transportClosed,
  transportFailure,
  transportTimeout,
} from '../../../lib/webhooks.messages.js';
import type { WebhookTransport } from '../../../lib/interfaces/webhook-transport.interface.js';

// The transports on their own, against loopback servers that misbehave below HTTP.

const policy = () => new AddressPolicy(['127.0.0.0/8']);
const undiciOptions = (connectionsPerEndpoint: number) => ({
  maxResponseBodyBytes: 1024,
  connectionsPerEndpoint,
  connectTimeoutMs: 5_000,
  idlePoolMs: 200,
});
const transports: [string, () => WebhookTransport][] = [
  ['http', () => new HttpWebhookTransport(policy(), 1024, 10)],
  ['undici', () => new UndiciWebhookTransport(policy(), undiciOptions(10))],
];
/** Both transports, keeping up to `maxResponseBodyBytes` of a response body. */
const cappedTransports: [string, (maxResponseBodyBytes: number) => WebhookTransport][] = [
  ['http', (max) => new HttpWebhookTransport(policy(), max, 10)],
  [
    'undici',
    (max) =>
      new UndiciWebhookTransport(policy(), { ...undiciOptions(10), maxResponseBodyBytes: max }),
  ],
];

/**
 * A TCP server on 127.0.0.1 that accepts connections and never says a word. It reads what it
 * is sent, so that it sees a connection that the other side closed.
 */
async function silentServer(): Promise<{
  port: number;
  /** Connections accepted so far. */
  connections(): number;
  /** Connections still open. */
  open(): number;
  close(): Promise<void>;
}> {
  const sockets = new Set<Socket>();
  let accepted = 0;
  const server: Server = createServer((socket) => {
    accepted++;
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
    socket.resume();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    port,
    connections: () => accepted,
    open: () => sockets.size,
    close: () =>
      new Promise((resolve) => {
        sockets.forEach((socket) => socket.destroy());
        server.close(() => resolve());
      }),
  };
}

const request = (url: string, timeoutMs: number, endpointId = 'ep_test') => ({
  endpointId,
  url,
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: '{}',
  timeoutMs,
});

describe.each(transports)('%s transport', (_name, create) => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    await Promise.all(cleanups.splice(0).map((cleanup) => cleanup()));
  });

  // Over https the connection is accepted but the ClientHello never answered: the request does
  // not even start, and undici alone would wait for its own 10 s connect timeout.
  it.each([
    ['the TLS handshake never completes', 'https'],
    ['the answer never comes', 'http'],
  ])(
    'ends an attempt at its timeout when %s',
    async (_case, scheme) => {
      const server = await silentServer();
      const transport = create();
      cleanups.push(
        () => server.close(),
        () => transport.close(),
      );

      const response = await transport.send(
        request(`${scheme}://127.0.0.1:${server.port}/hook`, 300),
      );

      expect(response).toMatchObject({ statusCode: null, body: null });
      expect(response.error).toBe(transportTimeout(300));
    },
    20_000,
  );
});

describe.each(transports)('%s transport answers', (_name, create) => {
  it('logs an answer without a body as an empty body, and one with a body as its text', async () => {
    const empty = await countingServer();
    const talking = createHttpServer((incoming, response) => {
      incoming.resume();
      incoming.on('end', () => {
        response.writeHead(200, { 'content-type': 'text/plain' });
        response.write('accepted, ');
        setTimeout(() => response.end('thanks'), 5);
      });
    });
    await new Promise<void>((resolve) => talking.listen(0, '127.0.0.1', resolve));
    const { port } = talking.address() as { port: number };
    const transport = create();
    try {
      const none = await transport.send(request(`${empty.url}/hook`, 5_000, 'ep_empty'));
      expect(none).toMatchObject({ statusCode: 204, body: '', error: null });
      const some = await transport.send(request(`http://127.0.0.1:${port}/hook`, 5_000, 'ep_talk'));
      expect(some).toMatchObject({ statusCode: 200, body: 'accepted, thanks', error: null });
    } finally {
      await transport.close();
      await empty.close();
      talking.closeAllConnections();
      await new Promise((resolve) => talking.close(resolve));
    }
  });
});

describe.each(transports)('%s transport closing', (_name, create) => {
  it('ends a connection it is still opening: a TLS handshake never answered', async () => {
    const server = await silentServer();
    const transport = create();
    try {
      const sending = transport.send(request(`https://127.0.0.1:${server.port}/hook`, 60_000));
      await until(() => server.connections() === 1, 'the connection to be accepted');

      await transport.close();

      const response = await sending;
      expect(response.statusCode).toBeNull();
      expect(response.error).toBeTruthy();
      // Not at the connect timeout, seconds later, keeping the process alive until then.
      await until(() => server.open() === 0, 'the connection to be closed', 1_000);
    } finally {
      await server.close();
    }
  });
});

describe.each(transports)('%s transport after close', (_name, create) => {
  it('starts no attempt, and makes no new connection pool', async () => {
    const server = await silentServer();
    const transport = create();
    await transport.close();

    const response = await transport.send(request(`http://127.0.0.1:${server.port}/hook`, 300));

    expect(response.statusCode).toBeNull();
    expect(response.error).toContain(transportClosed());
    expect(server.connections()).toBe(0);
    await server.close();
  });
});

/**
 * An HTTP server on 127.0.0.1 that counts the connections it accepts and the ones still open,
 * and holds every answer until `release()` (when `hold` is set).
 */
async function countingServer({ hold = false, keepAliveTimeout = 5_000 } = {}) {
  let accepted = 0;
  const open = new Set<Socket>();
  const held: ServerResponse[] = [];
  const paths: string[] = [];
  const server = createHttpServer((request, response) => {
    paths.push(request.url ?? '');
    request.resume();
    request.on('end', () => {
      if (hold) held.push(response);
      else response.writeHead(204).end();
    });
  });
  server.keepAliveTimeout = keepAliveTimeout;
  server.on('connection', (socket) => {
    accepted++;
    open.add(socket);
    socket.on('close', () => open.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    paths,
    accepted: () => accepted,
    open: () => open.size,
    held: () => held.length,
    release() {
      hold = false;
      for (const response of held.splice(0)) response.writeHead(204).end();
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Polls until `check()` holds; rejects after `timeoutMs`. */
async function until(check: () => boolean, what: string, timeoutMs = 5_000) {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('undici transport connection pools', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    await Promise.all(cleanups.splice(0).map((cleanup) => cleanup()));
  });

  async function setUp(options?: Parameters<typeof countingServer>[0], perEndpoint = 2) {
    const server = await countingServer(options);
    const transport = new UndiciWebhookTransport(policy(), undiciOptions(perEndpoint));
    cleanups.push(
      () => transport.close(),
      () => server.close(),
    );
    return { server, transport };
  }

  it('keeps a pool per endpoint, as large as its limit, endpoints on one origin too', async () => {
    const { server, transport } = await setUp({ hold: true });
    const sends = ['ep_a', 'ep_b'].flatMap((endpointId) =>
      [1, 2, 3].map(() =>
        transport.send(request(`${server.url}/${endpointId}`, 5_000, endpointId)),
      ),
    );
    // Two of each endpoint's three attempts get a connection; the third waits for one.
    await until(() => server.held() === 4, 'four requests in flight');
    expect(server.accepted()).toBe(4);

    server.release();
    const responses = await Promise.all(sends);
    expect(responses.map((response) => response.statusCode)).toEqual(Array(6).fill(204));
    // The waiting attempts took connections their endpoint already had.
    expect(server.accepted()).toBe(4);
    expect(server.paths.filter((path) => path === '/ep_a')).toHaveLength(3);
  });

  it("forgets an endpoint's pool once the receiver has closed its idle connections", async () => {
    const { server, transport } = await setUp({ keepAliveTimeout: 50 });
    const first = await transport.send(request(`${server.url}/hook`, 5_000, 'ep_a'));
    expect(first.statusCode).toBe(204);

    await until(() => server.open() === 0, 'the receiver to close the idle connection');
    // Nothing kept for an endpoint that may never send again (endpoints come and go).
    await until(() => transport['targets'].size === 0, 'the pool to be forgotten');
    expect(transport['retired'].size).toBe(0);

    // Its next attempt opens a new pool.
    const second = await transport.send(request(`${server.url}/hook`, 5_000, 'ep_a'));
    expect(second.statusCode).toBe(204);
    expect(server.accepted()).toBe(2);
  });

  it("keeps an endpoint's pool for a new path, and closes it for a new origin", async () => {
    const { server, transport } = await setUp();
    const other = await countingServer();
    cleanups.push(() => other.close());

    const poolOf = () => transport['targets'].get('ep_a')?.pool;
    await transport.send(request(`${server.url}/old`, 5_000, 'ep_a'));
    const pool = poolOf();
    expect(pool).toBeDefined();

    const moved = await transport.send(request(`${server.url}/new?v=2`, 5_000, 'ep_a'));
    expect(moved.statusCode).toBe(204);
    expect(server.paths).toEqual(['/old', '/new?v=2']);
    expect(poolOf()).toBe(pool);
    expect(server.open()).toBe(server.accepted());

    const elsewhere = await transport.send(request(`${other.url}/hook`, 5_000, 'ep_a'));
    expect(elsewhere.statusCode).toBe(204);
    expect(other.paths).toEqual(['/hook']);
    expect(poolOf()).not.toBe(pool);
    // The pool on the old origin is closed, its idle connections with it.
    await until(() => server.open() === 0, 'the old pool to close its connections');
    expect(pool?.closed).toBe(true);
    expect(transport['retired'].size).toBe(0);
  });

  it('keeps the pool of an endpoint that refuses connections while it sends, then forgets it', async () => {
    const transport = new UndiciWebhookTransport(policy(), undiciOptions(2));
    cleanups.push(() => transport.close());
    const port = await freePort();
    const url = `http://127.0.0.1:${port}/hook`;
    const poolOf = () => transport['targets'].get('ep_a')?.pool;

    const first = await transport.send(request(url, 5_000, 'ep_a'));
    expect(first.statusCode).toBeNull();
    expect(first.error).toContain('ECONNREFUSED');
    const pool = poolOf();
    expect(pool).toBeDefined();

    // Attempts that follow within `idlePoolMs` (200 ms here) of each other reuse it, for longer
    // than that in all.
    const started = performance.now();
    while (performance.now() - started < 500) {
      const next = await transport.send(request(url, 5_000, 'ep_a'));
      expect(next.error).toContain('ECONNREFUSED');
      expect(poolOf()).toBe(pool);
      await sleep(50);
    }

    // Unused for that long, it is closed and forgotten.
    await until(
      () => transport['targets'].size === 0 && transport['retired'].size === 0,
      'the pool to be forgotten',
    );
    expect(pool?.closed).toBe(true);
  });

  it('times out each of overlapping attempts at its own deadline, answered or not', async () => {
    const server = await countingServer();
    const transport = new UndiciWebhookTransport(policy(), undiciOptions(2));
    cleanups.push(
      () => transport.close(),
      () => server.close(),
    );
    const held = await countingServer({ hold: true });
    cleanups.push(() => held.close());

    // The oldest is never answered, a newer one is at once, and a third waits again: the timer
    // armed for the first must end it, then end the third at its own deadline.
    const started = performance.now();
    const oldest = transport.send(request(`${held.url}/first`, 300, 'ep_held'));
    const answered = await transport.send(request(`${server.url}/ok`, 300, 'ep_ok'));
    expect(answered.statusCode).toBe(204);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const thirdSent = performance.now();
    const third = transport.send(request(`${held.url}/third`, 300, 'ep_held'));

    expect((await oldest).error).toBe(transportTimeout(300));
    expect(performance.now() - started).toBeGreaterThanOrEqual(299);
    expect((await third).error).toBe(transportTimeout(300));
    // At its own deadline, not at the first one's: it had 100 ms more to go.
    expect(performance.now() - thirdSent).toBeGreaterThanOrEqual(299);
  });

  it('refuses an IP literal the address policy refuses, before any pool is made', async () => {
    const transport = new UndiciWebhookTransport(new AddressPolicy([]), undiciOptions(2));
    cleanups.push(() => transport.close());
    const server = await countingServer();
    cleanups.push(() => server.close());

    const response = await transport.send(request(`${server.url}/hook`, 5_000, 'ep_a'));

    expect(response.statusCode).toBeNull();
    expect(response.error).toContain('127.0.0.1');
    expect(server.accepted()).toBe(0);
    expect(transport['targets'].size).toBe(0);
  });

  it('ends the attempts still in flight when it closes', async () => {
    const { server, transport } = await setUp({ hold: true });
    const sends = [transport.send(request(`${server.url}/a`, 5_000, 'ep_a'))];
    sends.push(transport.send(request(`${server.url}/b`, 5_000, 'ep_b')));
    await until(() => server.held() === 2, 'two requests in flight');

    await transport.close();

    const responses = await Promise.all(sends);
    for (const response of responses) {
      expect(response.statusCode).toBeNull();
      expect(response.error).toBeTruthy();
    }
  });
});

// Receivers that misbehave in HTTP itself, on purpose: every attempt still ends by its
// deadline (or sooner, with a clear error), never counts as delivered unless a 2xx came, and
// leaves no connection open.

const SWITCHING = 'HTTP/1.1 101 Switching Protocols\r\n';

/** Every `everyMs` ms, one more of the informational answers `statuses`, round and round. */
const informational =
  (statuses: number[], everyMs = 5): HostileAnswer =>
  (socket, timers) => {
    let sent = 0;
    timers.every(everyMs, () => {
      socket.write(`HTTP/1.1 ${statuses[sent++ % statuses.length]} Informational\r\n\r\n`);
    });
  };

/** What an attempt against a hostile receiver must end with, per transport. */
interface Hostile {
  answer: HostileAnswer;
  expected: (transport: string) => Record<string, unknown>;
}

const noAnswer = (error: string) => () => ({ statusCode: null, body: null, error });

const hostileReceivers: [string, Hostile][] = [
  [
    'answers 101 Switching Protocols to another protocol, then says nothing',
    {
      answer: (socket) =>
        socket.write(`${SWITCHING}Upgrade: websocket\r\nConnection: Upgrade\r\n\r\n`),
      expected: noAnswer(receiverSwitchedProtocols()),
    },
  ],
  [
    'answers 101 Switching Protocols without naming a protocol',
    {
      answer: (socket) => socket.write(`${SWITCHING}\r\n`),
      expected: noAnswer(receiverSwitchedProtocols()),
    },
  ],
  [
    'answers 103 Early Hints, then 101 Switching Protocols',
    {
      answer: (socket) =>
        socket.write(
          `HTTP/1.1 103 Early Hints\r\nLink: </style.css>\r\n\r\n` +
            `${SWITCHING}Upgrade: h2c\r\nConnection: Upgrade\r\n\r\n`,
        ),
      expected: noAnswer(receiverSwitchedProtocols()),
    },
  ],
  [
    'sends 102 and 103 answers without end, and never a final one',
    {
      answer: informational([102, 103]),
      expected: noAnswer(transportTimeout(300)),
    },
  ],
  [
    'sends 100, 102 and 103 answers without end, and never a final one',
    {
      answer: informational([100, 102, 103]),
      // undici takes a 100 Continue that nobody asked for as a broken answer, at once.
      expected: (transport) =>
        noAnswer(
          transport === 'undici'
            ? transportFailure('UND_ERR_SOCKET', 'bad response')
            : transportTimeout(300),
        )(),
    },
  ],
  [
    'drips its status line and headers a byte at a time',
    {
      answer: (socket, timers) =>
        drip(
          socket,
          timers,
          `HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Padding: ${'p'.repeat(100)}\r\n` +
            'Content-Length: 2\r\n\r\nok',
        ),
      expected: noAnswer(transportTimeout(300)),
    },
  ],
  [
    'answers 200, then drips its body a byte at a time',
    {
      answer: (socket, timers) => {
        socket.write('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n');
        drip(socket, timers, 'x'.repeat(100));
      },
      // The status decides; the body that broke off is noted beside it.
      expected: () => ({
        statusCode: 200,
        body: expect.stringMatching(/^x{0,99}$/),
        error: responseBodyUnreadable(transportTimeout(300)),
      }),
    },
  ],
  [
    'answers 200 with Upgrade headers and a body that never ends',
    {
      answer: (socket, timers) => {
        socket.write('HTTP/1.1 200 OK\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
        timers.every(5, () => void socket.write('x'));
      },
      expected: () => ({
        statusCode: 200,
        body: expect.stringMatching(/^x*$/),
        error: responseBodyUnreadable(transportTimeout(300)),
      }),
    },
  ],
];

/** Polls until the receiver has no connection left open. */
const allClosed = (server: HostileServer) =>
  until(() => server.open() === 0, 'every connection to the receiver to be closed');

describe.each(transports)('%s transport against hostile receivers', (name, create) => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    await Promise.all(cleanups.splice(0).map((cleanup) => cleanup()));
  });

  it.each(hostileReceivers)(
    'ends the attempt when the receiver %s',
    async (_case, { answer, expected }) => {
      const server = await hostileServer(answer);
      const transport = create();
      cleanups.push(
        () => transport.close(),
        () => server.close(),
      );

      const response = await transport.send(request(`${server.url}/hook`, 300));

      expect(response).toMatchObject(expected(name));
      // An aborted attempt, or a connection switched to another protocol, is not kept.
      await allClosed(server);
    },
    15_000,
  );

  it('ends every attempt a receiver holds at its own deadline, on the one timer', async () => {
    // Three attempts at once, then one more once they are over: the timer armed for the first
    // ends all three, then is armed again for the fourth.
    const server = await hostileServer(informational([102]));
    const transport = create();
    cleanups.push(
      () => transport.close(),
      () => server.close(),
    );
    const first = await Promise.all(
      [1, 2, 3].map((n) => transport.send(request(`${server.url}/hook`, 300, `ep_${n}`))),
    );
    const last = await transport.send(request(`${server.url}/hook`, 300, 'ep_4'));

    for (const response of [...first, last]) expect(response.error).toBe(transportTimeout(300));
    await allClosed(server);
  }, 15_000);
});

describe('http transport on close', () => {
  it('ends the attempts in flight, one still waiting for a socket too', async () => {
    const server = await silentServer();
    // One socket per host: the second attempt waits for the first one's.
    const transport = new HttpWebhookTransport(policy(), 1024, 1);
    try {
      const sends = ['/a', '/b'].map((path) =>
        transport.send(request(`http://127.0.0.1:${server.port}${path}`, 60_000)),
      );
      await until(() => server.connections() === 1, 'the first attempt to connect');

      await transport.close();

      // Without that, the second would take the socket freed by the first and wait 60 s.
      for (const response of await Promise.all(sends)) {
        expect(response).toMatchObject({ statusCode: null, error: transportClosed() });
      }
    } finally {
      await server.close();
    }
  }, 15_000);
});

describe('http transport keep-alive connections', () => {
  it('ends one left idle by a receiver that never closes it, and keeps one in use', async () => {
    // keepAliveTimeout 0: the receiver never closes an idle connection itself.
    const server = await countingServer({ hold: true, keepAliveTimeout: 0 });
    const transport = new HttpWebhookTransport(policy(), 1024, 10, 200);
    try {
      const sending = transport.send(request(`${server.url}/hook`, 5_000));
      await until(() => server.held() === 1, 'the request to arrive');
      // In use for longer than the idle timeout: the attempt has its own deadline.
      await new Promise((resolve) => setTimeout(resolve, 400));
      server.release();
      expect((await sending).statusCode).toBe(204);
      expect(server.open()).toBe(1);

      await until(() => server.open() === 0, 'the idle connection to be closed', 2_000);
      expect((await transport.send(request(`${server.url}/hook`, 5_000))).statusCode).toBe(204);
      expect(server.accepted()).toBe(2);
    } finally {
      await transport.close();
      await server.close();
    }
  });
});

describe('http transport and the process-wide axios defaults', () => {
  it("sends none of the app's axios defaults: its credentials, params or limits", async () => {
    const server = await answeringServer(500, { 'content-type': 'text/plain' }, 'e'.repeat(2_000));
    const saved = { ...axios.defaults, headers: axios.defaults.headers };
    const common = axios.defaults.headers.common;
    common.Authorization = 'Bearer the-apps-own-token';
    axios.defaults.auth = { username: 'app', password: 'app-password' };
    axios.defaults.params = { api_key: 'app-key' };
    axios.defaults.maxContentLength = 10;
    const transport = new HttpWebhookTransport(policy(), 1024, 10);
    try {
      const response = await transport.send(request(`${server.url}/hook`, 5_000));
      expect(response).toMatchObject({ statusCode: 500, error: null });
      expect(response.body).toHaveLength(1024);
      const [received] = server.requests;
      expect(received.authorization).toBeUndefined();
      expect(JSON.stringify(received)).not.toContain('app-key');
      expect(server.paths).toEqual(['/hook']);
    } finally {
      delete common.Authorization;
      axios.defaults.auth = saved.auth;
      axios.defaults.params = saved.params;
      axios.defaults.maxContentLength = saved.maxContentLength;
      await transport.close();
      await server.close();
    }
  });

  // axios.create() copies axios.defaults, and the transport makes its instance on its first
  // attempt: an app's `axios.defaults.timeout` must not cut attempts short of `timeout`.
  it('waits the attempt timeout, not axios.defaults.timeout', async () => {
    const server = createHttpServer((incoming, response) => {
      incoming.resume();
      incoming.on('end', () => setTimeout(() => response.writeHead(204).end(), 300));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    const timeout = axios.defaults.timeout;
    axios.defaults.timeout = 50;
    const transport = new HttpWebhookTransport(policy(), 1024, 10);
    try {
      const response = await transport.send(request(`http://127.0.0.1:${port}/hook`, 5_000));
      expect(response).toMatchObject({ statusCode: 204, error: null });
    } finally {
      axios.defaults.timeout = timeout;
      await transport.close();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

/** An HTTP server on 127.0.0.1 answering every request with `status`, `headers` and `body`. */
async function answeringServer(
  status: number,
  headers: Record<string, string>,
  body: Buffer | string,
) {
  const requests: IncomingHttpHeaders[] = [];
  const paths: string[] = [];
  const server = createHttpServer((incoming, response) => {
    requests.push(incoming.headers);
    paths.push(incoming.url ?? '');
    incoming.resume();
    incoming.on('end', () => response.writeHead(status, headers).end(body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    paths,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe.each(cappedTransports)('%s transport response bodies', (_name, create) => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    await Promise.all(cleanups.splice(0).map((cleanup) => cleanup()));
  });

  const TEN_KB = 'abcdefghij'.repeat(1024);

  async function answerWith(
    maxResponseBodyBytes: number,
    status: number,
    body: Buffer | string,
    headers: Record<string, string> = { 'content-type': 'text/plain' },
  ) {
    const server = await answeringServer(status, headers, body);
    const transport = create(maxResponseBodyBytes);
    cleanups.push(
      () => transport.close(),
      () => server.close(),
    );
    const response = await transport.send(request(`${server.url}/hook`, 5_000));
    return { response, server };
  }

  it('keeps little of a 2xx answer body: the status says what it has to', async () => {
    const { response } = await answerWith(64 * 1024, 200, TEN_KB);
    expect(SUCCESS_BODY_BYTES).toBe(1024);
    expect(response).toMatchObject({ statusCode: 200, error: null });
    expect(response.body).toBe(TEN_KB.slice(0, SUCCESS_BODY_BYTES));
  });

  it('keeps no more of a 2xx answer body than maxResponseBodyBytes either', async () => {
    const { response } = await answerWith(100, 201, TEN_KB);
    expect(response).toMatchObject({ statusCode: 201, error: null, body: TEN_KB.slice(0, 100) });
  });

  it('keeps up to maxResponseBodyBytes of any other answer body', async () => {
    const whole = await answerWith(64 * 1024, 500, TEN_KB);
    expect(whole.response).toMatchObject({ statusCode: 500, error: null, body: TEN_KB });
    const cut = await answerWith(4096, 500, TEN_KB);
    expect(cut.response).toMatchObject({ statusCode: 500, body: TEN_KB.slice(0, 4096) });
  });

  it('keeps a NUL character of an answer body as U+FFFD, which every store can hold', async () => {
    const { response } = await answerWith(64 * 1024, 500, 'bad\0byte\0');
    expect(response.body).toBe('bad\uFFFDbyte\uFFFD');
  });

  describe('sent with a content-encoding', () => {
    // A gzip bomb: 1,024 gzip members of 1 MiB of zeros each, about 1 MB on the wire, which
    // inflates to 1 GiB. Decoded, it would cost that memory and the CPU to inflate it.
    let bomb: Buffer;
    beforeAll(() => {
      bomb = Buffer.concat(Array(1024).fill(gzipSync(Buffer.alloc(1024 * 1024))));
    });

    const gzipped = { 'content-type': 'application/json', 'content-encoding': 'gzip' };
    const keptBytes = (body: string | null) =>
      Buffer.from(String(body).slice(encodedResponseBody('gzip', '').length), 'base64');

    it('keeps the raw bytes of a 2xx answer, marked, in base64, never inflated', async () => {
      const { response, server } = await answerWith(64 * 1024, 200, bomb, gzipped);

      expect(response).toMatchObject({ statusCode: 200, error: null });
      expect(response.body).toBe(
        encodedResponseBody('gzip', bomb.subarray(0, SUCCESS_BODY_BYTES).toString('base64')),
      );
      expect([...keptBytes(response.body).subarray(0, 2)]).toEqual([0x1f, 0x8b]);
      // Nothing asks the receiver to encode its answer.
      expect(server.requests[0]['accept-encoding']).toBe('identity');
    });

    it('keeps up to maxResponseBodyBytes of the raw bytes of any other answer', async () => {
      const { response } = await answerWith(4096, 503, bomb, gzipped);

      expect(response).toMatchObject({ statusCode: 503, error: null });
      expect(keptBytes(response.body)).toEqual(bomb.subarray(0, 4096));
    });

    it('keeps the text of an answer whose content-encoding is identity', async () => {
      const { response } = await answerWith(64 * 1024, 200, 'accepted', {
        'content-encoding': 'identity',
      });
      expect(response).toMatchObject({ statusCode: 200, error: null, body: 'accepted' });
    });
  });
});
