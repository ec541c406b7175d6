import type { DocumentStore } from '../documents/port.js';
import type { EventStore } from '../eventstore/index.js';
import type { IdentityStore } from '../identity/index.js';
import type { Logger } from '../kernel/index.js';
import type { KeyRecordStore } from '../keys/index.js';

export type StorageConfig =
  | { kind: 'sqlite'; path: string; synchronous?: 'FULL' | 'NORMAL' }
  | { kind: 'postgres'; url: string; poolSize?: number };

/** The event log, the documents projected from it, and the identity and key rows, on one database. */
export interface Storage {
  events: EventStore;
  documents: DocumentStore;
  identity: IdentityStore;
  /** Where the software key vault keeps its sealed keys. */
  keyRecords: KeyRecordStore;
  close(): Promise<void>;
}

/** Adapters are imported on demand, so that the embedded start never loads `pg`. */
export async function openStorage(config: StorageConfig, logger?: Logger): Promise<Storage> {
  if (config.kind === 'sqlite') {
    const [{ openSqliteDatabase, sqliteEventStore }, { sqliteDocumentStore }, { sqliteIdentityStore }, { sqliteKeyRecords }] =
      await Promise.all([
        import('../eventstore/sqlite/store.js'),
        import('../documents/sqlite.js'),
        import('../identity/store/sqlite.js'),
        import('../keys/software/sqlite-records.js'),
      ]);
    const db = openSqliteDatabase({ path: config.path, ...(config.synchronous ? { synchronous: config.synchronous } : {}) });
    const events = sqliteEventStore(db);
    return {
      events,
      documents: sqliteDocumentStore(db),
      identity: sqliteIdentityStore(db),
      keyRecords: sqliteKeyRecords(db),
      close: () => events.close(),
    };
  }
  const [{ openPostgresPool, postgresEventStore }, { postgresDocumentStore }, { postgresIdentityStore }, { postgresKeyRecords }] =
    await Promise.all([
      import('../eventstore/postgres/store.js'),
      import('../documents/postgres.js'),
      import('../identity/store/postgres.js'),
      import('../keys/software/postgres-records.js'),
    ]);
  const options = {
    connectionString: config.url,
    ...(config.poolSize ? { poolSize: config.poolSize } : {}),
    ...(logger ? { logger } : {}),
  };
  const pool = await openPostgresPool(options);
  const events = postgresEventStore(pool, options);
  return {
    events,
    documents: postgresDocumentStore(pool),
    identity: postgresIdentityStore(pool),
    keyRecords: postgresKeyRecords(pool),
    close: () => events.close(),
  };
}
