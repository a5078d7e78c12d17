import 'reflect-metadata';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { receiverSwitchedProtocols } from '../../../lib/webhooks.messages.js';
import { deliveryWebhooks } from '../../fixtures/delivery/delivery.webhooks.js';
import {
  bootDeliveryApp,
  LOOPBACK_TEST_OPTIONS,
  ping,
  settledDeliveries,
  waitUntil,
  type DeliveryApp,
} from '../../support/delivery-app.js';
import { hostileServer, type HostileServer } from '../../support/hostile-server.js';
import { startReceiver, type Receiver } from '../../support/receiver.js';

// A real app on the default (http) transport, with receivers that answer 101 Switching
// Protocols: their attempts must end at once, not hold the app's few slots (another tenant's
// deliveries behind them) nor app.close() (with a shutdownTimeout longer than the test's own).
// Run alone with `npx vitest run test/e2e/delivery/hostile-receivers.e2e.spec.ts`.

const SWITCHING_PROTOCOLS =
  'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n';

describe('hostile receivers', () => {
  let hostile: HostileServer;
  let receiver: Receiver;
  let ctx: DeliveryApp;
  let closed: boolean;

  beforeEach(async () => {
    hostile = await hostileServer((socket) => socket.write(SWITCHING_PROTOCOLS));
    receiver = await startReceiver();
    ctx = await bootDeliveryApp({
      options: { ...LOOPBACK_TEST_OPTIONS, concurrency: 2, timeout: 300, shutdownTimeout: 60_000 },
      providers: deliveryWebhooks,
    });
    closed = false;
    for (const path of ['/a', '/b']) {
      await ctx.endpoints.add({
        url: `${hostile.url}${path}`,
        events: ['ping'],
        tenant: 'hostile',
      });
    }
  });

  afterEach(async () => {
    if (!closed) await ctx.close();
    await receiver.close();
    await hostile.close();
  });

  const emitToHostile = async () => {
    const { id } = await ctx.emitter.emit('ping', ping(1), { tenant: 'hostile' });
    // Both slots taken by the hostile endpoints' first attempts.
    await waitUntil(() => hostile.accepted() >= 2, 'both hostile endpoints to be sent to');
    return id;
  };

  it("do not hold the app's slots: another tenant's delivery still arrives", async () => {
    const calm = await ctx.endpoints.add({
      url: `${receiver.url}/hook`,
      events: ['ping'],
      tenant: 'calm',
    });
    const stalled = await emitToHostile();

    const other = await ctx.emitter.emit('ping', ping(2), { tenant: 'calm' });

    const [delivered] = await settledDeliveries(ctx.deliveries, other.id);
    expect(delivered).toMatchObject({ endpointId: calm.id, status: 'delivered' });
    expect(receiver.requests).toHaveLength(1);
    // Every attempt of the hostile endpoints failed, none as delivered, and left no connection.
    const failed = await settledDeliveries(ctx.deliveries, stalled);
    expect(failed).toHaveLength(2);
    for (const delivery of failed) {
      expect(delivery.status).toBe('failed');
      for (const attempt of delivery.attemptLog) {
        expect(attempt).toMatchObject({
          outcome: 'failed',
          statusCode: null,
          error: receiverSwitchedProtocols(),
        });
      }
    }
    await waitUntil(() => hostile.open() === 0, 'every hostile connection to be closed');
  }, 15_000);

  it('do not hold app.close() for its shutdownTimeout', async () => {
    await emitToHostile();

    // The test's own timeout (15 s) is far below the shutdownTimeout (60 s).
    closed = true;
    await ctx.close();

    await waitUntil(() => hostile.open() === 0, 'every hostile connection to be closed');
  }, 15_000);
});
