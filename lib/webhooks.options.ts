import { MAX_TIMER_DELAY } from './delivery/background-timer.js';
import { DEFAULT_RETRY_DELAYS } from './delivery/retry-policy.js';
import { DEFAULT_MAX_STORE_BYTES } from './storage/memory-webhook.store.js';
import { isSchemaName } from './storage/postgres/migrations.js';
import {
  invalidEncryptionKey,
  invalidOption,
  invalidStoreOption,
  optionsNotAnObject,
  postgresConnectionNeeded,
  queueUnavailable,
  showSecretValue,
  showValue,
  storeTypeInvalid,
  unknownOption,
  unknownStoreOption,
  workerNeedsSharedStore,
} from './webhooks.messages.js';
import type {
  WebhooksModuleOptions,
  WebhooksPostgresStoreOptions,
} from './interfaces/webhooks-module-options.interface.js';

const HOUR = 60 * 60 * 1000;

/**
 * The longest duration an option may give: added to today's date it still makes a valid `Date`
 * (those end in the year 275760), with room to spare for any clock.
 */
export const MAX_DURATION = 100 * 365 * 24 * HOUR;

/** The PostgreSQL store's options with their defaults filled in. */
export interface ResolvedPostgresStoreOptions extends Pick<
  WebhooksPostgresStoreOptions,
  'pool' | 'connectionString'
> {
  type: 'postgres';
  schema: string;
  migrate: boolean;
  /** The keys of `encryptionKey`, 32 bytes each, newest first; none to store secrets as given. */
  encryptionKeys: Buffer[];
}

/** The module options with every default filled in; checked once at bootstrap. */
export type ResolvedWebhooksOptions = Required<
  Omit<WebhooksModuleOptions, 'store' | 'queue' | 'worker'>
> & {
  store: { type: 'memory' } | ResolvedPostgresStoreOptions;
  worker: boolean;
};

type OptionName = Exclude<keyof ResolvedWebhooksOptions, 'store' | 'worker'>;

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
  sweepInterval: between(
    10,
    MAX_TIMER_DELAY,
    `a number of milliseconds from 10 to ${MAX_TIMER_DELAY}`,
  ),
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
  sweepInterval: 5_000,
  store: { type: 'memory' },
  worker: true,
};

const STORE_FIELDS = {
  memory: ['type'],
  postgres: ['type', 'pool', 'connectionString', 'schema', 'migrate', 'encryptionKey'],
} as const;

function resolveStore(value: unknown): ResolvedWebhooksOptions['store'] {
  if (value === undefined) return { type: 'memory' };
  const type = (value as { type?: unknown } | null)?.type;
  if (
    typeof value !== 'object' ||
    value === null ||
    Array.isArray(value) ||
    (type !== 'memory' && type !== 'postgres')
  ) {
    throw new Error(storeTypeInvalid(value));
  }
  const given = value as Record<string, unknown>;
  const known: readonly string[] = STORE_FIELDS[type];
  for (const name of Object.keys(given)) {
    if (!known.includes(name) && given[name] !== undefined) {
      throw new Error(unknownStoreOption(type, name, known));
    }
  }
  if (type === 'memory') return { type };
  const { pool, connectionString, schema = 'webhooks', migrate = true, encryptionKey } = given;
  if ((pool === undefined) === (connectionString === undefined)) {
    throw new Error(postgresConnectionNeeded(pool !== undefined));
  }
  // A pool or a connection string given as a string is never shown: it may hold a password.
  if (pool !== undefined && !isPool(pool)) {
    throw new Error(
      invalidStoreOption('pool', showSecretValue(pool), "a pg Pool (new Pool() from 'pg')"),
    );
  }
  if (
    connectionString !== undefined &&
    (typeof connectionString !== 'string' || !connectionString)
  ) {
    throw new Error(
      invalidStoreOption(
        'connectionString',
        showSecretValue(connectionString),
        "a non-empty string, e.g. 'postgres://user@host:5432/db'",
      ),
    );
  }
  if (!isSchemaName(schema)) {
    throw new Error(
      invalidStoreOption(
        'schema',
        showValue(schema),
        'a lower-case PostgreSQL identifier (letters, digits and _, not starting with a digit, ' +
          'at most 63 characters)',
      ),
    );
  }
  if (typeof migrate !== 'boolean') {
    throw new Error(invalidStoreOption('migrate', showValue(migrate), 'true or false'));
  }
  return {
    type,
    ...(pool !== undefined && { pool: pool as ResolvedPostgresStoreOptions['pool'] }),
    ...(connectionString !== undefined && { connectionString: connectionString as string }),
    schema,
    migrate,
    encryptionKeys: encryptionKeys(encryptionKey),
  };
}

