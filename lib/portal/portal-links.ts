import { createHmac, timingSafeEqual } from 'node:crypto';

/** What a portal link grants, as its token carries it (times in epoch milliseconds). */
export interface PortalLinkClaims {
  tenant: string;
  readOnly: boolean;
  /** The tenant's link generation when it was issued (see `WebhookStore.revokePortalLinks`). */
  generation: number;
  issuedAt: number;
  expiresAt: number;
}

/** Why a token's claims cannot be read: not one of ours, or signed with another key or altered. */
export type PortalLinkRefusal = 'malformed' | 'tampered';

const VERSION = 'v1';
/** An HMAC-SHA256 in base64url, unpadded. */
const SIGNATURE = /^[A-Za-z0-9_-]{43}$/;
/** Keeps these signatures apart from anything else the app signs with the same secret. */
const KEY_LABEL = 'nestjs-webhooks portal link v1';

/**
 * Signs and checks the portal's link tokens: `v1.<claims>.<signature>`, the claims as base64url
 * JSON, the signature an HMAC-SHA256 of `v1.<claims>` under a key derived from the portal's
 * secret. An HMAC of our own rather than a JWT library: only this library makes and reads these
 * tokens, so there is no algorithm to choose (nor to confuse) and nothing to depend on.
 */
export class PortalLinkSigner {
  private readonly key: Buffer;

  constructor(secret: string) {
    this.key = createHmac('sha256', secret).update(KEY_LABEL).digest();
  }

  sign(claims: PortalLinkClaims): string {
    const payload = Buffer.from(
      JSON.stringify({
        t: claims.tenant,
        ro: claims.readOnly ? 1 : 0,
        g: claims.generation,
        iat: claims.issuedAt,
        exp: claims.expiresAt,
      }),
    ).toString('base64url');
    return `${VERSION}.${payload}.${this.signature(`${VERSION}.${payload}`).toString('base64url')}`;
  }

  /**
   * The token's claims, or why they cannot be trusted: the signature is checked before anything
   * of the token is read. Expiry is the caller's to check.
   */
  verify(token: string): PortalLinkClaims | PortalLinkRefusal {
    const parts = token.split('.');
    if (parts.length !== 3 || parts[0] !== VERSION) return 'malformed';
    const [, payload, signature] = parts;
    // One spelling per token: base64url ignores what it cannot decode.
    if (!SIGNATURE.test(signature)) return 'tampered';
    const given = Buffer.from(signature, 'base64url');
    const expected = this.signature(`${VERSION}.${payload}`);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return 'tampered';
    return parseClaims(payload) ?? 'malformed';
  }

  private signature(signed: string): Buffer {
    return createHmac('sha256', this.key).update(signed).digest();
  }
}

function parseClaims(payload: string): PortalLinkClaims | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const { t, ro, g, iat, exp } = parsed as Record<string, unknown>;
  if (
    typeof t !== 'string' ||
    t === '' ||
    (ro !== 0 && ro !== 1) ||
    !Number.isSafeInteger(g) ||
    !Number.isSafeInteger(iat) ||
    !Number.isSafeInteger(exp)
  ) {
    return undefined;
  }
  return {
    tenant: t,
    readOnly: ro === 1,
    generation: g as number,
    issuedAt: iat as number,
    expiresAt: exp as number,
  };
}
