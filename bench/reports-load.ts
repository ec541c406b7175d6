/**
 * Report maintenance throughput (`npm run bench -- reports`, part a): a log of order events (creates,
 * updates that move records between groups, deletes) is written straight through the storage layer,
 * then the report processor builds a report from position 0 on an empty report store, next to a
 * consumer catching up over the same log in the same run (`startConsumer`, batches of 1,000).
 */
import Database from 'better-sqlite3';
import pg from 'pg';
import { decide, evolve, initialState, type RecordState } from '../src/datamodel/decider.js';
import type { RecordData } from '../src/datamodel/index.js';
import { createDataContext } from '../src/datamodel/index.js';
import { parseRecordStream, recordStream } from '../src/datamodel/registry.js';
import { startConsumer } from '../src/eventstore/consumer.js';
import { unauthenticatedAdmin } from '../src/http/index.js';
import { metadataOf, uuidv7 } from '../src/kernel/index.js';
import { openStorage, type Storage, type StorageConfig } from '../src/platform/storage.js';
import { compileReport, type ReportDefinition } from '../src/reports/definition.js';
import { type GroupState, mergeGroups } from '../src/reports/groups.js';
import { openReportStore, type ReportStore } from '../src/reports/index.js';
import { startReportProcessor } from '../src/reports/processor.js';
import { memberFold } from '../src/reports/reducer.js';
import { createReportService } from '../src/reports/service.js';
import { ENTITY, MODULE, MODULE_DEFINITION, mix, order } from './orders.js';
import { progress, type Throughput, throughput } from './support.js';

const TENANT = 'acme';
export const REPORT_NAME = 'byStatusDay';
export const REPORT_DEFINITION = {
  entity: `${MODULE}.${ENTITY}`,
  groupBy: ['status', { time: 'placedAt', bucket: 'day' }],
  measures: ['count', 'sum:amount', 'avg:amount', 'min:amount', 'max:amount', 'countDistinct:customer'],
};
/** Appends in flight while loading; each worker owns its records, so no two appends race on one stream. */
const WORKERS = 256;
const CONSUMER_BATCH = 1000;
/** The report processor's largest batch (its default `maxBatchSize`). */
const REDUCER_BATCH = 100_000;
export const PASSES = 2;
const STATUSES = ['open', 'paid', 'shipped'];
const DAY_MS = 86_400_000;

export interface LoadMix {
  creates: number;
  updates: number;
  deletes: number;
  live: number;
}

export interface MaintenanceRun {
  backend: 'SQLite' | 'PostgreSQL';
  /** Events in the log (head position): the load plus the module and report definitions. */
  events: number;
  mix: LoadMix;
  loadSeconds: number;
  /** Report builds; `storeSeconds`: the time spent in the report store's reads and commits, which wrote `memberRows`. */
  reportPasses: (Throughput & { storeSeconds: number; memberRows: number })[];
  catchUpPasses: Throughput[];
  /** The report's pure reducer alone over the same batches (member rows and groups in memory, no report store). */
  reducerPasses: Throughput[];
  groups: number;
  /** Sum of the groups' counts: must equal the live records. */
  counted: number;
}

type Owned = { id: string; state: RecordState };

/** Op n of a worker: creates first, then 5 creates, 4 updates and 1 delete in every 10. */
function opKind(n: number, owned: number): 'create' | 'update' | 'delete' {
  const slot = n % 10;
  if (owned === 0 || slot < 5) return 'create';
  return slot < 9 ? 'update' : 'delete';
}

/** An update that always moves the record to another status, a new amount and, one time in four, another day. */
function patchOf(n: number, state: RecordState): Record<string, unknown> {
  const data = state.status === 'active' ? state.data : {};
  const status = STATUSES[(STATUSES.indexOf(String(data.status)) + 1) % 3] as string;
  const patch: Record<string, unknown> = { status, amount: (mix(n) % 100_000) / 100 };
  if (n % 4 === 0) patch.placedAt = new Date(Date.parse(String(data.placedAt)) + DAY_MS).toISOString();
  return patch;
}

/**
 * Defines the module and the report, then writes `count` events as the record service would (the
 * decider's event, the evolved document inline, one append each). `analyze` runs at a few points (PostgreSQL).
 */
