import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { openBus } from '../../src/messaging/bus.js';
import { type Bus, BusError, type Delivery, type OutgoingMessage } from '../../src/messaging/port.js';
import { privateNatsServer } from '../support/nats.js';
import { newRoot, rejectsWith, waitFor } from './bus-harness.js';

/** Publishes until the bus has reconnected; every failure in between must be `unavailable`. */
async function publishWhenBack(bus: Bus, message: OutgoingMessage): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    try {
      await bus.publish([message]);
      return;
    } catch (error) {
      assert.ok(error instanceof BusError && error.reason === 'unavailable', `unexpected ${String(error)}`);
      if (Date.now() > deadline) throw error;
      await sleep(100);
    }
  }
}

describe('NATS bus when the server fails', () => {
  it('refuses to publish while the server is down, then publishes and keeps consuming once it is back', async () => {
    const server = await privateNatsServer();
    after(() => server.dispose());
    const publishTimeoutMs = 1_000;
    const bus = await openBus({ kind: 'nats', url: server.url, root: newRoot(), publishTimeoutMs });
    try {
      const event = (id: string): OutgoingMessage => ({ subject: `${bus.root}.acme.sales.order.OrderPlaced`, id, data: Buffer.from(id) });
      const seen: Delivery[] = [];
      const subscription = await bus.consume({
        name: 'survivor',
        subject: `${bus.root}.*.*.*.*`,
        handle: async (delivery) => void seen.push(delivery),
      });
      await bus.publish([event('before')]);
      await waitFor('the message sent before the crash', () => seen.length >= 1);

      await server.kill();
      const patience = new AbortController();
      const guard = sleep(publishTimeoutMs * 10, 'hung' as const, { signal: patience.signal }).catch(() => 'cancelled' as const);
      const refused = rejectsWith(bus.publish([event('during')]), 'unavailable').then(() => 'rejected' as const);
      const outcome = await Promise.race([refused, guard]);
      patience.abort();
      assert.equal(outcome, 'rejected', 'publishing while the server is down fails instead of hanging');

      await server.start();
      await publishWhenBack(bus, event('after'));
      await waitFor('the message sent after the restart', () => seen.some((d) => d.id === 'after'), 30_000);
      await subscription.stop();
      assert.equal(seen[0]?.id, 'before');
      assert.ok(
        seen.every((d) => ['before', 'during', 'after'].includes(d.id)),
        'nothing but the three messages',
      );
    } finally {
      await bus.close();
    }
  });
});
