import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import type { Subscription } from '../../src/messaging/port.js';
import type { Platform } from '../../src/platform/platform.js';
import { apiClient } from '../api/client.js';
import { natsTestRoot, privateNatsServer } from '../support/nats.js';
import { centralAdminToken, createTenant, startTestPlatform, testConfig } from '../support/platform.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';

const SALES = { entities: { order: { fields: { customer: { type: 'string', required: true } } } } };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(what: string, probe: () => Promise<boolean> | boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

/** Faults of the servers under a whole platform: NATS down, PostgreSQL dropping every connection. */
describe('faults: NATS down, PostgreSQL restart', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'bo-faults-'));
  let nats: Awaited<ReturnType<typeof privateNatsServer>>;
  let database: TestDatabase;
  let platform: Platform;
  let token: string;
  let subscription: Subscription;
  const received = new Set<string>();
  const tenant = 'faults';

  before(async () => {
    nats = await privateNatsServer();
    database = await createTestDatabase('faults');
    const config = testConfig({
      BACKOFFICE_DATA_DIR: dataDir,
      BACKOFFICE_STORAGE: 'postgres',
      BACKOFFICE_DATABASE_URL: database.url,
      BACKOFFICE_BUS: 'nats',
      BACKOFFICE_NATS_URL: nats.url,
      BACKOFFICE_BUS_ROOT: natsTestRoot('faults'),
    });
    platform = await startTestPlatform(config);
    token = await centralAdminToken(platform.app);
    await createTenant(platform.app, token, tenant);
    assert.equal((await apiClient(platform.app, token).put(`/t/${tenant}/modules/sales`, SALES)).status, 201);
    const bus = platform.messaging.bus;
    subscription = await bus.consume({
      name: 'faults-check',
      subject: `${bus.root}.${tenant}.sales.order.*`,
      handle: async (delivery) => {
        received.add(JSON.parse(Buffer.from(delivery.data).toString()).recordId);
        delivery.ack();
      },
    });
  });

  after(async () => {
    await subscription?.stop();
    await platform?.close();
    await nats?.dispose();
    await database?.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const write = async (customer: string) => {
    const response = await apiClient(platform.app, token).post(`/t/${tenant}/data/sales/order`, { customer });
    return response;
  };
  const lag = async () => {
    const metrics = await platform.app.inject({ method: 'GET', url: '/metrics' });
    return Number(/^backoffice_relay_lag_events (\d+)$/m.exec(metrics.body)?.[1]);
  };

  it('goes on writing while NATS is down; the events wait in the log and flow when it is back', async () => {
    const first = await write('before');
    await until('the first event on NATS', () => received.has(first.body.id));
    await nats.kill();
    const during: string[] = [];
    for (let n = 0; n < 20; n++) {
      const response = await write(`during-${n}`);
      assert.equal(response.status, 201, 'writes do not need the bus');
      during.push(response.body.id);
    }
    await until('the lag to show the waiting events', async () => (await lag()) >= 20);
    const ready = await platform.app.inject({ method: 'GET', url: '/readyz' });
    assert.deepEqual([ready.statusCode, ready.json().checks.bus], [503, 'failed']);
    assert.ok(during.every((id) => !received.has(id)));

    await nats.start();
    await until('every waiting event on NATS', () => during.every((id) => received.has(id)));
    await until('no lag', async () => (await lag()) === 0);
  });

  it('reconnects by itself after PostgreSQL dropped every connection (a restart, from the clients)', async () => {
    const admin = new pg.Client({ connectionString: database.adminUrl });
    await admin.connect();
    try {
      const dropped = await admin.query(
        'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()',
      );
      assert.ok(dropped.rowCount && dropped.rowCount > 0);
    } finally {
      await admin.end();
    }
    let id: string | undefined;
    await until('a write to succeed again', async () => {
      const response = await write('after-restart');
      if (response.status === 201) id = response.body.id;
      else assert.equal(response.status, 503, response.text);
      return id !== undefined;
    });
    await until('the write on NATS through the relay (its lease taken again)', () => received.has(id as string));
  });
});
