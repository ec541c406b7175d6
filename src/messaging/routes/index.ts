import type { FastifyPluginAsync } from 'fastify';
import type { DocumentStore } from '../../documents/port.js';
import type { EventStore } from '../../eventstore/index.js';
import type { Authenticate } from '../../http/index.js';
import type { Logger } from '../../kernel/index.js';
import type { Bus } from '../port.js';
import { startCompletion } from './completion.js';
import { createConsumers, type RouteCounters } from './consumers.js';
import type { RunCommand } from './deliver.js';
import { routeRoutes } from './http.js';
import type { RouteStore } from './port.js';
import { startRegistry } from './registry.js';
import { createRouteService } from './service.js';

export type { RouteCounters } from './consumers.js';
export type { RouteDefinition, RouteDocument, TargetSpec } from './definition.js';
export type { RunCommand } from './deliver.js';
export { deadLetterSubject, ERROR_CODE_HEADER, type FailureCode, HOPS_HEADER, ROUTE_HEADER } from './failures.js';
export { ROUTES_RESOURCE } from './http.js';
export type { RouteStore } from './port.js';

export interface RouteSettings {
  /** Enrichment and webhook calls to loopback, private, link-local and unique-local addresses are refused unless true. */
  allowPrivateNetworks: boolean;
  /** One HTTP call (enrichment, webhook target), at most. */
  timeoutMs: number;
  /** Deliveries of one message (or emissions of one group) before it is dead-lettered. */
  maxAttempts: number;
  /** Backoff before attempt n + 1: min(backoffMaxMs, backoffBaseMs · 2^(n−1)), less up to 20 % jitter. */
  backoffBaseMs: number;
  backoffMaxMs: number;
  /** How often changes made by other processes are looked for (default 1 s; the event store's notifications come first). */
  syncIntervalMs?: number;
  /** How often groups are checked for their timeout (default 1 s). */
  completionIntervalMs?: number;
  /** Messages of one route under way at once, per process (default 1: a route handles its messages in order). */
  maxInFlight?: number;
}

export type StorageSettings = { kind: 'sqlite'; path: string; synchronous?: 'FULL' | 'NORMAL' } | { kind: 'postgres'; url: string };

/** Opens the route store on its own connection to the platform's database (adapters imported on demand). */
export async function openRouteStore(config: StorageSettings, logger?: Logger): Promise<RouteStore> {
  if (config.kind === 'sqlite') {
    const [{ openSqliteDatabase }, { sqliteRouteStore }] = await Promise.all([
      import('../../eventstore/sqlite/store.js'),
      import('./sqlite.js'),
    ]);
    return sqliteRouteStore(openSqliteDatabase({ path: config.path, ...(config.synchronous ? { synchronous: config.synchronous } : {}) }));
  }
  const [{ openPostgresPool }, { postgresRouteStore }, { migratePostgresRoutes }] = await Promise.all([
    import('../../eventstore/postgres/store.js'),
    import('./postgres.js'),
    import('./migrations.js'),
  ]);
  const pool = await openPostgresPool({ connectionString: config.url, poolSize: 4, ...(logger ? { logger } : {}) });
  try {
    await migratePostgresRoutes(pool);
  } catch (error) {
    await pool.end();
    throw error;
  }
  return postgresRouteStore(pool);
}

export interface RoutesDeps {
  bus: Bus;
  store: RouteStore;
  authenticate: Authenticate;
  runCommand: RunCommand;
  settings: RouteSettings;
  logger: Logger;
  events: EventStore;
  documents: DocumentStore;
}

/**
 * The routes context: definitions and their endpoints, and — once started — one durable consumer
 * per active route in step with the definitions, and the loop that emits completed aggregation groups.
 */
export function createRoutesContext(deps: RoutesDeps) {
  const { bus, store, settings } = deps;
  const logger = deps.logger.child({ context: 'routes' });
  const outbound = { allowPrivateNetworks: settings.allowPrivateNetworks, timeoutMs: settings.timeoutMs };
  const deliver = { bus, runCommand: deps.runCommand, outbound };
  let completion: ReturnType<typeof startCompletion> | undefined;
  const pipeline = { ...deliver, store, groupCompleted: () => completion?.wake() };
  const counters: RouteCounters = { handled: 0, deadLettered: 0, groupsEmitted: 0 };
  const consumers = createConsumers({ bus, store, pipeline, settings, counters, logger });
  const registry = startRegistry({ events: deps.events, store, consumers, pollMs: settings.syncIntervalMs ?? 1000, logger });
  const service = createRouteService({ events: deps.events, documents: deps.documents, store });
  const plugin: FastifyPluginAsync = routeRoutes({ service, registry, authenticate: deps.authenticate });

  async function stop(): Promise<void> {
    await registry.stop();
    await completion?.stop();
    completion = undefined;
    await consumers.stopAll();
  }

  return {
    plugin,
    service,
    /** Starts every active route of every tenant, follows definition changes, and emits completed groups. */
    async start(): Promise<void> {
      await registry.start();
      const completionSettings = { ...settings, intervalMs: settings.completionIntervalMs ?? 1000 };
      completion ??= startCompletion({ store, consumers, deliver, settings: completionSettings, counters, logger });
    },
    /** Stops consuming (messages under way finish first); durable consumers and open groups stay for the next start. */
    stop,
    /** The tenant was deleted: its consumers are deleted and its rows dropped. */
    dropTenant: (tenant: string) => registry.dropTenant(tenant),
    /** What this process' routes did since it started (read-only). */
    counters: counters as Readonly<RouteCounters>,
    /** Stops, then closes the store. */
    async close(): Promise<void> {
      await stop();
      await store.close();
    },
  };
}

export type RoutesContext = ReturnType<typeof createRoutesContext>;
