import type { ValidationError } from 'class-validator';

// Every user-facing text of the library, as small factories, so wording stays consistent
// and tests can assert on exactly what users read. Never put a secret in one of these.

const list = (names: readonly string[]) =>
  names.length ? names.map((name) => `'${name}'`).join(', ') : '(none)';

// --- catalog: declarations found at bootstrap ---------------------------------------------

export const duplicateWebhookOperation = (
  webhook: string,
  method: string,
  first: string,
  second: string,
) =>
  `Webhook '${webhook}' declares ${method.toUpperCase()} twice: in ${first} and in ${second}. ` +
  `Keep one of them, or give the other a different HTTP method or webhook name.`;

export const unknownWebhookBody = (where: string, found: string) =>
  `Cannot tell the request body of webhook operation ${where}: its first parameter's type is ` +
  `${found}. Type the first parameter with a DTO class (not an interface), or pass ` +
  `{ body: YourDto } (or { body: [YourDto] } for an array) to the decorator.`;

export const operationWithoutWebhook = (where: string) =>
  `${where} is decorated as a webhook operation, but its class has no @Webhook(name). ` +
  `Add @Webhook('event-name') to the class.`;

export const webhookWithoutOperations = (webhook: string, className: string) =>
  `Webhook '${webhook}' (${className}) declares no operation. Add a method decorated with ` +
  `@WebhookPost() (or @WebhookPut/@WebhookPatch/@WebhookDelete) whose first parameter is the body DTO.`;

export const webhookMethodRequired = (webhook: string, declared: readonly string[]) =>
  `Webhook '${webhook}' declares several operations (${declared.map((m) => m.toUpperCase()).join(', ')}); ` +
  `say which one to send with emit(event, payload, { method: '${declared[0]}' }).`;

export const webhookMethodUndeclared = (
  webhook: string,
  method: string,
  declared: readonly string[],
) =>
  `Webhook '${webhook}' declares no ${method.toUpperCase()} operation; it declares ` +
  `${declared.map((m) => m.toUpperCase()).join(', ')}. Send one of those, e.g. ` +
  `emit(event, payload, { method: '${declared[0]}' }).`;

export const invalidWebhookName = (name: unknown, className: string) =>
  `@Webhook() on ${className} needs a non-empty string name (got ${JSON.stringify(name)}), ` +
  `e.g. @Webhook('new-subscription').`;

export const requestScopedWebhook = (className: string) =>
  `${className} is request-scoped; webhook declarations are read from its class, which is ` +
  `fine, but the provider itself is never instantiated by the webhooks module.`;

export const operationDeclaredTwice = (where: string, methods: string[]) =>
  `${where} is decorated as ${methods.map((m) => m.toUpperCase()).join(' and ')}: one method ` +
  `declares one operation. Keep one decorator, or declare the other operation on a method of ` +
  `its own.`;

export const staticWebhookOperation = (where: string) =>
  `${where} is a static method decorated as a webhook operation, but operations are instance ` +
  `methods of the @Webhook provider. Remove 'static' from it.`;

export const conflictingWebhookOptions = (
  webhook: string,
  first: string,
  second: string,
  differing: readonly string[],
) =>
  `Webhook '${webhook}' is declared by ${first} and by ${second} with different @Webhook() ` +
  `options (${differing.join(', ')}), and only one set can document it. Give both classes the ` +
  `same options, or move what differs to the options of their @WebhookPost() (or sibling) methods.`;

export const undocumentedWebhookBody = (dto: string, webhook: string, where: string) =>
  `The body of webhook '${webhook}' (${where}) is ${dto}, which documents no property: the ` +
  `document shows an empty object and every delivery sends {}. Add @ApiProperty() to the ` +
  `properties of ${dto}, or enable the @nestjs/swagger CLI plugin in nest-cli.json.`;

// --- openapi ------------------------------------------------------------------------------

export const moduleNotImported = () =>
  `withWebhooks(app, document) found no WebhooksModule in this application. ` +
  `Import WebhooksModule.forRoot() in your root module.`;

export const schemaNameConflict = (name: string, first: string, second: string) =>
  `Two different classes, ${first} and ${second}, are both documented as schema '${name}' in ` +
  `components.schemas, so one would silently replace the other. Rename one of them, or give it ` +
  `a schema name of its own with @ApiSchema({ name: '...' }).`;

export const operationIdConflict = (operationId: string, where: string, other: string) =>
  `operationId '${operationId}' of webhook operation ${where} is already used by ${other}, and ` +
  `operationIds must be unique in a document. Choose another operationId, or leave it out to ` +
  `get a unique default.`;

export const documentNotCloneable = (reason: string) =>
  `withWebhooks(app, document) cannot copy the document (${reason}). A Swagger document must be ` +
  `plain JSON data: remove the functions or symbols set on it by hand.`;

// --- errors of the public API -------------------------------------------------------------

export const unknownWebhook = (event: string, declared: readonly string[]) =>
  `Unknown webhook '${event}': no @Webhook declares it. Declared webhooks: ${list(declared)}. ` +
  `Fix the name if it is a typo; otherwise add @Webhook('${event}') to a provider class with a ` +
  `@WebhookPost() method, and list that class in the providers of a module.`;

export const payloadValidationFailed = (event: string, errors: readonly ValidationError[]) => {
  const details = flattenValidationErrors(errors).join('; ');
  return `Payload of webhook '${event}' failed validation, nothing was sent: ${details}.`;
};

export const endpointUrlRejected = (url: string, reason: string) =>
  `Endpoint URL '${url}' was refused: ${reason}.`;

function flattenValidationErrors(errors: readonly ValidationError[], path = ''): string[] {
  return errors.flatMap((error) => {
    const property = path ? `${path}.${error.property}` : error.property;
    const own = Object.values(error.constraints ?? {}).map((text) =>
      text.startsWith(error.property) ? `${property}${text.slice(error.property.length)}` : text,
    );
    return [...own, ...flattenValidationErrors(error.children ?? [], property)];
  });
}

