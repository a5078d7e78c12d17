import type { LookupAddress } from 'node:dns';
import { isIP } from 'node:net';
import { vi } from 'vitest';
import type { DnsLookup } from '../../lib/endpoints/url-policy.js';

/**
 * A DNS lookup (spied on) that answers from `zone` only, asynchronously like the real one:
 * tests never touch real DNS. Honours `family`; an unknown name fails with ENOTFOUND.
 */
export function zoneLookup(zone: Record<string, string[]>) {
  return vi.fn<DnsLookup>((hostname, options, callback) => {
    const family = options.family === 'IPv4' ? 4 : options.family === 'IPv6' ? 6 : options.family;
    setImmediate(() => {
      const addresses = zone[hostname];
      if (!addresses) {
        const error: NodeJS.ErrnoException = new Error(`getaddrinfo ENOTFOUND ${hostname}`);
        error.code = 'ENOTFOUND';
        return callback(error, []);
      }
      callback(
        null,
        addresses
          .map((address): LookupAddress => ({ address, family: isIP(address) }))
          .filter((entry) => !family || entry.family === family),
      );
    });
  });
}
