import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { isIP, type LookupFunction } from 'node:net';
import { connectRefused, hostNotFound } from '../webhooks.messages.js';
import { AddressPolicy, hostCidr, stripBrackets } from './address-policy.js';
import type { DnsLookup } from './url-policy.js';

/** A delivery was about to connect to an address the policy refuses; nothing was sent. */
export class AddressRefusedError extends Error {
  override readonly name = 'AddressRefusedError';
  readonly code = 'ERR_WEBHOOK_ADDRESS_REFUSED';

  constructor(
    readonly hostname: string,
    readonly address: string,
    readonly reason: string,
  ) {
    super(connectRefused(hostname, address, reason, hostCidr(address)));
  }
}

/**
 * A `net.LookupFunction` (for `http.Agent({ lookup })` and undici's `connect.lookup`) that
 * checks every address a name resolves to at connect time, so a name that passed when the
 * endpoint was added cannot be re-pointed at an internal address (DNS rebinding).
 */
export function guardedLookup(
  policy: AddressPolicy,
  lookup: DnsLookup = dnsLookup,
): LookupFunction {
  return (hostname, options, callback) => {
    // Always ask for all addresses so that none slips past the check, then answer in the
    // shape the caller asked for: `all: true` comes from Happy Eyeballs (autoSelectFamily).
    lookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, options?.all ? [] : '');
      if (addresses.length === 0) {
        const notFound: NodeJS.ErrnoException = new Error(hostNotFound(hostname));
        notFound.code = 'ENOTFOUND';
        return callback(notFound, options?.all ? [] : '');
      }
      const refused = firstRefused(policy, hostname, addresses);
      if (refused) return callback(refused, options?.all ? [] : '');
      if (options?.all) return callback(null, addresses);
      return callback(null, addresses[0].address, addresses[0].family);
    });
  };
}

/**
 * Throws `AddressRefusedError` when `hostname` is an IP literal the policy refuses. Node and
 * undici never call `lookup` for IP literals, so transports call this before sending to a URL
 * (the undici transport once per endpoint URL: the policy never changes).
 */
export function assertConnectAllowed(policy: AddressPolicy, hostname: string): void {
  const literal = stripBrackets(hostname);
  if (!isIP(literal)) return;
  const reason = policy.check(literal);
  if (reason) throw new AddressRefusedError(literal, literal, reason);
}

function firstRefused(
  policy: AddressPolicy,
  hostname: string,
  addresses: readonly LookupAddress[],
): AddressRefusedError | undefined {
  for (const { address } of addresses) {
    const reason = policy.check(address);
    if (reason) return new AddressRefusedError(hostname, address, reason);
  }
  return undefined;
}