// --- delivery: signing and retries ---------------------------------------------------------

// Strings are quoted so that '' and ' 5' stay visible; NaN and Infinity print as themselves.
const shown = (value: unknown) =>
  typeof value === 'string'
    ? JSON.stringify(value)
    : Array.isArray(value)
      ? 'an array'
      : String(value);

// `reason` describes the shape of the secret only (prefix, alphabet, byte count), never its text.
export const invalidWebhookSecret = (reason: string) =>
  `Webhook secret is malformed: ${reason}. A secret is 'whsec_' followed by the standard base64 ` +
  `of 24 to 64 random bytes; omit the secret when adding the endpoint to have one generated.`;

export const noWebhookSecrets = () =>
  `Cannot sign a webhook without a secret: pass at least one (two or more while rotating).`;

export const invalidWebhookTimestamp = (value: unknown) =>
  `Webhook timestamp must be a non-negative integer number of seconds since the epoch ` +
  `(got ${shown(value)}); use Math.floor(Date.now() / 1000).`;

export const invalidRetryDelays = (value: unknown) =>
  `retryDelays must be an array of milliseconds, e.g. [5000, 300000] (got ${shown(value)}).`;

export const invalidRetryDelay = (value: unknown, index: number) =>
  `retryDelays[${index}] must be a non-negative finite number of milliseconds ` +
  `(got ${shown(value)}). Fix or remove that entry.`;

export const invalidMaxRetryAfter = (value: unknown) =>
  `maxRetryAfterMs must be a non-negative finite number of milliseconds (got ${shown(value)}).`;

export const invalidAttemptNumber = (value: unknown) =>
  `Attempt numbers start at 1 and are integers (got ${shown(value)}).`;

// --- endpoints: URL and address policy ---

// Keyed by ipaddr.js range labels; a label added by a newer ipaddr.js falls back to a
// generic phrase that still names it, so nothing is refused silently.
const endpointAddressKinds: Record<string, string> = {
  unspecified: 'an unspecified address',
  broadcast: 'the broadcast address',
  multicast: 'a multicast address',
  linkLocal: 'a link-local address',
  loopback: 'a loopback address',
  carrierGradeNat: 'a carrier-grade NAT address (100.64.0.0/10)',
  private: 'a private address (RFC 1918)',
  reserved: 'a reserved or documentation address',
  benchmarking: 'a benchmarking address',
  as112: 'an AS112 DNS sink address',
  as112v6: 'an AS112 DNS sink address',
  amt: 'an AMT multicast relay address',
  uniqueLocal: 'a unique local address (fc00::/7, the private range of IPv6)',
  deprecatedSiteLocal: 'a site-local address (fec0::/10)',
  rfc6145: 'an IPv4-translated address (RFC 6145)',
  rfc6052: 'a local-use NAT64 address (64:ff9b:1::/48)',
  '6to4': 'a 6to4 tunnel address (2002::/16)',
  teredo: 'a Teredo tunnel address (2001::/32)',
  discard: 'a discard-only address (100::/64)',
  deprecatedOrchid: 'an ORCHID address',
  orchid2: 'an ORCHIDv2 address',
  droneRemoteIdProtocolEntityTags: 'a drone remote ID address (2001:30::/28)',
  segmentRouting: 'a segment routing address (5f00::/16)',
};

/** `embedded`: the IPv4 address an IPv6 form stands for, whose range `range` then is. */
export const addressRefused = (
  address: string,
  range: string,
  embedded?: { form: string; ipv4: string },
) =>
  `${address}${embedded ? ` (${embedded.form} ${embedded.ipv4})` : ''} is ` +
  (endpointAddressKinds[range] ?? `a special-purpose address ('${range}' in ipaddr.js)`);

export const notAnIpAddress = (value: string) => `'${value}' is not an IP address`;

export const invalidAllowedNetwork = (entry: unknown, problem: string) =>
  `WebhooksModule option allowedNetworks has an invalid entry ${JSON.stringify(entry)}: ` +
  `${problem}. Write each entry as an address and a prefix length, e.g. '10.0.0.0/8' or ` +
  `'fd00::/8'.`;

export const allowedNetworksNotArray = (value: unknown) =>
  `WebhooksModule option allowedNetworks must be an array of CIDR strings, e.g. ` +
  `['127.0.0.0/8'] (got ${JSON.stringify(value)}).`;

export const allowedNetworkNotString = () => 'it is not a string';

export const allowedNetworkWithoutPrefix = (address: string, bits: number) =>
  `it has no prefix length; to allow just this address write '${address}/${bits}'`;

export const allowedNetworkMalformed = () =>
  'it is not an IPv4 CIDR (prefix 0-32) or IPv6 CIDR (prefix 0-128)';

const allowHint = (cidr: string) =>
  `webhooks are only delivered to public addresses; if this endpoint is meant to be internal, ` +
  `add its network to the allowedNetworks option, e.g. '${cidr}'`;

export const urlTooLong = (length: number, max: number) =>
  `it is ${length} characters long, and endpoint URLs may have at most ${max}; use a shorter ` +
  `URL (a receiver can carry long routing data in its own configuration instead)`;

export const urlNotParsable = () =>
  'it is not a valid absolute URL; write it in full, e.g. https://example.com/webhooks';

// The scheme is left to the URL shown beside this reason: in 'alice:pw@host' it is a username.
export const urlSchemeNotAllowed = () =>
  'webhooks are only delivered over http and https; use an https:// URL';

export const urlHasCredentials = () =>
  'it carries a username or password, which would be sent to the receiver in clear with ' +
  'every delivery; remove them and let the receiver verify the webhook signature instead';

export const urlAddressRefused = (reason: string, cidr: string) => `${reason}; ${allowHint(cidr)}`;

export const urlHostResolvesToRefused = (
  host: string,
  address: string,
  reason: string,
  cidr: string,
) => `its host ${host} resolves to ${address}, and ${reason}; ${allowHint(cidr)}`;

