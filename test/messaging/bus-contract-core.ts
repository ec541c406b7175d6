import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Announcement, BusError, HEADERS } from '../../src/messaging/port.js';
import { noticeSubject } from '../../src/messaging/subjects.js';
import { type BusFactory, QUIET_MS, read, rejectsWith, text, waitFor, withBus } from './bus-harness.js';

/** Request/reply and listeners: what the bus does beyond its stored streams, on every adapter. */
export function coreContract(backend: string, factory: BusFactory): void {
  describe(`bus request/reply and listeners on ${backend}`, { concurrency: 4 }, () => {
    it(
      'answers a request with headers and data',
      withBus(factory, 'request', async (bus) => {
        const commands = `${bus.root}.acme.commands.>`;
        const server = await bus.serve(commands, 'api', async (request) => ({
          headers: { [HEADERS.status]: '201', 'X-Echo': request.headers['X-Ask'] ?? '', 'X-Subject': request.subject },
          data: text(`done ${read(request)}`),
        }));
        const subject = `${bus.root}.acme.commands.sales.order.Place`;
        const reply = await bus.request({ subject, headers: { 'X-Ask': 'hello' }, data: text('order 1') }, 5_000);
        await server.stop();
        assert.equal(read(reply), 'done order 1');
        assert.deepEqual(reply.headers, { [HEADERS.status]: '201', 'X-Echo': 'hello', 'X-Subject': subject });
      }),
    );

    it(
      'shares requests between servers of one queue group, each answered once',
      withBus(factory, 'queue', async (bus) => {
        const subject = `${bus.root}.acme.commands.sales.order.Place`;
        const calls = [0, 0];
        const servers = await Promise.all(
          [0, 1].map((index) =>
            bus.serve(`${bus.root}.*.commands.sales.order.*`, 'api', async () => {
              calls[index] = (calls[index] ?? 0) + 1;
              return { data: text(String(index)) };
            }),
          ),
        );
        const replies = [];
        for (let i = 0; i < 30; i++) replies.push(read(await bus.request({ subject, headers: {}, data: text('') }, 5_000)));
        await Promise.all(servers.map((server) => server.stop()));
        assert.equal((calls[0] ?? 0) + (calls[1] ?? 0), 30, 'each request is handled once');
        assert.ok((calls[0] ?? 0) > 0 && (calls[1] ?? 0) > 0, `both servers answer (${calls.join(' / ')})`);
        assert.equal(replies.length, 30);
      }),
    );

    it(
      'fails a request nobody serves with no_responder, and one answered too late with timeout',
      withBus(factory, 'no-responder', async (bus) => {
        const subject = `${bus.root}.acme.commands.sales.order.Place`;
        await rejectsWith(bus.request({ subject, headers: {}, data: text('') }, 2_000), 'no_responder');
        let release: () => void = () => undefined;
        const late = new Promise<void>((resolve) => {
          release = resolve;
        });
        const server = await bus.serve(subject, 'api', async () => {
          await late;
          return { data: text('too late') };
        });
        await rejectsWith(bus.request({ subject, headers: {}, data: text('') }, 200), 'timeout');
        release();
        await server.stop();
        await rejectsWith(bus.request({ subject, headers: {}, data: text('') }, 2_000), 'no_responder');
      }),
    );

    it(
      'answers status 500 at once when a request handler throws',
      withBus(factory, 'handler-error', async (bus) => {
        const subject = `${bus.root}.acme.commands.sales.order.Place`;
        const server = await bus.serve(subject, 'api', async () => {
          throw new Error('boom');
        });
        const reply = await bus.request({ subject, headers: {}, data: text('') }, 5_000);
        await server.stop();
        assert.equal(reply.headers?.[HEADERS.status], '500');
        assert.equal(reply.data.length, 0);
      }),
    );

    it(
      'pings',
      withBus(factory, 'ping', async (bus) => {
        await bus.ping();
        assert.ok(bus.kind === 'inprocess' || bus.kind === 'nats');
      }),
    );
    it(
      'announces each published message to every listener of a matching pattern, and stops when told',
      withBus(factory, 'listen', async (bus) => {
        const heard: [Announcement[], Announcement[]] = [[], []];
        const listeners = await Promise.all(heard.map((into) => bus.listen(`${bus.root}.acme.*.*.*`, (message) => into.push(message))));
        const message = (id: string, tenant = 'acme') => ({
          subject: `${bus.root}.${tenant}.sales.order.OrderPlaced`,
          id,
          headers: { [HEADERS.position]: id },
          data: text(id),
        });
        await bus.publish([message('1'), message('2', 'other'), message('3')]);
        await waitFor('both listeners to hear two messages', () => heard.every((into) => into.length >= 2));
        for (const into of heard) {
          assert.deepEqual(
            into.map((announcement) => announcement.headers[HEADERS.position]),
            ['1', '3'],
          );
          assert.equal(into[0]?.subject, `${bus.root}.acme.sales.order.OrderPlaced`);
        }
        await Promise.all(listeners.map((listener) => listener.stop()));
        await bus.publish([message('4')]);
        await sleep(QUIET_MS);
        assert.ok(
          heard.every((into) => into.length === 2),
          'nothing after stop',
        );
      }),
    );

    it(
      'sends a notice to the listeners of every bus on the same broker, with its headers and data, and stores nothing',
      withBus(factory, 'notify', async (bus, reopen) => {
        const other = await reopen();
        const heard: [Announcement[], Announcement[]] = [[], []];
        const pattern = `${bus.root}.*.notices.report.*.groups`;
        const listeners = await Promise.all([bus, other].map((b, index) => b.listen(pattern, (notice) => heard[index]?.push(notice))));
        const subject = noticeSubject(bus.root, 'acme', 'report', 'byStatus', 'groups');
        const before = await bus.lastSequence(`${bus.root}.acme.sales.order.OrderPlaced`);
        bus.notify({ subject, headers: { 'X-Part': '1' }, data: text('first') });
        bus.notify({ subject: noticeSubject(bus.root, 'acme', 'report', 'other', 'changed'), data: text('not heard') });
        other.notify({ subject, data: text('second') });
        await waitFor('both buses to hear both notices', () => heard.every((into) => into.length >= 2));
        await sleep(QUIET_MS);
        for (const into of heard) {
          assert.deepEqual(into.map((notice) => [notice.subject, read(notice)]).sort(), [
            [subject, 'first'],
            [subject, 'second'],
          ]);
          assert.equal(into.find((notice) => read(notice) === 'first')?.headers['X-Part'], '1');
        }
        assert.equal(await bus.lastSequence(`${bus.root}.acme.sales.order.OrderPlaced`), before, 'no event stored');
        assert.equal(await bus.lastSequence(`${bus.root}.acme.routed.all`), 0, 'no message stored');
        await Promise.all(listeners.map((listener) => listener.stop()));
      }),
    );

    it(
      'refuses a notice on a subject a stored stream holds, or with a token that is not plain',
      withBus(factory, 'notify-invalid', async (bus) => {
        for (const subject of [
          `${bus.root}.acme.sales.order.OrderPlaced`,
          `${bus.root}.acme.routed.all`,
          `${bus.root}.acme.notices.report.by*.groups`,
          `other.acme.notices.report.byStatus.groups`,
        ]) {
          assert.throws(
            () => bus.notify({ subject, data: text('x') }),
            (error: unknown) => error instanceof BusError && error.reason === 'invalid',
            subject,
          );
        }
      }),
    );
  });
}
