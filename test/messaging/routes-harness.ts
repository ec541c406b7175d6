import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import { createDataContext } from '../../src/datamodel/index.js';
import type { RecordedEvent } from '../../src/eventstore/index.js';
import { buildApp } from '../../src/http/index.js';
import { AppError, createLogger, type ErrorCode, type JsonValue, uuidv7 } from '../../src/kernel/index.js';
import { type BusSettings, openBus } from '../../src/messaging/bus.js';
import { toEventMessage } from '../../src/messaging/event-message.js';
import type { Bus, Delivery, Subscription } from '../../src/messaging/port.js';
import {
  createRoutesContext,
  openRouteStore,
  type RouteSettings,
  type RouteStore,
  type RoutesContext,
  type RunCommand,
} from '../../src/messaging/routes/index.js';
import { messageSubject } from '../../src/messaging/subjects.js';
import { type Config, storageConfig } from '../../src/platform/config.js';
import { createSecurity } from '../../src/platform/security.js';
import { openStorage, type Storage } from '../../src/platform/storage.js';
import { type Api, apiClient } from '../api/client.js';
import { ADMIN_PASSWORD, login } from '../support/platform.js';
import { waitFor } from './bus-harness.js';

/** Short backoffs and three attempts, so that retries and dead letters happen within a test; loopback receivers allowed. */
export const TEST_SETTINGS: RouteSettings = {
  allowPrivateNetworks: true,
  timeoutMs: 5000,
  maxAttempts: 3,
  backoffBaseMs: 10,
  backoffMaxMs: 50,
  syncIntervalMs: 200,
  completionIntervalMs: 50,
};

/** `run: false`: a process that serves the API but runs no route (it only provisions their consumers). */
export interface HarnessOptions {
  settings?: RouteSettings;
  run?: boolean;
}

export type CommandCall = Parameters<RunCommand>[1] & { tenant: string };

export interface Harness {
  app: FastifyInstance;
  storage: Storage;
  bus: Bus;
  routes: RoutesContext;
  /** A store of its own on the same database, to look at what the routes keep. */
  inspect: RouteStore;
  /** Central's admin, who may act in any tenant. */
  central: Api;
  /** Every call of `runCommand` (it runs through the record routes, with the idempotency key). */
  commands: CommandCall[];
  tenant(label: string): Promise<string>;
  /** Appends an event to a record stream of module `sales`, publishes it like the relay would, returns it. */
  emit(tenant: string, entity: string, type: string, data: JsonValue): Promise<RecordedEvent>;
  /** Collects the messages of `<root>.<tenant>.<kind>.<name>` from the start (a consumer of its own). */
  listen(tenant: string, kind: 'routed' | 'deadletter', name: string): Promise<Delivery[]>;
  /** Another routes context on the same database and bus, started: another process, or this one after a restart. */
  another(): Promise<RoutesContext>;
  close(): Promise<void>;
}

let tenants = 0;
let listeners = 0;

/** `runCommand` as the composition root wires it: the record routes of the app, with central's token. */
function commandRunner(app: () => FastifyInstance, token: () => string, calls: CommandCall[]): RunCommand {
  return async (tenant, command) => {
    calls.push({ tenant, ...command });
    const base = `/t/${tenant}/data/${command.module}/${command.entity}`;
    const url = command.command === 'create' ? base : `${base}/${command.id}${command.command === 'update' ? '' : `/${command.command}`}`;
    const method = command.command === 'create' ? 'POST' : command.command === 'update' ? 'PATCH' : 'POST';
    const payload = command.command === 'create' && command.id ? { ...command.data, id: command.id } : command.data;
    const response = await app().inject({
      method,
      url,
      headers: { authorization: `Bearer ${token()}`, 'idempotency-key': command.idempotencyKey, 'content-type': 'application/json' },
      payload: JSON.stringify(payload),
    });
    if (response.statusCode >= 300) {
      const problem = response.json() as { code: ErrorCode; detail: string };
      throw new AppError(problem.code, problem.detail);
    }
    return response.json();
  };
}

