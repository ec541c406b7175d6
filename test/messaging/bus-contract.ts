import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Bus, type ConsumerSpec, type Delivery, HEADERS, type OutgoingMessage } from '../../src/messaging/port.js';
import { type BusFactory, QUIET_MS, read, rejectsWith, text, waitFor, withBus } from './bus-harness.js';

/** Consumes into an array; `behave` decides what the handler does (default: returns, which acks). */
async function collect(bus: Bus, spec: Omit<ConsumerSpec, 'handle'>, behave?: (delivery: Delivery) => Promise<void> | void) {
  const seen: Delivery[] = [];
  const subscription = await bus.consume({
    ...spec,
    handle: async (delivery) => {
      seen.push(delivery);
      await behave?.(delivery);
    },
  });
  return { seen, subscription, ids: () => seen.map((delivery) => delivery.id) };
}

export function busContract(backend: string, factory: BusFactory): void {
  const event = (bus: Bus, id: string, tenant = 'acme', module = 'sales', type = 'OrderPlaced'): OutgoingMessage => ({
    subject: `${bus.root}.${tenant}.${module}.order.${type}`,
    id,
    headers: { [HEADERS.tenant]: tenant, [HEADERS.type]: type, 'X-Note': `note ${id}` },
    data: text(`{"id":"${id}"}`),
  });
  const events = (bus: Bus, count: number, prefix = 'e') => Array.from({ length: count }, (_, i) => event(bus, `${prefix}-${i + 1}`));
  const all = (bus: Bus) => `${bus.root}.*.*.*.*`;

  describe(`bus contract on ${backend}`, { concurrency: 4 }, () => {
    it(
      'stores messages in order and delivers them in order with subject, id, headers and data intact',
      withBus(factory, 'order', async (bus) => {
        const sent = events(bus, 25);
        const results = await bus.publish(sent);
        assert.deepEqual(
          results,
          sent.map((_, i) => ({ sequence: i + 1, duplicate: false })),
        );
        const routed = { subject: `${bus.root}.acme.routed.audit`, id: 'm-1', headers: { 'X-Kind': 'routed' }, data: text('routed') };
        assert.deepEqual(await bus.publish([routed]), [{ sequence: 1, duplicate: false }], 'the messages stream counts apart');
        const { seen, subscription } = await collect(bus, { name: 'reader', subject: all(bus) });
        await waitFor('25 deliveries', () => seen.length >= 25);
        await subscription.stop();
        assert.deepEqual(
          seen.map((d) => d.sequence),
          sent.map((_, i) => i + 1),
        );
        seen.forEach((delivery, i) => {
          const message = sent[i] as OutgoingMessage;
          assert.equal(delivery.subject, message.subject);
          assert.equal(delivery.id, message.id);
          assert.equal(delivery.attempt, 1);
          assert.equal(read(delivery), read(message));
          assert.deepEqual(delivery.headers, { ...message.headers, [HEADERS.id]: message.id });
        });
      }),
    );

    it(
      'drops a message whose id was seen within the duplicate window and delivers it once',
      withBus(factory, 'dedup', async (bus) => {
        const [a, b, c] = events(bus, 3);
        assert.ok(a && b && c);
        await bus.publish([a, b]);
        const again = await bus.publish([a, c, c]);
        assert.deepEqual(again, [
          { sequence: 1, duplicate: true },
          { sequence: 3, duplicate: false },
          { sequence: 3, duplicate: true },
        ]);
        const { ids, subscription } = await collect(bus, { name: 'dedup', subject: all(bus) });
        await waitFor('3 deliveries', () => ids().length >= 3);
        await sleep(QUIET_MS / 2);
        await subscription.stop();
        assert.deepEqual(ids(), ['e-1', 'e-2', 'e-3']);
        assert.equal(await bus.lastSequence(a.subject), 3);
      }),
    );

    it(
      'refuses a subject outside both streams with no_stream and stores nothing of the batch',
      withBus(factory, 'no-stream', async (bus) => {
        const good = event(bus, 'ok');
        await rejectsWith(bus.publish([good, { ...good, id: 'x', subject: `${bus.root}.acme.x` }]), 'no_stream');
        await rejectsWith(bus.publish([{ ...good, id: 'y', subject: `${bus.root}.acme.commands.sales.order.Place` }]), 'no_stream');
        await rejectsWith(bus.publish([{ ...good, id: 'z', subject: `elsewhere.acme.sales.order.OrderPlaced` }]), 'no_stream');
        assert.equal(await bus.lastSequence(good.subject), 0);
        await rejectsWith(bus.consume({ name: 'bad', subject: `${bus.root}.acme.>`, handle: async () => undefined }), 'invalid');
      }),
    );

    it(
      'filters by pattern, and two consumers on one stream each receive every message',
      withBus(factory, 'patterns', async (bus) => {
        await bus.publish([
          event(bus, 'a1', 'acme', 'sales'),
          event(bus, 'g1', 'globex', 'sales'),
          event(bus, 'a2', 'acme', 'stock'),
          event(bus, 'g2', 'globex', 'stock', 'ItemMoved'),
        ]);
        const acme = await collect(bus, { name: 'acme', subject: `${bus.root}.acme.*.*.*` });
        const moved = await collect(bus, { name: 'moved', subject: `${bus.root}.*.*.*.ItemMoved` });
        const first = await collect(bus, { name: 'first', subject: all(bus) });
        const second = await collect(bus, { name: 'second', subject: all(bus) });
        await waitFor(
          'every delivery',
          () => acme.seen.length >= 2 && moved.seen.length >= 1 && first.seen.length >= 4 && second.seen.length >= 4,
        );
        await sleep(QUIET_MS / 2);
        await Promise.all([acme, moved, first, second].map((c) => c.subscription.stop()));
        assert.deepEqual(acme.ids(), ['a1', 'a2']);
        assert.deepEqual(moved.ids(), ['g2']);
        assert.deepEqual(first.ids(), ['a1', 'g1', 'a2', 'g2']);
        assert.deepEqual(second.ids(), ['a1', 'g1', 'a2', 'g2']);
      }),
    );

    it(
      'splits the messages between two subscriptions sharing a name, none delivered to both',
      withBus(factory, 'shared', async (bus) => {
        const slow = () => sleep(5);
        const one = await collect(bus, { name: 'workers', subject: all(bus), maxInFlight: 4 }, slow);
        const two = await collect(bus, { name: 'workers', subject: all(bus), maxInFlight: 4 }, slow);
        await bus.publish(events(bus, 120));
        await waitFor('120 deliveries', () => one.seen.length + two.seen.length >= 120);
        await sleep(QUIET_MS / 2);
        await Promise.all([one.subscription.stop(), two.subscription.stop()]);
        const both = [...one.ids(), ...two.ids()];
        assert.equal(both.length, 120, 'no message is delivered twice');
        assert.equal(new Set(both).size, 120, 'every message is delivered');
        assert.ok(one.seen.length > 0 && two.seen.length > 0, `both share the work (${one.seen.length} / ${two.seen.length})`);
      }),
    );

    it(
      'delivers again, as attempt 2, a message whose handler threw or never finished within the ack wait',
      withBus(factory, 'ack-wait', async (bus) => {
        let release: () => void = () => undefined;
        const hung = new Promise<void>((resolve) => {
          release = resolve;
        });
        const ackWaitMs = 1_000;
        const started = new Map<string, number>();
        const { seen, subscription } = await collect(bus, { name: 'acks', subject: all(bus), ackWaitMs }, async (delivery) => {
          if (delivery.attempt > 1) return;
          started.set(delivery.id, Date.now());
          if (delivery.id === 'throws') throw new Error('handler failed');
          await hung;
        });
        await bus.publish([event(bus, 'throws'), event(bus, 'hangs')]);
        await waitFor('both redelivered', () => seen.filter((d) => d.attempt === 2).length >= 2);
        release();
        for (const again of seen.filter((d) => d.attempt === 2)) {
          const waited = Date.now() - (started.get(again.id) ?? 0);
          assert.ok(waited >= ackWaitMs * 0.8, `${again.id} came back only after the ack wait`);
        }
        await sleep(ackWaitMs * 1.5);
        await subscription.stop();
        assert.deepEqual(seen.map((d) => `${d.id}#${d.attempt}`).sort(), ['hangs#1', 'hangs#2', 'throws#1', 'throws#2']);
      }),
    );

    it(
      'delivers again after the delay a retried message, not before',
      withBus(factory, 'retry', async (bus) => {
        const delayMs = 1_500;
        let retriedAt = 0;
        const { seen, subscription } = await collect(bus, { name: 'retry', subject: all(bus), ackWaitMs: 30_000 }, (delivery) => {
          if (delivery.attempt === 1) {
            retriedAt = Date.now();
            delivery.retry(delayMs);
          }
        });
        await bus.publish([event(bus, 'later')]);
        await waitFor('the second attempt', () => seen.length >= 2);
        const waited = Date.now() - retriedAt;
        await subscription.stop();
        assert.ok(waited >= delayMs - 100, `redelivered after ${waited} ms, not before the ${delayMs} ms delay`);
        assert.deepEqual(
          seen.map((d) => d.attempt),
          [1, 2],
        );
      }),
    );

    it(
      'never delivers a rejected message again',
      withBus(factory, 'reject', async (bus) => {
        const { seen, ids, subscription } = await collect(bus, { name: 'reject', subject: all(bus), ackWaitMs: 500 }, (delivery) => {
          if (delivery.id === 'poison') delivery.reject();
        });
        await bus.publish([event(bus, 'poison'), event(bus, 'fine')]);
        await waitFor('both', () => seen.length >= 2);
        await sleep(QUIET_MS);
        await subscription.stop();
        assert.deepEqual(ids(), ['poison', 'fine']);
      }),
    );

    it(
      'stops delivering a message after maxAttempts',
      withBus(factory, 'max-attempts', async (bus) => {
        const { seen, subscription } = await collect(bus, { name: 'attempts', subject: all(bus), ackWaitMs: 400, maxAttempts: 3 }, () => {
          throw new Error('always fails');
        });
        await bus.publish([event(bus, 'doomed')]);
        await waitFor('three attempts', () => seen.length >= 3);
        await sleep(QUIET_MS);
        await subscription.stop();
        assert.deepEqual(
          seen.map((d) => d.attempt),
          [1, 2, 3],
        );
      }),
    );

    it(
      'resumes a durable consumer on a new bus instance after its last ack, without the acknowledged messages',
      withBus(factory, 'resume', async (bus, reopen) => {
        const spec = { name: 'durable', subject: all(bus), ackWaitMs: 500 };
        await bus.publish(events(bus, 10));
        const before = await collect(bus, spec, (delivery) => {
          if (delivery.id === 'e-10') throw new Error('not now');
        });
        await waitFor('ten deliveries', () => before.seen.length >= 10);
        await before.subscription.stop();
        await bus.close();
        const again = await reopen();
        await again.publish(events(again, 15).slice(10));
        const after = await collect(again, spec);
        await waitFor('the rest', () => after.seen.length >= 6);
        await sleep(QUIET_MS / 2);
        await after.subscription.stop();
        assert.ok(
          before
            .ids()
            .slice(0, 9)
            .every((id, i) => id === `e-${i + 1}`),
        );
        const resumed = [...after.seen].sort((a, b) => a.sequence - b.sequence);
        assert.deepEqual(
          resumed.map((d) => d.id),
          ['e-10', 'e-11', 'e-12', 'e-13', 'e-14', 'e-15'],
          'acknowledged messages never again',
        );
        assert.ok((resumed[0]?.attempt ?? 0) >= 2, 'the unacknowledged message comes back as a later attempt');
      }),
    );

    it(
      'delivers to a running consumer what another bus instance on the same store publishes',
      withBus(factory, 'instances', async (bus, reopen) => {
        const other = await reopen();
        const { ids, subscription } = await collect(bus, { name: 'listener', subject: all(bus) });
        await other.publish(events(other, 2));
        await waitFor('both messages', () => ids().length >= 2, 5_000);
        await subscription.stop();
        assert.deepEqual(ids(), ['e-1', 'e-2']);
      }),
    );

    it(
      "starts a new consumer at the next message with start 'new'",
      withBus(factory, 'start-new', async (bus) => {
        await bus.publish(events(bus, 3, 'old'));
        const { ids, subscription } = await collect(bus, { name: 'fresh', subject: all(bus), start: 'new' });
        await bus.publish(events(bus, 2, 'new'));
        await waitFor('the new ones', () => ids().length >= 2);
        await sleep(QUIET_MS / 2);
        await subscription.stop();
        assert.deepEqual(ids(), ['new-1', 'new-2']);
      }),
    );

    it(
      'runs at most maxInFlight handlers at once',
      withBus(factory, 'in-flight', async (bus) => {
        let running = 0;
        let most = 0;
        const { seen, subscription } = await collect(bus, { name: 'limited', subject: all(bus), maxInFlight: 3 }, async () => {
          running++;
          most = Math.max(most, running);
          await sleep(30);
          running--;
        });
        await bus.publish(events(bus, 24));
        await waitFor('24 deliveries', () => seen.length >= 24 && running === 0);
        await subscription.stop();
        assert.ok(most <= 3, `at most 3 at once, saw ${most}`);
        assert.ok(most >= 2, `handlers run concurrently, saw ${most}`);
      }),
    );

    it(
      'delivers a message that arrived while every handler slot was busy as soon as one frees',
      withBus(factory, 'busy-slot', async (bus) => {
        let release: () => void = () => undefined;
        const busy = new Promise<void>((resolve) => {
          release = resolve;
        });
        const { ids, subscription } = await collect(bus, { name: 'single', subject: all(bus), maxInFlight: 1 }, (delivery) =>
          delivery.id === 'first' ? busy : undefined,
        );
        await bus.publish([event(bus, 'first')]);
        await waitFor('the first delivery', () => ids().length >= 1);
        await bus.publish([event(bus, 'second')]);
        await sleep(200);
        assert.deepEqual(ids(), ['first'], 'one handler at a time');
        release();
        await waitFor('the second delivery', () => ids().length >= 2, 5_000);
        await subscription.stop();
        assert.deepEqual(ids(), ['first', 'second']);
      }),
    );

    it(
      'forgets a deleted consumer and its progress',
      withBus(factory, 'delete', async (bus) => {
        await bus.publish(events(bus, 3));
        const first = await collect(bus, { name: 'gone', subject: all(bus) });
        await waitFor('three deliveries', () => first.seen.length >= 3);
        await first.subscription.stop();
        await bus.deleteConsumer('gone', all(bus));
        await bus.deleteConsumer('never-existed', all(bus));
        const second = await collect(bus, { name: 'gone', subject: all(bus) });
        await waitFor('three deliveries again', () => second.seen.length >= 3);
        await second.subscription.stop();
        assert.deepEqual(second.ids(), ['e-1', 'e-2', 'e-3']);
      }),
    );

    it(
      'tells the last sequence of the stream a subject belongs to',
      withBus(factory, 'last-sequence', async (bus) => {
        const message = `${bus.root}.acme.routed.audit`;
        assert.equal(await bus.lastSequence(all(bus)), 0);
        assert.equal(await bus.lastSequence(message), 0);
        await bus.publish(events(bus, 3));
        await bus.publish([{ subject: message, id: 'm1', data: text('1') }]);
        await bus.publish(events(bus, 3));
        assert.equal(await bus.lastSequence(`${bus.root}.acme.sales.order.OrderPlaced`), 3);
        assert.equal(await bus.lastSequence(`${bus.root}.*.*.*`), 1);
      }),
    );
  });
}