export const urlHostDoesNotResolve = (host: string, code: string | undefined) =>
  `its host ${host} does not resolve${code ? ` (${code})` : ''}; check the spelling, or add ` +
  `the endpoint once the name exists in DNS`;

export const hostNotFound = (host: string) => `getaddrinfo ENOTFOUND ${host}: no address found`;

export const connectRefused = (host: string, address: string, reason: string, cidr: string) =>
  `Refused to connect to ${host === address ? address : `${host} at ${address}`} for a ` +
  `webhook delivery: ${reason}` +
  (host === address ? '' : ' (the name may have been re-pointed since the endpoint was added)') +
  `. Webhooks are only delivered to public addresses; if this endpoint is meant to be ` +
  `internal, add its network to the allowedNetworks option, e.g. '${cidr}'.`;

// --- delivery: emit ---------------------------------------------------------------------------

const describeValue = (value: unknown) =>
  value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value;

export const payloadNotAnObject = (dto: string, value: unknown) =>
  `payload must be an object shaped like ${dto} (got ${describeValue(value)})`;

export const payloadNotAnArray = (dto: string) =>
  `payload must be an array of ${dto} (this webhook's body is declared as [${dto}])`;

// --- endpoints: registry ----------------------------------------------------------------------

export const endpointNotFound = (id: string) =>
  `No webhook endpoint has id '${id}'. List the registered ones with WebhookEndpoints.list().`;

// --- arguments of the public methods ----------------------------------------------------------

export const argumentOfWrongType = (
  call: string,
  argument: string,
  expected: string,
  value: unknown,
) => `${call}(): ${argument} must be ${expected} (got ${showValue(value)}).`;

export const argumentHasUnknownField = (
  call: string,
  argument: string,
  name: string,
  known: readonly string[],
) =>
  `${call}(): ${argument} has no field '${name}'${didYouMean(name, known)} It takes ${list(known)}.`;

export const transactionNeedsPostgres = (given: string) =>
  `emit(): options.transaction (${given}) needs the PostgreSQL store (store: { type: ` +
  `'postgres' }); this app uses the in-memory store, which cannot join a database ` +
  `transaction, and nothing was stored. Configure the PostgreSQL store, or leave transaction ` +
  `out and emit once your transaction has committed.`;

export const transactionUnknown = (given: string) =>
  `emit(): options.transaction is ${given}, which is no transaction nestjs-webhooks can write ` +
  `through; nothing was stored. Pass the client of your open transaction: a pg Client or ` +
  `PoolClient inside BEGIN, a TypeORM EntityManager (inside transaction()) or QueryRunner, ` +
  `the tx of a Prisma interactive transaction, or a function (sql, params) => Promise of the ` +
  `rows for any other tool.`;

export const transactionPool = (given: string) =>
  `emit(): options.transaction is ${given}, which runs each statement on whichever connection ` +
  `is free, outside your transaction, so the emit would commit at once whatever your ` +
  `transaction did; nothing was stored. Pass the client your transaction runs on: ` +
  `const client = await pool.connect(), then BEGIN on it, emit with { transaction: client }, ` +
  `COMMIT.`;

export const transactionPrismaClient = (given: string) =>
  `emit(): options.transaction is ${given}, a Prisma client outside any transaction: each of ` +
  `its statements commits on its own, so the emit would commit at once whatever your ` +
  `transaction did; nothing was stored. Pass the client of your interactive transaction: ` +
  `prisma.$transaction(async (tx) => { ...; await emit(..., { transaction: tx }) }).`;

export const transactionNotOpen = (given: string) =>
  `emit(): options.transaction (${given}) is not inside a transaction (none was begun on it, ` +
  `or it has ended), so the emit would commit at once whatever your transaction did; nothing ` +
  `was stored. Pass the handle of an open transaction: a pg client after BEGIN, the ` +
  `EntityManager TypeORM's transaction() gives its callback, a QueryRunner after ` +
  `startTransaction(), or a function that runs its statements inside one.`;

export const transactionAborted = (given: string) =>
  `emit(): options.transaction (${given}) is in a transaction that has already failed, whose ` +
  `statements PostgreSQL ignores until it is rolled back; nothing was stored. Roll it back, ` +
  `then emit in a new transaction.`;

export const transactionRows = (given: string, returned: string) =>
  `emit(): the statement run through options.transaction (${given}) resolved to ${returned}, ` +
  `not to rows, so what it wrote cannot be told apart from a failure: roll that transaction ` +
  `back. A function given as transaction must resolve to the rows of the query (an array), or ` +
  `to a result with a rows array as pg's does.`;

// --- module options ---------------------------------------------------------------------------

export const invalidOption = (name: string, value: unknown, expected: string) =>
  `WebhooksModule option '${name}' must be ${expected} (got ${showValue(value)}).`;

export const optionsNotAnObject = (value: unknown) =>
  `WebhooksModule options must be an object, e.g. WebhooksModule.forRoot({ timeout: 10000 }) ` +
  `or forRoot() for the defaults (got ${showValue(value)}). With forRootAsync, make useFactory ` +
  `return such an object ({} for the defaults).`;

export const unknownOption = (name: string, known: readonly string[]) =>
  `WebhooksModule has no option '${name}'${didYouMean(name, known)} Known options: ${list(known)}.`;

// The value is not shown: a queue option may hold a connection string with a password.
export const queueUnavailable = (value: unknown) =>
  `WebhooksModule option 'queue' ${describeType(value)} is not available in this version of ` +
  `nestjs-webhooks: only the in-memory default ({ type: 'memory' }) is, which with the ` +
  `PostgreSQL store already shares the work between processes. Leave 'queue' out.`;

function describeType(value: unknown): string {
  const type = (value as { type?: unknown } | null)?.type;
  return typeof type === 'string' ? `of type '${type}'` : `set to ${showSecretValue(value)}`;
}