/**
 * The routes context on a real event store, bus and route store, behind the platform's own
 * authorization server (real tokens and permissions), with the tenancy, identity and record routes.
 */
export async function startHarness(config: Config, busSettings: BusSettings, options: HarnessOptions = {}): Promise<Harness> {
  const settings = options.settings ?? TEST_SETTINGS;
  const logger = createLogger((process.env.BACKOFFICE_TEST_LOG as 'error') ?? 'silent');
  const storage = await openStorage(storageConfig(config), logger);
  let main: RoutesContext | undefined;
  // Tenant deletion, as the composition root wires it: the routes of the tenant go next.
  const destroyed = (tenant: string) => void main?.dropTenant(tenant);
  const security = await createSecurity(config, storage, logger, async () => undefined, destroyed);
  await security.bootstrap(() => undefined);
  const bus = await openBus(busSettings, logger);
  const commands: CommandCall[] = [];
  let app: FastifyInstance | undefined;
  let token = '';
  const runCommand = commandRunner(
    () => app as FastifyInstance,
    () => token,
    commands,
  );
  const opened: RoutesContext[] = [];
  const context = async () => {
    const routes = createRoutesContext({
      events: storage.events,
      documents: storage.documents,
      bus,
      store: await openRouteStore(storageConfig(config), logger),
      authenticate: security.auth.authenticate,
      runCommand,
      settings,
      logger,
    });
    opened.push(routes);
    return routes;
  };
  const routes = await context();
  main = routes;
  const inspect = await openRouteStore(storageConfig(config), logger);
  const { auth, identity, tenancy } = security;
  const data = createDataContext({ events: storage.events, documents: storage.documents, authenticate: auth.authenticate });
  app = await buildApp({
    logger,
    bodyLimitBytes: config.bodyLimitBytes,
    contexts: [
      { plugin: auth.plugin },
      { plugin: identity.routes(auth.authenticate) },
      { plugin: tenancy.routes(auth.authenticate) },
      { plugin: data.plugin },
      { plugin: routes.plugin },
    ],
  });
  if (options.run !== false) await routes.start();
  token = (await login(app, 'central', 'admin', ADMIN_PASSWORD)).accessToken;
  const central = apiClient(app, token);
  const subscriptions: Subscription[] = [];
  return {
    app,
    storage,
    bus,
    routes,
    inspect,
    central,
    commands,
    async tenant(label) {
      const id = `${label}-${++tenants}-${process.pid}`;
      const reply = await central.post('/t/central/tenants', { id, name: id });
      assert.equal(reply.status, 201, reply.text);
      return id;
    },
    async emit(tenant, entity, type, body) {
      const result = await storage.events.append({ tenant, streamId: `sales.${entity}:${uuidv7()}`, events: [{ type, data: body }] });
      const [event] = await storage.events.readTenant(tenant, { after: result.firstPosition - 1n, limit: 1 });
      assert.ok(event);
      const message = toEventMessage(bus.root, event);
      assert.ok(message);
      await bus.publish([message]);
      return event;
    },
    async listen(tenant, kind, name) {
      const seen: Delivery[] = [];
      const subscription = await bus.consume({
        name: `listener_${++listeners}_${process.pid}`,
        subject: messageSubject(bus.root, tenant, kind, name),
        handle: async (delivery) => void seen.push(delivery),
      });
      subscriptions.push(subscription);
      return seen;
    },
    async another() {
      const started = await context();
      await started.start();
      return started;
    },
    async close() {
      for (const subscription of subscriptions) await subscription.stop();
      await app?.close();
      // A test may have closed one already (a restart): closing twice is harmless here.
      for (const started of opened) await started.close().catch(() => undefined);
      await inspect.close();
      await bus.close();
      await security.vault.close();
      await storage.close();
    },
  };
}

/** The JSON body of a delivered message. */
export const body = (delivery: { data: Uint8Array }) => JSON.parse(Buffer.from(delivery.data).toString('utf8'));

export { waitFor };
