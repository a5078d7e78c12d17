import {
  invalidPortalOption,
  portalNeedsSecretOrAuthorize,
  portalOptionsNotAnObject,
  portalSecretNotAString,
  portalSecretTooShort,
  unknownPortalOption,
} from '../webhooks.messages.js';

/**
 * Who a request to the portal is for, as the app's own login decides: the tenant, or `null` to
 * refuse it; `{ tenant, readOnly: true }` lets it look without changing anything.
 */
export type WebhookPortalAuthorization = string | { tenant: string; readOnly?: boolean } | null;

/** Options of `WebhooksPortalModule.forRoot()` (or what `forRootAsync`'s factory returns). */
export interface WebhooksPortalOptions {
  /**
   * Where the page is mounted, from the root of the server (the app's global prefix does not
   * apply); its JSON API is under `<path>/api`. Default `webhooks/portal`.
   */
  path?: string;
  /**
   * Signs the links `WebhookPortal.createLink()` makes: a string of at least 32 characters, from
   * the app's configuration. Needed unless `authorize` is given.
   */
  secret?: string;
  /** How long a link is valid when `createLink` is given no `expiresIn`, in ms. Default 1 h. */
  linkTtl?: number;
  /**
   * Maps a request without a link token to its tenant, for a portal behind the app's own login.
   * Given the adapter's request as a guard sees it (Express `Request`, Fastify `FastifyRequest`).
   */
  authorize?: (
    request: unknown,
  ) => WebhookPortalAuthorization | Promise<WebhookPortalAuthorization>;
  /**
   * Put in front of the path in the links' `url` (`https://api.example.com`); without it the
   * `url` starts at the path (`/webhooks/portal#token=…`).
   */
  baseUrl?: string;
}

/** The portal options, checked and completed with their defaults. */
export interface ResolvedPortalOptions {
  /** Without slashes at either end. */
  path: string;
  secret: string | undefined;
  linkTtl: number;
  authorize: WebhooksPortalOptions['authorize'];
  /** Without a trailing slash; `''` when not given. */
  baseUrl: string;
}

export const PORTAL_OPTION_NAMES = ['path', 'secret', 'linkTtl', 'authorize', 'baseUrl'];
export const MIN_PORTAL_SECRET_LENGTH = 32;
const HOUR = 60 * 60 * 1000;
/** The longest a link may live: a link is a bearer credential, so a month at most. */
export const MAX_LINK_TTL = 30 * 24 * HOUR;
/** Path segments: letters, digits and `-._~`; no route patterns (`:id`, `*`). */
const PATH = /^[A-Za-z0-9._~-]+(\/[A-Za-z0-9._~-]+)*$/;

/** Checks the options completely, naming the first value that is wrong. */
export function resolvePortalOptions(given: unknown): ResolvedPortalOptions {
  if (typeof given !== 'object' || given === null || Array.isArray(given)) {
    throw new TypeError(portalOptionsNotAnObject(given));
  }
  const options = given as Record<string, unknown>;
  for (const name of Object.keys(options)) {
    if (!PORTAL_OPTION_NAMES.includes(name) && options[name] !== undefined) {
      throw new TypeError(unknownPortalOption(name, PORTAL_OPTION_NAMES));
    }
  }
  const { path = 'webhooks/portal', secret, linkTtl = HOUR, authorize, baseUrl } = options;

  if (typeof path !== 'string' || !PATH.test(path.replace(/^\/+|\/+$/g, ''))) {
    throw new TypeError(
      invalidPortalOption(
        'path',
        path,
        "a path such as 'webhooks/portal' (letters, digits, '-', '.', '_', '~' between slashes)",
      ),
    );
  }
  if (secret !== undefined) {
    if (typeof secret !== 'string') throw new TypeError(portalSecretNotAString(secret));
    if (secret.length < MIN_PORTAL_SECRET_LENGTH) {
      throw new TypeError(portalSecretTooShort(secret.length, MIN_PORTAL_SECRET_LENGTH));
    }
  }
  if (authorize !== undefined && typeof authorize !== 'function') {
    throw new TypeError(
      invalidPortalOption('authorize', authorize, 'a function (request) => tenant or null'),
    );
  }
  if (secret === undefined && authorize === undefined) {
    throw new TypeError(portalNeedsSecretOrAuthorize());
  }
  if (!isLinkTtl(linkTtl)) {
    throw new TypeError(invalidPortalOption('linkTtl', linkTtl, LINK_TTL_EXPECTED));
  }
  if (baseUrl !== undefined && !isBaseUrl(baseUrl)) {
    throw new TypeError(
      invalidPortalOption(
        'baseUrl',
        baseUrl,
        "an http(s) origin such as 'https://api.example.com'",
      ),
    );
  }
  return {
    path: path.replace(/^\/+|\/+$/g, ''),
    secret: secret as string | undefined,
    linkTtl: linkTtl as number,
    authorize: authorize as WebhooksPortalOptions['authorize'],
    baseUrl: typeof baseUrl === 'string' ? baseUrl.replace(/\/+$/, '') : '',
  };
}

/** Whether `value` is a link lifetime: whole milliseconds, from a second to `MAX_LINK_TTL`. */
export const isLinkTtl = (value: unknown): value is number =>
  Number.isSafeInteger(value) && (value as number) >= 1000 && (value as number) <= MAX_LINK_TTL;

export const LINK_TTL_EXPECTED = `a whole number of milliseconds from 1000 to ${MAX_LINK_TTL} (30 days)`;

function isBaseUrl(value: unknown): boolean {
  if (typeof value !== 'string') return false;
  try {
    const url = new URL(value);
    return (
      (url.protocol === 'http:' || url.protocol === 'https:') &&
      url.search === '' &&
      url.hash === '' &&
      url.username === '' &&
      url.password === ''
    );
  } catch {
    return false;
  }
}
