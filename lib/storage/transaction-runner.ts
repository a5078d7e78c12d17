import { WebhookArgumentError } from '../webhooks.errors.js';
import {
  showValue,
  transactionAborted,
  transactionNotOpen,
  transactionPool,
  transactionPrismaClient,
  transactionRows,
  transactionUnknown,
} from '../webhooks.messages.js';
import type { WebhookTransactionRunner } from '../interfaces/webhook-store.interface.js';

// What `emit(..., { transaction })` accepts, told apart by shape rather than by class, so that
// none of those libraries is imported (or needs to be installed) to recognise its client:
// - anything with `query(sql, values)`: a pg Client or PoolClient, a TypeORM EntityManager or
//   QueryRunner (TypeORM resolves to the rows, pg to a result holding them);
// - a Prisma interactive transaction's client (`tx` in `prisma.$transaction(async (tx) => ..)`),
//   through `$queryRawUnsafe(sql, ...values)`, which resolves to the rows;
// - a function `(sql, values) => Promise`, for any other tool (Drizzle, Kysely, Knex, MikroORM).
//
// A handle that runs each statement on its own (a pg Pool, a TypeORM DataSource or its
// `manager`, a PrismaClient itself, a client outside BEGIN) would commit the emit at once,
// whatever the caller's transaction does later: that is refused before anything is written.
// pg and TypeORM say whether their handle is in a transaction (TypeORM through the pg client
// beneath it); for any other, the emit asks PostgreSQL first (two round trips more).

type Rows = Record<string, unknown>[];
type Run = (sql: string, values: unknown[]) => Promise<unknown>;

interface QueryClient {
  query: Run;
}

interface PrismaClientLike {
  $queryRawUnsafe(sql: string, ...values: unknown[]): Promise<unknown>;
}

/** The transaction state a handle tells about itself, when it does. */
type Known = 'open' | 'closed' | 'aborted' | 'ask';

/**
 * The runner for the caller's transaction `value`, or a `WebhookArgumentError` naming what was
 * given when it is none of the shapes above, or is one that is not inside a transaction.
 * Nothing is run here.
 */
export function transactionRunner(value: unknown): WebhookTransactionRunner {
  const given = describeTransaction(value);
  let run: Run;
  if (typeof value === 'function') run = value as Run;
  else if (hasMethod<QueryClient>(value, 'query')) run = (sql, values) => value.query(sql, values);
  else if (hasMethod<PrismaClientLike>(value, '$queryRawUnsafe')) {
    run = (sql, values) => value.$queryRawUnsafe(sql, ...values);
  } else throw new WebhookArgumentError('options.transaction', transactionUnknown(given));
  const state = knownState(value, given);
  refuseUnlessOpen(state, given);
  const rows = async (sql: string, values: readonly unknown[]) =>
    rowsOf(await run(sql, [...values]), given);
  if (state === 'open') return rows;
  let asked = false;
  return async (sql, values) => {
    if (!asked) {
      await askPostgres(rows, given);
      asked = true;
    }
    return rows(sql, values);
  };
}

// A savepoint is refused outside a transaction block (SQLSTATE 25P01), whatever the protocol
// the runner speaks (statement_timestamp() against transaction_timestamp() is not: extended-
// protocol statements start their implicit transaction before their statement time), and one
// released at once, having written nothing, leaves the transaction as it was.
const SAVEPOINT = 'SAVEPOINT nestjs_webhooks_emit';
const RELEASE = 'RELEASE SAVEPOINT nestjs_webhooks_emit';
const NOT_IN_TRANSACTION = /SAVEPOINT can only be used in transaction blocks/i;

async function askPostgres(
  rows: (sql: string, values: readonly unknown[]) => Promise<Rows>,
  given: string,
) {
  try {
    await rows(SAVEPOINT, []);
  } catch (error) {
    const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
    if (code === '25P01' || (typeof message === 'string' && NOT_IN_TRANSACTION.test(message))) {
      throw new WebhookArgumentError('options.transaction', transactionNotOpen(given));
    }
    throw error;
  }
  await rows(RELEASE, []);
}

function knownState(value: unknown, given: string): Known {
  const handle = value as Record<string, unknown>;
  // pg: a Pool hands each query to any free connection; a client reports its backend's state.
  if (hasMethod(value, 'connect') && typeof handle.totalCount === 'number') {
    throw new WebhookArgumentError('options.transaction', transactionPool(given));
  }
  if (hasMethod<{ getTransactionStatus(): unknown }>(value, 'getTransactionStatus')) {
    return stateOf(value.getTransactionStatus());
  }
  // Prisma: only the client of an interactive transaction lacks `$transaction`, and it is in
  // its transaction for as long as it may be used (Prisma refuses it once that has ended).
  if (hasMethod(value, '$queryRawUnsafe')) {
    if (hasMethod(value, '$transaction')) {
      throw new WebhookArgumentError('options.transaction', transactionPrismaClient(given));
    }
    return 'open';
  }
  // TypeORM: a DataSource, an EntityManager (whose queryRunner is set inside transaction()),
  // a QueryRunner. The pg client beneath a runner knows best (a BEGIN the app sent itself, a
  // statement that failed); TypeORM's own flag serves before it has connected.
  if (hasMethod(value, 'createQueryRunner')) return 'closed';
  const runner =
    typeof handle.isTransactionActive === 'boolean'
      ? handle
      : hasMethod(value, 'getRepository')
        ? (handle.queryRunner as Record<string, unknown> | undefined)
        : null;
  if (runner === null) return 'ask';
  const client = runner?.databaseConnection;
  if (hasMethod<{ getTransactionStatus(): unknown }>(client, 'getTransactionStatus')) {
    return stateOf(client.getTransactionStatus());
  }
  return runner?.isTransactionActive === true ? 'open' : 'closed';
}

/** pg's `getTransactionStatus()`: the backend's last ReadyForQuery status. */
const stateOf = (status: unknown): Known =>
  status === 'T' ? 'open' : status === 'E' ? 'aborted' : 'closed';

function refuseUnlessOpen(state: Known, given: string) {
  if (state === 'closed') {
    throw new WebhookArgumentError('options.transaction', transactionNotOpen(given));
  }
  if (state === 'aborted') {
    throw new WebhookArgumentError('options.transaction', transactionAborted(given));
  }
}

/** What the caller passed as `transaction`, as an error may name it (never its contents). */
export function describeTransaction(value: unknown): string {
  if (typeof value === 'function') return value.name ? `the function ${value.name}` : 'a function';
  if (typeof value !== 'object' || value === null) return showValue(value);
  const name = (Object.getPrototypeOf(value) as { constructor?: { name?: string } } | null)
    ?.constructor?.name;
  if (!name || name === 'Object') return 'a plain object';
  return `${/^[AEIOU]/i.test(name) ? 'an' : 'a'} ${name}`;
}

function hasMethod<T = unknown>(value: unknown, name: PropertyKey): value is T {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Record<PropertyKey, unknown>)[name] === 'function'
  );
}

/** The rows of a query's result: an array of them, or a result holding them (pg's). */
function rowsOf(result: unknown, given: string): Rows {
  if (Array.isArray(result)) return result as Rows;
  const rows = (result as { rows?: unknown } | null | undefined)?.rows;
  if (Array.isArray(rows)) return rows as Rows;
  throw new WebhookArgumentError(
    'options.transaction',
    transactionRows(given, describeTransaction(result)),
  );
}
