import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';
import type { IPv4, IPv6 } from 'ipaddr.js';
import {
  addressRefused,
  allowedNetworkMalformed,
  allowedNetworkNotString,
  allowedNetworksNotArray,
  allowedNetworkWithoutPrefix,
  invalidAllowedNetwork,
  notAnIpAddress,
} from '../webhooks.messages.js';

type Address = IPv4 | IPv6;

const VERDICT_CACHE_LIMIT = 4096;
type Network = [Address, number];

/** How an IPv6 address carries the IPv4 address it is judged by. */
type Embedding = 'IPv4-mapped' | 'IPv4-compatible' | 'NAT64';

const NAT64_WELL_KNOWN = ipaddr.IPv6.parseCIDR('64:ff9b::/96');
const IPV4_MAPPED = ipaddr.IPv6.parseCIDR('::ffff:0:0/96');

/**
 * Decides which IP addresses webhooks may be delivered to: public unicast ones, plus those
 * inside `allowedNetworks`. Every other ipaddr.js range (loopback, private, link-local, ...) is
 * refused, so a range that a newer ipaddr.js learns to name is refused without a code change.
 */
export class AddressPolicy {
  private readonly networks: readonly Network[];
  /**
   * The `allowedNetworks` entries that allow a whole address family (`0.0.0.0/0`, `::/0`,
   * `::ffff:0:0/96`), which switches the guard off for it: worth a warning at bootstrap.
   */
  readonly catchAll: readonly { entry: string; family: 'IPv4' | 'IPv6' }[];
  // Every attempt is checked (at connect time, or before it for an IP literal) against the
  // same few addresses; the verdict never changes, since the policy cannot.
  private readonly verdicts = new Map<string, string | undefined>();

  constructor(allowedNetworks: readonly string[] = []) {
    // Options may come from untyped config (env, JSON), so their shape is checked too.
    if (!Array.isArray(allowedNetworks)) throw new Error(allowedNetworksNotArray(allowedNetworks));
    const parsed = allowedNetworks.map((entry) => ({ entry, networks: parseNetwork(entry) }));
    this.networks = parsed.flatMap(({ networks }) => networks);
    this.catchAll = parsed.flatMap(({ entry, networks }) =>
      networks
        .filter(([, bits]) => bits === 0)
        .map(([network]) => ({
          entry: entry.trim(),
          family: network.kind() === 'ipv4' ? ('IPv4' as const) : ('IPv6' as const),
        })),
    );
  }

  /** `undefined` when `address` (an IP literal) may be connected to, else why not. */
  check(address: string): string | undefined {
    if (this.verdicts.has(address)) return this.verdicts.get(address);
    const verdict = this.judge(address);
    // Bounded: a receiver behind round-robin DNS must not make the cache grow for ever.
    if (this.verdicts.size >= VERDICT_CACHE_LIMIT) this.verdicts.clear();
    this.verdicts.set(address, verdict);
    return verdict;
  }

  private judge(address: string): string | undefined {
    const literal = stripBrackets(address);
    if (!isIP(literal)) return notAnIpAddress(address);
    const ip = ipaddr.parse(literal);
    const embedded = ip.kind() === 'ipv6' ? embeddedIPv4(ip as IPv6) : undefined;
    if (this.allows(ip) || (embedded && this.allows(embedded.ipv4))) return undefined;

    const judged = embedded?.ipv4 ?? ip;
    const range = judged.range();
    if (range === 'unicast') return undefined;
    return addressRefused(
      address,
      range,
      embedded && { form: embedded.form, ipv4: embedded.ipv4.toString() },
    );
  }

  private allows(ip: Address): boolean {
    return this.networks.some(
      ([network, bits]) => network.kind() === ip.kind() && ip.match(network, bits),
    );
  }
}

/** `[::1]` -> `::1`, as `URL.hostname` brackets IPv6 literals and `net` wants them bare. */
export function stripBrackets(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

/** The narrowest `allowedNetworks` entry that would allow `address`, for hints in messages. */
export function hostCidr(address: string): string {
  const literal = stripBrackets(address);
  if (!isIP(literal)) return literal;
  const ip = ipaddr.parse(literal);
  const ipv4 = ip.kind() === 'ipv6' ? embeddedIPv4(ip as IPv6)?.ipv4 : (ip as IPv4);
  return ipv4 ? `${ipv4.toString()}/32` : `${ip.toString()}/128`;
}

// IPv6 forms that stand for an IPv4 address are judged by that address: otherwise
// ::ffff:127.0.0.1 would pass as an IPv6 address that ipaddr.js does not label loopback.
function embeddedIPv4(ip: IPv6): { form: Embedding; ipv4: IPv4 } | undefined {
  if (ip.isIPv4MappedAddress()) return { form: 'IPv4-mapped', ipv4: ip.toIPv4Address() };
  // ipaddr.js labels ::/96 (deprecated IPv4-compatible, RFC 4291) 'unicast', except :: and ::1.
  if (ip.range() === 'unicast' && ip.parts.slice(0, 6).every((part) => part === 0)) {
    return { form: 'IPv4-compatible', ipv4: lowIPv4(ip) };
  }
  // DNS64 resolvers hand out 64:ff9b::/96 for IPv4-only hosts; refusing it wholesale would
  // break IPv6-only deployments, so it is as allowed as the IPv4 address it translates to.
  if (ip.match(NAT64_WELL_KNOWN)) return { form: 'NAT64', ipv4: lowIPv4(ip) };
  return undefined;
}

function lowIPv4(ip: IPv6): IPv4 {
  const [high, low] = ip.parts.slice(6);
  return new ipaddr.IPv4([high >> 8, high & 0xff, low >> 8, low & 0xff]);
}

function parseNetwork(entry: unknown): Network[] {
  if (typeof entry !== 'string') {
    throw new Error(invalidAllowedNetwork(entry, allowedNetworkNotString()));
  }
  const text = entry.trim();
  // FourPartDecimal: ipaddr.js would otherwise read '10/8' as 0.0.0.10/8.
  if (ipaddr.IPv4.isValidCIDRFourPartDecimal(text)) return [ipaddr.IPv4.parseCIDR(text)];
  if (ipaddr.IPv6.isValidCIDR(text)) {
    const network = ipaddr.IPv6.parseCIDR(text);
    const [ip, bits] = network;
    // '::ffff:10.0.0.0/104' means 10.0.0.0/8, and IPv4-mapped addresses are judged as IPv4.
    if (bits >= 96 && ip.match(IPV4_MAPPED)) return [network, [ip.toIPv4Address(), bits - 96]];
    return [network];
  }
  const family = isIP(text);
  if (family) {
    throw new Error(
      invalidAllowedNetwork(entry, allowedNetworkWithoutPrefix(text, family === 4 ? 32 : 128)),
    );
  }
  throw new Error(invalidAllowedNetwork(entry, allowedNetworkMalformed()));
}