/** A value that may be a connection string (with a password): a string is not shown. */
export const showSecretValue = (value: unknown) =>
  typeof value === 'string' ? (value ? 'a string' : 'an empty string') : showValue(value);

export const storeTypeInvalid = (value: unknown) =>
  `WebhooksModule option 'store' ${describeType(value)} is not a store: use { type: 'memory' } ` +
  `(the default) or { type: 'postgres', pool } / { type: 'postgres', connectionString }.`;

export const unknownStoreOption = (type: string, name: string, known: readonly string[]) =>
  `WebhooksModule option 'store' (type '${type}') has no field '${name}'` +
  `${didYouMean(name, known)} Known fields: ${list(known)}.`;

/** `shown`: the value as the message may show it (`showValue`, or `showSecretValue`). */
export const invalidStoreOption = (name: string, shown: string, expected: string) =>
  `WebhooksModule option 'store.${name}' must be ${expected} (got ${shown}).`;

// Neither value is shown: a connection string may hold a password.
export const postgresConnectionNeeded = (both: boolean) =>
  both
    ? `WebhooksModule option 'store' (type 'postgres') has both 'pool' and 'connectionString': ` +
      `give one, the app's own pg Pool or a connection string for a pool the module makes.`
    : `WebhooksModule option 'store' (type 'postgres') needs 'pool' (the app's own pg Pool) or ` +
      `'connectionString' (e.g. process.env.DATABASE_URL).`;

export const invalidEncryptionKey = (name: string, reason: string) =>
  `WebhooksModule option '${name}' ${reason}. It takes 32 bytes, as a base64 string or a ` +
  `Buffer, or a list of them, newest first. Make a key with ` +
  `node -e "console.log(require('crypto').randomBytes(32).toString('base64'))" (or ` +
  `openssl rand -base64 32) and keep it with the app's other secrets.`;

export const encryptionKeyMissing = (endpointId: string, keyId: string, known: string[]) =>
  `The secret of endpoint ${endpointId} is stored encrypted under key id ${keyId}, which is ` +
  `not in store.encryptionKey (` +
  (known.length === 0 ? 'none is configured' : `it has ${list(known)}`) +
  `). Add that key back to the list (after the newest), or give the endpoint a new secret ` +
  `with rotateSecret().`;

export const secretUnreadable = (endpointId: string, keyId: string) =>
  `The secret of endpoint ${endpointId}, stored under key id ${keyId}, does not decrypt with ` +
  `that key: the stored value was altered or belongs to another endpoint. Give the endpoint a ` +
  `new secret with rotateSecret().`;

export const unreadableSecretReplaced = (endpointId: string, keyId: string) =>
  `Endpoint ${endpointId}: its secret, stored under key id ${keyId} which store.encryptionKey ` +
  `cannot open, was replaced by rotateSecret() without a grace period; give its receiver the ` +
  `new secret.`;

export const unreadableSecretNotSent = (endpointId: string, keyId: string) =>
  `Endpoint ${endpointId}: nothing is sent to it while its secret, stored under key id ` +
  `${keyId}, cannot be decrypted with store.encryptionKey; each attempt fails and is retried ` +
  `on its schedule. Add the key back to the list, or rotateSecret() the endpoint.`;

export const reencryptSkipped = (ids: string[]) =>
  `reencryptSecrets(): ${ids.length} endpoint(s) could not be decrypted and were left as ` +
  `they are (${ids.slice(0, 10).join(', ')}${ids.length > 10 ? ', ...' : ''}): add their key ` +
  `back to store.encryptionKey, or rotateSecret() them.`;

export const duplicateMessageId = (id: string) =>
  `The store holds a message ${id} already: message ids are unique (createId('msg') makes ` +
  `them); nothing was stored.`;

export const reencryptNeedsKey = () =>
  `WebhookEndpoints.reencryptSecrets() needs the PostgreSQL store with store.encryptionKey: ` +
  `it rewrites the stored secrets under the newest key of that list. Configure the key, or ` +
  `leave the call out.`;

export const workerNeedsSharedStore = () =>
  `WebhooksModule option 'worker: false' needs a store that worker processes share ` +
  `({ type: 'postgres', ... }): with the in-memory store nothing would ever deliver what this ` +
  `process emits. Leave 'worker' out, or configure the PostgreSQL store.`;

export const asyncOptionsNotAnObject = (value: unknown) =>
  `WebhooksModule.forRootAsync() takes an object with useFactory, useClass or useExisting, ` +
  `e.g. forRootAsync({ inject: [ConfigService], useFactory: (config) => ({ ... }) }) ` +
  `(got ${showValue(value)}).`;

/** `nearest`: the forRootAsync option `name` is a typo of, if it is one. */
export const unknownAsyncOption = (name: string, nearest: string) =>
  `WebhooksModule.forRootAsync() has no option '${name}'; did you mean '${nearest}'?`;

export const moduleOptionInAsyncOptions = (name: string) =>
  `WebhooksModule option '${name}' was given to forRootAsync() itself, where it would be ` +
  `ignored: return it from useFactory instead, e.g. forRootAsync({ useFactory: () => ` +
  `({ ${name}: ... }) }).`;

export const asyncOptionsWithoutFactory = () =>
  `WebhooksModule.forRootAsync() needs one of useFactory, useClass or useExisting to make the ` +
  `options, e.g. forRootAsync({ useFactory: () => ({ timeout: 10000 }) }).`;

export const catchAllAllowedNetwork = (entry: string, family: 'IPv4' | 'IPv6') =>
  `WebhooksModule option allowedNetworks has '${entry}', which allows every ${family} address: ` +
  `the SSRF guard is off for ${family}, so webhooks may be sent to loopback, private and cloud ` +
  `metadata addresses. List only the networks your internal receivers are in, e.g. ` +
  `'10.1.2.0/24', or remove the entry in production.`;

