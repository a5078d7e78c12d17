import http from 'node:http';
import type { AddressInfo } from 'node:net';

// The webhook receiver of `npm run bench:delivery`, forked into its own process so that its
// work does not share the bench's event loop. Three HTTP/1.1 servers on 127.0.0.1, each
// reading the whole request body and keeping connections alive:
// - `ok`: answers 204 at once;
// - `hang`: never answers (a paused receiver);
// - `down`: answers 503 at once (a receiver that is down behind its proxy).
// It talks to its parent over IPC only, and exits when the parent says so or goes away.

export type ReceiverCommand = { type: 'count' } | { type: 'reset' } | { type: 'exit' };

export type ReceiverReport =
  | { type: 'ready'; okPort: number; hangPort: number; downPort: number }
  | { type: 'count'; ok: number; hung: number; down: number; connections: number };

let ok = 0;
let hung = 0;
let down = 0;
/** Connections the `ok` server accepted. */
let connections = 0;
const held = new Set<http.ServerResponse>();

const okServer = http.createServer((request, response) => {
  request.resume();
  request.on('end', () => {
    ok++;
    response.writeHead(204);
    response.end();
  });
});

okServer.on('connection', () => connections++);

const hangServer = http.createServer((request, response) => {
  request.resume();
  request.on('end', () => {
    hung++;
    held.add(response);
    response.on('close', () => held.delete(response));
  });
});

const downServer = http.createServer((request, response) => {
  request.resume();
  request.on('end', () => {
    down++;
    response.writeHead(503);
    response.end();
  });
});

const servers = [okServer, hangServer, downServer];
for (const server of servers) {
  // Idle keep-alive connections stay open between the bench's rounds.
  server.keepAliveTimeout = 120_000;
  server.headersTimeout = 121_000;
  server.requestTimeout = 0;
}

const listen = (server: http.Server) =>
  new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });

function send(report: ReceiverReport) {
  process.send?.(report);
}

function exit() {
  for (const response of held) response.destroy();
  for (const server of servers) {
    server.closeAllConnections();
    server.close();
  }
  process.exit(0);
}

process.on('message', (command: ReceiverCommand) => {
  if (command.type === 'count') send({ type: 'count', ok, hung, down, connections });
  else if (command.type === 'reset') ok = hung = down = connections = 0;
  else if (command.type === 'exit') exit();
});
// Never outlive the bench.
process.on('disconnect', exit);

const [okPort, hangPort, downPort] = await Promise.all(servers.map(listen));
send({ type: 'ready', okPort, hangPort, downPort });
