import { createServer, type Socket } from 'node:net';

/** How a hostile server answers one request, given its socket once the request has arrived. */
export type HostileAnswer = (socket: Socket, timers: SocketTimers) => void;

/** Timers that write to one socket, all stopped when it closes (or the server does). */
export interface SocketTimers {
  /** Calls `write` every `everyMs` ms until it returns `false` or the socket closes. */
  every(everyMs: number, write: () => boolean | void): void;
}

/** A raw TCP server on 127.0.0.1 that reads each request, then answers with `answer`'s bytes. */
export interface HostileServer {
  url: string;
  /** Connections accepted so far. */
  accepted(): number;
  /** Connections still open. */
  open(): number;
  close(): Promise<void>;
}

/**
 * Starts a server that speaks HTTP/1.1 only as far as reading a request (head and a
 * `content-length` body), and then writes whatever `answer` decides: the raw bytes of a
 * receiver that misbehaves on purpose (101s, floods of 1xx, headers dripped a byte at a time).
 */
export async function hostileServer(answer: HostileAnswer): Promise<HostileServer> {
  const sockets = new Set<Socket>();
  let accepted = 0;
  const server = createServer((socket) => {
    accepted++;
    sockets.add(socket);
    const timers = new Set<NodeJS.Timeout>();
    socket.on('error', () => undefined);
    socket.on('close', () => {
      sockets.delete(socket);
      for (const timer of timers) clearInterval(timer);
    });
    const socketTimers: SocketTimers = {
      every(everyMs, write) {
        const timer = setInterval(() => {
          if (socket.destroyed || write() === false) {
            clearInterval(timer);
            timers.delete(timer);
          }
        }, everyMs);
        timers.add(timer);
      },
    };
    readRequest(socket, () => answer(socket, socketTimers));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    accepted: () => accepted,
    open: () => sockets.size,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Calls `done` once a request's head and its `content-length` body have arrived. */
function readRequest(socket: Socket, done: () => void) {
  let received = Buffer.alloc(0);
  const onData = (chunk: Buffer) => {
    received = Buffer.concat([received, chunk]);
    const headEnd = received.indexOf('\r\n\r\n');
    if (headEnd < 0) return;
    const length = /\r\ncontent-length:\s*(\d+)/i.exec(received.subarray(0, headEnd).toString());
    if (received.length < headEnd + 4 + Number(length?.[1] ?? 0)) return;
    socket.off('data', onData);
    // Later bytes (a second request on a kept-alive connection) are read and ignored.
    socket.resume();
    done();
  };
  socket.on('data', onData);
}

/** Writes `bytes` one at a time, every `everyMs` ms; stops when they are all out. */
export function drip(socket: Socket, timers: SocketTimers, bytes: Buffer | string, everyMs = 10) {
  const buffer = Buffer.from(bytes);
  let next = 0;
  timers.every(everyMs, () => {
    socket.write(buffer.subarray(next, next + 1));
    next++;
    return next < buffer.length;
  });
}
