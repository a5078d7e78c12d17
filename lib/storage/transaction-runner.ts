import { WebhookArgumentError } from '../webhooks.errors.js';
import {
  showValue,
  transactionAborted,
  transactionNotOpen,
  transactionPool,
  transactionRows,
  transactionUnknown,
} from '../webhooks.messages.js';
import type { WebhookTransactionRunner } from '../interfaces/webhook-store.interface.js';

// What `emit(..., { transaction })` accepts, told apart by shape rather than by class, so that
// none of those libraries is imported (or needs to be installed) to recognise its client:
// - anything with `query(sql, values)`: a pg Client or PoolClient, a TypeORM EntityManager or
//   QueryRunner (TypeORM resolves to the rows, pg to a result holding them);
// - a function `(sql, values) => Promise`, for any other tool (Drizzle, Kysely, Knex, MikroORM).
//
// A handle that runs each statement on its own (a pg Pool, a TypeORM DataSource or its
// `manager`, a client outside BEGIN) would commit the emit at once, whatever the caller's
// transaction does later: that is refused before anything is written. pg and TypeORM say
// whether their handle is in a transaction; for any other, the first statement asks
// PostgreSQL (one round trip more per emit).

type Rows = Record<string, unknown>[];
type Run = (sql: string, values: unknown[]) => Promise<unknown>;

interface QueryClient {
  query: Run;
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
  else throw new WebhookArgumentError('options.transaction', transactionUnknown(given));
  const state = knownState(value, given);
  refuseUnlessOpen(state, given);
  const rows = async (sql: string, values: readonly unknown[]) =>
    rowsOf(await run(sql, [...values]), given);
  if (state === 'open') return rows;
  let asked = false;
  return async (sql, values) => {
    if (!asked) {
      const [row] = await rows(IN_TRANSACTION, []);
      refuseUnlessOpen(row?.in_transaction === true ? 'open' : 'closed', given);
      asked = true;
    }
    return rows(sql, values);
  };
}

// Outside a transaction block every statement is its own transaction, which starts with it.
const IN_TRANSACTION = 'SELECT statement_timestamp() <> transaction_timestamp() AS in_transaction';

function knownState(value: unknown, given: string): Known {
  const handle = value as Record<string, unknown>;
  // pg: a Pool hands each query to any free connection; a client reports its backend's state.
  if (hasMethod(value, 'connect') && typeof handle.totalCount === 'number') {
    throw new WebhookArgumentError('options.transaction', transactionPool(given));
  }
  if (hasMethod<{ getTransactionStatus(): unknown }>(value, 'getTransactionStatus')) {
    const status = value.getTransactionStatus();
    return status === 'T' ? 'open' : status === 'E' ? 'aborted' : 'closed';
  }
  // TypeORM: a DataSource, an EntityManager (whose queryRunner is set inside transaction()),
  // a QueryRunner.
  if (hasMethod(value, 'createQueryRunner')) return 'closed';
  if (typeof handle.isTransactionActive === 'boolean') {
    return handle.isTransactionActive ? 'open' : 'closed';
  }
  if (hasMethod(value, 'getRepository')) {
    const runner = handle.queryRunner as { isTransactionActive?: unknown } | undefined;
    return runner?.isTransactionActive === true ? 'open' : 'closed';
  }
  return 'ask';
}

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
