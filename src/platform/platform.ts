import type { FastifyInstance } from 'fastify';
import { createDataContext } from '../datamodel/index.js';
import { buildApp } from '../http/index.js';
import { principalFor } from '../identity/index.js';
import { createLogger, type Logger, redactUrl } from '../kernel/index.js';
import { createLiveContext } from '../live/index.js';
import { createReportsContext, openReportStore } from '../reports/index.js';
import { type Config, liveSettings, rolesOf, storageConfig, unsafeSettings } from './config.js';
import { healthRoutes } from './health.js';
import { type Integrations, openIntegrations } from './integrations.js';
import { brokerAnnouncements, type Messaging, openMessaging } from './messaging.js';
import { metricsRoutes } from './metrics.js';
import { createSecurity, type Security } from './security.js';
import { openStorage, type Storage } from './storage.js';

export interface Platform {
  app: FastifyInstance;
  storage: Storage;
  security: Security;
  messaging: Messaging;
  logger: Logger;
  /** Stops accepting requests, finishes those in flight, then closes the vault and storage. */
  close(): Promise<void>;
}

export interface PlatformOptions {
  logger?: Logger;
  /** Where the generated admin password of a first start is shown (once; never to the logs). */
  announce?: (line: string) => void;
}

const HOURLY_MS = 60 * 60 * 1000;

/** The composition root: the one place where adapters are chosen and wired together. */
export async function createPlatform(config: Config, options: PlatformOptions = {}): Promise<Platform> {
  const logger = options.logger ?? createLogger(config.logLevel);
  const unsafe = unsafeSettings(config);
  if (unsafe.length > 0) logger.warn({ unsafe }, `unsafe settings: ${unsafe.join('; ')}`);
  const storageSettings = storageConfig(config);
  logger.info(
    { storage: storageSettings.kind === 'sqlite' ? storageSettings.path : redactUrl(storageSettings.url) },
    `opening ${storageSettings.kind} storage`,
  );
  const storage = await openStorage(storageSettings, logger);
  const roles = rolesOf(config);
  logger.info({ roles: [...roles] }, `roles: ${[...roles].join(', ')}`);
  let security: Security | undefined;
  let reports: Awaited<ReturnType<typeof createReportsContext>> | undefined;
  let messaging: Messaging | undefined;
  let integrations: Integrations | undefined;
  try {
    messaging = await openMessaging(config, storage, roles, logger);
    const bus = messaging;
    let data: ReturnType<typeof createDataContext> | undefined;
    security = await createSecurity(
      config,
      storage,
      logger,
      async (tenant, module, entity) => {
        const loaded = await data?.registry.load(tenant, module);
        return loaded?.entities.get(entity)?.definition.sharedWith;
      },
      (tenant) => {
        reports?.processor.dropTenant(tenant);
        integrations
          ?.dropTenant(tenant)
          .catch((error: unknown) => logger.error({ err: error, tenant }, 'dropping the webhooks of a deleted tenant failed'));
      },
    );
    const { auth, identity, tenancy, vault } = security;
    data = createDataContext({
      events: storage.events,
      documents: storage.documents,
      authenticate: auth.authenticate,
      objections: async (tenant, module) => (reports ? reports.service.objections(tenant, module) : []),
    });
    const live = createLiveContext({
      events: storage.events,
      documents: storage.documents,
      registry: data.registry,
      authenticate: auth.authenticate,
      principal: async (caller) => principalFor(caller, await identity.roles.resolve(caller.tenant, caller.roles)),
      tenantStatus: tenancy.tenants.status,
      logger,
      settings: liveSettings(config),
      ...(bus.bus.kind === 'nats' ? { announcements: brokerAnnouncements(bus.bus) } : {}),
    });
    await security.bootstrap(options.announce ?? ((line) => process.stdout.write(`${line}\n`)));
    const serving = roles.has('api');
    integrations = await openIntegrations({
      config,
      storage,
      bus: bus.bus,
      records: data.records,
      authenticate: auth.authenticate,
      roles,
      logger,
    });
    reports =
      !serving && !roles.has('projector')
        ? undefined
        : await createReportsContext({
            events: storage.events,
            documents: storage.documents,
            registry: data.registry,
            store: await openReportStore(storageSettings, logger),
            bus: bus.bus,
            reserveStream: live.reserve,
            authenticate: auth.authenticate,
            settings: { maxGroups: config.reportMaxGroups, asOfMaxEvents: config.reportAsOfMaxEvents },
            logger,
          });
    const api = [
      { plugin: identity.routes(auth.authenticate) },
      { plugin: tenancy.routes(auth.authenticate) },
      { plugin: data.plugin },
      { plugin: live.plugin },
      ...(reports ? [{ plugin: reports.plugin }] : []),
      ...integrations.plugins.map((plugin) => ({ plugin })),
    ];
    const app = await buildApp({
      logger,
      bodyLimitBytes: config.bodyLimitBytes,
      contexts: [
        {
          plugin: healthRoutes([
            { name: 'storage', check: () => storage.events.ping() },
            { name: 'keys', check: () => vault.ping() },
            ...bus.checks,
          ]),
        },
        { plugin: metricsRoutes(() => [...bus.metrics, ...(integrations?.metrics ?? [])], config.metricsToken) },
        ...(serving || roles.has('auth') ? [{ plugin: auth.plugin }] : []),
        ...(serving ? api : []),
      ],
    });
    if (serving) await bus.serveCommands(app);
    const maintains = serving || roles.has('auth');
    const maintenance = setInterval(() => {
      if (!maintains) return;
      storage.events.purgeIdempotencyKeys().catch((error: unknown) => logger.warn({ err: error }, 'idempotency key purge failed'));
      security?.maintain().catch((error: unknown) => logger.warn({ err: error }, 'key and session maintenance failed'));
    }, HOURLY_MS).unref();
    const opened = security;
    const openedReports = reports;
    const openedIntegrations = integrations;
    return {
      app,
      storage,
      security: opened,
      messaging: bus,
      logger,
      async close() {
        clearInterval(maintenance);
        await app.close();
        await openedIntegrations.close();
        await openedReports?.close();
        await bus.close();
        await opened.vault.close();
        await storage.close();
      },
    };
  } catch (error) {
    await integrations?.close();
    await reports?.close();
    await messaging?.close();
    await security?.vault.close();
    await storage.close();
    throw error;
  }
}
