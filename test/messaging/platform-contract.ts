import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type Delivery, HEADERS, type Reply } from '../../src/messaging/port.js';
import type { Config } from '../../src/platform/config.js';
import type { Platform } from '../../src/platform/platform.js';
import { apiClient } from '../api/client.js';
import { centralAdminToken, createTenant, startTestPlatform } from '../support/platform.js';

const SALES = {
  entities: {
    order: {
      fields: {
        customer: { type: 'string', required: true },
        amount: { type: 'number', minimum: 0 },
        status: { type: 'enum', values: ['open', 'paid'], default: 'open' },
      },
      commands: { pay: { from: { status: 'open' }, set: { status: 'paid' }, emits: 'OrderPaid' } },
    },
  },
};

type Json = Record<string, unknown>;
const json = (data: Uint8Array) => JSON.parse(Buffer.from(data).toString('utf8'));
const body = (value: unknown) => Buffer.from(JSON.stringify(value));

/** Collects the messages of a durable consumer until `count` arrived. */
async function collect(platform: Platform, name: string, subject: string, count: number): Promise<Delivery[]> {
  const seen: Delivery[] = [];
  let done: () => void = () => undefined;
  const enough = new Promise<void>((resolve) => {
    done = resolve;
  });
  const subscription = await platform.messaging.bus.consume({
    name,
    subject,
    handle: async (delivery) => {
      seen.push(delivery);
      delivery.ack();
      if (seen.length >= count) done();
    },
  });
  await enough;
  await subscription.stop();
  return seen;
}

