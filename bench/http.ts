/**
 * Records API over real HTTP: the server runs in a child process (bench/http-server.ts), the load
 * comes from autocannon in this process. Creates, point reads, filtered and sorted lists (first and
 * deep cursor page), an aggregate, updates and as-of lists over 100,000 seeded `sales.orders`
 * records, on the embedded default (SQLite) and on PostgreSQL, next to the same queries sent
 * straight to the database by the bare driver, and the server's resident memory.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { decide, evolve, initialState } from '../src/datamodel/decider.js';
import { createDataContext } from '../src/datamodel/index.js';
import { recordStream } from '../src/datamodel/registry.js';
import {
  type CompiledQuery,
  compileAggregateQuery,
  compileListQuery,
  decodeCursor,
  type EntityFields,
  parseMeasures,
  parseSort,
} from '../src/documents/query/index.js';
import { unauthenticatedAdmin } from '../src/http/index.js';
import { metadataOf, uuidv7 } from '../src/kernel/index.js';
import { openStorage, type StorageConfig } from '../src/platform/storage.js';
import { type BenchJob, failures, type HttpJob, latencyOf, type Measured, measure as measureJobs, ms, type RawJob } from './http-load.js';
import { collectionPath, ENTITY, MODULE, MODULE_DEFINITION, mix, ORDER_BYTES, order, picker } from './orders.js';
import { createBenchDatabase, postgresReachable } from './postgres.js';
import { RSS_SAMPLE_MS, type Server, startServer } from './server-process.js';
import { benchSeconds, formatCount, formatRatio, progress, type Section, table } from './support.js';

const TENANT = 'acme';
const COLLECTION = collectionPath(TENANT);
/** Records seeded before the server starts; BENCH_HTTP_RECORDS lowers it for a quick look. */
const RECORDS = positiveInteger(process.env.BENCH_HTTP_RECORDS) ?? 100_000;
/** Appends in flight while seeding (the group commit writes them in shared transactions). */
const SEED_CONCURRENCY = 256;
/** Timed seconds per measurement, split over ROUNDS interleaved turns of whole seconds (autocannon stops on a tick). */
const SECONDS = Math.max(2, Math.round(benchSeconds(4)));
const ROUNDS = 2;
const TURN_SECONDS = Math.max(1, Math.round(SECONDS / ROUNDS));
const WARMUP_SECONDS = 1;
const CONCURRENCY = 32;
/** Whole-table queries (aggregate, as-of list) take tens of milliseconds: fewer connections keep latencies readable. */
const SCAN_CONCURRENCY = 4;
const PAGE = 20;
/** The deep cursor page is this many pages in. */
const DEEP_PAGES = 50;
/** Set BENCH_HTTP_PROFILE=<dir> to run the server with --cpu-prof and keep the profiles there. */
const PROFILE_DIR = process.env.BENCH_HTTP_PROFILE;
/** BENCH_HTTP_BACKENDS=sqlite (or postgres) runs one backend only. */
const BACKENDS = (process.env.BENCH_HTTP_BACKENDS ?? 'sqlite,postgres').split(',');

const TARGETS = {
  SQLite: { creates: 3000, reads: 8000, listP95: 15 },
  PostgreSQL: { creates: 1500, reads: 4000, listP95: 30 },
} as const;
const RSS_TARGET_MB = 300;

type Backend = 'SQLite' | 'PostgreSQL';

function positiveInteger(text: string | undefined): number | undefined {
  const value = Number(text);
  return Number.isInteger(value) && value > 0 ? value : undefined;
}

// ---------------------------------------------------------------------------------------------
// The queries (the entity and its records: bench/orders.ts)

const FIELDS = (MODULE_DEFINITION.entities[ENTITY] as { fields: EntityFields }).fields;

const LIST_FILTER = { status: 'open', amount: { $gte: 100 } };
const LIST_SORT = '-amount';
const listPath = (extra: Record<string, string> = {}) =>
  `${COLLECTION}?${new URLSearchParams({ filter: JSON.stringify(LIST_FILTER), sort: LIST_SORT, limit: String(PAGE), ...extra })}`;
