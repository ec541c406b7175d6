import type { FastifyInstance } from 'fastify';
import { type EventStore, openEventStore } from '../eventstore/index.js';
import { buildApp } from '../http/index.js';
import { createLogger, type Logger, redactUrl } from '../kernel/index.js';
import { type Config, eventStoreConfig, unsafeSettings } from './config.js';
import { healthRoutes } from './health.js';

export interface Platform {
  app: FastifyInstance;
  eventStore: EventStore;
  logger: Logger;
  /** Stops accepting requests, finishes those in flight, then closes storage. */
  close(): Promise<void>;
}

/** The composition root: the one place where adapters are chosen and wired together. */
export async function createPlatform(config: Config, logger: Logger = createLogger(config.logLevel)): Promise<Platform> {
  const unsafe = unsafeSettings(config);
  if (unsafe.length > 0) logger.warn({ unsafe }, `unsafe settings: ${unsafe.join('; ')}`);
  const storage = eventStoreConfig(config);
  logger.info({ storage: storage.kind === 'sqlite' ? storage.path : redactUrl(storage.url) }, `opening ${storage.kind} event store`);
  const eventStore = await openEventStore(storage, logger);
  try {
    const app = await buildApp({
      logger,
      bodyLimitBytes: config.bodyLimitBytes,
      contexts: [{ plugin: healthRoutes([{ name: 'storage', check: () => eventStore.ping() }]) }],
    });
    return {
      app,
      eventStore,
      logger,
      async close() {
        await app.close();
        await eventStore.close();
      },
    };
  } catch (error) {
    await eventStore.close();
    throw error;
  }
}
