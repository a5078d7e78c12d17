import type { WebhookDedupeStore } from './webhook-dedupe.js';
import { secretKeys } from './webhook-verifier.js';
import { verifyWebhookOptionsInvalid } from '../webhooks.messages.js';

/** Secrets as `resolveSecrets` may give them: one, several, or none for this request. */
export type ResolvedWebhookSecrets = string | readonly string[] | null | undefined;

export interface VerifyWebhookOptions {
  /** The sender's secret, `whsec_…`. Give one of `secret`, `secrets` and `resolveSecrets`. */
  secret?: string;
  /** Several secrets, any of which may sign (while one replaces another). */
  secrets?: readonly string[];
  /**
   * The secrets of one request, for a receiver with a secret per sender or per tenant: called
   * with the framework's request (Express or Fastify) before it is verified.
   */
  resolveSecrets?: (request: never) => ResolvedWebhookSecrets | Promise<ResolvedWebhookSecrets>;
  /** How far, in seconds, `webhook-timestamp` may be from now either way. Default 300. */
  tolerance?: number;
  /**
   * Where repeats are told apart by `webhook-id`: default a `MemoryWebhookDedupeStore` of
   * this decorator (one replica); a `RedisWebhookDedupeStore` for several; `false` for none.
   */
  dedupe?: WebhookDedupeStore | false;
  /**
   * Seconds a handled `webhook-id` is remembered. Default: until the request's timestamp
   * leaves the `tolerance` window. Senders sign each retry anew, so a retry that comes later
   * (our sender's second one comes after 5 min) runs the handler again unless this covers
   * their retry schedule.
   */
  dedupeTtl?: number;
}

/** The options checked, secrets decoded; fields left out stay out (a route's merge onto its controller's). */
export interface CheckedVerifyOptions {
  /** Where the secrets come from: fixed keys, or a function per request. */
  source?: { keys: Buffer[] } | { resolve: NonNullable<VerifyWebhookOptions['resolveSecrets']> };
  tolerance?: number;
  dedupe?: WebhookDedupeStore | false;
  dedupeTtl?: number;
}

export const DEFAULT_TOLERANCE_SECONDS = 300;
const KNOWN = ['secret', 'secrets', 'resolveSecrets', 'tolerance', 'dedupe', 'dedupeTtl'];

/** Checks what `@VerifyWebhook()` was given, at decoration: a mistake stops the app at startup. */
export function checkVerifyOptions(options: VerifyWebhookOptions): CheckedVerifyOptions {
  const fail = (reason: string) => new Error(verifyWebhookOptionsInvalid(reason));
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw fail('options must be an object');
  }
  for (const name of Object.keys(options)) {
    if (!KNOWN.includes(name))
      throw fail(`there is no option '${name}' (it takes ${KNOWN.join(', ')})`);
  }
  const { secret, secrets, resolveSecrets, tolerance, dedupe } = options;
  const given = [secret, secrets, resolveSecrets].filter((value) => value !== undefined);
  if (given.length > 1) throw fail('give one of secret, secrets and resolveSecrets, not several');
  const checked: CheckedVerifyOptions = {};
  if (Object.hasOwn(options, 'secret') && secret === undefined) {
    // Most often an environment variable that is not set.
    throw fail('secret is undefined (is its environment variable set?)');
  }
  if (secret !== undefined) {
    if (typeof secret !== 'string')
      throw fail(`secret must be a 'whsec_…' string, not ${typeof secret}`);
    checked.source = { keys: secretKeys([secret], 'secret') };
  }
  if (secrets !== undefined) {
    if (
      !Array.isArray(secrets) ||
      secrets.length === 0 ||
      !secrets.every((s) => typeof s === 'string')
    ) {
      throw fail("secrets must be a non-empty list of 'whsec_…' strings");
    }
    checked.source = { keys: secretKeys(secrets, 'secrets') };
  }
  if (resolveSecrets !== undefined) {
    if (typeof resolveSecrets !== 'function') throw fail('resolveSecrets must be a function');
    checked.source = { resolve: resolveSecrets };
  }
  for (const [name, value] of [
    ['tolerance', tolerance],
    ['dedupeTtl', options.dedupeTtl],
  ] as const) {
    if (value === undefined) continue;
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
      throw fail(`${name} must be a positive number of seconds (got ${String(value)})`);
    }
    checked[name] = value;
  }
  if (dedupe !== undefined) {
    const store = dedupe as Partial<WebhookDedupeStore> | false;
    if (
      store !== false &&
      (typeof store !== 'object' ||
        store === null ||
        typeof store.claim !== 'function' ||
        typeof store.complete !== 'function' ||
        typeof store.release !== 'function')
    ) {
      throw fail(
        'dedupe must be false, or a store with claim(), complete() and release() (MemoryWebhookDedupeStore, RedisWebhookDedupeStore)',
      );
    }
    checked.dedupe = dedupe;
  }
  return checked;
}