/** The relay, inbound commands and metrics of a whole platform, on the storage and bus `newConfig` gives. */
export function platformMessagingContract(
  label: string,
  newConfig: () => Promise<Config>,
  cleanup: (config: Config) => Promise<void> = async () => {},
) {
  describe(`platform messaging (${label})`, () => {
    let platform: Platform;
    let config: Config;
    let tenant: string;
    let token: string;
    let serviceToken: string;
    const root = () => platform.messaging.bus.root;

    before(async () => {
      config = await newConfig();
      platform = await startTestPlatform(config);
      tenant = `msg-${Math.random().toString(36).slice(2, 8)}`;
      token = await centralAdminToken(platform.app);
      await createTenant(platform.app, token, tenant);
      const admin = apiClient(platform.app, token);
      assert.equal((await admin.put(`/t/${tenant}/modules/sales`, SALES)).status, 201);
      const client = (await admin.post(`/t/${tenant}/clients`, { name: 'erp', roles: ['admin'] })).body as { id: string; secret: string };
      const grant = await platform.app.inject({
        method: 'POST',
        url: `/t/${tenant}/oauth/token`,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: new URLSearchParams({ grant_type: 'client_credentials', client_id: client.id, client_secret: client.secret }).toString(),
      });
      serviceToken = grant.json().access_token;
    });
    after(async () => {
      await platform?.close();
      await cleanup(config);
    });

    const command = (
      name: string,
      message: Json,
      headers: Record<string, string> = { [HEADERS.authorization]: `Bearer ${serviceToken}` },
    ) =>
      platform.messaging.bus.request({ subject: `${root()}.${tenant}.commands.sales.order.${name}`, headers, data: body(message) }, 10_000);
    const status = (reply: Reply) => Number(reply.headers?.[HEADERS.status]);

    it('publishes every committed record event to its subject, id = event id, with tenant, position and correlation headers', async () => {
      const admin = apiClient(platform.app, token);
      const created = await admin.post(
        `/t/${tenant}/data/sales/order`,
        { customer: 'Ada', amount: 12 },
        { 'x-correlation-id': 'corr-relay-1' },
      );
      assert.equal(created.status, 201, created.text);
      const id = created.body.id as string;
      assert.equal((await admin.post(`/t/${tenant}/data/sales/order/${id}/pay`, {})).status, 200);
      const [placed, paid] = await collect(platform, 'test-relay', `${root()}.${tenant}.sales.order.*`, 2);
      assert.ok(placed && paid);
      assert.equal(placed.subject, `${root()}.${tenant}.sales.order.OrderCreated`);
      assert.equal(paid.subject, `${root()}.${tenant}.sales.order.OrderPaid`);
      const events = (await admin.get(`/t/${tenant}/data/sales/order/${id}/history`)).body as { position: string }[];
      const envelope = json(placed.data);
      assert.equal(placed.id, envelope.id);
      assert.equal(placed.headers[HEADERS.tenant], tenant);
      assert.equal(placed.headers[HEADERS.position], events[0]?.position);
      assert.equal(placed.headers[HEADERS.correlation], 'corr-relay-1');
      assert.deepEqual(
        { recordId: envelope.recordId, data: envelope.data },
        { recordId: id, data: { customer: 'Ada', amount: 12, status: 'open' } },
      );
    });

    it('runs an inbound create with a service client token and replies with the record', async () => {
      const reply = await command('create', { data: { customer: 'Bob', amount: 3 } });
      assert.equal(status(reply), 201, Buffer.from(reply.data).toString());
      const record = json(reply.data);
      const read = await apiClient(platform.app, token).get(`/t/${tenant}/data/sales/order/${record.id}`);
      assert.deepEqual(read.body.data, { customer: 'Bob', amount: 3, status: 'open' });
    });

    it('runs update, a declared command and delete, with the expected version checked', async () => {
      const created = json((await command('create', { data: { customer: 'Cy' } })).data);
      assert.equal(status(await command('update', { id: created.id, data: { amount: 5 }, expectedVersion: 1 })), 200);
      const stale = await command('update', { id: created.id, data: { amount: 6 }, expectedVersion: 1 });
      assert.deepEqual([status(stale), json(stale.data).code], [409, 'version_conflict']);
      assert.equal(status(await command('pay', { id: created.id })), 200);
      const again = await command('pay', { id: created.id });
      assert.deepEqual([status(again), json(again.data).code], [409, 'precondition_failed']);
      assert.equal(status(await command('delete', { id: created.id })), 200);
    });

    it('applies an idempotency key: the second request returns the first result and writes nothing', async () => {
      const headers = { [HEADERS.authorization]: `Bearer ${serviceToken}`, 'Idempotency-Key': 'inbound-key-1' };
      const first = json((await command('create', { data: { customer: 'Dee' } }, headers)).data);
      const second = json((await command('create', { data: { customer: 'Dee' } }, headers)).data);
      assert.deepEqual([second.id, second.position], [first.id, first.position]);
    });

    it('answers problems: no token 401, invalid data 400, unknown entity 404, malformed message 400', async () => {
      const unauthenticated = await command('create', { data: { customer: 'Eve' } }, {});
      assert.deepEqual([status(unauthenticated), json(unauthenticated.data).code], [401, 'unauthorized']);
      const invalid = await command('create', { data: { amount: -1 } });
      assert.deepEqual([status(invalid), json(invalid.data).code], [400, 'validation_failed']);
      const unknown = await platform.messaging.bus.request(
        {
          subject: `${root()}.${tenant}.commands.sales.invoice.create`,
          headers: { [HEADERS.authorization]: `Bearer ${serviceToken}` },
          data: body({}),
        },
        10_000,
      );
      assert.deepEqual([status(unknown), json(unknown.data).code], [404, 'not_found']);
      const malformed = await platform.messaging.bus.request(
        {
          subject: `${root()}.${tenant}.commands.sales.order.create`,
          headers: { [HEADERS.authorization]: `Bearer ${serviceToken}` },
          data: Buffer.from('{nope'),
        },
        10_000,
      );
      assert.deepEqual([status(malformed), json(malformed.data).code], [400, 'validation_failed']);
      const noId = await command('update', { data: { amount: 1 } });
      assert.deepEqual([status(noId), json(noId.data).errors[0].path], [400, '/id']);
    });

    it('runs a route end to end: relay, bus, filter, then a command on the record (pays big orders)', async () => {
      const admin = apiClient(platform.app, token);
      const route = await admin.post(`/t/${tenant}/routes`, {
        name: 'pay-big-orders',
        source: 'sales.order.OrderCreated',
        filter: { amount: { $gte: 100 } },
        targets: [{ command: { entity: 'sales.order', command: 'pay', id: 'recordId' } }],
      });
      assert.equal(route.status, 201, route.text);
      const big = (await admin.post(`/t/${tenant}/data/sales/order`, { customer: 'Big', amount: 150 })).body.id;
      const small = (await admin.post(`/t/${tenant}/data/sales/order`, { customer: 'Small', amount: 5 })).body.id;
      const status = async (id: string) => (await admin.get(`/t/${tenant}/data/sales/order/${id}`)).body.data.status;
      for (let attempt = 0; attempt < 300 && (await status(big)) !== 'paid'; attempt++)
        await new Promise((resolve) => setTimeout(resolve, 50));
      assert.equal(await status(big), 'paid');
      assert.equal(await status(small), 'open');
      const history = (await admin.get(`/t/${tenant}/data/sales/order/${big}/history`)).body as {
        type: string;
        metadata: { actor: string };
      }[];
      assert.equal(history[1]?.type, 'OrderPaid');
      assert.match(history[1]?.metadata.actor ?? '', /^route:/);
    });

    it('exposes the relay lag on /metrics and the bus on /readyz', async () => {
      const ready = await platform.app.inject({ method: 'GET', url: '/readyz' });
      assert.equal(ready.json().checks.bus, 'ok');
      await platform.messaging.relay?.lag();
      let lag = Number.POSITIVE_INFINITY;
      for (let attempt = 0; attempt < 100 && lag > 0; attempt++) {
        const metrics = await platform.app.inject({ method: 'GET', url: '/metrics' });
        lag = Number(/^backoffice_relay_lag_events (\d+)$/m.exec(metrics.body)?.[1]);
        if (lag > 0) await new Promise((resolve) => setTimeout(resolve, 50));
      }
      assert.equal(lag, 0);
      const metrics = await platform.app.inject({ method: 'GET', url: '/metrics' });
      assert.ok(Number(/^backoffice_relay_published_total (\d+)$/m.exec(metrics.body)?.[1]) > 0);
      assert.match(metrics.body, /^backoffice_relay_active 1$/m);
      assert.ok(Number(/^backoffice_routes_handled_total (\d+)$/m.exec(metrics.body)?.[1]) >= 1, 'the route of the test before');
      assert.match(metrics.body, /^backoffice_webhooks_running 0$/m);
    });
  });
}
