import {
  portalBodyNotAnObject,
  portalFieldInvalid,
  portalUnknownField,
} from '../webhooks.messages.js';
import { PortalHttpError } from './portal-errors.js';
import type { WebhookDeliveryStatus } from '../interfaces/webhook-message.interface.js';

// What the portal's API reads from a request, checked with messages that name the JSON field
// or query parameter (the library's own checks name the method a program called).

type Fields = Record<string, unknown>;

const invalid = (name: string, expected: string, value: unknown) =>
  new PortalHttpError(400, portalFieldInvalid(name, expected, value));

/** A string of text: no NUL, which PostgreSQL's text cannot hold. */
const isText = (value: unknown): value is string =>
  typeof value === 'string' && !value.includes('\u0000');

/** What the store's ids are made of (`createId`); anything else names nothing. */
const ID = /^[A-Za-z0-9_-]{1,200}$/;

/** Whether a path's `:id` can name anything at all: one that cannot is not found. */
export const isId = (value: unknown): value is string =>
  typeof value === 'string' && ID.test(value);

/** The body as an object of no fields but `known`. */
export function readBody(body: unknown, known: readonly string[]): Fields {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new PortalHttpError(400, portalBodyNotAnObject(body));
  }
  for (const name of Object.keys(body)) {
    if (!known.includes(name)) throw new PortalHttpError(400, portalUnknownField(name, known));
  }
  return body as Fields;
}

export function readOptionalString(fields: Fields, name: string): string | undefined {
  const value = fields[name];
  if (value === undefined) return undefined;
  if (!isText(value) || value === '' || value.length > 500) {
    throw invalid(name, 'a non-empty string of at most 500 characters', value);
  }
  return value;
}

export function readUrl(fields: Fields, required: boolean): string | undefined {
  const value = fields.url;
  if (value === undefined && !required) return undefined;
  if (!isText(value) || value === '') {
    throw invalid('url', "the URL to send webhooks to, e.g. 'https://example.com/webhooks'", value);
  }
  return value;
}

export function readEvents(fields: Fields, required: boolean): string[] | undefined {
  const value = fields.events;
  if (value === undefined && !required) return undefined;
  if (
    !Array.isArray(value) ||
    value.length === 0 ||
    value.some((event) => !isText(event) || event === '')
  ) {
    throw invalid('events', "a non-empty list of event names, e.g. ['new-subscription']", value);
  }
  return value as string[];
}

export function readDescription(fields: Fields): string | null | undefined {
  const value = fields.description;
  if (value === undefined || value === null) return value;
  if (!isText(value) || value.length > 1000) {
    throw invalid('description', 'a string of at most 1000 characters, or null', value);
  }
  return value;
}

export function readBoolean(fields: Fields, name: string): boolean | undefined {
  const value = fields[name];
  if (value !== undefined && typeof value !== 'boolean')
    throw invalid(name, 'true or false', value);
  return value as boolean | undefined;
}

/** `since`: an ISO 8601 time (one in the future finds nothing to recover). */
export function readSince(fields: Fields): Date {
  const value = fields.since;
  const time = typeof value === 'string' ? new Date(value) : undefined;
  if (!time || Number.isNaN(time.getTime())) {
    throw invalid('since', "an ISO 8601 time, e.g. '2026-12-01T00:00:00Z'", value);
  }
  return time;
}

export const DEFAULT_PAGE_LIMIT = 20;
export const MAX_PAGE_LIMIT = 100;

/** `limit`: a page's size, from 1 to 100; default 20. */
export function readLimit(query: Fields): number {
  const value = query.limit;
  if (value === undefined) return DEFAULT_PAGE_LIMIT;
  const limit = typeof value === 'string' && /^\d{1,3}$/.test(value) ? Number(value) : NaN;
  if (!(limit >= 1 && limit <= MAX_PAGE_LIMIT)) {
    throw invalid('limit', `a whole number from 1 to ${MAX_PAGE_LIMIT}`, value);
  }
  return limit;
}

/** `cursor`: the `next` of the page before, as it came. */
export function readCursor(query: Fields): string | null {
  return readOptionalString(query, 'cursor') ?? null;
}

const STATUSES: readonly WebhookDeliveryStatus[] = ['pending', 'delivered', 'failed'];

export function readStatus(query: Fields): WebhookDeliveryStatus | undefined {
  const value = query.status;
  if (value === undefined) return undefined;
  if (!STATUSES.includes(value as WebhookDeliveryStatus)) {
    throw invalid('status', "one of 'pending', 'delivered', 'failed'", value);
  }
  return value as WebhookDeliveryStatus;
}