/** How many seeded records the list filter matches. */
const LIST_MATCHES = Array.from({ length: RECORDS }, (_, n) => order(n)).filter(
  (record) => record.status === LIST_FILTER.status && record.amount >= LIST_FILTER.amount.$gte,
).length;
const AGGREGATE_MEASURES = 'count,sum:amount,avg:amount';
const AGGREGATE_PATH = `${COLLECTION}/aggregate?${new URLSearchParams({ groupBy: 'status', measures: AGGREGATE_MEASURES })}`;

// ---------------------------------------------------------------------------------------------
// Seeding, through the storage layer, before the server starts

interface Seeded {
  ids: string[];
  /** The log position of the record in the middle of the seed: the as-of queries read the log as it was there. */
  middlePosition: bigint;
  seconds: number;
}

/** Where the PostgreSQL seed stops to ANALYZE, as autovacuum would (its threshold is 10 % of the table by default). */
const ANALYZE_AT = new Set([1000, 5000, ...Array.from({ length: 9 }, (_, i) => Math.round(((i + 1) * RECORDS) / 10))]);

/**
 * Writes RECORDS orders as the record service's create does (the decider's event, the document
 * its evolution gives, one append with the document inline, the same metadata), minus the read of
 * the record's current document, which a new id cannot have. Up to SEED_CONCURRENCY appends are in
 * flight, so that the group commit writes them in shared transactions.
 */
async function seed(storageConfig: StorageConfig, analyze?: () => Promise<void>): Promise<Seeded> {
  const storage = await openStorage(storageConfig);
  try {
    const data = createDataContext({ events: storage.events, documents: storage.documents, authenticate: unauthenticatedAdmin });
    const context = { caller: { tenant: TENANT, user: 'bench', roles: ['admin'] }, correlationId: 'bench-seed' };
    await data.modules.define(context, TENANT, MODULE, MODULE_DEFINITION);
    const { module, entity } = await data.registry.entity(TENANT, MODULE, ENTITY);
    const metadata = metadataOf(context);
    const ids = new Array<string>(RECORDS);
    let middlePosition = 0n;
    let next = 0;
    const started = process.hrtime.bigint();
    await Promise.all(
      Array.from({ length: SEED_CONCURRENCY }, async () => {
        while (next < RECORDS) {
          const n = next++;
          const id = uuidv7();
          const decided = decide({ kind: 'create', data: order(n) }, initialState, entity);
          const state = decided.reduce((folded, event) => evolve(folded, event, entity.name), initialState);
          const result = await storage.events.append({
            tenant: TENANT,
            streamId: recordStream(MODULE, ENTITY, id),
            events: decided.map((event) => ({ type: event.type, data: event.data, schemaVersion: module.version })),
            expectedVersion: 'no_stream',
            metadata,
            document: { module: MODULE, entity: ENTITY, id, data: state.status === 'active' ? state.data : null },
          });
          ids[n] = id;
          if (n === Math.floor(RECORDS / 2)) middlePosition = result.lastPosition;
          if (analyze && ANALYZE_AT.has(n)) await analyze();
        }
      }),
    );
    return { ids, middlePosition, seconds: Number(process.hrtime.bigint() - started) / 1e9 };
  } finally {
    await storage.close();
  }
}

const TIMING = { warmupSeconds: WARMUP_SECONDS, rounds: ROUNDS, turnSeconds: TURN_SECONDS };
const measure = (server: Server, jobs: BenchJob[], label: string) => measureJobs(server, jobs, label, TIMING);

// ---------------------------------------------------------------------------------------------
// The jobs

const JSON_HEADERS = { 'content-type': 'application/json' };

function createJob(key: string, connections: number, nextOrder: () => number): HttpJob {
  return {
    kind: 'http',
    key,
    connections,
    request: {
      method: 'POST',
      path: COLLECTION,
      headers: JSON_HEADERS,
      setupRequest: (request) => ({ ...request, body: JSON.stringify(order(nextOrder())) }),
    },
  };
}

