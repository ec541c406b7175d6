import type { FastifyPluginAsync } from 'fastify';
import type { DocumentStore } from '../../documents/port.js';
import type { EventStore } from '../../eventstore/index.js';
import type { Authenticate } from '../../http/index.js';
import type { Logger } from '../../kernel/index.js';
import type { Bus } from '../port.js';
import { compileWebhook } from './definition.js';
import { createDeliverer } from './deliver.js';
import { createDispatcher } from './dispatcher.js';
import { webhookRoutes } from './http.js';
import type { WebhookStore } from './port.js';
import { createReplays } from './replay.js';
import { createWebhookService } from './service.js';
import { createSynchroniser } from './synchroniser.js';

export type { WebhookDocument } from './definition.js';
export { backoffDelay, DEAD_LETTER_HEADERS, WEBHOOK_HEADERS } from './deliver.js';
export { WEBHOOKS_RESOURCE } from './http.js';
export type { DeliveryRecord, DeliveryStatus, ReplayRecord, ReplayStatus, WebhookStore } from './port.js';

export interface WebhookSettings {
  /** Deliveries to loopback, private, link-local and unique-local addresses are refused unless true. */
  allowPrivateNetworks: boolean;
  /** One HTTP call, at most (default 10 s). */
  timeoutMs?: number;
  /** Attempts of one event before it is dead-lettered (default 8). */
  maxAttempts?: number;
  /** Backoff before attempt n + 1: uniform in [0, min(backoffMaxMs, backoffBaseMs · 2^(n−1))) (defaults 1 s, 1 h). */
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  /** Deliveries of one webhook under way at once, per process (default 32). */
  maxInFlight?: number;
  /** The deliveries log keeps attempts this long (default 7 days). */
  retentionDays?: number;
  /**
   * How often a process picks up changes made by other processes, claims replays and saves their
   * progress (default 10 s); a replay's lease lasts three times this, 30 s at least.
   */
  syncIntervalMs?: number;
}

export const WEBHOOK_DEFAULTS = {
  timeoutMs: 10_000,
  maxAttempts: 8,
  backoffBaseMs: 1000,
  backoffMaxMs: 3_600_000,
  maxInFlight: 32,
  retentionDays: 7,
  syncIntervalMs: 10_000,
} as const satisfies Omit<Required<WebhookSettings>, 'allowPrivateNetworks'>;

export type StorageSettings = { kind: 'sqlite'; path: string; synchronous?: 'FULL' | 'NORMAL' } | { kind: 'postgres'; url: string };

/** Opens the webhook store on its own connection to the platform's database (adapters imported on demand). */
export async function openWebhookStore(config: StorageSettings, logger?: Logger): Promise<WebhookStore> {
  if (config.kind === 'sqlite') {
    const [{ openSqliteDatabase }, { sqliteWebhookStore }] = await Promise.all([
      import('../../eventstore/sqlite/store.js'),
      import('./sqlite.js'),
    ]);
    return sqliteWebhookStore(
      openSqliteDatabase({ path: config.path, ...(config.synchronous ? { synchronous: config.synchronous } : {}) }),
    );
  }
  const [{ openPostgresPool }, { postgresWebhookStore }] = await Promise.all([
    import('../../eventstore/postgres/store.js'),
    import('./postgres.js'),
  ]);
  const pool = await openPostgresPool({ connectionString: config.url, poolSize: 4, ...(logger ? { logger } : {}) });
  return postgresWebhookStore(pool).catch(async (error: unknown) => {
    await pool.end();
    throw error;
  });
}

export interface WebhooksDeps {
  events: EventStore;
  documents: DocumentStore;
  bus: Bus;
  store: WebhookStore;
  authenticate: Authenticate;
  settings: WebhookSettings;
  logger: Logger;
}

/**
 * The webhooks context: definitions and their routes, and — once started — one dispatcher per
 * active webhook, kept in step with changes made here at once and with other processes' changes
 * every `syncIntervalMs`, and the replays any process recorded.
 */
export function createWebhooksContext(deps: WebhooksDeps) {
  const settings = { ...WEBHOOK_DEFAULTS, ...deps.settings };
  const { bus, store, logger } = deps;
  const deliverer = createDeliverer({ bus, store, settings, logger });
  const dispatcher = createDispatcher({ bus, deliverer, settings, logger });
  const replays = createReplays({
    events: deps.events,
    store,
    deliverer,
    definition: async (tenant, id) => {
      const found = await service.find(tenant, id);
      return found && compileWebhook(tenant, found.data);
    },
    root: bus.root,
    settings,
    logger,
  });
  const sync = createSynchroniser({ store, dispatcher, replays, settings, logger, list: (tenant) => service.list(tenant) });
  const service = createWebhookService({
    events: deps.events,
    documents: deps.documents,
    store,
    changed: (tenant, id, document) => sync.changed(tenant, id, document),
  });
  const plugin: FastifyPluginAsync = webhookRoutes({ service, store, replays, authenticate: deps.authenticate });
  return {
    plugin,
    service,
    /** Starts the dispatchers of every active webhook of every tenant, the sync with other processes, replays and the log pruning. */
    start: () => sync.start(),
    /** Stops dispatchers and replays (deliveries under way finish first; replays are released to other processes); the durable consumers stay. */
    stop: () => sync.stop(),
    /** Stops the tenant's webhooks, forgets their consumers and deletes their rows (tenant deletion). */
    dropTenant: (tenant: string) => sync.dropTenant(tenant),
    /** Stops, then closes the store. */
    async close() {
      await sync.stop();
      await store.close();
    },
    /** The webhooks running in this process (`tenant/id`) and the replays under way (tests, metrics). */
    status: () => ({ running: dispatcher.running(), replays: replays.active }),
  };
}

export type WebhooksContext = ReturnType<typeof createWebhooksContext>;
