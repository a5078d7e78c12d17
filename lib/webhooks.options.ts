import { MAX_TIMER_DELAY } from './delivery/background-timer.js';
import { DEFAULT_RETRY_DELAYS } from './delivery/retry-policy.js';
import { DEFAULT_MAX_STORE_BYTES } from './storage/memory-webhook.store.js';
import {
  futureOptionUnavailable,
  invalidOption,
  optionsNotAnObject,
  unknownOption,
} from './webhooks.messages.js';
import type { WebhooksModuleOptions } from './interfaces/webhooks-module-options.interface.js';

const HOUR = 60 * 60 * 1000;

/**
 * The longest duration an option may give: added to today's date it still makes a valid `Date`
 * (those end in the year 275760), with room to spare for any clock.
 */
export const MAX_DURATION = 100 * 365 * 24 * HOUR;

/** The module options with every default filled in; checked once at bootstrap. */
export type ResolvedWebhooksOptions = Required<
  Omit<WebhooksModuleOptions, 'store' | 'queue' | 'worker'>
>;

type OptionName = keyof ResolvedWebhooksOptions;

/** How each option is checked: what it must be, said as the error says it. */
interface Rule {
  expected: string;
  accepts(value: unknown): boolean;
}

const isNumber = (value: unknown): value is number =>
  typeof value === 'number' && Number.isFinite(value);

const between = (min: number, max: number, expected: string): Rule => ({
  expected,
  accepts: (value) => isNumber(value) && value >= min && value <= max,
});

const count = (min: number, expected: string): Rule => ({
  expected,
  accepts: (value) => Number.isSafeInteger(value) && (value as number) >= min,
});

const duration = between(
  0,
  MAX_DURATION,
  'a number of milliseconds from 0 to 100 years (3153600000000)',
);

const RULES: Record<OptionName, Rule> = {
  // Its entries are checked by the address policy, which parses them.
  allowedNetworks: { expected: 'an array of CIDR strings', accepts: Array.isArray },
  timeout: between(1, MAX_TIMER_DELAY, `a number of milliseconds from 1 to ${MAX_TIMER_DELAY}`),
  retryDelays: {
    expected: 'an array of milliseconds, each from 0 to 100 years (3153600000000)',
    accepts: (value) => Array.isArray(value) && value.every((delay) => duration.accepts(delay)),
  },
  transport: {
    expected: "'http' or 'undici'",
    accepts: (value) => value === 'http' || value === 'undici',
  },
  concurrency: count(1, 'a whole number of at least 1'),
  endpointConcurrency: count(1, 'a whole number of at least 1'),
  secretRotationGracePeriod: duration,
  disableEndpointAfter: duration,
  idempotencyTtl: duration,
  maxResponseBodyBytes: count(0, 'a whole number of bytes, 0 or more'),
  shutdownTimeout: between(
    0,
    MAX_TIMER_DELAY,
    `a number of milliseconds from 0 to ${MAX_TIMER_DELAY}`,
  ),
  retention: duration,
  maxStoreBytes: count(1, 'a whole number of bytes, at least 1'),
};

const DEFAULTS: ResolvedWebhooksOptions = {
  allowedNetworks: [],
  timeout: 15_000,
  retryDelays: [...DEFAULT_RETRY_DELAYS],
  transport: 'http',
  concurrency: 100,
  endpointConcurrency: 10,
  secretRotationGracePeriod: 24 * HOUR,
  disableEndpointAfter: 5 * 24 * HOUR,
  idempotencyTtl: 24 * HOUR,
  maxResponseBodyBytes: 64 * 1024,
  shutdownTimeout: 10_000,
  retention: 24 * HOUR,
  maxStoreBytes: DEFAULT_MAX_STORE_BYTES,
};

/**
 * The durable parts' options, accepted in their default (in-memory) form only: the PostgreSQL
 * store and the BullMQ queue are not part of this version, and a configuration that asks for
 * them must not start as if it had them.
 */
const FUTURE_OPTIONS: Record<'store' | 'queue' | 'worker', (value: unknown) => boolean> = {
  store: (value) => isMemoryPart(value),
  queue: (value) => isMemoryPart(value),
  worker: (value) => value === true,
};

const isMemoryPart = (value: unknown) =>
  typeof value === 'object' &&
  value !== null &&
  Object.keys(value).length === 1 &&
  (value as { type?: unknown }).type === 'memory';

/** Every option name `forRoot` knows. */
export const MODULE_OPTION_NAMES: readonly string[] = [
  ...Object.keys(RULES),
  ...Object.keys(FUTURE_OPTIONS),
];

/**
 * Fills in defaults and refuses, naming the option and the value, anything that cannot work: a
 * value of the wrong type or out of range, or a name the module does not know (most likely a
 * typo, which would otherwise leave the default in force without a word).
 */
export function resolveOptions(options: unknown): ResolvedWebhooksOptions {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new Error(optionsNotAnObject(options));
  }
  const given = options as Record<string, unknown>;
  for (const name of Object.keys(given)) {
    // Left `undefined` (a config object's unset field), a name says nothing.
    if (Object.hasOwn(RULES, name) || given[name] === undefined) continue;
    if (Object.hasOwn(FUTURE_OPTIONS, name)) {
      const accepts = FUTURE_OPTIONS[name as keyof typeof FUTURE_OPTIONS];
      if (accepts(given[name])) continue;
      throw new Error(futureOptionUnavailable(name, given[name]));
    }
    throw new Error(unknownOption(name, MODULE_OPTION_NAMES));
  }
  const resolved = { ...DEFAULTS };
  for (const name of Object.keys(RULES) as OptionName[]) {
    const value = given[name];
    if (value === undefined) continue;
    const rule = RULES[name];
    if (!rule.accepts(value)) throw new Error(invalidOption(name, value, rule.expected));
    (resolved as Record<OptionName, unknown>)[name] = value;
  }
  return resolved;
}