const ENCRYPTION_KEY_BYTES = 32;

/** The keys of `store.encryptionKey`; never shown in an error, only their place and length. */
function encryptionKeys(value: unknown): Buffer[] {
  if (value === undefined) return [];
  const name = 'store.encryptionKey';
  if (!Array.isArray(value)) return [encryptionKey(value, name)];
  if (value.length === 0) {
    throw new Error(
      invalidEncryptionKey(name, 'is an empty list (leave it out to store secrets as given)'),
    );
  }
  return value.map((key, index) => encryptionKey(key, `${name}[${index}]`));
}

function encryptionKey(value: unknown, name: string): Buffer {
  let key: Buffer;
  if (typeof value === 'string') {
    key = Buffer.from(value, 'base64');
    // Node decodes leniently: only a string that re-encodes to itself is the base64 of a key.
    if (key.toString('base64') !== value) {
      throw new Error(invalidEncryptionKey(name, 'is not padded standard base64'));
    }
  } else if (value instanceof Uint8Array) {
    key = Buffer.from(value);
  } else {
    const given = value === null ? 'null' : Array.isArray(value) ? 'a list' : typeof value;
    throw new Error(invalidEncryptionKey(name, `is ${given}`));
  }
  if (key.length !== ENCRYPTION_KEY_BYTES) {
    throw new Error(invalidEncryptionKey(name, `holds ${key.length} bytes`));
  }
  return key;
}

/** `{ type: 'memory' }`, fields left `undefined` aside. */
const isMemoryQueue = (queue: unknown) =>
  typeof queue === 'object' &&
  queue !== null &&
  (queue as { type?: unknown }).type === 'memory' &&
  Object.entries(queue).every(([name, value]) => name === 'type' || value === undefined);

const isPool = (value: unknown) =>
  typeof value === 'object' &&
  value !== null &&
  ['query', 'connect', 'on'].every(
    (method) => typeof (value as Record<string, unknown>)[method] === 'function',
  );

/** Every option name `forRoot` knows. */
export const MODULE_OPTION_NAMES: readonly string[] = [
  ...Object.keys(RULES),
  'store',
  'queue',
  'worker',
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
    if (MODULE_OPTION_NAMES.includes(name) || given[name] === undefined) continue;
    throw new Error(unknownOption(name, MODULE_OPTION_NAMES));
  }
  const resolved = { ...DEFAULTS, store: resolveStore(given.store) };
  const { queue, worker } = given;
  if (queue !== undefined && !isMemoryQueue(queue)) throw new Error(queueUnavailable(queue));
  if (worker !== undefined) {
    if (typeof worker !== 'boolean') {
      throw new Error(invalidOption('worker', worker, 'true or false'));
    }
    if (!worker && resolved.store.type === 'memory') throw new Error(workerNeedsSharedStore());
    resolved.worker = worker;
  }
  for (const name of Object.keys(RULES) as OptionName[]) {
    const value = given[name];
    if (value === undefined) continue;
    const rule = RULES[name];
    if (!rule.accepts(value)) throw new Error(invalidOption(name, value, rule.expected));
    (resolved as Record<OptionName, unknown>)[name] = value;
  }
  return resolved;
}
