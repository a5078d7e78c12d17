import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { PortalLinkSigner, type PortalLinkClaims } from '../../lib/portal/portal-links.js';

const SECRET = 'unit-test-portal-secret-0123456789abcdef';
const claims: PortalLinkClaims = {
  tenant: 'acme',
  readOnly: true,
  generation: 3,
  issuedAt: 1_800_000_000_000,
  expiresAt: 1_800_000_060_000,
};

describe('PortalLinkSigner', () => {
  it('reads back the claims it signed', () => {
    const signer = new PortalLinkSigner(SECRET);
    const token = signer.sign(claims);
    expect(token).toMatch(/^v1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/);
    expect(signer.verify(token)).toEqual(claims);
  });

  it('refuses a token signed with another secret, or with any part changed', () => {
    const token = new PortalLinkSigner(SECRET).sign(claims);
    const signer = new PortalLinkSigner(SECRET);
    expect(new PortalLinkSigner(`${SECRET}!`).verify(token)).toBe('tampered');
    const [version, payload, signature] = token.split('.');
    const other = Buffer.from(JSON.stringify({ t: 'globex', ro: 0, g: 3, iat: 1, exp: 2 }));
    expect(signer.verify(`${version}.${other.toString('base64url')}.${signature}`)).toBe(
      'tampered',
    );
    const flipped = `${signature.slice(0, -2)}${signature.endsWith('AA') ? 'BA' : 'AA'}`;
    expect(signer.verify(`${version}.${payload}.${flipped}`)).toBe('tampered');
    expect(signer.verify(`${version}.${payload}.`)).toBe('tampered');
  });

  it('refuses what is not one of its tokens before reading it', () => {
    const signer = new PortalLinkSigner(SECRET);
    for (const token of ['', 'abc', 'v1.a', 'v2.a.b', 'v1.a.b.c']) {
      expect(signer.verify(token), token).toBe('malformed');
    }
  });

  it('refuses a well-signed token whose claims are not its shape', () => {
    // Signed as the format says (HMAC-SHA256 of `v1.<claims>` under a key derived from the
    // secret), so only the claims are wrong.
    const key = createHmac('sha256', SECRET).update('nestjs-webhooks portal link v1').digest();
    const sign = (value: unknown) => {
      const payload = Buffer.from(JSON.stringify(value)).toString('base64url');
      const signature = createHmac('sha256', key).update(`v1.${payload}`).digest('base64url');
      return `v1.${payload}.${signature}`;
    };
    const signer = new PortalLinkSigner(SECRET);
    expect(signer.verify(sign({ t: 'acme', ro: 1, g: 3, iat: 5, exp: 6 }))).toMatchObject({
      tenant: 'acme',
    });
    for (const bad of [
      { t: '', ro: 0, g: 0, iat: 1, exp: 2 },
      { t: 'acme', ro: true, g: 0, iat: 1, exp: 2 },
      { t: 'acme', ro: 0, g: '1', iat: 1, exp: 2 },
      { t: 'acme', ro: 0, g: 0, iat: 1.5, exp: 2 },
      { t: 'acme', ro: 0, g: 0, iat: 1 },
      null,
      'acme',
    ]) {
      expect(signer.verify(sign(bad)), JSON.stringify(bad)).toBe('malformed');
    }
    const notJson = Buffer.from('{nope').toString('base64url');
    const signature = createHmac('sha256', key).update(`v1.${notJson}`).digest('base64url');
    expect(signer.verify(`v1.${notJson}.${signature}`)).toBe('malformed');
  });
});
