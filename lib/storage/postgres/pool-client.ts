import type { Pool, PoolClient } from 'pg';

/**
 * Runs `work` on a client taken out of `pool` for it alone, and hands the client back after,
 * or destroys it after a failure (its session state is then unknown). A client out of the pool
 * has no error listener of the pool's, and pg emits 'error' on it when its backend dies, even
 * during a query: without a listener that would be an uncaught exception and end the process.
 * So one listens for as long as the client is out; the statement under way rejects with the
 * same error. `lost()` tells whether the connection died.
 */
export async function withPoolClient<T>(
  pool: Pool,
  work: (client: PoolClient, lost: () => boolean) => Promise<T>,
): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  const onError = (error: Error) => (broken ??= error);
  client.on('error', onError);
  try {
    return await work(client, () => broken !== undefined);
  } catch (error) {
    broken ??= error as Error;
    throw error;
  } finally {
    client.off('error', onError);
    client.release(broken);
  }
}
