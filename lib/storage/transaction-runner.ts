import { WebhookArgumentError } from '../webhooks.errors.js';
import { showValue, transactionRows, transactionUnknown } from '../webhooks.messages.js';
import type { WebhookTransactionRunner } from '../interfaces/webhook-store.interface.js';

// What `emit(..., { transaction })` accepts, told apart by shape rather than by class, so that
// none of those libraries is imported (or needs to be installed) to recognise its client:
// - anything with `query(sql, values)`: a pg Client or PoolClient, a TypeORM EntityManager or
//   QueryRunner (TypeORM resolves to the rows, pg to a result holding them);
// - a function `(sql, values) => Promise`, for any other tool (Drizzle, Kysely, Knex, MikroORM).

type Rows = Record<string, unknown>[];

interface QueryClient {
  query(sql: string, values: unknown[]): Promise<unknown>;
}

/**
 * The runner for the caller's transaction `value`, or a `WebhookArgumentError` naming what was
 * given when it is none of the shapes above. Nothing is run here.
 */
export function transactionRunner(value: unknown): WebhookTransactionRunner {
  const given = describeTransaction(value);
  if (typeof value === 'function') {
    const run = value as (sql: string, values: unknown[]) => Promise<unknown>;
    return async (sql, values) => rowsOf(await run(sql, [...values]), given);
  }
  if (hasMethod<QueryClient>(value, 'query')) {
    return async (sql, values) => rowsOf(await value.query(sql, [...values]), given);
  }
  throw new WebhookArgumentError('options.transaction', transactionUnknown(given));
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

function hasMethod<T>(value: unknown, name: keyof T): value is T {
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
