import { createServer, get, Agent as HttpAgent, type Server } from 'node:http';
import type { AddressInfo, LookupFunction } from 'node:net';
import { Agent as UndiciAgent, request as undiciRequest } from 'undici';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AddressPolicy } from '../../lib/endpoints/address-policy.js';
import {
  AddressRefusedError,
  assertConnectAllowed,
  guardedLookup,
} from '../../lib/endpoints/connect-guard.js';
import { zoneLookup } from '../support/fake-dns.js';

// The only traffic here goes to a server on 127.0.0.1; names resolve through this table.
const zone: Record<string, string[]> = {
  'rebind.test': ['127.0.0.1'],
  'public.test': ['93.184.216.34', '2606:4700::1111'],
  'mixed.test': ['93.184.216.34', '10.0.0.5'],
  'empty.test': [],
};

const fakeLookup = zoneLookup(zone);

const refusing = new AddressPolicy([]);
const loopbackAllowed = new AddressPolicy(['127.0.0.0/8']);

/** Calls a LookupFunction the way `net` does and reports what it answered. */
function callLookup(
  lookup: LookupFunction,
  hostname: string,
  options: { all?: boolean; family?: number },
) {
  return new Promise<{ err: NodeJS.ErrnoException | null; address: unknown; family?: number }>(
    (resolve) =>
      lookup(hostname, options, (err, address, family) => resolve({ err, address, family })),
  );
}

// A block body: vitest would call a function returned from beforeEach as a cleanup hook.
beforeEach(() => {
  fakeLookup.mockClear();
});

describe('guardedLookup', () => {
  it('answers a single address when all is false, as net.connect asks without Happy Eyeballs', async () => {
    const answer = await callLookup(guardedLookup(refusing, fakeLookup), 'public.test', {});
    expect(answer).toEqual({ err: null, address: '93.184.216.34', family: 4 });
  });

  it('answers every address when all is true, as Happy Eyeballs asks', async () => {
    const answer = await callLookup(guardedLookup(refusing, fakeLookup), 'public.test', {
      all: true,
    });
    expect(answer.err).toBeNull();
    expect(answer.address).toEqual([
      { address: '93.184.216.34', family: 4 },
      { address: '2606:4700::1111', family: 6 },
    ]);
  });

  it('always resolves every address, passing the caller options through', async () => {
    await callLookup(guardedLookup(refusing, fakeLookup), 'public.test', { family: 4 });
    expect(fakeLookup.mock.calls[0].slice(0, 2)).toEqual(['public.test', { family: 4, all: true }]);
  });

  it.each([false, true])('refuses a name resolving to loopback (all: %s)', async (all) => {
    const { err } = await callLookup(guardedLookup(refusing, fakeLookup), 'rebind.test', { all });
    expect(err).toBeInstanceOf(AddressRefusedError);
    expect(err).toMatchObject({
      code: 'ERR_WEBHOOK_ADDRESS_REFUSED',
      hostname: 'rebind.test',
      address: '127.0.0.1',
      reason: '127.0.0.1 is a loopback address',
    });
    expect(err?.message).toBe(
      'Refused to connect to rebind.test at 127.0.0.1 for a webhook delivery: 127.0.0.1 is a ' +
        'loopback address (the name may have been re-pointed since the endpoint was added). ' +
        'Webhooks are only delivered to public addresses; if this endpoint is meant to be ' +
        "internal, add its network to the allowedNetworks option, e.g. '127.0.0.1/32'.",
    );
  });

  it('refuses a name when any address is refused, even one the caller would not pick', async () => {
    const { err } = await callLookup(guardedLookup(refusing, fakeLookup), 'mixed.test', {});
    expect(err).toMatchObject({ code: 'ERR_WEBHOOK_ADDRESS_REFUSED', address: '10.0.0.5' });
  });

  it('passes resolver errors through, and reports an empty answer as ENOTFOUND', async () => {
    const lookup = guardedLookup(refusing, fakeLookup);
    expect((await callLookup(lookup, 'nxdomain.test', {})).err).toMatchObject({
      code: 'ENOTFOUND',
    });
    const empty = await callLookup(lookup, 'empty.test', { all: true });
    expect(empty.err).toMatchObject({ code: 'ENOTFOUND' });
    expect(empty.err?.message).toContain('empty.test');
  });

  it('lets allowedNetworks through', async () => {
    const answer = await callLookup(guardedLookup(loopbackAllowed, fakeLookup), 'rebind.test', {});
    expect(answer).toEqual({ err: null, address: '127.0.0.1', family: 4 });
  });
});