/**
 * A value as a message shows it: short, never a whole object (it may hold secrets), and never
 * throwing (`JSON.stringify` does on a BigInt or a cycle).
 */
export function showValue(value: unknown): string {
  if (typeof value === 'string') {
    return JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}…` : value);
  }
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'function') return 'a function';
  if (Array.isArray(value)) return describeArray(value);
  if (typeof value === 'object' && value !== null) return 'an object';
  return String(value);
}

function describeArray(values: unknown[]): string {
  if (values.length > 10) return `an array of ${values.length} entries`;
  return `[${values.map((value) => (typeof value === 'object' && value !== null ? '…' : showValue(value))).join(', ')}]`;
}

/** `; did you mean 'x'?` when `name` is most likely a typo of a known name `x`, else `.`. */
function didYouMean(name: string, known: readonly string[]): string {
  const nearest = nearestName(name, known);
  return nearest ? `; did you mean '${nearest}'?` : '.';
}

/**
 * The known name `name` most likely stands for: the same but for case, or at most a third of
 * its letters away (edit distance), so that `timeOut` finds `timeout` and `retryDelay`
 * `retryDelays`, but an unrelated name suggests nothing.
 */
export function nearestName(name: string, known: readonly string[]): string | undefined {
  const lower = name.toLowerCase();
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(name.length / 3)) + 1;
  for (const candidate of known) {
    const distance = editDistance(lower, candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

/** Levenshtein distance: insertions, deletions and substitutions, one row at a time. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1);
      current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, substitution);
    }
    previous = current;
  }
  return previous[b.length];
}

// --- delivery: dispatcher ---------------------------------------------------------------------

export const messageUnavailable = (messageId: string) => `message ${messageId} is no longer stored`;

export const endpointUnavailable = (endpointId: string, disabledReason?: string | null) =>
  disabledReason
    ? `endpoint ${endpointId} is disabled (${disabledReason})`
    : `endpoint ${endpointId} was removed`;

export const endpointGone = () => 'the endpoint answered 410 Gone';

export const endpointFailingTooLong = (since: Date) =>
  `every delivery has failed since ${since.toISOString()}`;

export const endpointDisabled = (endpointId: string, reason: string) =>
  `Webhook endpoint ${endpointId} disabled: ${reason}. Re-enable it with ` +
  `WebhookEndpoints.update(id, { disabled: false }) once the receiver works again.`;

export const attemptFailed = (
  messageId: string,
  endpointId: string,
  attempt: number,
  error: string,
  delayMs: number,
) =>
  `Attempt ${attempt} of message ${messageId} to endpoint ${endpointId} failed (${error}); ` +
  `retrying in ${Math.round(delayMs)} ms.`;

export const deliveryExhausted = (messageId: string, endpointId: string, error: string) =>
  `Delivery of message ${messageId} to endpoint ${endpointId} failed for good (${error}). ` +
  `Replay it with WebhookDeliveries.redeliver('${messageId}', '${endpointId}').`;

/** `kept`: the store outlives the process (the next start, or another worker, resumes them). */
export const queueStopped = (running: number, pending: number, kept: boolean) =>
  `Webhook delivery stopped: ${running} attempt(s) still running after the shutdown timeout, ` +
  (kept
    ? `${pending} queued delivery(ies) left pending in the store, for the next start or another ` +
      `worker to resume.`
    : `${pending} queued delivery(ies) dropped from the in-memory queue. Use the PostgreSQL ` +
      `store to keep them.`);

export const leaseReleaseFailed = (count: number, reason: string, leaseMs: number) =>
  `Handing back ${count} swept webhook delivery(ies) this worker did not start failed ` +
  `(${reason}); other workers claim them once their leases end, within ${Math.round(leaseMs)} ms.`;

export const sweepFailed = (reason: string, delayMs: number) =>
  `Looking for due webhook deliveries in the store failed (${reason}); trying again in ` +
  `${Math.round(delayMs)} ms. Deliveries stay pending meanwhile.`;

export const storeUnreachable = (reason: string) =>
  `The webhook store cannot be reached (${reason}). Deliveries stay pending in it: attempts ` +
  `that need it are tried again later, and nothing is lost (an attempt sent whose outcome ` +
  `could not be recorded may be sent again, with the same webhook-id). Until the store ` +
  `answers again, further failures to reach it are counted rather than logged one by one.`;

export const storeReachableAgain = (outageMs: number, unlogged: number) =>
  `The webhook store answers again after ${(outageMs / 1000).toFixed(1)} s; ` +
  `${unlogged} more call(s) failed to reach it meanwhile, each tried again later. Delivery ` +
  `goes on.`;

export const watchFailed = (reason: string) =>
  `Listening for webhook writes of other processes failed (${reason}); this worker finds their ` +
  `deliveries by sweeping, every sweepInterval, instead.`;

// --- the PostgreSQL store (a connection string is never shown: it may hold a password) -----

export const invalidPostgresStoreOptions = (value: unknown) =>
  `PostgresWebhookStore.open() takes an options object, e.g. { pool } or ` +
  `{ connectionString: process.env.DATABASE_URL } (got ${showValue(value)}).`;

export const postgresPoolOrConnectionString = (both: boolean) =>
  both
    ? `PostgresWebhookStore.open() was given both 'pool' and 'connectionString': give one, the ` +
      `app's own pg Pool or a connection string for a pool the store makes.`
    : `PostgresWebhookStore.open() needs 'pool' (the app's own pg Pool) or 'connectionString' ` +
      `(e.g. process.env.DATABASE_URL).`;

export const invalidPostgresPool = (value: unknown) =>
  `PostgresWebhookStore option 'pool' must be a pg Pool (new Pool() from 'pg') (got ` +
  `${showSecretValue(value)}).`;

export const invalidPostgresConnectionString = (value: unknown) =>
  `PostgresWebhookStore option 'connectionString' must be a non-empty string, e.g. ` +
  `'postgres://user@host:5432/db' (got ${typeof value === 'string' ? 'an empty string' : typeof value}).`;

export const invalidPostgresSchema = (value: unknown) =>
  `PostgresWebhookStore option 'schema' must be a lower-case PostgreSQL identifier (letters, ` +
  `digits and _, not starting with a digit nor with pg_, at most 63 characters), such as ` +
  `'webhooks' (got ${showValue(value)}).`;

export const invalidPostgresStoreOption = (name: string, value: unknown, expected: string) =>
  `PostgresWebhookStore option '${name}' must be ${expected} (got ${showValue(value)}).`;

export const migrationsMissing = (
  schema: string,
  missing: readonly { version: number; name: string }[],
  found: 'none' | number,
) =>
  `The webhook tables in PostgreSQL schema '${schema}' are ` +
  (found === 'none'
    ? `not there (no table ${schema}.schema_migrations)`
    : `at version ${found}, older than this version of nestjs-webhooks needs`) +
  `; missing migration(s): ${missing.map(({ version, name }) => `${version} (${name})`).join(', ')}. ` +
  `With migrate: false the store does not create or change tables: run the SQL of ` +
  `webhookMigrations('${schema}') (exported from 'nestjs-webhooks') with your migration tool, ` +
  `each migration once and in order, or set migrate: true to let the store apply them at ` +
  `startup under an advisory lock.`;

export const migrationFailed = (schema: string, version: number, name: string, reason: string) =>
  `Migrating the webhook tables in PostgreSQL schema '${schema}' failed at migration ${version} ` +
  `(${name}): ${reason}. That migration was rolled back; the ones before it stay applied. Fix ` +
  `the cause (permissions to create tables in '${schema}', say) and start again.`;

export const postgresOpenFailed = (schema: string, reason: string) =>
  `The PostgreSQL webhook store (schema '${schema}') could not start: ${reason}. Check that ` +
  `PostgreSQL is reachable with the pool's settings and that its user may use schema '${schema}'.`;

/** `transient`: the connection failed, not the statement, so the same call may succeed later. */
export const postgresQueryFailed = (
  schema: string,
  operation: string,
  reason: string,
  transient: boolean,
) =>
  `The PostgreSQL webhook store (schema '${schema}') could not ${operation}: ${reason}. ` +
  (transient
    ? `The connection to PostgreSQL failed: check that the database is up and reachable, then ` +
      `try again. Each call is one statement or transaction, stored whole or not at all.`
    : `Nothing of this call was stored.`);

export const postgresStoreClosed = (schema: string, operation: string) =>
  `The PostgreSQL webhook store (schema '${schema}') is closed, so it cannot ${operation}: the ` +
  `application is shutting down.`;

export const postgresPoolError = (schema: string, reason: string) =>
  `A PostgreSQL connection of the webhook store (schema '${schema}') failed while idle ` +
  `(${reason}); the pool replaces it on the next query.`;

export const clockSkewed = (schema: string, skewMs: number) =>
  `This process's clock is ${(Math.abs(skewMs) / 1000).toFixed(1)} s ` +
  `${skewMs > 0 ? 'ahead of' : 'behind'} PostgreSQL's (webhook store schema '${schema}'). ` +
  'Processes sharing the store compare due times and leases with their own clocks: clocks a ' +
  'few seconds apart delay deliveries, and can let one process claim a delivery whose attempt ' +
  'another is still sending. ' +
  'Keep the clocks of every host in sync (NTP, chrony, systemd-timesyncd).';

export const listenLost = (schema: string, reason: string, delayMs: number) =>
  `The PostgreSQL webhook store (schema '${schema}') lost its LISTEN connection (${reason}); ` +
  `listening again in ${Math.round(delayMs)} ms. Workers find due deliveries by sweeping meanwhile.`;

export const pruneFailed = (schema: string, reason: string) =>
  `Deleting finished webhook messages past their retention in PostgreSQL schema '${schema}' ` +
  `failed (${reason}); the next run tries again.`;

// --- delivery log -----------------------------------------------------------------------------

const mib = (bytes: number) =>
  bytes < 1024 * 1024
    ? `${Math.ceil(bytes / 1024)} KiB`
    : `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;

export const messageTooLarge = (bytes: number, maxBytes: number, event: string) =>
  `Cannot emit webhook '${event}': the message alone would take about ${mib(bytes)}, more than ` +
  `the in-memory store's maxStoreBytes (${mib(maxBytes)}), so nothing was stored or sent. ` +
  `Raise maxStoreBytes, or send a smaller payload.`;

export const storeFull = (bytes: number, maxBytes: number, event: string) =>
  `Cannot emit webhook '${event}': the in-memory webhook store is full (about ${mib(bytes)} of ` +
  `maxStoreBytes ${mib(maxBytes)}) with messages still being delivered, so nothing was stored ` +
  `or sent. Receivers may be down or slow: check WebhookDeliveries.list({ status: 'pending' }). ` +
  `Raise maxStoreBytes, or emit again once deliveries have finished.`;

export const messageNotFound = (messageId: string) =>
  `No webhook message has id '${messageId}' (it may be older than the store's retention).`;

export const noDeliveryToRedeliver = (messageId: string, endpointId?: string) =>
  endpointId
    ? `Message '${messageId}' was never queued for endpoint '${endpointId}'; ` +
      `only endpoints that were subscribed when it was emitted can receive it again.`
    : `Message '${messageId}' had no endpoint to go to; there is nothing to redeliver.`;

// --- delivery: attempts, shutdown -------------------------------------------------------------

/** Why an attempt failed when the receiver answered with a non-2xx status. */
export const httpStatusError = (status: number) => `HTTP ${status}`;

export const transportTimeout = (timeoutMs: number) =>
  `timeout: no complete answer within ${timeoutMs} ms`;

/** `code` is Node's or undici's error code (ECONNRESET, ...) when there is one. */
export const transportClosed = () =>
  'the transport is closed: the application is shutting down, and no attempt starts any more';

export const transportFailure = (code: string | undefined, detail: string) =>
  code ? `${code}: ${detail}` : detail;

export const responseBodyUnreadable = (reason: string) =>
  `the status arrived, but reading the response body failed (${reason}); the status decides`;

export const disabledByUpdate = () => 'disabled by update()';

export const emitAfterShutdown = (event: string) =>
  `Cannot emit webhook '${event}': the application is shutting down (app.close() was called), ` +
  `so nothing would deliver it and nothing was stored. Emit before closing the application.`;

export const redeliverAfterShutdown = (messageId: string) =>
  `Cannot redeliver message '${messageId}': the application is shutting down (app.close() was ` +
  `called), so nothing would deliver it and nothing was changed. Redeliver before closing the ` +
  `application, or after it starts again.`;

export const unexpectedAttemptError = (reason: string) => `unexpected error: ${reason}`;

/** `delayMs`: when the attempt is retried; `undefined`: no retry is left. */
export const attemptCrashed = (
  deliveryId: string,
  endpointId: string,
  reason: string,
  delayMs: number | undefined,
) =>
  `Delivery ${deliveryId} to endpoint ${endpointId} hit an unexpected error ` +
  `(${reason}); ` +
  (delayMs === undefined
    ? `no retry is left, so it is marked failed.`
    : `retrying in ${Math.round(delayMs)} ms.`);

export const claimTooSlow = (deliveryId: string, leaseMs: number) =>
  `claiming delivery ${deliveryId} took so long, twice, that its lease (${leaseMs} ms) would ` +
  `not cover an attempt; the store is too slow to answer`;

export const deliveredRecordFailed = (deliveryId: string, endpointId: string, reason: string) =>
  `Delivery ${deliveryId} to endpoint ${endpointId} was delivered, but recording it failed ` +
  `(${reason}); recording it again, so that it is not sent twice.`;

export const attemptRecoveryFailed = (deliveryId: string, endpointId: string, reason: string) =>
  `Could not record the unexpected error of delivery ${deliveryId} to endpoint ` +
  `${endpointId} either (${reason}); the store keeps it as it was last recorded.`;

// --- lifecycle events -------------------------------------------------------------------------

/** `callback`: the subscriber's `next`, `error` (or its missing error handler) or `complete`. */
export const eventSubscriberFailed = (callback: string, reason: string) =>
  `A subscriber of WebhookDeliveries.events threw in its ${callback} callback (${reason}); ` +
  `it is logged and ignored, and delivery goes on. Catch errors inside the subscriber, or add ` +
  `an error handler to it.`;

export const eventPublishFailed = (type: string, reason: string) =>
  `Publishing the '${type}' event to WebhookDeliveries.events failed (${reason}); delivery ` +
  `goes on.`;

// --- delivery: hostile answers ---

export const receiverSwitchedProtocols = () =>
  'the receiver answered 101 Switching Protocols instead of answering the webhook, so the ' +
  'connection was closed; point the endpoint at a URL that answers the request with a 2xx';

/**
 * The logged body of an answer sent with a content-encoding: its first bytes as they came over
 * the wire, never decoded (a small compressed answer can inflate to gigabytes).
 */
export const encodedResponseBody = (encoding: string, base64: string) =>
  `[${encoding}-encoded, not decoded; base64] ${base64}`;

// --- delivery: payloads ---

/** `enclosing`: the path of the object referred back to, `''` for the payload itself. */
export const payloadRefersBack = (property: string, enclosing: string) =>
  `${property} refers back to an enclosing object ` +
  `(${enclosing ? `at ${enclosing}` : 'the payload itself'}), which JSON cannot write; leave ` +
  `the back-reference out of what the DTO documents and validates, or emit a copy without it`;

// --- receiving --------------------------------------------------------------------------------

// What a refused request is told (in the JSON error) and nothing else: never a secret, never
// the signature that was expected.

export const webhookHeaderMissing = (names: string[]) =>
  `The request is not a Standard Webhooks request: it has no ${names.join(' or ')} header. Send ` +
  `webhook-id, webhook-timestamp and webhook-signature.`;

export const webhookHeaderMalformed = (name: string, expected: string) =>
  `The ${name} header is malformed: it must be ${expected}.`;

export const webhookTimestampOutside = (skewSeconds: number, toleranceSeconds: number) =>
  `The webhook-timestamp is ${Math.abs(skewSeconds)} s in the ` +
  `${skewSeconds > 0 ? 'past' : 'future'}, beyond the ${toleranceSeconds} s this receiver ` +
  `tolerates: the request is stale or replayed, or a clock is wrong. Sign each attempt when ` +
  `it is sent.`;

export const webhookNoV1Signature = () =>
  `The webhook-signature header has no v1 signature (v1,<base64 of 32 bytes>) this receiver ` +
  `can check.`;

export const webhookNoSecret = () =>
  `This receiver has no secret for the request, so no signature can match.`;

export const webhookSignatureMismatch = () =>
  `No signature of the webhook-signature header matches the request's body, webhook-id and ` +
  `webhook-timestamp under this receiver's secrets: the request was altered (a proxy that ` +
  `re-serializes JSON alters it), or it was signed with another secret.`;

export const webhookNotJson = () =>
  `A Standard Webhooks request has a JSON body: send it with content-type application/json.`;

export const webhookInProgress = (id: string) =>
  `Webhook ${id} is being handled by an earlier request; retry after it has finished.`;

export const rawBodyUnavailable = (route: string) =>
  `@VerifyWebhook on ${route} needs the request's raw bytes, which this app does not keep: ` +
  `create it with NestFactory.create(AppModule, { rawBody: true }) (Express or Fastify), and ` +
  `send the webhook as application/json. A body parsed and serialized again would not match ` +
  `its signature.`;

export const verifyWebhookOptionsInvalid = (reason: string) => `@VerifyWebhook(): ${reason}.`;

export const webhookHeadersWithoutVerify = (handler: string) =>
  `@WebhookHeaders() on ${handler}() reads what @VerifyWebhook verified, but the route has no ` +
  `@VerifyWebhook (on it or on its controller).`;

export const webhookNoSecretSource = (route: string) =>
  `@VerifyWebhook on ${route} has no secret: give secret, secrets or resolveSecrets on the ` +
  `route or on its controller.`;

export const webhookSecretsUnresolved = (route: string, reason: string) =>
  `@VerifyWebhook on ${route}: resolveSecrets() failed: ${reason}`;

export const webhookDedupeUnavailable = (route: string, reason: string) =>
  `@VerifyWebhook on ${route}: the dedupe store failed (${reason}); the request was refused ` +
  `with 503 so that the sender retries it.`;

export const webhookDedupeCompleteFailed = (id: string, reason: string) =>
  `Webhook ${id} was handled, but marking it as done in the dedupe store failed (${reason}): ` +
  `a retry of it would run the handler again.`;

// The tenant portal.

export const portalOptionsNotAnObject = (value: unknown) =>
  `WebhooksPortalModule options must be an object, e.g. WebhooksPortalModule.forRoot({ secret: ` +
  `config.get('PORTAL_SECRET') }) (got ${showValue(value)}).`;

export const unknownPortalOption = (name: string, known: readonly string[]) =>
  `WebhooksPortalModule has no option '${name}'${didYouMean(name, known)} Known options: ${list(known)}.`;

export const invalidPortalOption = (name: string, value: unknown, expected: string) =>
  `WebhooksPortalModule option '${name}' must be ${expected} (got ${showValue(value)}).`;

// Neither the secret nor a part of it is shown: only how long it was.
export const portalSecretTooShort = (length: number, min: number) =>
  `WebhooksPortalModule option 'secret' must be a string of at least ${min} characters (got ` +
  `${length}): it signs the portal links. Make one with \`openssl rand -base64 48\` and read it ` +
  `from the app's configuration.`;

export const portalSecretNotAString = (value: unknown) =>
  `WebhooksPortalModule option 'secret' must be a string of at least 32 characters (got ` +
  `${showSecretValue(value)}): it signs the portal links.`;

export const portalNeedsSecretOrAuthorize = () =>
  `WebhooksPortalModule needs 'secret' (a string of at least 32 characters that signs the links ` +
  `of WebhookPortal.createLink()), or 'authorize' (request) => tenant for a portal behind the ` +
  `app's own login, or both.`;

export const portalNeedsWebhooksModule = () =>
  `WebhooksPortalModule needs WebhooksModule: import WebhooksModule.forRoot() (or forRootAsync) ` +
  `in the application as well.`;

export const portalLinksNeedSecret = () =>
  `WebhookPortal.createLink(): this portal has no 'secret' to sign links with (it was set up ` +
  `with 'authorize' only). Add WebhooksPortalModule.forRoot({ secret }) to issue links.`;

export const portalWithoutHttpServer = () =>
  `WebhooksPortalModule is imported into an application without an HTTP server: the portal is ` +
  `not mounted.`;

export const portalUnauthenticated = () =>
  `No portal session: open the portal with a link from WebhookPortal.createLink(), and send its ` +
  `token as "Authorization: Bearer <token>".`;

export const portalTokenMalformed = () =>
  `The portal token is not one WebhookPortal.createLink() makes: ask for a new link.`;

export const portalTokenTampered = () =>
  `The portal token's signature does not match: ask for a new link.`;

export const portalTokenExpired = (expiresAt: Date) =>
  `The portal link expired at ${expiresAt.toISOString()}: ask for a new link.`;

export const portalTokenRevoked = () =>
  `The portal link was revoked (WebhookPortal.revokeLinks()): ask for a new link.`;

export const portalNotAuthorized = () =>
  `Not signed in to the portal: the application's authorize() gave no tenant for this request.`;

export const portalReadOnly = () =>
  `This portal link is read-only: it can look, not change. Ask for a link without readOnly.`;

export const portalRevealReadOnly = () =>
  `This portal link is read-only: it cannot reveal endpoint secrets. Ask for a link without ` +
  `readOnly.`;

export const portalNotFound = (kind: string, id: string) =>
  `No ${kind} ${showValue(id)} in this portal.`;

export const portalBodyNotAnObject = (value: unknown) =>
  `The request body must be a JSON object (got ${showValue(value)}).`;

export const portalUnknownField = (name: string, known: readonly string[]) =>
  `The request body has no field '${name}'${didYouMean(name, known)} It takes ${list(known)}.`;

export const portalFieldInvalid = (name: string, expected: string, value: unknown) =>
  `'${name}' must be ${expected} (got ${showValue(value)}).`;

export const portalEndpointDisabled = (id: string) =>
  `Endpoint '${id}' is disabled: enable it before sending it a test event.`;

export const portalDeliveryPending = (id: string) =>
  `Delivery '${id}' is still pending: it is attempted on its own schedule; redeliver it once it ` +
  `has failed or been delivered.`;

export const portalSecretUnreadable = (id: string) =>
  `The secret of endpoint '${id}' cannot be read by the server: rotate it to make a new one.`;

export const portalServerError = () =>
  `The portal could not answer: the server logged why. Try again later.`;

export const portalUnavailable = () =>
  `The portal is unavailable for a moment (the server is shutting down or its database is ` +
  `unreachable). Try again later.`;

export const portalRequestFailed = (method: string, path: string, reason: string) =>
  `Portal ${method} ${path} failed: ${reason}`;

export const portalWriteHeaderMissing = (header: string) =>
  `A write to the portal behind the app's login must send the header '${header}: 1' (the ` +
  `portal's page does): it keeps other sites from writing with the user's cookies.`;

export const portalAuthorizeInvalid = (given: unknown) =>
  `WebhooksPortalModule option 'authorize' must return a tenant (a non-empty string), ` +
  `{ tenant, readOnly? } or null (got ${showValue(given)}).`;
