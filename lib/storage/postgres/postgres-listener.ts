import type { Client, ClientConfig, Notification, Pool } from 'pg';

/** Backoff between attempts to listen again: doubling from the first, up to the last. */
const RETRY_FIRST_MS = 100;
const RETRY_MAX_MS = 30_000;

/**
 * One connection, of its own beside the pool, that LISTENs on the store's channel and calls
 * every watcher on each notification. When that connection fails or ends (a restart,
 * `pg_terminate_backend`, a network cut), it makes a new one with backoff, and once listening
 * again calls the watchers, since writes made meanwhile went unheard.
 *
 * Not a client taken from the pool: it would be out of the pool for as long as the store is
 * open, and `pool.end()` waits for every client out of it. An app that ends its own pool in a
 * shutdown hook (which runs before this global module's) would then never finish closing.
 */
export class PostgresListener {
  private client: Client | undefined;
  private readonly watchers = new Set<() => void>();
  private connecting: Promise<void> | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private failures = 0;
  private closed = false;

  constructor(
    private readonly pool: Pool,
    private readonly channel: string,
    /** Told each time the connection is lost or cannot be made, and when the next try is. */
    private readonly onLost: (reason: string, retryInMs: number) => void,
  ) {}

  /**
   * Adds a watcher; resolves once listening. When the first connection cannot be made, rejects
   * with why, and keeps trying in the background for this and later watchers.
   */
  async add(watcher: () => void): Promise<void> {
    this.watchers.add(watcher);
    if (this.client) return;
    await (this.connecting ??= this.connect());
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    await this.connecting?.catch(() => undefined);
    const client = this.client;
    this.client = undefined;
    if (client) end(client);
    this.watchers.clear();
  }

  private async connect(): Promise<void> {
    const client = this.newClient();
    let lost = false;
    const onLost = (error?: Error) => {
      if (lost) return;
      lost = true;
      this.lost(client, error?.message ?? 'the connection ended');
    };
    // Kept for the client's whole life: an 'error' without a listener would crash the process.
    client.on('error', onLost);
    client.on('end', () => onLost());
    client.on('notification', (notification: Notification) => {
      if (notification.channel === this.channel) this.notify();
    });
    try {
      await client.connect();
      await client.query(`LISTEN "${this.channel}"`);
      if (lost) throw new Error('the connection ended while it started to listen');
      if (this.closed) {
        end(client);
        return;
      }
      this.client = client;
      const recovered = this.failures > 0;
      this.failures = 0;
      if (recovered) this.notify();
    } catch (error) {
      if (this.client !== client) end(client);
      if (!this.closed) this.retry((error as Error).message);
      throw error;
    } finally {
      this.connecting = undefined;
    }
  }

  /** A client as the pool makes its own: its client class, with its settings. */
  private newClient(): Client {
    const { Client: PoolClientClass } = this.pool as Pool & {
      Client: new (config: ClientConfig) => Client;
    };
    return new PoolClientClass(this.pool.options);
  }

  private lost(client: Client, reason: string) {
    if (this.client !== client) return;
    this.client = undefined;
    end(client);
    if (!this.closed) this.retry(reason);
  }

  private retry(reason: string) {
    if (this.retryTimer || this.closed) return;
    const delay = Math.min(RETRY_FIRST_MS * 2 ** this.failures, RETRY_MAX_MS);
    this.failures++;
    this.onLost(reason, delay);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (this.closed || this.client || this.connecting) return;
      this.connecting = this.connect();
      // Failures schedule the next try themselves.
      this.connecting.catch(() => undefined);
    }, delay);
    // Listening never needs to keep a process alive.
    this.retryTimer.unref();
  }

  private notify() {
    for (const watcher of this.watchers) {
      try {
        watcher();
      } catch {
        // A watcher's own failure must not stop the others nor the connection's event handler.
      }
    }
  }
}

/** Ends a connection without waiting: over a cut network its goodbye may never be answered. */
function end(client: Client) {
  client.end().catch(() => undefined);
}
