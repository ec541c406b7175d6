import type { FastifyPluginAsync } from 'fastify';
import type { ModuleRegistry } from '../datamodel/index.js';
import type { DocumentStore } from '../documents/port.js';
import type { EventStore } from '../eventstore/index.js';
import type { Authenticate } from '../http/index.js';
import type { Logger } from '../kernel/index.js';
import type { Bus } from '../messaging/port.js';
import { reportRoutes } from './http.js';
import { openReportNotices } from './notices.js';
import type { ReportStore } from './port.js';
import { type ReportProcessor, startReportProcessor } from './processor.js';
import { createReportReads } from './reads.js';
import { createReportService } from './service.js';

export type { CompiledReport, ReportDefinition } from './definition.js';
export type { ReportStore } from './port.js';
export type { ReportProcessor } from './processor.js';

export interface ReportSettings {
  /** Groups one report may have; more make it fail with `too_many_groups`. */
  maxGroups: number;
  /** Events an `asOf` read may fold. */
  asOfMaxEvents: number;
}

/** Opens the report store on its own connection to the platform's database (adapters imported on demand). */
export async function openReportStore(
  config: { kind: 'sqlite'; path: string; synchronous?: 'FULL' | 'NORMAL' } | { kind: 'postgres'; url: string },
  logger?: Logger,
): Promise<ReportStore> {
  if (config.kind === 'sqlite') {
    const [{ openSqliteDatabase }, { sqliteReportStore }] = await Promise.all([
      import('../eventstore/sqlite/store.js'),
      import('./sqlite.js'),
    ]);
    return sqliteReportStore(openSqliteDatabase({ path: config.path, ...(config.synchronous ? { synchronous: config.synchronous } : {}) }));
  }
  const [{ openPostgresPool }, { postgresReportStore }] = await Promise.all([
    import('../eventstore/postgres/store.js'),
    import('./postgres.js'),
  ]);
  return postgresReportStore(await openPostgresPool({ connectionString: config.url, poolSize: 4, ...(logger ? { logger } : {}) }));
}

/** The reports context: definitions, the processor that maintains them, their notices on the bus, and their routes. */
export async function createReportsContext(deps: {
  events: EventStore;
  documents: DocumentStore;
  registry: ModuleRegistry;
  store: ReportStore;
  bus: Bus;
  /** A slot of the tenant's live streams for each report stream (the live feed's limits). */
  reserveStream: (tenant: string) => () => void;
  authenticate: Authenticate;
  settings: ReportSettings;
  logger: Logger;
}) {
  const { events, documents, registry, store } = deps;
  let processor: ReportProcessor | undefined;
  const notices = await openReportNotices(deps.bus, deps.logger, (position) => processor?.heard(position));
  processor = await startReportProcessor({
    events,
    store,
    registry,
    maxGroups: deps.settings.maxGroups,
    notify: notices.publish,
    logger: deps.logger,
  });
  const service = createReportService({ events, documents, registry });
  const reads = createReportReads({ events, store, processor, registry, asOfMaxEvents: deps.settings.asOfMaxEvents });
  const plugin: FastifyPluginAsync = reportRoutes({
    service,
    reads,
    processor,
    notices,
    reserveStream: deps.reserveStream,
    authenticate: deps.authenticate,
  });
  return {
    plugin,
    processor,
    service,
    async close() {
      await notices.close();
      await processor.stop();
      await store.close();
    },
  };
}
