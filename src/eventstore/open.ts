import type { Logger } from '../kernel/index.js';
import type { EventStore } from './port.js';

export type EventStoreConfig =
  | { kind: 'sqlite'; path: string; synchronous?: 'FULL' | 'NORMAL' }
  | { kind: 'postgres'; url: string; poolSize?: number };

/** Adapters are imported on demand so that the embedded start never loads `pg`, and vice versa. */
export async function openEventStore(config: EventStoreConfig, logger?: Logger): Promise<EventStore> {
  if (config.kind === 'sqlite') {
    const { createSqliteEventStore } = await import('./sqlite/store.js');
    return createSqliteEventStore({ path: config.path, ...(config.synchronous ? { synchronous: config.synchronous } : {}) });
  }
  const { createPostgresEventStore } = await import('./postgres/store.js');
  return createPostgresEventStore({
    connectionString: config.url,
    ...(config.poolSize ? { poolSize: config.poolSize } : {}),
    ...(logger ? { logger } : {}),
  });
}
