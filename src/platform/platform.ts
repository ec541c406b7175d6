import type { FastifyInstance } from 'fastify';
import { createDataContext } from '../datamodel/index.js';
import { buildApp } from '../http/index.js';
import { principalFor } from '../identity/index.js';
import { createLogger, type Logger, redactUrl } from '../kernel/index.js';
import { createLiveContext } from '../live/index.js';
import { createReportsContext, openReportStore } from '../reports/index.js';
import { type Config, liveSettings, storageConfig, unsafeSettings } from './config.js';
import { healthRoutes } from './health.js';
import { createSecurity, type Security } from './security.js';
import { openStorage, type Storage } from './storage.js';

export interface Platform {
  app: FastifyInstance;
  storage: Storage;
  security: Security;
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
  let security: Security | undefined;
  let reports: Awaited<ReturnType<typeof createReportsContext>> | undefined;
  try {
    let data: ReturnType<typeof createDataContext> | undefined;
    security = await createSecurity(
      config,
      storage,
      logger,
      async (tenant, module, entity) => {
        const loaded = await data?.registry.load(tenant, module);
        return loaded?.entities.get(entity)?.definition.sharedWith;
      },
      (tenant) => reports?.processor.dropTenant(tenant),
    );
    const { auth, identity, tenancy, vault } = security;
    data = createDataContext({ events: storage.events, documents: storage.documents, authenticate: auth.authenticate });
    const live = createLiveContext({
      events: storage.events,
      documents: storage.documents,
      registry: data.registry,
      authenticate: auth.authenticate,
      principal: async (caller) => principalFor(caller, await identity.roles.resolve(caller.tenant, caller.roles)),
      tenantStatus: tenancy.tenants.status,
      logger,
      settings: liveSettings(config),
    });
    await security.bootstrap(options.announce ?? ((line) => process.stdout.write(`${line}\n`)));
    reports = await createReportsContext({
      events: storage.events,
      documents: storage.documents,
      registry: data.registry,
      store: await openReportStore(storageSettings, logger),
      authenticate: auth.authenticate,
      settings: { maxGroups: config.reportMaxGroups, asOfMaxEvents: config.reportAsOfMaxEvents },
      logger,
    });
    const app = await buildApp({
      logger,
      bodyLimitBytes: config.bodyLimitBytes,
      contexts: [
        {
          plugin: healthRoutes([
            { name: 'storage', check: () => storage.events.ping() },
            { name: 'keys', check: () => vault.ping() },
          ]),
        },
        { plugin: auth.plugin },
        { plugin: identity.routes(auth.authenticate) },
        { plugin: tenancy.routes(auth.authenticate) },
        { plugin: data.plugin },
        { plugin: live.plugin },
        { plugin: reports.plugin },
      ],
    });
    const maintenance = setInterval(() => {
      storage.events.purgeIdempotencyKeys().catch((error: unknown) => logger.warn({ err: error }, 'idempotency key purge failed'));
      security?.maintain().catch((error: unknown) => logger.warn({ err: error }, 'key and session maintenance failed'));
    }, HOURLY_MS).unref();
    const opened = security;
    const openedReports = reports;
    return {
      app,
      storage,
      security: opened,
      logger,
      async close() {
        clearInterval(maintenance);
        await app.close();
        await openedReports.close();
        await opened.vault.close();
        await storage.close();
      },
    };
  } catch (error) {
    await reports?.close();
    await security?.vault.close();
    await storage.close();
    throw error;
  }
}
