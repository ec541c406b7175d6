import type { FastifyInstance } from 'fastify';
import { createDataContext } from '../datamodel/index.js';
import { buildApp, noAuthenticator, unauthenticatedAdmin } from '../http/index.js';
import { createLogger, type Logger, redactUrl } from '../kernel/index.js';
import { type Config, storageConfig, unsafeSettings } from './config.js';
import { healthRoutes } from './health.js';
import { openStorage, type Storage } from './storage.js';

export interface Platform {
  app: FastifyInstance;
  storage: Storage;
  logger: Logger;
  /** Stops accepting requests, finishes those in flight, then closes storage. */
  close(): Promise<void>;
}

const PURGE_INTERVAL_MS = 60 * 60 * 1000;

/** The composition root: the one place where adapters are chosen and wired together. */
export async function createPlatform(config: Config, logger: Logger = createLogger(config.logLevel)): Promise<Platform> {
  const unsafe = unsafeSettings(config);
  if (unsafe.length > 0) logger.warn({ unsafe }, `unsafe settings: ${unsafe.join('; ')}`);
  const storageSettings = storageConfig(config);
  logger.info(
    { storage: storageSettings.kind === 'sqlite' ? storageSettings.path : redactUrl(storageSettings.url) },
    `opening ${storageSettings.kind} storage`,
  );
  const storage = await openStorage(storageSettings, logger);
  try {
    const authenticate = config.auth === 'disabled' ? unauthenticatedAdmin : noAuthenticator;
    const data = createDataContext({ events: storage.events, documents: storage.documents, authenticate });
    const app = await buildApp({
      logger,
      bodyLimitBytes: config.bodyLimitBytes,
      contexts: [{ plugin: healthRoutes([{ name: 'storage', check: () => storage.events.ping() }]) }, { plugin: data.plugin }],
    });
    const purge = setInterval(() => {
      storage.events.purgeIdempotencyKeys().catch((error: unknown) => logger.warn({ err: error }, 'idempotency key purge failed'));
    }, PURGE_INTERVAL_MS).unref();
    return {
      app,
      storage,
      logger,
      async close() {
        clearInterval(purge);
        await app.close();
        await storage.close();
      },
    };
  } catch (error) {
    await storage.close();
    throw error;
  }
}
