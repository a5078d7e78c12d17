import ipaddr from 'ipaddr.js';
import { describe, expect, it } from 'vitest';
import { AddressPolicy, hostCidr, stripBrackets } from '../../lib/endpoints/address-policy.js';

// Addresses here are only classified, never connected to.
describe('AddressPolicy', () => {
  const policy = new AddressPolicy([]);

  describe('refuses every non-public range', () => {
    it.each([
      ['127.0.0.1', 'loopback'],
      ['127.255.255.254', 'loopback'],
      ['10.0.0.1', 'private address (RFC 1918)'],
      ['172.16.0.1', 'private address (RFC 1918)'],
      ['172.31.255.255', 'private address (RFC 1918)'],
      ['192.168.1.1', 'private address (RFC 1918)'],
      ['169.254.169.254', 'link-local'],
      ['100.64.0.1', 'carrier-grade NAT'],
      ['100.127.255.255', 'carrier-grade NAT'],
      ['0.0.0.0', 'unspecified'],
      ['0.1.2.3', 'unspecified'],
      ['224.0.0.1', 'multicast'],
      ['239.255.255.250', 'multicast'],
      ['255.255.255.255', 'broadcast'],
      ['240.0.0.1', 'reserved'],
      ['192.0.0.1', 'reserved'],
      ['192.0.2.1', 'reserved or documentation'],
      ['198.51.100.1', 'reserved or documentation'],
      ['203.0.113.1', 'reserved or documentation'],
      ['198.18.0.1', 'reserved'],
      ['198.19.255.255', 'reserved'],
      ['192.88.99.1', 'reserved'],
      ['192.175.48.1', 'AS112'],
      ['192.52.193.1', 'AMT'],
      ['::1', 'loopback'],
      ['::', 'unspecified'],
      ['fc00::1', 'unique local'],
      ['fd12:3456::1', 'unique local'],
      ['fe80::1', 'link-local'],
      ['fe80::1%eth0', 'link-local'],
      ['fec0::1', 'site-local'],
      ['ff02::1', 'multicast'],
      ['2001:db8::1', 'reserved or documentation'],
      ['3fff::1', 'reserved'],
      ['2001:2::1', 'benchmarking'],
      ['2001:3::1', 'AMT'],
      ['2001:4:112::1', 'AS112'],
      ['2001:10::1', 'ORCHID'],
      ['2001:20::1', 'ORCHIDv2'],
      ['2001:30::1', 'drone remote ID'],
      ['100::1', 'discard-only'],
      ['5f00::1', 'segment routing'],
      ['2001::1', 'Teredo'],
      ['2001:0:4136:e378:8000:63bf:f5ff:fffe', 'Teredo'],
      ['2002:0a00:0001::', '6to4'],
      ['2002:c0a8:0101::1', '6to4'],
      // Refused even when the embedded IPv4 is public: 6to4 is deprecated (RFC 7526).
      ['2002:808:808::', '6to4'],
      ['::ffff:0:a00:1', 'IPv4-translated'],
      ['64:ff9b:1::a00:1', 'local-use NAT64'],
    ])('%s is refused as %s', (address, kind) => {
      const reason = policy.check(address);
      expect(reason).toBeDefined();
      expect(reason).toContain(address);
      expect(reason).toContain(kind);
    });

    it('says it in a short sentence', () => {
      expect(policy.check('127.0.0.1')).toBe('127.0.0.1 is a loopback address');
    });
  });

  describe('judges IPv6 forms that embed an IPv4 address by that address', () => {
    it.each([
      ['::ffff:127.0.0.1', 'IPv4-mapped 127.0.0.1', 'loopback'],
      ['::ffff:7f00:1', 'IPv4-mapped 127.0.0.1', 'loopback'],
      ['::ffff:10.0.0.1', 'IPv4-mapped 10.0.0.1', 'private'],
      ['::ffff:169.254.169.254', 'IPv4-mapped 169.254.169.254', 'link-local'],
      ['::ffff:100.64.0.1', 'IPv4-mapped 100.64.0.1', 'carrier-grade NAT'],
      ['::ffff:0.0.0.0', 'IPv4-mapped 0.0.0.0', 'unspecified'],
      ['0:0:0:0:0:ffff:7f00:1', 'IPv4-mapped 127.0.0.1', 'loopback'],
      // ipaddr.js reads the dotted form as IPv4-mapped, the hex form (what URL prints) as unicast.
      ['::127.0.0.1', 'IPv4-mapped 127.0.0.1', 'loopback'],
      ['::7f00:1', 'IPv4-compatible 127.0.0.1', 'loopback'],
      ['::a00:1', 'IPv4-compatible 10.0.0.1', 'private'],
      ['::2', 'IPv4-compatible 0.0.0.2', 'unspecified'],
      ['64:ff9b::a00:1', 'NAT64 10.0.0.1', 'private'],
      ['64:ff9b::127.0.0.1', 'NAT64 127.0.0.1', 'loopback'],
      ['64:ff9b::a9fe:a9fe', 'NAT64 169.254.169.254', 'link-local'],
    ])('%s (%s) is refused as %s', (address, embedded, kind) => {
      const reason = policy.check(address);
      expect(reason).toContain(`${address} (${embedded})`);
      expect(reason).toContain(kind);
    });

    it.each(['::ffff:8.8.8.8', '::ffff:808:808', '::808:808', '64:ff9b::808:808'])(
      '%s embeds the public 8.8.8.8 and is allowed',
      (address) => expect(policy.check(address)).toBeUndefined(),
    );
  });

  it.each([
    '8.8.8.8',
    '1.1.1.1',
    '93.184.216.34',
    '100.63.255.255',
    '100.128.0.0',
    '172.15.255.255',
    '172.32.0.0',
    '2606:4700::1111',
    '2001:4860:4860::8888',
    '2a00:1450:4001:82b::200e',
  ])('allows the public unicast address %s', (address) => {
    expect(policy.check(address)).toBeUndefined();
  });

  it.each(['localhost', 'example.com', '', '127.1', '2130706433', '0x7f.0.0.1', '1.2.3.4.5'])(
    'refuses %j, which is not a canonical IP literal',
    (value) => {
      expect(policy.check(value)).toBe(`'${value}' is not an IP address`);
    },
  );

  it('accepts bracketed IPv6 literals as URL.hostname gives them', () => {
    expect(policy.check('[::1]')).toBe('[::1] is a loopback address');
    expect(policy.check('[2606:4700::1111]')).toBeUndefined();
  });

  // Guards the "only unicast passes" rule against a newer ipaddr.js adding ranges: the first
  // address of every labelled range must be refused, with a phrase of its own.
  it('refuses the first address of every range ipaddr.js labels, naming it', () => {
    type Ranges = Record<
      string,
      [ipaddr.IPv4 | ipaddr.IPv6, number] | [ipaddr.IPv4 | ipaddr.IPv6, number][]
    >;
    const tables = [
      (ipaddr.IPv4.prototype as unknown as { SpecialRanges: Ranges }).SpecialRanges,
      (ipaddr.IPv6.prototype as unknown as { SpecialRanges: Ranges }).SpecialRanges,
    ];
    let checked = 0;
    for (const table of tables) {
      for (const [label, subnets] of Object.entries(table)) {
        const list = Array.isArray(subnets[0])
          ? (subnets as [ipaddr.IPv4 | ipaddr.IPv6, number][])
          : [subnets as [ipaddr.IPv4 | ipaddr.IPv6, number]];
        for (const [network] of list) {
          const reason = policy.check(network.toString());
          expect(reason, `${label} ${network.toString()}`).toBeDefined();
          expect(reason, label).not.toContain('special-purpose');
          checked++;
        }
      }
    }
    expect(checked).toBeGreaterThan(30);
  });

  describe('allowedNetworks', () => {
    it("['127.0.0.0/8'] allows loopback IPv4 and its mapped forms, nothing else", () => {
      const local = new AddressPolicy(['127.0.0.0/8']);
      expect(local.check('127.0.0.1')).toBeUndefined();
      expect(local.check('127.255.255.254')).toBeUndefined();
      expect(local.check('::ffff:127.0.0.1')).toBeUndefined();
      expect(local.check('::ffff:7f00:1')).toBeUndefined();
      expect(local.check('::7f00:1')).toBeUndefined();
      expect(local.check('10.0.0.1')).toBe('10.0.0.1 is a private address (RFC 1918)');
      expect(local.check('::ffff:10.0.0.1')).toContain('private');
      expect(local.check('::1')).toBe('::1 is a loopback address');
      expect(local.check('8.8.8.8')).toBeUndefined();
    });

    it("['::1/128'] allows ::1 but not 127.0.0.1", () => {
      const local = new AddressPolicy(['::1/128']);
      expect(local.check('::1')).toBeUndefined();
      expect(local.check('[::1]')).toBeUndefined();
      expect(local.check('127.0.0.1')).toContain('loopback');
    });

    it('matches IPv6 networks and IPv4-mapped networks written in IPv6', () => {
      const internal = new AddressPolicy(['fd00::/8', '::ffff:10.0.0.0/104']);
      expect(internal.check('fd12:3456::1')).toBeUndefined();
      expect(internal.check('fc00::1')).toContain('unique local');
      expect(internal.check('10.1.2.3')).toBeUndefined();
      expect(internal.check('::ffff:10.1.2.3')).toBeUndefined();
      expect(internal.check('11.0.0.1')).toBeUndefined();
      expect(internal.check('192.168.0.1')).toContain('private');
    });

    it('tolerates blanks around entries and host bits inside them', () => {
      const local = new AddressPolicy([' 192.168.1.7/24 ']);
      expect(local.check('192.168.1.200')).toBeUndefined();
      expect(local.check('192.168.2.1')).toContain('private');
    });

    it.each([
      ['not-a-cidr', 'is not an IPv4 CIDR'],
      ['10/8', 'is not an IPv4 CIDR'],
      ['10.0.0.0/33', 'is not an IPv4 CIDR'],
      ['fd00::/129', 'is not an IPv4 CIDR'],
      ['10.0.0.0/', 'is not an IPv4 CIDR'],
      ['', 'is not an IPv4 CIDR'],
      ['10.0.0.1', "write '10.0.0.1/32'"],
      ['::1', "write '::1/128'"],
    ])('rejects the bad entry %j, saying why and what to write', (entry, problem) => {
      const create = () => new AddressPolicy(['127.0.0.0/8', entry]);
      expect(create).toThrow(`allowedNetworks has an invalid entry ${JSON.stringify(entry)}`);
      expect(create).toThrow(problem);
      expect(create).toThrow("e.g. '10.0.0.0/8'");
    });

    it('rejects a list that is not an array', () => {
      expect(() => new AddressPolicy('127.0.0.0/8' as unknown as string[])).toThrow(
        `allowedNetworks must be an array of CIDR strings, e.g. ['127.0.0.0/8'] (got "127.0.0.0/8")`,
      );
    });

    it('rejects an entry that is not a string', () => {
      expect(() => new AddressPolicy([42 as unknown as string])).toThrow(
        'invalid entry 42: it is not a string',
      );
    });
  });
});

describe('address helpers', () => {
  it('stripBrackets unwraps IPv6 URL hosts only', () => {
    expect(stripBrackets('[::1]')).toBe('::1');
    expect(stripBrackets('::1')).toBe('::1');
    expect(stripBrackets('example.com')).toBe('example.com');
  });

  it('hostCidr suggests the narrowest network, in IPv4 for embedded IPv4', () => {
    expect(hostCidr('127.0.0.1')).toBe('127.0.0.1/32');
    expect(hostCidr('[::1]')).toBe('::1/128');
    expect(hostCidr('::ffff:7f00:1')).toBe('127.0.0.1/32');
    expect(hostCidr('64:ff9b::a00:1')).toBe('10.0.0.1/32');
    expect(hostCidr('fd12:3456::1')).toBe('fd12:3456::1/128');
  });

  it('a suggested network does allow the address', () => {
    for (const address of ['10.0.0.1', '::1', '::ffff:10.0.0.1', '64:ff9b::a00:1', 'fe80::1']) {
      expect(new AddressPolicy([hostCidr(address)]).check(address), address).toBeUndefined();
    }
  });
});
