import assert from 'node:assert/strict';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { RecordedEvent } from '../../src/eventstore/index.js';
import { buildApp } from '../../src/http/index.js';
import { createLogger, type JsonValue, uuidv7 } from '../../src/kernel/index.js';
import { type BusSettings, openBus } from '../../src/messaging/bus.js';
import { toEventMessage } from '../../src/messaging/event-message.js';
import type { Bus } from '../../src/messaging/port.js';
import { createWebhooksContext, openWebhookStore, type WebhookSettings, type WebhooksContext } from '../../src/messaging/webhooks/index.js';
import { type Config, storageConfig } from '../../src/platform/config.js';
import { createSecurity } from '../../src/platform/security.js';
import { openStorage, type Storage } from '../../src/platform/storage.js';
import { type Api, apiClient } from '../api/client.js';
import { ADMIN_PASSWORD, login } from '../support/platform.js';

/** Short backoffs and a few attempts, so that retries and dead letters happen within a test; loopback receivers allowed. */
export const TEST_SETTINGS: WebhookSettings = {
  allowPrivateNetworks: true,
  timeoutMs: 5000,
  maxAttempts: 3,
  backoffBaseMs: 10,
  backoffMaxMs: 50,
  maxInFlight: 1,
  syncIntervalMs: 200,
};

export interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  json: Record<string, unknown>;
}

/** What a receiver answers to its n-th request (1-based): a status (at once or later), or 'hang' (never answers). */
export type Respond = (request: Received, n: number) => number | 'hang' | Promise<number>;

/** A real HTTP endpoint on 127.0.0.1 that records every request. */
export async function startReceiver(respond: Respond = () => 200) {
  const received: Received[] = [];
  const hanging = new Set<ServerResponse>();
  let behaviour = respond;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const request = { path: req.url ?? '', headers: req.headers, body, json: JSON.parse(body) };
      received.push(request);
      void Promise.resolve(behaviour(request, received.length)).then((verdict) => {
        if (verdict === 'hang') hanging.add(res);
        else res.writeHead(verdict, { 'content-type': 'text/plain' }).end('thanks');
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    received,
    url: (path = '/hook') => `http://127.0.0.1:${port}${path}`,
    respond(next: Respond) {
      behaviour = next;
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export type Receiver = Awaited<ReturnType<typeof startReceiver>>;

/** True when the request carries the HMAC-SHA256 of its raw body under the secret (what a receiver must check). */
export function verifySignature(request: Received, secret: string): boolean {
  const header = String(request.headers['x-backoffice-signature'] ?? '');
  const expected = Buffer.from(`sha256=${createHmac('sha256', secret).update(request.body).digest('hex')}`);
  const actual = Buffer.from(header);
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

export interface Harness {
  app: FastifyInstance;
  storage: Storage;
  bus: Bus;
  webhooks: WebhooksContext;
  /** Central's admin, who may act in any tenant. */
  central: Api;
  /** Creates a tenant (through the tenancy API). */
  tenant(label: string): Promise<string>;
  /** Appends an event to a record stream of module `sales`, publishes it like the relay would, returns it. */
  emit(tenant: string, entity: string, type: string, data: JsonValue, options?: { publish?: boolean }): Promise<RecordedEvent>;
  /** A second webhooks context on the same database and bus, started: another process running the dispatchers. */
  another(): Promise<WebhooksContext>;
  /** A process of role `api` only: the webhook routes (central's admin calls them) on the same database and bus, no deliveries. */
  apiOnly(): Promise<{ api: Api; webhooks: WebhooksContext; close(): Promise<void> }>;
  close(): Promise<void>;
}

let tenants = 0;

/**
 * The webhooks context on a real event store, bus and webhook store, behind the platform's own
 * authorization server (tokens are real, so are permissions), with the tenancy and identity routes.
 */
export async function startHarness(config: Config, busSettings: BusSettings, settings: WebhookSettings = TEST_SETTINGS): Promise<Harness> {
  const logger = createLogger((process.env.BACKOFFICE_TEST_LOG as 'error') ?? 'silent');
  const storage = await openStorage(storageConfig(config), logger);
  const security = await createSecurity(
    config,
    storage,
    logger,
    async () => undefined,
    () => undefined,
  );
  await security.bootstrap(() => undefined);
  const bus = await openBus(busSettings, logger);
  const store = await openWebhookStore(storageConfig(config), logger);
  const context = () =>
    createWebhooksContext({
      events: storage.events,
      documents: storage.documents,
      bus,
      store,
      authenticate: security.auth.authenticate,
      settings,
      logger,
    });
  const webhooks = context();
  const { auth, identity, tenancy } = security;
  const app = await buildApp({
    logger,
    bodyLimitBytes: config.bodyLimitBytes,
    contexts: [
      { plugin: auth.plugin },
      { plugin: identity.routes(auth.authenticate) },
      { plugin: tenancy.routes(auth.authenticate) },
      { plugin: webhooks.plugin },
    ],
  });
  await webhooks.start();
  const token = (await login(app, 'central', 'admin', ADMIN_PASSWORD)).accessToken;
  const central = apiClient(app, token);
  return {
    app,
    storage,
    bus,
    webhooks,
    central,
    async tenant(label) {
      const id = `${label}-${++tenants}-${process.pid}`;
      const reply = await central.post('/t/central/tenants', { id, name: id });
      assert.equal(reply.status, 201, reply.text);
      return id;
    },
    async emit(tenant, entity, type, data, options = {}) {
      const result = await storage.events.append({ tenant, streamId: `sales.${entity}:${uuidv7()}`, events: [{ type, data }] });
      const [event] = await storage.events.readTenant(tenant, { after: result.firstPosition - 1n, limit: 1 });
      assert.ok(event);
      const message = toEventMessage(bus.root, event);
      assert.ok(message);
      if (options.publish !== false) await bus.publish([message]);
      return event;
    },
    async another() {
      const started = context();
      await started.start();
      return started;
    },
    async apiOnly() {
      const routesOnly = context();
      const front = await buildApp({ logger, bodyLimitBytes: config.bodyLimitBytes, contexts: [{ plugin: routesOnly.plugin }] });
      return {
        api: apiClient(front, token),
        webhooks: routesOnly,
        async close() {
          await front.close();
          await routesOnly.stop();
        },
      };
    },
    async close() {
      await app.close();
      await webhooks.close();
      await bus.close();
      await security.vault.close();
      await storage.close();
    },
  };
}