export async function loadLog(storage: Storage, count: number, analyze?: () => Promise<void>): Promise<{ mix: LoadMix; seconds: number }> {
  const data = createDataContext({ events: storage.events, documents: storage.documents, authenticate: unauthenticatedAdmin });
  const context = { caller: { tenant: TENANT, user: 'bench', roles: ['admin'] }, correlationId: 'bench-reports' };
  await data.modules.define(context, TENANT, MODULE, MODULE_DEFINITION);
  await createReportService({ ...storage, registry: data.registry }).define(context, TENANT, REPORT_NAME, REPORT_DEFINITION);
  const { module, entity } = await data.registry.entity(TENANT, MODULE, ENTITY);
  const metadata = metadataOf(context);
  const mixCount: LoadMix = { creates: 0, updates: 0, deletes: 0, live: 0 };
  const analyzeAt = new Set([1000, 5000, ...Array.from({ length: 9 }, (_, i) => Math.round(((i + 1) * count) / 10))]);
  let next = 0;
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: WORKERS }, async () => {
      const owned: Owned[] = [];
      while (next < count) {
        const n = next++;
        const kind = opKind(n, owned.length);
        const target: Owned = kind === 'create' ? { id: uuidv7(), state: initialState } : (owned[mix(n) % owned.length] as Owned);
        const command =
          kind === 'create' ? { kind, data: order(n) } : kind === 'update' ? { kind, patch: patchOf(n, target.state) } : { kind };
        const decided = decide(command, target.state, entity);
        const state = decided.reduce((folded, event) => evolve(folded, event, entity.name), target.state);
        await storage.events.append({
          tenant: TENANT,
          streamId: recordStream(MODULE, ENTITY, target.id),
          events: decided.map((event) => ({ type: event.type, data: event.data, schemaVersion: module.version })),
          expectedVersion: target.state.version === 0 ? 'no_stream' : target.state.version,
          metadata,
          document: { module: MODULE, entity: ENTITY, id: target.id, data: state.status === 'active' ? state.data : null },
        });
        target.state = state;
        if (kind === 'create') owned.push(target);
        if (kind === 'delete') owned.splice(owned.indexOf(target), 1);
        mixCount[kind === 'create' ? 'creates' : kind === 'update' ? 'updates' : 'deletes']++;
        if (analyze && analyzeAt.has(n)) await analyze();
      }
    }),
  );
  mixCount.live = mixCount.creates - mixCount.deletes;
  return { mix: mixCount, seconds: Number(process.hrtime.bigint() - started) / 1e9 };
}

/** A consumer from position 0 (a fresh checkpoint name) until it has handled the whole log. */
async function catchUpPass(storage: Storage, head: bigint, name: string): Promise<Throughput> {
  let handled = 0;
  const started = process.hrtime.bigint();
  const consumer = await startConsumer(storage.events, {
    name,
    batchSize: CONSUMER_BATCH,
    handle: (events) => {
      handled += events.length;
    },
  });
  await consumer.waitFor(head);
  const result = throughput(handled, started);
  await consumer.stop();
  return result;
}

/** The report store, timing its reads and commits and counting the member rows they write. */
function timedStore(store: ReportStore): { store: ReportStore; seconds: () => number; memberRows: () => number } {
  let nanoseconds = 0n;
  let memberRows = 0;
  const timed =
    <A extends unknown[], R>(work: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      const started = process.hrtime.bigint();
      try {
        return await work(...args);
      } finally {
        nanoseconds += process.hrtime.bigint() - started;
      }
    };
  const commit = timed(store.commit.bind(store));
  return {
    store: {
      ...store,
      members: timed(store.members.bind(store)),
      groups: timed(store.groups.bind(store)),
      async commit(writes, cursor) {
        const generation = await commit(writes, cursor);
        for (const write of writes) memberRows += write.members?.size ?? 0;
        return generation;
      },
    },
    seconds: () => Number(nanoseconds) / 1e9,
    memberRows: () => memberRows,
  };
}

/** The report processor (the platform's settings) from position 0 on an empty report store, until the report is ready at the head. */
async function reportPass(storage: Storage, reports: ReportStore, head: bigint): Promise<MaintenanceRun['reportPasses'][number]> {
  const { registry } = createDataContext({ events: storage.events, documents: storage.documents, authenticate: unauthenticatedAdmin });
  // The data model's registry is loaded before the clock starts, as in a running platform (and in the reducer pass).
  await registry.load(TENANT, MODULE);
  const timed = timedStore(reports);
  const started = process.hrtime.bigint();
  const processor = await startReportProcessor({ events: storage.events, store: timed.store, registry, maxGroups: 100_000 });
  const done = () => processor.cursor >= head && processor.serving(TENANT, REPORT_NAME)?.position === head;
  const reached = await processor.until(done, 900_000);
  const result = throughput(Number(head), started);
  await processor.stop();
  if (!reached) throw new Error(`the report processor did not reach position ${head}`);
  return { ...result, storeSeconds: timed.seconds(), memberRows: timed.memberRows() };
}

/**
 * The reducer alone: the log read in chunks of 1,000 as the processor reads it, each event fed to the
 * batch's member fold (`memberFold`), and each batch of up to 100,000 events (the processor's
 * default) merged into the groups (`mergeGroups`), member rows and groups kept in memory. What the
 * processor costs beyond this is its report store (member rows and groups read and written).
 */
