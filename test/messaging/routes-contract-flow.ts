import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { HEADERS } from '../../src/messaging/port.js';
import { type Api, expectStatus } from '../api/client.js';
import { SALES } from '../api/fixtures.js';
import { routesOf, SECRET } from './routes-contract-api.js';
import { body, type Harness, type HarnessOptions, waitFor } from './routes-harness.js';
import { type Receiver, startReceiver, verifySignature } from './webhooks-harness.js';

/** A real HTTP endpoint answering JSON: what an enrichment calls. */
async function startEnricher() {
  const received: unknown[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const message = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      received.push(message);
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ vip: message.data?.customer === 'ann' }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { received, url: `http://127.0.0.1:${port}/enrich`, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

/** Messages through routes: content-based routing, each stage, every kind of target, dead letters. */
export function routesFlowContract(label: string, start: (options?: HarnessOptions) => Promise<Harness>): void {
  describe(`routes delivery (${label})`, () => {
    let harness: Harness;
    let api: Api;
    const closers: (() => Promise<void>)[] = [];
    const receiver = async (...args: Parameters<typeof startReceiver>): Promise<Receiver> => {
      const started = await startReceiver(...args);
      closers.push(() => started.close());
      return started;
    };
    const create = async (tenant: string, route: Record<string, unknown>) =>
      expectStatus(await api.post(routesOf(tenant), { name: 'r', source: 'sales.order.OrderPlaced', ...route }), 201);

    before(async () => {
      harness = await start();
      api = harness.central;
    });
    after(async () => {
      for (const close of closers) await close();
      await harness.close();
    });

    it('routes by content to every target whose condition matches: subjects and a signed webhook', async () => {
      const tenant = await harness.tenant('rcbr');
      const hook = await receiver();
      const route = await create(tenant, {
        targets: [
          { when: { amount: { $gt: 100 } }, subject: 'big' },
          { subject: 'all' },
          { when: { country: 'FR' }, webhook: { url: hook.url(), secret: SECRET } },
        ],
      });
      const [big, all] = [await harness.listen(tenant, 'routed', 'big'), await harness.listen(tenant, 'routed', 'all')];
      const small = await harness.emit(tenant, 'order', 'OrderPlaced', { amount: 50, country: 'FR' });
      const large = await harness.emit(tenant, 'order', 'OrderPlaced', { amount: 500, country: 'DE' });
      await waitFor('every target', () => all.length === 2 && big.length === 1 && hook.received.length === 1);
      assert.deepEqual(body(big[0] as (typeof big)[0]).data, { amount: 500, country: 'DE' });
      assert.equal(big[0]?.headers[HEADERS.causation], large.id);
      assert.equal(big[0]?.headers[HEADERS.correlation], large.metadata.correlationId);
      const request = hook.received[0] as Receiver['received'][0];
      assert.ok(verifySignature(request, SECRET), 'signed with the secret');
      assert.equal(request.json.id, small.id);
      assert.equal(request.headers['x-backoffice-route'], route.id);
      assert.match(String(request.headers['x-backoffice-delivery']), /^[0-9a-f-]{36}$/);
    });

    it('filters, then translates; the rest is left alone', async () => {
      const tenant = await harness.tenant('rxlate');
      await create(tenant, {
        filter: { status: 'open', amount: { $gte: 10 } },
        transform: '{ "customer": data.customer, "total": data.amount * 2, "order": recordId }',
        targets: [{ subject: 'translated' }],
      });
      const out = await harness.listen(tenant, 'routed', 'translated');
      await harness.emit(tenant, 'order', 'OrderPlaced', { customer: 'bob', amount: 50, status: 'paid' });
      await harness.emit(tenant, 'order', 'OrderPaid', { customer: 'cy', amount: 50, status: 'open' });
      const kept = await harness.emit(tenant, 'order', 'OrderPlaced', { customer: 'ann', amount: 21, status: 'open' });
      await waitFor('the translation', () => out.length >= 1);
      assert.deepEqual(
        out.map((d) => body(d)),
        [{ customer: 'ann', total: 42, order: kept.streamId.split(':')[1] }],
      );
    });

    it('splits a message into one per element', async () => {
      const tenant = await harness.tenant('rsplit');
      await create(tenant, { split: 'data.lines.{ "sku": sku, "order": $$.recordId }', targets: [{ subject: 'lines' }] });
      const out = await harness.listen(tenant, 'routed', 'lines');
      const event = await harness.emit(tenant, 'order', 'OrderPlaced', { lines: [{ sku: 'a' }, { sku: 'b' }, { sku: 'c' }] });
      await waitFor('three lines', () => out.length >= 3);
      const order = event.streamId.split(':')[1];
      assert.deepEqual(
        out.map((d) => body(d)),
        ['a', 'b', 'c'].map((sku) => ({ sku, order })),
      );
      assert.equal(new Set(out.map((d) => d.id)).size, 3);
    });

    it('enriches a message from an HTTP endpoint', async () => {
      const tenant = await harness.tenant('renrich');
      const enricher = await startEnricher();
      closers.push(enricher.close);
      await create(tenant, {
        enrich: { url: enricher.url, merge: '$merge([$message.data, $response])' },
        targets: [{ subject: 'enriched' }],
      });
      const out = await harness.listen(tenant, 'routed', 'enriched');
      await harness.emit(tenant, 'order', 'OrderPlaced', { customer: 'ann' });
      await waitFor('the enriched message', () => out.length >= 1);
      assert.deepEqual(body(out[0] as (typeof out)[0]), { customer: 'ann', vip: true });
      assert.equal((enricher.received[0] as { type: string }).type, 'OrderPlaced');
    });

    it('reads the routed messages of another route, and holds them while paused', async () => {
      const tenant = await harness.tenant('rchain');
      await create(tenant, { targets: [{ subject: 'stage1' }] });
      const second = await create(tenant, {
        source: 'routed.stage1',
        transform: '{ "customer": data.customer, "hop": 2 }',
        targets: [{ subject: 'stage2' }],
      });
      const out = await harness.listen(tenant, 'routed', 'stage2');
      await harness.emit(tenant, 'order', 'OrderPlaced', { customer: 'ann' });
      await waitFor('the second stage', () => out.length >= 1);
      assert.deepEqual(body(out[0] as (typeof out)[0]), { customer: 'ann', hop: 2 });
      assert.equal(out[0]?.headers['Bo-Route-Hops'], '2');
      expectStatus(await api.patch(`${routesOf(tenant)}/${second.id}`, { active: false }), 200);
      const stage1 = await harness.listen(tenant, 'routed', 'stage1');
      await harness.emit(tenant, 'order', 'OrderPlaced', { customer: 'bob' });
      await waitFor('the first stage', () => stage1.length >= 2);
      assert.equal(out.length, 1, 'paused');
      expectStatus(await api.patch(`${routesOf(tenant)}/${second.id}`, { active: true }), 200);
      await waitFor('the held message', () => out.length >= 2);
      assert.equal(body(out[1] as (typeof out)[0]).customer, 'bob');
    });

    it('runs a record command once per message, even when the message is redelivered', async () => {
      const tenant = await harness.tenant('rcmd');
      expectStatus(await api.put(`/t/${tenant}/modules/sales`, SALES), 201);
      const hook = await receiver((_request, n) => (n === 1 ? 500 : 200));
      const route = await create(tenant, {
        transform: '{ "name": data.customer }',
        targets: [{ command: { entity: 'sales.customer', command: 'create' } }, { webhook: { url: hook.url(), secret: SECRET } }],
      });
      await harness.emit(tenant, 'order', 'OrderPlaced', { customer: 'ann' });
      await waitFor('the redelivery', () => hook.received.length >= 2);
      const calls = harness.commands.filter((call) => call.tenant === tenant);
      assert.equal(calls.length, 2, 'the command ran on each delivery');
      assert.equal(calls[0]?.idempotencyKey, calls[1]?.idempotencyKey);
      assert.equal(calls[0]?.actor, `route:${route.id}`);
      assert.deepEqual(calls[0]?.data, { name: 'ann' });
      const customers = expectStatus(await api.get(`/t/${tenant}/data/sales/customer`), 200).items;
      assert.deepEqual(
        customers.map((c: { data: { name: string } }) => c.data.name),
        ['ann'],
      );
    });

    it('dead-letters a poison message with its cause, and the next messages still flow', async () => {
      const tenant = await harness.tenant('rpoison');
      const route = await create(tenant, { transform: 'data.poison ? $error("poison pill") : data', targets: [{ subject: 'clean' }] });
      const [clean, dead] = [
        await harness.listen(tenant, 'routed', 'clean'),
        await harness.listen(tenant, 'deadletter', `route-${route.id}`),
      ];
      const poison = await harness.emit(tenant, 'order', 'OrderPlaced', { poison: true });
      await harness.emit(tenant, 'order', 'OrderPlaced', { n: 1 });
      await harness.emit(tenant, 'order', 'OrderPlaced', { n: 2 });
      await waitFor('the clean messages and the dead letter', () => clean.length >= 2 && dead.length >= 1);
      const letter = dead[0] as (typeof dead)[0];
      assert.equal(letter.headers['Bo-Error-Code'], 'expression_failed');
      const { cause, message } = body(letter);
      assert.equal(cause.code, 'expression_failed');
      assert.equal(cause.stage, 'transform');
      assert.match(cause.message, /poison pill/);
      assert.equal(message.id, poison.id);
      assert.deepEqual(message.body.data, { poison: true });
    });

    it('ends a cycle of routes: a message past 16 routes is dropped, not dead-lettered', async () => {
      const tenant = await harness.tenant('rcycle');
      await create(tenant, { source: 'routed.ping', targets: [{ subject: 'pong' }] });
      const back = await create(tenant, { source: 'routed.pong', targets: [{ subject: 'ping' }] });
      const [ping, pong] = [await harness.listen(tenant, 'routed', 'ping'), await harness.listen(tenant, 'routed', 'pong')];
      const dead = await harness.listen(tenant, 'deadletter', `route-${back.id}`);
      const subject = `${harness.bus.root}.${tenant}.routed.ping`;
      await harness.bus.publish([{ subject, id: `cycle-${tenant}`, data: Buffer.from('{"n":1}') }]);
      await waitFor('the cycle to reach its end', () => ping.some((d) => d.headers['Bo-Route-Hops'] === '16'));
      assert.equal(pong.length, 8);
      assert.equal(ping.length, 9);
      assert.equal(dead.length, 0);
    });

    it('retries a failing target with backoff, then dead-letters the message', async () => {
      const tenant = await harness.tenant('rretry');
      const hook = await receiver(() => 503);
      const route = await create(tenant, { targets: [{ webhook: { url: hook.url(), secret: SECRET } }] });
      const dead = await harness.listen(tenant, 'deadletter', `route-${route.id}`);
      await harness.emit(tenant, 'order', 'OrderPlaced', { n: 1 });
      await waitFor('the dead letter', () => dead.length >= 1);
      assert.equal(hook.received.length, 3, 'maxAttempts calls');
      assert.equal(dead[0]?.headers['Bo-Error-Code'], 'webhook_failed');
      assert.match(body(dead[0] as (typeof dead)[0]).cause.message, /503/);
    });
  });
}
