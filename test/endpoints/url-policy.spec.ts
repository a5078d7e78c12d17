import { describe, expect, it } from 'vitest';
import { AddressPolicy } from '../../lib/endpoints/address-policy.js';
import { redactUrl, UrlPolicy } from '../../lib/endpoints/url-policy.js';
import { WebhookEndpointUrlError } from '../../lib/webhooks.errors.js';
import { zoneLookup } from '../support/fake-dns.js';

// No test here touches real DNS or the network: names resolve through this table only.
const zone: Record<string, string[]> = {
  localhost: ['127.0.0.1', '::1'],
  'example.com': ['93.184.216.34', '2606:2800:220:1:248:1893:25c8:1946'],
  'mixed.test': ['93.184.216.34', '10.0.0.5'],
  'metadata.test': ['169.254.169.254'],
  'mapped.test': ['::ffff:127.0.0.1'],
  'empty.test': [],
};

function policy(allowedNetworks: string[] = []) {
  const lookup = zoneLookup(zone);
  return { urls: new UrlPolicy(new AddressPolicy(allowedNetworks), lookup), lookup };
}

async function refusal(urls: UrlPolicy, url: string): Promise<WebhookEndpointUrlError> {
  const error = await urls.assertAllowed(url).then(
    () => undefined,
    (error: unknown) => error,
  );
  expect(error, url).toBeInstanceOf(WebhookEndpointUrlError);
  return error as WebhookEndpointUrlError;
}