describe('assertConnectAllowed', () => {
  it.each(['127.0.0.1', '[::1]', '::1', '[::ffff:7f00:1]', '10.0.0.1', '169.254.169.254'])(
    'refuses the IP literal %s',
    (host) => {
      expect(() => assertConnectAllowed(refusing, host)).toThrow(AddressRefusedError);
    },
  );

  it('names the address, the reason and the fix', () => {
    const error = (() => {
      try {
        assertConnectAllowed(refusing, '[::1]');
      } catch (error) {
        return error as AddressRefusedError;
      }
    })();
    expect(error).toMatchObject({
      code: 'ERR_WEBHOOK_ADDRESS_REFUSED',
      hostname: '::1',
      address: '::1',
      reason: '::1 is a loopback address',
    });
    expect(error?.message).toBe(
      'Refused to connect to ::1 for a webhook delivery: ::1 is a loopback address. Webhooks ' +
        'are only delivered to public addresses; if this endpoint is meant to be internal, add ' +
        "its network to the allowedNetworks option, e.g. '::1/128'.",
    );
  });

  it('allows public literals, allowed networks, and leaves names to guardedLookup', () => {
    expect(() => assertConnectAllowed(refusing, '93.184.216.34')).not.toThrow();
    expect(() => assertConnectAllowed(refusing, '[2606:4700::1111]')).not.toThrow();
    expect(() => assertConnectAllowed(loopbackAllowed, '127.0.0.1')).not.toThrow();
    expect(() => assertConnectAllowed(refusing, 'rebind.test')).not.toThrow();
  });
});

describe('at connect time, against a real server on 127.0.0.1', () => {
  let server: Server;
  let port: number;
  let received = 0;

  beforeAll(async () => {
    server = createServer((_request, response) => {
      received++;
      response.end('ok');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  beforeEach(() => {
    received = 0;
  });

  function httpGet(url: string, agent: HttpAgent) {
    return new Promise<number>((resolve, reject) => {
      get(url, { agent }, (response) => {
        response.resume();
        response.on('end', () => resolve(response.statusCode ?? 0));
      }).on('error', reject);
    });
  }

  describe('node:http Agent({ lookup })', () => {
    // autoSelectFamily true makes net ask for all addresses; false asks for one.
    it.each([true, false])(
      'refuses rebind.test -> 127.0.0.1 before connecting (autoSelectFamily: %s)',
      async (autoSelectFamily) => {
        const agent = new HttpAgent({
          lookup: guardedLookup(refusing, fakeLookup),
          autoSelectFamily,
        });
        try {
          const error = await httpGet(`http://rebind.test:${port}/`, agent).catch(
            (e: unknown) => e,
          );
          expect(error).toBeInstanceOf(AddressRefusedError);
          expect(error).toMatchObject({
            code: 'ERR_WEBHOOK_ADDRESS_REFUSED',
            hostname: 'rebind.test',
          });
          expect(fakeLookup).toHaveBeenCalled();
          expect(received).toBe(0);
        } finally {
          agent.destroy();
        }
      },
    );

    it.each([true, false])(
      "connects to rebind.test when allowedNetworks is ['127.0.0.0/8'] (autoSelectFamily: %s)",
      async (autoSelectFamily) => {
        const agent = new HttpAgent({
          lookup: guardedLookup(loopbackAllowed, fakeLookup),
          autoSelectFamily,
        });
        try {
          expect(await httpGet(`http://rebind.test:${port}/`, agent)).toBe(200);
          expect(received).toBe(1);
        } finally {
          agent.destroy();
        }
      },
    );

    // Why transports must call assertConnectAllowed for IP literals themselves.
    it('is never consulted for an IP literal host', async () => {
      const agent = new HttpAgent({ lookup: guardedLookup(refusing, fakeLookup) });
      try {
        expect(await httpGet(`http://127.0.0.1:${port}/`, agent)).toBe(200);
        expect(fakeLookup).not.toHaveBeenCalled();
        expect(received).toBe(1);
      } finally {
        agent.destroy();
      }
      expect(() =>
        assertConnectAllowed(refusing, new URL(`http://127.0.0.1:${port}/`).hostname),
      ).toThrow('127.0.0.1 is a loopback address');
    });
  });

  describe('undici Agent({ connect: { lookup } })', () => {
    it('refuses rebind.test -> 127.0.0.1 before connecting', async () => {
      const dispatcher = new UndiciAgent({
        connect: { lookup: guardedLookup(refusing, fakeLookup) },
      });
      try {
        const error = await undiciRequest(`http://rebind.test:${port}/`, { dispatcher }).catch(
          (e: unknown) => e,
        );
        expect(error).toBeInstanceOf(AddressRefusedError);
        expect(error).toMatchObject({ code: 'ERR_WEBHOOK_ADDRESS_REFUSED', address: '127.0.0.1' });
        expect(fakeLookup).toHaveBeenCalled();
        expect(received).toBe(0);
      } finally {
        await dispatcher.close();
      }
    });

    it("connects to rebind.test when allowedNetworks is ['127.0.0.0/8']", async () => {
      const dispatcher = new UndiciAgent({
        connect: { lookup: guardedLookup(loopbackAllowed, fakeLookup) },
      });
      try {
        const response = await undiciRequest(`http://rebind.test:${port}/`, { dispatcher });
        expect(response.statusCode).toBe(200);
        expect(await response.body.text()).toBe('ok');
        expect(received).toBe(1);
      } finally {
        await dispatcher.close();
      }
    });
  });
});
