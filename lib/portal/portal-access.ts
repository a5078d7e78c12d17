import {
  portalNotAuthorized,
  portalTokenExpired,
  portalTokenMalformed,
  portalTokenRevoked,
  portalTokenTampered,
  portalUnauthenticated,
  portalAuthorizeInvalid,
  portalWriteHeaderMissing,
} from '../webhooks.messages.js';
import { PortalHttpError } from './portal-errors.js';
import type { PortalSession } from './portal-api.js';
import type { ResolvedPortalOptions, WebhookPortalAuthorization } from './portal.options.js';
import type { PortalLinkSigner } from './portal-links.js';
import type { WebhookStore } from '../interfaces/webhook-store.interface.js';

/** The header the page sends with every write made under `authorize` (see `authenticate`). */
export const PORTAL_WRITE_HEADER = 'x-webhooks-portal';

const BEARER = /^Bearer\s+(\S+)$/i;
const CHALLENGE = { 'www-authenticate': 'Bearer realm="webhooks-portal"' };
const unauthorized = (message: string) => new PortalHttpError(401, message, CHALLENGE);

/**
 * Who a request is for: the bearer token of a link (signature, expiry, then the tenant's link
 * generation in the store, so a revocation holds in every process), or else the app's
 * `authorize`. A session of `authorize` usually rides on a cookie, which a browser also sends
 * with a form another site submits: its writes must carry `x-webhooks-portal`, which no form can
 * set and which a cross-origin script may only send if the app's CORS lets it.
 */
export class PortalAccess {
  constructor(
    private readonly options: ResolvedPortalOptions,
    private readonly links: PortalLinkSigner | undefined,
    private readonly store: WebhookStore,
  ) {}

  async authenticate(
    request: unknown,
    headers: Record<string, unknown>,
    write: boolean,
  ): Promise<PortalSession> {
    const authorization = headers.authorization;
    const token = typeof authorization === 'string' ? BEARER.exec(authorization)?.[1] : undefined;
    // An app whose own login also uses bearer tokens (JWTs) keeps those for `authorize`.
    if (token !== undefined && (!this.options.authorize || isLinkToken(token))) {
      return this.fromLink(token);
    }
    if (this.options.authorize) {
      const session = await this.fromAuthorize(request);
      if (write && headers[PORTAL_WRITE_HEADER] === undefined) {
        throw new PortalHttpError(403, portalWriteHeaderMissing(PORTAL_WRITE_HEADER));
      }
      return session;
    }
    throw unauthorized(portalUnauthenticated());
  }

  private async fromLink(token: string): Promise<PortalSession> {
    if (!this.links) throw unauthorized(portalTokenMalformed());
    const now = Date.now();
    const claims = this.links.verify(token);
    if (claims === 'malformed') throw unauthorized(portalTokenMalformed());
    if (claims === 'tampered') throw unauthorized(portalTokenTampered());
    if (claims.expiresAt <= now) throw unauthorized(portalTokenExpired(new Date(claims.expiresAt)));
    if ((await this.store.portalLinkGeneration(claims.tenant)) !== claims.generation) {
      throw unauthorized(portalTokenRevoked());
    }
    return {
      tenant: claims.tenant,
      readOnly: claims.readOnly,
      expiresAt: new Date(claims.expiresAt),
    };
  }

  private async fromAuthorize(request: unknown): Promise<PortalSession> {
    const given: WebhookPortalAuthorization = await this.options.authorize!(request);
    // What a login check gives for "nobody" in any of its usual spellings is a refusal.
    if (given === null || given === undefined || (given as unknown) === false || given === '') {
      throw unauthorized(portalNotAuthorized());
    }
    const { tenant, readOnly = false } = typeof given === 'string' ? { tenant: given } : given;
    if (typeof tenant !== 'string' || tenant === '' || typeof readOnly !== 'boolean') {
      throw new TypeError(portalAuthorizeInvalid(given));
    }
    return { tenant, readOnly, expiresAt: null };
  }
}

/** Whether a bearer token has the shape of a portal link's (`v1.<claims>.<signature>`). */
const isLinkToken = (token: string) => token.startsWith('v1.') && token.split('.').length === 3;