function updateJob(ids: readonly string[]): HttpJob {
  const pick = picker(ids);
  let n = 0;
  return {
    kind: 'http',
    key: 'update',
    connections: CONCURRENCY,
    request: {
      method: 'PATCH',
      path: COLLECTION,
      headers: JSON_HEADERS,
      setupRequest: (request) => {
        n++;
        return {
          ...request,
          path: `${COLLECTION}/${pick()}`,
          body: JSON.stringify({ amount: (mix(n) % 100_000) / 100, priority: 1 + (n % 5), note: `Updated ${n}` }),
        };
      },
    },
  };
}

function readJob(ids: readonly string[], key = 'read'): HttpJob {
  const pick = picker(ids);
  return {
    kind: 'http',
    key,
    connections: CONCURRENCY,
    request: { method: 'GET', path: COLLECTION, setupRequest: (request) => ({ ...request, path: `${COLLECTION}/${pick()}` }) },
  };
}

const getJob = (key: string, connections: number, path: string): HttpJob => ({
  kind: 'http',
  key,
  connections,
  request: { method: 'GET', path },
});

/** Follows nextCursor DEEP_PAGES times; the cursor of page DEEP_PAGES + 1. */
async function deepCursor(url: string): Promise<string> {
  let cursor: string | undefined;
  for (let page = 0; page < DEEP_PAGES; page++) {
    const response = await fetch(`${url}${listPath(cursor ? { cursor } : {})}`);
    if (!response.ok) throw new Error(`list page ${page + 1}: ${response.status} ${await response.text()}`);
    const body = (await response.json()) as { items: unknown[]; nextCursor: string | null };
    if (!body.nextCursor) throw new Error(`the list ends after ${page + 1} pages`);
    cursor = body.nextCursor;
  }
  return cursor as string;
}

/** The SQL the server runs for each query, compiled by the same compiler, for the raw baselines. */
function compiledQueries(dialect: 'sqlite' | 'postgres', cursor: string, middlePosition: bigint) {
  const sort = parseSort(LIST_SORT, FIELDS);
  const list = { tenant: TENANT, module: MODULE, entity: ENTITY, fields: FIELDS, filter: LIST_FILTER, sort, limit: PAGE };
  return {
    list: compileListQuery(list, dialect),
    deep: compileListQuery({ ...list, after: decodeCursor(cursor, sort, FIELDS) }, dialect),
    asOf: compileListQuery({ ...list, asOf: { position: middlePosition } }, dialect),
    aggregate: compileAggregateQuery(
      {
        tenant: TENANT,
        module: MODULE,
        entity: ENTITY,
        fields: FIELDS,
        groupBy: ['status'],
        measures: parseMeasures(AGGREGATE_MEASURES, FIELDS),
      },
      dialect,
    ),
  };
}

type Queries = ReturnType<typeof compiledQueries>;

/** What the raw side does for one request: the point read of the document, or a compiled query. */
interface RawDriver {
  loops: number;
  pointRead(id: string): Promise<unknown> | unknown;
  query(query: CompiledQuery): () => Promise<unknown> | unknown;
  close(): Promise<void>;
}

function sqliteDriver(path: string): RawDriver {
  const db = new Database(path, { readonly: true });
  const point = db.prepare(
    `SELECT id, version, from_position, data, deleted, created_at, updated_at FROM documents
     WHERE tenant = ? AND module = ? AND entity = ? AND id = ? AND to_position IS NULL`,
  );
  return {
    loops: 1,
    pointRead(id) {
      const row = point.get(TENANT, MODULE, ENTITY, id) as { data: string };
      return { ...row, data: JSON.parse(row.data) };
    },
    query(query) {
      const statement = db.prepare(query.sql);
      return () =>
        (statement.all(...query.params) as { data?: string }[]).map((row) => (row.data ? { ...row, data: JSON.parse(row.data) } : row));
    },
    async close() {
      db.close();
    },
  };
}

