import type { Pool } from 'pg';
import type { Statement } from './postgres-statements.js';

/**
 * Wakes the store's watchers after notifying writes: one `pg_notify` for every such write of a
 * short window, in a transaction of its own sent once they have committed, rather than one in
 * each write's statement. PostgreSQL serializes the commits of notifying transactions (a global
 * lock held through the WAL flush), so a notify in every write would stop concurrent writes from
 * sharing flushes.
 *
 * At most one notify is on its way at a time; the writes stored meanwhile share the next one,
 * sent as soon as it is back. A notify that fails, or one never sent because the process ended
 * after the write committed, loses nothing: it is a hint, and the watchers' sweeps find the rows
 * all the same.
 */
export class PostgresNotifier {
  /** A write has committed since the last notify went out. */
  private pending = false;
  private scheduled = false;
  private sending: Promise<void> | undefined;
  private closed = false;

  constructor(
    private readonly pool: Pool,
    private readonly statement: Statement,
  ) {}

  /** To call once a notifying write has committed: a notify follows within the turn. */
  notify(): void {
    if (this.closed) return;
    this.pending = true;
    // The notify on its way sends the next one when it is back.
    if (this.scheduled || this.sending) return;
    this.scheduled = true;
    // The next turn of the event loop: the writes that end in this one share the notify.
    setImmediate(() => {
      this.scheduled = false;
      this.send();
    });
  }

  /** Sends what is pending now, waits for it, and sends nothing after. */
  async close(): Promise<void> {
    this.closed = true;
    this.send();
    while (this.sending) await this.sending;
  }

  private send() {
    if (!this.pending || this.sending) return;
    this.pending = false;
    const { name, text } = this.statement;
    this.sending = this.pool.query({ name, text }).then(
      () => undefined,
      // A hint, as above: the next notify, or the watchers' sweeps, cover for it.
      () => undefined,
    );
    void this.sending.then(() => {
      this.sending = undefined;
      this.send();
    });
  }
}