describe('UrlPolicy.assertAllowed', () => {
  it.each([
    'https://example.com/hooks',
    'http://example.com:8080/hooks?tenant=1#x',
    'https://8.8.8.8/hooks',
    'https://93.184.216.34/',
    'https://[2606:4700::1111]/hooks',
    'HTTPS://EXAMPLE.COM/hooks',
  ])('accepts %s and returns the parsed URL', async (url) => {
    const { urls } = policy();
    const parsed = await urls.assertAllowed(url);
    expect(parsed).toBeInstanceOf(URL);
    expect(parsed.href).toBe(new URL(url).href);
  });

  it('resolves names with { all: true } through the injected lookup', async () => {
    const { urls, lookup } = policy();
    await urls.assertAllowed('https://example.com/hooks');
    expect(lookup).toHaveBeenCalledOnce();
    expect(lookup.mock.calls[0].slice(0, 2)).toEqual(['example.com', { all: true }]);
  });

  it('does not resolve IP literals', async () => {
    const { urls, lookup } = policy();
    await urls.assertAllowed('https://8.8.8.8/');
    await urls.assertAllowed('https://[2606:4700::1111]/');
    expect(lookup).not.toHaveBeenCalled();
  });

  it.each([
    'not a url',
    '',
    '/relative/path',
    'example.com/hooks',
    'http://',
    'http://exa mple.com/',
  ])('refuses the unparsable %j', async (url) => {
    const error = await refusal(policy().urls, url);
    expect(error.message).toBe(
      `Endpoint URL '${url}' was refused: it is not a valid absolute URL; write it in full, ` +
        `e.g. https://example.com/webhooks.`,
    );
  });

  it.each([
    'ftp://example.com/hooks',
    'file:///etc/passwd',
    'javascript:alert(1)',
    'ws://example.com/socket',
    'gopher://127.0.0.1:6379/_INFO',
  ])('refuses the scheme of %s', async (url) => {
    const { urls, lookup } = policy();
    const error = await refusal(urls, url);
    expect(error.message).toBe(
      `Endpoint URL '${url}' was refused: webhooks are only delivered over http and https; ` +
        `use an https:// URL.`,
    );
    expect(lookup).not.toHaveBeenCalled();
  });

  describe('credentials', () => {
    it.each([
      ['https://alice:s3cr3t-pw@example.com/hooks', 'https://***:***@example.com/hooks'],
      ['https://alice@example.com/hooks', 'https://***@example.com/hooks'],
      ['https://:s3cr3t-pw@example.com/hooks', 'https://:***@example.com/hooks'],
      ['http://alice:s3cr3t-pw@10.0.0.1/', 'http://***:***@10.0.0.1/'],
    ])('refuses %s and shows it as %s', async (url, shown) => {
      const error = await refusal(policy().urls, url);
      expect(error.message).toContain(`Endpoint URL '${shown}' was refused`);
      expect(error.reason).toContain('carries a username or password');
      expect(error.url).toBe(shown);
      for (const secret of ['s3cr3t-pw', 'alice']) {
        expect(error.message).not.toContain(secret);
        expect(error.url).not.toContain(secret);
        expect(JSON.stringify(error)).not.toContain(secret);
      }
    });

    it('hides credentials of URLs refused for another reason first', async () => {
      for (const url of [
        'ftp://alice:s3cr3t-pw@example.com/',
        'http://alice:s3cr3t-pw@exa mple.com/',
        'alice:s3cr3t-pw@example.com/hooks',
        'mailto:alice:s3cr3t-pw@example.com',
      ]) {
        const error = await refusal(policy().urls, url);
        expect(error.message).not.toContain('s3cr3t-pw');
        expect(error.message).not.toContain('alice');
      }
    });
  });

  describe('IP literal hosts', () => {
    it.each([
      ['http://127.0.0.1/', '127.0.0.1 is a loopback address'],
      ['http://127.1/', '127.0.0.1 is a loopback address'],
      ['http://2130706433/', '127.0.0.1 is a loopback address'],
      ['http://0x7f.1/', '127.0.0.1 is a loopback address'],
      ['http://0x7f000001/', '127.0.0.1 is a loopback address'],
      ['http://0177.0.0.1/', '127.0.0.1 is a loopback address'],
      ['http://0/', '0.0.0.0 is an unspecified address'],
      ['http://10.0.0.1:8080/hooks', '10.0.0.1 is a private address (RFC 1918)'],
      ['http://192.168.1.1/', '192.168.1.1 is a private address'],
      ['http://169.254.169.254/latest/meta-data/', '169.254.169.254 is a link-local address'],
      ['http://100.64.0.1/', '100.64.0.1 is a carrier-grade NAT address'],
      ['http://[::1]/', '::1 is a loopback address'],
      ['http://[::]/', ':: is an unspecified address'],
      ['http://[::ffff:127.0.0.1]/', '::ffff:7f00:1 (IPv4-mapped 127.0.0.1) is a loopback address'],
      ['http://[::ffff:7f00:1]/', '::ffff:7f00:1 (IPv4-mapped 127.0.0.1) is a loopback address'],
      ['http://[::127.0.0.1]/', '::7f00:1 (IPv4-compatible 127.0.0.1) is a loopback address'],
      ['http://[::ffff:169.254.169.254]/', '(IPv4-mapped 169.254.169.254) is a link-local'],
      ['http://[64:ff9b::10.0.0.1]/', '64:ff9b::a00:1 (NAT64 10.0.0.1) is a private address'],
      ['http://[2002:a00:1::]/', '2002:a00:1:: is a 6to4 tunnel address'],
      ['http://[fd12:3456::1]/', 'fd12:3456::1 is a unique local address'],
      ['http://[fe80::1]/', 'fe80::1 is a link-local address'],
    ])('refuses %s: %s', async (url, reason) => {
      const { urls, lookup } = policy();
      const error = await refusal(urls, url);
      expect(error.reason).toContain(reason);
      expect(error.reason).toContain('add its network to the allowedNetworks option');
      expect(lookup).not.toHaveBeenCalled();
    });

    it('shows the URL as the user wrote it and suggests the narrowest allowedNetworks entry', async () => {
      const error = await refusal(policy().urls, 'http://2130706433/hooks');
      expect(error.message).toBe(
        "Endpoint URL 'http://2130706433/hooks' was refused: 127.0.0.1 is a loopback address; " +
          'webhooks are only delivered to public addresses; if this endpoint is meant to be ' +
          "internal, add its network to the allowedNetworks option, e.g. '127.0.0.1/32'.",
      );
    });
  });

  describe('host names', () => {
    it('refuses localhost, which resolves to loopback', async () => {
      const error = await refusal(policy().urls, 'http://localhost:3000/hooks');
      expect(error.reason).toContain(
        'its host localhost resolves to 127.0.0.1, and 127.0.0.1 is a loopback address',
      );
    });

    it('refuses a name when any of its addresses is refused, not only the first', async () => {
      const error = await refusal(policy().urls, 'https://mixed.test/hooks');
      expect(error.reason).toContain('resolves to 10.0.0.5, and 10.0.0.5 is a private address');
      expect(error.reason).toContain("e.g. '10.0.0.5/32'");
    });

    it('refuses names that resolve to the metadata service or to IPv4-mapped loopback', async () => {
      const { urls } = policy();
      expect((await refusal(urls, 'http://metadata.test/')).reason).toContain(
        '169.254.169.254 is a link-local address',
      );
      expect((await refusal(urls, 'http://mapped.test/')).reason).toContain(
        '::ffff:127.0.0.1 (IPv4-mapped 127.0.0.1) is a loopback address',
      );
    });

    it('says so when a name does not resolve', async () => {
      const { urls } = policy();
      expect((await refusal(urls, 'https://nxdomain.test/hooks')).reason).toBe(
        'its host nxdomain.test does not resolve (ENOTFOUND); check the spelling, or add the ' +
          'endpoint once the name exists in DNS',
      );
      expect((await refusal(urls, 'https://empty.test/hooks')).reason).toContain(
        'its host empty.test does not resolve;',
      );
    });
  });

  describe('with allowedNetworks', () => {
    it("['127.0.0.0/8'] allows loopback IPv4 in every spelling, but not 10.0.0.1", async () => {
      const { urls } = policy(['127.0.0.0/8']);
      for (const url of [
        'http://127.0.0.1:3000/hooks',
        'http://2130706433/',
        'http://0x7f.1/',
        'http://0177.0.0.1/',
        'http://[::ffff:127.0.0.1]/',
        'http://mapped.test/',
      ]) {
        await expect(urls.assertAllowed(url), url).resolves.toBeInstanceOf(URL);
      }
      await refusal(urls, 'http://10.0.0.1/');
      // localhost also resolves to ::1, which 127.0.0.0/8 does not cover.
      expect((await refusal(urls, 'http://localhost/')).reason).toContain('::1 is a loopback');
    });

    it("['127.0.0.0/8', '::1/128'] allows localhost", async () => {
      const { urls } = policy(['127.0.0.0/8', '::1/128']);
      await expect(urls.assertAllowed('http://localhost:3000/hooks')).resolves.toBeInstanceOf(URL);
      await expect(urls.assertAllowed('http://[::1]:3000/hooks')).resolves.toBeInstanceOf(URL);
    });
  });
});

describe('redactUrl', () => {
  it.each([
    ['https://alice:pw@example.com/a?b=c', 'https://***:***@example.com/a?b=c'],
    ['https://alice@example.com/', 'https://***@example.com/'],
    ['https://example.com/a@b', 'https://example.com/a@b'],
    ['https://example.com/hooks', 'https://example.com/hooks'],
    ['http://alice:p@ss@example.com/', 'http://***:***@example.com/'],
    ['http://alice:pw@exa mple.com/', 'http://***@exa mple.com/'],
    ['alice:pw@', '***@'],
    ['alice:pw@example.com/hooks', '***@example.com/hooks'],
    ['ftp://alice:pw@example.com/', 'ftp://***:***@example.com/'],
    ['ssh:alice:pw@example.com', '***@example.com'],
    ['no url at all', 'no url at all'],
  ])('%s -> %s', (url, shown) => {
    expect(redactUrl(url)).toBe(shown);
  });

  it('accepts URL objects', () => {
    expect(redactUrl(new URL('https://alice:pw@example.com/'))).toBe(
      'https://***:***@example.com/',
    );
  });
});
