import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openBus } from '../../src/messaging/bus.js';
import type { Bus, Subscription } from '../../src/messaging/port.js';
import { SseStream } from '../live/sse.js';
import { deleteNatsStreams, NATS_URL, natsTestRoot } from '../support/nats.js';
import { ADMIN_PASSWORD } from '../support/platform.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';
import { launchService, type Service } from '../support/processes.js';
import { type Receiver, startReceiver } from '../support/receiver.js';

const RECORDS = 240;
const KILL_AFTER = 80;
const SALES = { entities: { order: { fields: { customer: { type: 'string', required: true }, n: { type: 'integer' } } } } };

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

/**
 * The platform as separate processes on the local PostgreSQL and NATS: two `api`, two `relay` and a
 * `broker`. Writes go through one api, reads through the other; the active relay is killed mid-stream.
 */
describe('services on PostgreSQL + NATS, one role per process', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'bo-services-'));
  const root = natsTestRoot('services');
  let database: TestDatabase;
  let env: Record<string, string>;
  let bus: Bus;
  let receiver: Receiver;
  const services: Record<string, Service> = {};

  before(async () => {
    database = await createTestDatabase('services');
    env = {
      BACKOFFICE_DATA_DIR: dataDir,
      BACKOFFICE_STORAGE: 'postgres',
      BACKOFFICE_DATABASE_URL: database.url,
      BACKOFFICE_BUS: 'nats',
      BACKOFFICE_NATS_URL: NATS_URL,
      BACKOFFICE_BUS_ROOT: root,
      BACKOFFICE_MASTER_KEY: randomBytes(32).toString('base64'),
      BACKOFFICE_ADMIN_PASSWORD: ADMIN_PASSWORD,
      BACKOFFICE_PASSWORD_HASH_MEMORY_KIB: '8192',
      BACKOFFICE_PASSWORD_HASH_ITERATIONS: '1',
      BACKOFFICE_OUTBOUND_PRIVATE_NETWORKS: 'true',
    };
    services.api1 = launchService(env, ['--role', 'api']);
    await services.api1.listening;
    services.api2 = launchService(env, ['--role', 'api']);
    services.relay1 = launchService(env, ['--role', 'relay']);
    services.relay2 = launchService(env, ['--role', 'relay']);
    services.broker = launchService(env, ['--role', 'broker']);
    await Promise.all(Object.values(services).map((service) => service.listening));
    bus = await openBus({ kind: 'nats', url: NATS_URL, root });
    receiver = await startReceiver();
  });

  after(async () => {
    await Promise.all(Object.values(services).map((service) => service.kill('SIGTERM')));
    await bus?.close();
    await receiver?.close();
    await deleteNatsStreams(root);
    await database?.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  async function call(service: Service, method: string, path: string, token?: string, body?: unknown) {
    const response = await fetch(`${await service.listening}${path}`, {
      method,
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : undefined };
  }

  /** A new tenant with the sales module, created through api1 as central's admin. */
  async function salesTenant(tenant: string) {
    const api1 = services.api1 as Service;
    const api2 = services.api2 as Service;
    const token = await adminToken(api1);
    assert.equal((await call(api1, 'POST', '/t/central/tenants', token, { id: tenant, name: tenant })).status, 201);
    assert.equal((await call(api1, 'PUT', `/t/${tenant}/modules/sales`, token, SALES)).status, 201);
    return { api1, api2, token, tenant };
  }

  async function adminToken(service: Service): Promise<string> {
    const grant = await fetch(`${await service.listening}/t/central/oauth/token`, {
      method: 'POST',
      body: new URLSearchParams({ grant_type: 'password', username: 'admin', password: ADMIN_PASSWORD }),
    });
    return ((await grant.json()) as { access_token: string }).access_token;
  }

  async function activeRelay(): Promise<'relay1' | 'relay2' | undefined> {
    for (const name of ['relay1', 'relay2'] as const) {
      const service = services[name];
      if (!service || service.child.exitCode !== null || service.child.signalCode !== null) continue;
      const metrics = await fetch(`${await service.listening}/metrics`).then((response) => response.text());
      if (/^backoffice_relay_active 1$/m.test(metrics)) return name;
    }
    return undefined;
  }

  it('loses and duplicates nothing on NATS and at a webhook while the active relay is killed', async () => {
    const { api1, api2, token, tenant } = await salesTenant('acme');
    const hook = await call(api1, 'POST', `/t/${tenant}/webhooks`, token, {
      url: receiver.url,
      events: ['sales.order.*'],
      secret: 'e2e-webhook-secret',
    });
    assert.equal(hook.status, 201, JSON.stringify(hook.body));

    const onNats = new Map<string, number>();
    const subscription: Subscription = await bus.consume({
      name: 'e2e-check',
      subject: `${root}.${tenant}.sales.order.*`,
      handle: async (delivery) => {
        onNats.set(delivery.id, (onNats.get(delivery.id) ?? 0) + 1);
        delivery.ack();
      },
    });

    const killed = await until('an active relay', activeRelay);
    const written: { id: string; position: string }[] = [];
    for (let n = 0; n < RECORDS; n++) {
      if (n === KILL_AFTER) await services[killed]?.kill('SIGKILL');
      const created = await call(api1, 'POST', `/t/${tenant}/data/sales/order`, token, { customer: `c${n}`, n });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      written.push(created.body);
    }
    for (const { id, position } of written.filter((_, index) => index % 10 === 0)) {
      const read = await call(api2, 'GET', `/t/${tenant}/data/sales/order/${id}?after=${position}`, token);
      assert.equal(read.status, 200);
      assert.equal(read.body.id, id);
    }

    await until('every event on NATS', async () => (onNats.size >= RECORDS ? true : undefined));
    await until('every event at the webhook', async () => (new Set(receiver.eventIds()).size >= RECORDS ? true : undefined));
    await sleep(1000);
    await subscription.stop();
    assert.equal(onNats.size, RECORDS);
    assert.deepEqual([...new Set(onNats.values())], [1], 'each event is on the stream once');
    assert.equal(receiver.eventIds().length, RECORDS, 'each event reached the webhook once');
    assert.ok(receiver.allSigned('e2e-webhook-secret'));
    assert.notEqual(await activeRelay(), undefined, 'the standby relay took over');
  });

  it('brings the changed groups of a report to live viewers of the other api process', async () => {
    const { api1, api2, token, tenant } = await salesTenant('globex');
    const defined = await call(api1, 'PUT', `/t/${tenant}/reports/byCustomer`, token, {
      entity: 'sales.order',
      groupBy: ['customer'],
      measures: ['count', 'sum:n'],
    });
    assert.equal(defined.status, 201, JSON.stringify(defined.body));
    assert.equal((await call(api2, 'GET', `/t/${tenant}/reports/byCustomer/data?after=${defined.body.position}`, token)).status, 200);
    const live = await SseStream.open(`${await api2.listening}/t/${tenant}/reports/byCustomer/live`, { token });
    try {
      assert.equal(live.status, 200);
      await live.until((stream) => stream.messages.length > 0, 'the stream to start');
      for (let n = 1; n <= 5; n++) {
        assert.equal((await call(api1, 'POST', `/t/${tenant}/data/sales/order`, token, { customer: 'live', n })).status, 201);
      }
      const last = () => live.events.flatMap((event) => JSON.parse(event.data ?? '{}').groups ?? []).at(-1);
      await live.until(() => last()?.count === 5, 'the fifth order in the groups on api2', 60_000);
      assert.deepEqual(last(), { key: { customer: 'live' }, count: 5, sum_n: 15 });
    } finally {
      live.close();
    }
  });
});
