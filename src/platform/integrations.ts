import type { FastifyPluginAsync } from 'fastify';
import type { RecordService } from '../datamodel/records.js';
import type { Authenticate } from '../http/index.js';
import { type Logger, uuidv7, validationFailed } from '../kernel/index.js';
import type { Bus } from '../messaging/port.js';
import { createRoutesContext, openRouteStore, type RunCommand } from '../messaging/routes/index.js';
import { createWebhooksContext, openWebhookStore } from '../messaging/webhooks/index.js';
import { type Config, deliverySettings, type Role, storageConfig } from './config.js';
import type { Metric } from './metrics.js';
import type { Storage } from './storage.js';

/** How soon a `broker` process picks up definitions changed through another process. */
const SYNC_INTERVAL_MS = 2000;

/**
 * A route's command target, run as the route (actor `route:<id>`, the tenant's `admin` role: whoever
 * may define routes may write through them) with the records' validation and idempotency.
 */
export function routeCommands(records: RecordService): RunCommand {
  return async (tenant, { module, entity, command, id, data, idempotencyKey, actor }) => {
    const context = { caller: { tenant, user: actor, roles: ['admin'] }, correlationId: uuidv7() };
    const options = { idempotencyKey };
    if (command === 'create') return records.create(context, { tenant, module, entity }, id ? { ...data, id } : data, options);
    if (!id) throw validationFailed('The command needs a record id', [{ path: '/targets/command/id', message: 'required' }]);
    const address = { tenant, module, entity, id };
    if (command === 'update') return records.update(context, address, data, options);
    if (command === 'delete') return records.remove(context, address, options);
    return records.run(context, address, command, options);
  };
}

/** Webhooks and routes on the bus: their routes on `api`, their deliveries on `broker` (docs/operations.md). */
export interface Integrations {
  plugins: FastifyPluginAsync[];
  metrics: Metric[];
  dropTenant(tenant: string): Promise<void>;
  close(): Promise<void>;
}

export async function openIntegrations(deps: {
  config: Config;
  storage: Storage;
  bus: Bus;
  records: RecordService;
  authenticate: Authenticate;
  roles: ReadonlySet<Role>;
  logger: Logger;
}): Promise<Integrations> {
  const { config, storage, bus, roles } = deps;
  if (!roles.has('api') && !roles.has('broker')) return { plugins: [], metrics: [], dropTenant: async () => {}, close: async () => {} };
  const webhooks = createWebhooksContext({
    events: storage.events,
    documents: storage.documents,
    bus,
    store: await openWebhookStore(storageConfig(config), deps.logger),
    authenticate: deps.authenticate,
    settings: { ...deliverySettings(config), syncIntervalMs: SYNC_INTERVAL_MS },
    logger: deps.logger.child({ context: 'webhooks' }),
  });
  const routes = createRoutesContext({
    events: storage.events,
    documents: storage.documents,
    bus,
    store: await openRouteStore(storageConfig(config), deps.logger),
    authenticate: deps.authenticate,
    runCommand: routeCommands(deps.records),
    settings: deliverySettings(config),
    logger: deps.logger,
  });
  if (roles.has('broker')) await Promise.all([webhooks.start(), routes.start()]);
  return {
    plugins: roles.has('api') ? [webhooks.plugin, routes.plugin] : [],
    metrics: [
      {
        name: 'backoffice_webhooks_running',
        help: 'Webhooks delivering in this process',
        type: 'gauge',
        read: () => webhooks.status().running.length,
      },
      {
        name: 'backoffice_webhook_replays_running',
        help: 'Webhook replays running in this process',
        type: 'gauge',
        read: () => webhooks.status().replays,
      },
      {
        name: 'backoffice_routes_handled_total',
        help: 'Messages that went through a route in this process',
        type: 'counter',
        read: () => routes.counters.handled,
      },
      {
        name: 'backoffice_routes_dead_lettered_total',
        help: 'Messages and groups routes dead-lettered in this process',
        type: 'counter',
        read: () => routes.counters.deadLettered,
      },
    ],
    async dropTenant(tenant) {
      await Promise.all([webhooks.dropTenant(tenant), routes.dropTenant(tenant)]);
    },
    async close() {
      await Promise.all([webhooks.close(), routes.close()]);
    },
  };
}
