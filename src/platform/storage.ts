import type { DocumentStore } from '../documents/port.js';
import type { EventStore } from '../eventstore/index.js';
import type { Logger } from '../kernel/index.js';

export type StorageConfig =
  | { kind: 'sqlite'; path: string; synchronous?: 'FULL' | 'NORMAL' }
  | { kind: 'postgres'; url: string; poolSize?: number };

/** The event log and the documents projected from it, on one database. */
export interface Storage {
  events: EventStore;
  documents: DocumentStore;
  close(): Promise<void>;
}

/** Adapters are imported on demand, so that the embedded start never loads `pg`. */
export async function openStorage(config: StorageConfig, logger?: Logger): Promise<Storage> {
  if (config.kind === 'sqlite') {
    const [{ openSqliteDatabase, sqliteEventStore }, { sqliteDocumentStore }] = await Promise.all([
      import('../eventstore/sqlite/store.js'),
      import('../documents/sqlite.js'),
    ]);
    const db = openSqliteDatabase({ path: config.path, ...(config.synchronous ? { synchronous: config.synchronous } : {}) });
    const events = sqliteEventStore(db);
    return { events, documents: sqliteDocumentStore(db), close: () => events.close() };
  }
  const [{ openPostgresPool, postgresEventStore }, { postgresDocumentStore }] = await Promise.all([
    import('../eventstore/postgres/store.js'),
    import('../documents/postgres.js'),
  ]);
  const options = {
    connectionString: config.url,
    ...(config.poolSize ? { poolSize: config.poolSize } : {}),
    ...(logger ? { logger } : {}),
  };
  const pool = await openPostgresPool(options);
  const events = postgresEventStore(pool, options);
  return { events, documents: postgresDocumentStore(pool), close: () => events.close() };
}