function postgresDriver(url: string): RawDriver {
  // The server's pool size, connected as the same role, with the tenant set for row-level security.
  const pool = new pg.Pool({ connectionString: url, max: 10, options: `-c backoffice.tenant=${TENANT}` });
  pool.on('error', () => undefined);
  const pointSql = `SELECT id, version, from_position, data, deleted, created_at, updated_at FROM documents
     WHERE tenant = $1 AND module = $2 AND entity = $3 AND id = $4 AND to_position IS NULL`;
  return {
    loops: CONCURRENCY,
    pointRead: async (id) => (await pool.query(pointSql, [TENANT, MODULE, ENTITY, id])).rows[0],
    query: (query) => async () => (await pool.query(query.sql, query.params)).rows,
    close: () => pool.end(),
  };
}

function rawJob(key: string, loops: number, work: () => Promise<unknown> | unknown): RawJob {
  return {
    kind: 'raw',
    key,
    loops,
    async step() {
      await work();
      return 1;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// One backend

interface BackendRun {
  backend: Backend;
  /** PostgreSQL's `autovacuum` setting (the seed analyzes in its place). */
  autovacuum?: string;
  seeded: Seeded;
  reads: Map<string, Measured>;
  writes: Map<string, Measured>;
  idleRss: number;
  maxRss: number;
  peakRss: number;
  records: number;
}

async function benchBackend(
  backend: Backend,
  storage: StorageConfig,
  serverEnv: Record<string, string>,
  driverFor: () => RawDriver,
  analyze?: () => Promise<void>,
): Promise<BackendRun> {
  progress(`${backend}: seeding ${RECORDS} records`);
  const seeded = await seed(storage, analyze);
  await analyze?.();
  progress(`${backend}: seeded in ${seeded.seconds.toFixed(1)} s`);
  const server = await startServer({ env: serverEnv, profileDir: PROFILE_DIR });
  const driver = driverFor();
  try {
    const cursor = await deepCursor(server.url);
    const queries: Queries = compiledQueries(backend === 'SQLite' ? 'sqlite' : 'postgres', cursor, seeded.middlePosition);
    const pick = picker(seeded.ids);
    const loops = driver.loops;
    const deepPath = listPath({ cursor });
    const asOfPath = listPath({ asOf: seeded.middlePosition.toString() });
    const reads = await measure(
      server,
      [
        readJob(seeded.ids),
        rawJob('raw-read', loops, () => driver.pointRead(pick())),
        getJob('list-1', 1, listPath()),
        getJob('list', CONCURRENCY, listPath()),
        rawJob('raw-list', loops, driver.query(queries.list)),
        getJob('deep-1', 1, deepPath),
        getJob('deep', CONCURRENCY, deepPath),
        rawJob('raw-deep', loops, driver.query(queries.deep)),
        getJob('aggregate', SCAN_CONCURRENCY, AGGREGATE_PATH),
        rawJob('raw-aggregate', Math.min(loops, SCAN_CONCURRENCY), driver.query(queries.aggregate)),
        getJob('as-of', SCAN_CONCURRENCY, asOfPath),
        rawJob('raw-as-of', Math.min(loops, SCAN_CONCURRENCY), driver.query(queries.asOf)),
        {
          ...readJob(seeded.ids, 'read-beside-aggregate'),
          alongside: { connections: 1, request: { method: 'GET', path: AGGREGATE_PATH } },
        },
      ],
      `${backend} reads`,
    );
    let created = RECORDS;
    const nextOrder = () => created++;
    const writes = await measure(
      server,
      [createJob('create-1', 1, nextOrder), createJob('create', CONCURRENCY, nextOrder), updateJob(seeded.ids)],
      `${backend} writes`,
    );
    await server.stop();
    return {
      backend,
      seeded,
      reads,
      writes,
      idleRss: server.idleRss,
      maxRss: server.maxRss(),
      peakRss: server.peakRss(),
      records: created,
    };
  } catch (error) {
    await server.stop().catch(() => undefined);
    throw error;
  } finally {
    await driver.close();
  }
}

async function benchSqlite(): Promise<BackendRun> {
  const dir = mkdtempSync(join(tmpdir(), 'backoffice-bench-http-'));
  try {
    const path = join(dir, 'backoffice.db');
    return await benchBackend('SQLite', { kind: 'sqlite', path }, { BACKOFFICE_STORAGE: 'sqlite', BACKOFFICE_DATA_DIR: dir }, () =>
      sqliteDriver(path),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function benchPostgres(): Promise<BackendRun> {
  const database = await createBenchDatabase('http');
  try {
    const autovacuum = await withClient(database.url, async (client) => (await client.query('SHOW autovacuum')).rows[0]?.autovacuum);
    const run = await benchBackend(
      'PostgreSQL',
      { kind: 'postgres', url: database.url },
      { BACKOFFICE_STORAGE: 'postgres', BACKOFFICE_DATABASE_URL: database.url, BACKOFFICE_DATA_DIR: tmpdir() },
      () => postgresDriver(database.url),
      // Statistics as autovacuum keeps them (it is off on some servers, and would in any case run at
      // times of its own choosing, changing plans mid-run).
      () => withClient(database.url, async (client) => void (await client.query('ANALYZE'))),
    );
    return { ...run, autovacuum: String(autovacuum) };
  } finally {
    await database.drop();
  }
}

async function withClient<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

// ---------------------------------------------------------------------------------------------
// Report

interface TargetCheck {
  text: string;
  met: boolean;
}

const mb = (bytes: number) => `${Math.round(bytes / 1024 ** 2)} MB`;

const LABELS: Record<string, string> = {
  'create-1': 'Create (POST)',
  create: 'Create (POST)',
  update: 'Update (PATCH, random id, no If-Match)',
  read: 'Point read (GET /{id}, random id)',
  'list-1': 'Filtered list, first page',
  list: 'Filtered list, first page',
  'deep-1': `Filtered list, cursor page ${DEEP_PAGES + 1}`,
  deep: `Filtered list, cursor page ${DEEP_PAGES + 1}`,
  aggregate: 'Aggregate by status',
  'as-of': 'Filtered list, first page, ?asOf=middle',
  'read-beside-aggregate': 'Point read, while 1 more connection loops the aggregate',
};

const HTTP_ORDER = [
  'create-1',
  'create',
  'update',
  'read',
  'read-beside-aggregate',
  'list-1',
  'list',
  'deep-1',
  'deep',
  'aggregate',
  'as-of',
];

function httpTable(runs: BackendRun[]): string {
  const rows = runs.flatMap((run) =>
    HTTP_ORDER.map((key) => {
      const measured = (run.reads.get(key) ?? run.writes.get(key)) as Measured;
      const latency = latencyOf(measured);
      return [
        run.backend,
        LABELS[key] as string,
        measured.concurrency,
        formatCount(measured.rate),
        ms(latency.p50),
        ms(latency.p95),
        ms(latency.p99),
        `${Math.round((measured.serverCpu / measured.seconds) * 100)} %`,
        formatCount((measured.serverCpu / Math.max(1, measured.count)) * 1e6),
        `${Math.round((measured.clientCpu / measured.seconds) * 100)} %`,
        failures(measured),
      ];
    }),
  );
  return table(
    ['Backend', 'Request', 'Connections', 'Req/s', 'p50 ms', 'p95 ms', 'p99 ms', 'Server CPU', 'Server CPU µs/req', 'Client CPU', 'Failed'],
    rows,
    'llrrrrrrrrr',
  );
}

const RAW_PAIRS = [
  { api: 'read', raw: 'raw-read', label: 'Point read' },
  { api: 'list', raw: 'raw-list', label: 'Filtered list, first page' },
  { api: 'deep', raw: 'raw-deep', label: `Filtered list, cursor page ${DEEP_PAGES + 1}` },
  { api: 'aggregate', raw: 'raw-aggregate', label: 'Aggregate by status' },
  { api: 'as-of', raw: 'raw-as-of', label: 'As-of list' },
];

function rawTable(runs: BackendRun[]): string {
  const rows = runs.flatMap((run) =>
    RAW_PAIRS.map(({ api, raw, label }) => {
      const apiRun = run.reads.get(api) as Measured;
      const rawRun = run.reads.get(raw) as Measured;
      const apiRate = apiRun.rate;
      const rawRate = rawRun.rate;
      return [
        run.backend,
        label,
        `${formatCount(apiRate)} (${apiRun.concurrency} conn.)`,
        `${formatCount(rawRate)} (${rawRun.concurrency} loop${rawRun.concurrency === '1' ? '' : 's'})`,
        formatRatio(apiRate / rawRate),
        ms(1000 / rawRate),
      ];
    }),
  );
  return table(['Backend', 'Query', 'API req/s', 'Raw driver queries/s', 'API / raw', 'Raw ms/query'], rows, 'llrrrr');
}

function memoryTable(runs: BackendRun[], checks: TargetCheck[]): string {
  return table(
    ['Backend', 'RSS after start', 'Max sampled RSS', 'Peak RSS (VmHWM)', 'Target', 'Result'],
    runs.map((run) => {
      const peak = Math.max(run.maxRss, run.peakRss);
      const target = run.backend === 'SQLite';
      if (target) {
        checks.push({
          text: `SQLite server peak RSS ${mb(peak)} (target < ${RSS_TARGET_MB} MB)`,
          met: peak < RSS_TARGET_MB * 1024 ** 2,
        });
      }
      return [
        run.backend,
        mb(run.idleRss),
        mb(run.maxRss),
        mb(run.peakRss),
        target ? `< ${RSS_TARGET_MB} MB` : '—',
        target ? (peak < RSS_TARGET_MB * 1024 ** 2 ? '**met**' : '**missed**') : '—',
      ];
    }),
    'lrrrll',
  );
}

function targetChecks(runs: BackendRun[]): TargetCheck[] {
  return runs.flatMap((run) => {
    const target = TARGETS[run.backend];
    const creates = (run.writes.get('create') as Measured).rate;
    const reads = (run.reads.get('read') as Measured).rate;
    const list = latencyOf(run.reads.get('list') as Measured);
    const suffix = run.backend === 'PostgreSQL' ? ', within 2× of the embedded target' : '';
    return [
      {
        text: `${run.backend} creates at ${CONCURRENCY} connections: ${formatCount(creates)}/s (target ≥ ${formatCount(target.creates)})`,
        met: creates >= target.creates,
      },
      {
        text: `${run.backend} point reads at ${CONCURRENCY} connections: ${formatCount(reads)}/s (target ≥ ${formatCount(target.reads)}${suffix})`,
        met: reads >= target.reads,
      },
      {
        text: `${run.backend} filtered list, first page, ${CONCURRENCY} connections: p95 ${ms(list.p95)} ms (target ≤ ${target.listP95} ms${suffix})`,
        met: list.p95 <= target.listP95,
      },
    ];
  });
}

interface RunInfo {
  started: Date;
  seconds: number;
  load: [number, number];
}

function report(runs: BackendRun[], notes: string[], info: RunInfo): string {
  const checks = targetChecks(runs);
  const memory = memoryTable(runs, checks);
  const met = checks.filter((check) => check.met).length;
  const seeding = runs
    .map(
      (run) =>
        `${run.backend} ${run.seeded.seconds.toFixed(1)} s (${formatCount(RECORDS / run.seeded.seconds)} records/s; as-of position ${run.seeded.middlePosition}, ${formatCount(run.records)} records at the end)`,
    )
    .join('; ');
  return `_Measured ${info.started.toISOString()}; the module took ${Math.round(info.seconds)} s; one-minute load average
${info.load[0].toFixed(2)} before, ${info.load[1].toFixed(2)} after (${cpus().length} cores)._

The server runs in its own process (\`bench/http-server.ts\`: the platform as \`backoffice start\` builds it,
log level \`warn\`, auth disabled, on PostgreSQL too), the load comes from [autocannon](https://github.com/mcollina/autocannon)
in the benchmark process, over keep-alive HTTP/1.1 on loopback, no pipelining. Both share the machine's
${cpus().length} cores (and with PostgreSQL's own processes): the load generator's CPU is shown next to the server's.
Entity \`${MODULE}.${ENTITY}\`: 10 fields (string, number, enum, datetime, two integers, enum, string, text, boolean),
~${ORDER_BYTES} bytes of JSON per record, declared indexes on status, amount, placedAt and customer.
${formatCount(RECORDS)} records are seeded before the server starts, straight through the storage layer (\`openStorage\` and
\`createDataContext\` in the benchmark process): for each record the record service's decider makes the event and the document,
and one \`EventStore.append\` writes both, as \`POST\` does, without the read of the (absent) current document;
${SEED_CONCURRENCY} appends in flight share group commits. Seeding took ${seeding}.
PostgreSQL runs as a role without superuser rights (row-level security applies) in a throwaway database; the seed
runs \`ANALYZE\` after 1,000 and 5,000 records, after each tenth of the seed and at its end, as autovacuum would${runs.some((run) => run.backend === 'PostgreSQL') ? ` (on this server \`autovacuum\` is ${runs.find((run) => run.backend === 'PostgreSQL')?.autovacuum})` : ''}.
SQLite runs with the platform's defaults (WAL, \`synchronous = FULL\`, no \`ANALYZE\`).
Each job is warmed up for ${WARMUP_SECONDS} s, then timed for ${ROUNDS * TURN_SECONDS} s in ${ROUNDS} interleaved turns (reads and raw
baselines in one table, writes in another, after the reads). Latencies are those autocannon measures per response.

**Targets: ${met} of ${checks.length} met.**

${checks.map((check) => `- ${check.met ? 'met' : '**missed**'}: ${check.text}`).join('\n')}
${notes.length > 0 ? `\n${notes.map((note) => `> ${note}`).join('\n')}\n` : ''}
### Requests

Filtered list: \`filter=${JSON.stringify(LIST_FILTER)}&sort=${LIST_SORT}&limit=${PAGE}\` (${formatCount(LIST_MATCHES)} of the
${formatCount(RECORDS)} seeded records match); the cursor page is reached by following \`nextCursor\` ${DEEP_PAGES} times (${formatCount(DEEP_PAGES * PAGE)}
records in), then requested again and again. Aggregate:
\`groupBy=status&measures=${AGGREGATE_MEASURES}\` over every record. As-of list: the same first page with
\`asOf=<the position of record ${formatCount(RECORDS / 2)}>\`. Creates send a new order each; updates patch amount,
priority and note of a random seeded record. Server CPU is the server process's user + system time over the
timed turns (100 % = one core); on PostgreSQL the database's own processes come on top.

${httpTable(runs)}

### Against the raw driver

The same work sent straight to the database from the benchmark process, interleaved with the HTTP runs:
the point read as one SELECT of the current document by key (better-sqlite3 with \`JSON.parse\`; \`pg\` on a
10-connection pool, the server's size, as the same role), the other queries as the exact SQL the server's query
compiler produces for them. The ratio is the API's throughput over the driver's: what HTTP, validation,
routing, serialisation and the record service cost on top of the database.

${rawTable(runs)}

### Server memory

Resident set size of the server process (\`/proc/<pid>/status\`), sampled every ${RSS_SAMPLE_MS} ms from start to stop,
and the kernel's high-water mark. The server runs under \`tsx\`, whose loader thread is included: it adds about 40 MB
over the compiled server (\`node dist/platform/main.js\`; see bench/README.md).

${memory}
`;
}

export async function run(): Promise<Section> {
  const started = new Date();
  const startedNs = process.hrtime.bigint();
  const loadBefore = loadavg()[0] ?? 0;
  const runs: BackendRun[] = [];
  const notes: string[] = [];
  if (BACKENDS.includes('sqlite')) runs.push(await benchSqlite());
  if (BACKENDS.includes('postgres')) {
    if (await postgresReachable()) runs.push(await benchPostgres());
    else notes.push('PostgreSQL was not reachable: its lines are missing from this run.');
  }
  const info: RunInfo = { started, seconds: Number(process.hrtime.bigint() - startedNs) / 1e9, load: [loadBefore, loadavg()[0] ?? 0] };
  // The benchmark itself keeps both cores busy, so only the load before it tells of other work.
  if (loadBefore > cpus().length / 2) {
    notes.push(
      `The machine was not idle when this module started (load average ${loadBefore.toFixed(2)}: other work, or the module run before): absolute figures are lower and noisier than on an idle machine.`,
    );
  }
  return { id: 'http', title: 'Records API over HTTP', body: report(runs, notes, info) };
}