async function reducerPass(storage: Storage, head: bigint): Promise<Throughput> {
  const { registry } = createDataContext({ events: storage.events, documents: storage.documents, authenticate: unauthenticatedAdmin });
  const { entity } = await registry.entity(TENANT, MODULE, ENTITY);
  const report = compileReport(REPORT_DEFINITION as ReportDefinition, entity.definition.fields);
  const members = new Map<string, RecordData>();
  const groups = new Map<string, GroupState>();
  const started = process.hrtime.bigint();
  for (let after = 0n; after < head; ) {
    const fold = memberFold(report);
    for (let read = 0; read < REDUCER_BATCH && after < head; ) {
      const chunk = await storage.events.readAll({ after, limit: CONSUMER_BATCH });
      after = (chunk.at(-1) as { position: bigint }).position;
      read += chunk.length;
      const relevant = chunk.flatMap((event) => {
        const stream = parseRecordStream(event.streamId);
        return stream?.module === MODULE && stream.entity === ENTITY
          ? [{ recordId: stream.id, type: event.type, data: event.data as RecordData }]
          : [];
      });
      for (const event of relevant) if (!fold.step(event.recordId, event)) fold.start(event.recordId, members.get(event.recordId), event);
    }
    const folded = fold.result();
    for (const [id, row] of folded.members) row ? members.set(id, row) : members.delete(id);
    for (const [id, group] of mergeGroups(groups, folded.deltas).changed) group ? groups.set(id, group) : groups.delete(id);
  }
  return throughput(Number(head), started);
}

async function groupTotals(reports: ReportStore): Promise<{ groups: number; counted: number }> {
  const version = (await reports.versions({ tenant: TENANT, report: REPORT_NAME })).find((row) => row.status === 'ready');
  if (!version) throw new Error('no ready version of the report');
  const groups = await reports.groups(version);
  let counted = 0;
  for (const group of groups.values()) counted += group.count;
  return { groups: groups.size, counted };
}

interface Backend {
  name: MaintenanceRun['backend'];
  storage: StorageConfig;
  /** Empties the report tables, so that the next pass starts from position 0. */
  wipe(): Promise<void>;
  analyze?: () => Promise<void>;
}

const REPORT_TABLES = ['report_groups', 'report_members', 'report_versions', 'report_cursor'];

export const sqliteBackend = (path: string): Backend => ({
  name: 'SQLite',
  storage: { kind: 'sqlite', path },
  async wipe() {
    const db = new Database(path);
    try {
      db.exec(REPORT_TABLES.map((name) => `DELETE FROM ${name};`).join('\n'));
    } finally {
      db.close();
    }
  },
});

export function postgresBackend(url: string): Backend {
  const run = async (sql: string) => {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end();
    }
  };
  // TRUNCATE is not subject to row-level security; the application role owns the tables.
  return {
    name: 'PostgreSQL',
    storage: { kind: 'postgres', url },
    wipe: () => run(`TRUNCATE ${REPORT_TABLES.join(', ')}`),
    analyze: () => run('ANALYZE'),
  };
}

/** Loads the log, then alternates consumer catch-up and report passes from position 0. */
export async function benchMaintenance(backend: Backend, count: number): Promise<MaintenanceRun> {
  const storage = await openStorage(backend.storage);
  const reports = await openReportStore(backend.storage);
  try {
    progress(`reports: ${backend.name}: loading ${count} order events`);
    const loaded = await loadLog(storage, count, backend.analyze);
    await backend.analyze?.();
    const head = await storage.events.headPosition();
    const reportPasses: MaintenanceRun['reportPasses'] = [];
    const catchUpPasses: Throughput[] = [];
    const reducerPasses: Throughput[] = [];
    for (let pass = 0; pass < PASSES; pass++) {
      progress(`reports: ${backend.name}: pass ${pass + 1} of ${PASSES}, consumer catch-up`);
      catchUpPasses.push(await catchUpPass(storage, head, `bench-reports-${pass}`));
      progress(`reports: ${backend.name}: pass ${pass + 1} of ${PASSES}, report processor`);
      await backend.wipe();
      reportPasses.push(await reportPass(storage, reports, head));
      progress(`reports: ${backend.name}: pass ${pass + 1} of ${PASSES}, reducer alone`);
      reducerPasses.push(await reducerPass(storage, head));
    }
    const totals = await groupTotals(reports);
    return {
      backend: backend.name,
      events: Number(head),
      mix: loaded.mix,
      loadSeconds: loaded.seconds,
      reportPasses,
      reducerPasses,
      catchUpPasses,
      ...totals,
    };
  } finally {
    await reports.close();
    await storage.close();
  }
}
