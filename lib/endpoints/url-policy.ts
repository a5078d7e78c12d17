import { lookup as dnsLookup, type LookupAddress, type LookupAllOptions } from 'node:dns';
import { isIP } from 'node:net';
import { WebhookEndpointUrlError } from '../webhooks.errors.js';
import {
  urlAddressRefused,
  urlHasCredentials,
  urlHostDoesNotResolve,
  urlHostResolvesToRefused,
  urlNotParsable,
  urlSchemeNotAllowed,
  urlTooLong,
} from '../webhooks.messages.js';
import { AddressPolicy, hostCidr, stripBrackets } from './address-policy.js';

/** The `dns.lookup(hostname, { all: true }, callback)` shape this module resolves names with. */
export type DnsLookup = (
  hostname: string,
  options: LookupAllOptions,
  callback: (err: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void,
) => void;

/**
 * Admits an endpoint URL only when it is http(s), carries no credentials, and its host (an IP
 * literal, or every address its name resolves to) passes the address policy.
 */
export class UrlPolicy {
  constructor(
    private readonly addresses: AddressPolicy,
    private readonly lookup: DnsLookup = dnsLookup,
  ) {}

  /** Resolves to the parsed URL, or rejects with `WebhookEndpointUrlError` saying why not. */
  async assertAllowed(input: string): Promise<URL> {
    const refuse = (reason: string) => new WebhookEndpointUrlError(shownUrl(input), reason);
    if (input.length > MAX_URL_LENGTH) throw refuse(urlTooLong(input.length, MAX_URL_LENGTH));
    let url: URL;
    try {
      url = new URL(input);
    } catch {
      throw refuse(urlNotParsable());
    }
    // Percent-encoding and punycode make the stored form longer than what was given.
    if (url.href.length > MAX_URL_LENGTH) {
      throw refuse(urlTooLong(url.href.length, MAX_URL_LENGTH));
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw refuse(urlSchemeNotAllowed());
    }
    if (url.username || url.password) throw refuse(urlHasCredentials());

    // WHATWG URL has already turned 2130706433, 0x7f.1 and 0177.0.0.1 into 127.0.0.1.
    const host = stripBrackets(url.hostname);
    if (isIP(host)) {
      const reason = this.addresses.check(host);
      if (reason) throw refuse(urlAddressRefused(reason, hostCidr(host)));
      return url;
    }

    let resolved: LookupAddress[];
    try {
      resolved = await resolveAll(this.lookup, host);
    } catch (error) {
      throw refuse(urlHostDoesNotResolve(host, (error as NodeJS.ErrnoException).code));
    }
    if (resolved.length === 0) throw refuse(urlHostDoesNotResolve(host, undefined));
    // Every address, not only the first: the client may connect to any of them.
    for (const { address } of resolved) {
      const reason = this.addresses.check(address);
      if (reason) throw refuse(urlHostResolvesToRefused(host, address, reason, hostCidr(address)));
    }
    return url;
  }
}

/** The longest endpoint URL accepted, in characters: the URL is stored and sent as given. */
export const MAX_URL_LENGTH = 2048;
/** How much of a refused URL its error shows. */
const SHOWN_URL_LENGTH = 200;

/** A refused URL as its error shows it: credentials masked, and cut short if it is long. */
function shownUrl(input: string): string {
  const redacted = redactUrl(input.slice(0, MAX_URL_LENGTH));
  return redacted.length > SHOWN_URL_LENGTH ? `${redacted.slice(0, SHOWN_URL_LENGTH)}…` : redacted;
}

/** `url` with its username and password replaced by `***`, safe to show in messages and logs. */
export function redactUrl(url: string | URL): string {
  const text = String(url);
  let parsed: URL;
  try {
    parsed = new URL(text);
  } catch {
    return redactGuessedUserinfo(text);
  }
  if (parsed.username || parsed.password) {
    if (parsed.username) parsed.username = '***';
    if (parsed.password) parsed.password = '***';
    return parsed.href;
  }
  // 'alice:pw@example.com/hooks' (scheme forgotten) parses as scheme 'alice', so only an
  // http(s) URL without userinfo is known to hold no credentials.
  return parsed.protocol === 'http:' || parsed.protocol === 'https:'
    ? text
    : redactGuessedUserinfo(text);
}

// Where userinfo ends in a string that is not a well-formed http(s) URL is a guess: hide
// everything up to the last '@' after the '//', at the cost of hiding a harmless '@' in a path.
function redactGuessedUserinfo(text: string): string {
  const at = text.lastIndexOf('@');
  if (at < 0) return text;
  const slashes = text.indexOf('//');
  const from = slashes >= 0 && slashes < at ? slashes + 2 : 0;
  return `${text.slice(0, from)}***${text.slice(at)}`;
}

function resolveAll(lookup: DnsLookup, hostname: string): Promise<LookupAddress[]> {
  return new Promise((resolve, reject) =>
    lookup(hostname, { all: true }, (err, addresses) => (err ? reject(err) : resolve(addresses))),
  );
}
