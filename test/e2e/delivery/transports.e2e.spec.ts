import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { HttpWebhookTransport } from '../../../lib/delivery/transports/http.transport.js';
import { UndiciWebhookTransport } from '../../../lib/delivery/transports/undici.transport.js';
import { AddressPolicy } from '../../../lib/endpoints/address-policy.js';
import { transportClosed, transportTimeout } from '../../../lib/webhooks.messages.js';
import type { WebhookTransport } from '../../../lib/interfaces/webhook-transport.interface.js';

// The transports on their own, against loopback servers that misbehave below HTTP.

const policy = () => new AddressPolicy(['127.0.0.0/8']);
const transports: [string, () => WebhookTransport][] = [
  ['http', () => new HttpWebhookTransport(policy(), 1024, 10)],
  ['undici', () => new UndiciWebhookTransport(policy(), 1024, 10)],
];

/** A TCP server on 127.0.0.1 that accepts connections and never says a word. */
async function silentServer(): Promise<{
  port: number;
  /** Connections accepted so far. */
  connections(): number;
  close(): Promise<void>;
}> {
  const sockets = new Set<Socket>();
  let accepted = 0;
  const server: Server = createServer((socket) => {
    accepted++;
    sockets.add(socket);
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    port,
    connections: () => accepted,
    close: () =>
      new Promise((resolve) => {
        sockets.forEach((socket) => socket.destroy());
        server.close(() => resolve());
      }),
  };
}

const request = (url: string, timeoutMs: number) => ({
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
