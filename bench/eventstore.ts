/**
 * Event store benchmarks: appends, stream reads and consumer catch-up, on SQLite and
 * PostgreSQL, each next to the raw driver doing the equivalent work in the same run.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { startConsumer } from '../src/eventstore/consumer.js';
import type { EventStore, NewEvent } from '../src/eventstore/port.js';
import { createPostgresEventStore } from '../src/eventstore/postgres/store.js';
import { sqliteMigrations } from '../src/eventstore/sqlite/migrations.js';
import { createSqliteEventStore } from '../src/eventstore/sqlite/store.js';
import { createBenchDatabase, postgresReachable } from './postgres.js';
import {
  benchSeconds,
  formatCount,
  formatRatio,
  interleave,
  type Job,
  progress,
  type Section,
  type Throughput,
  table,
  throughput,
} from './support.js';

const TENANT = 'acme';
const ACTOR = 'user:bench';
/** Seconds per timed append measurement; reads get two thirds of it. */
const SECONDS = benchSeconds(4);
const READ_SECONDS = Math.round(((SECONDS * 2) / 3) * 10) / 10;
const WARMUP_SECONDS = Math.min(0.5, SECONDS / 4);
const WRITERS = 16;
const PG_READERS = 16;
/** Every benchmark stream ends up with this many events, so stream reads find full ones. */
const STREAM_LENGTH = 100;
const CATCH_UP_EVENTS = 100_000;
const CATCH_UP_BATCH = 1000;
const CATCH_UP_PASSES = 3;
/** Timed runs are split into this many turns, interleaved with the other jobs of the same table. */
const ROUNDS = 8;
const SQLITE_APPEND_TARGET = 0.5;
const PG_CONCURRENT_TARGET = 5;
const CATCH_UP_TARGET = { SQLite: 50_000, PostgreSQL: 20_000 } as const;

type Backend = 'SQLite' | 'PostgreSQL';
const COLUMNS = 'position, tenant, stream_id, stream_version, event_id, type, schema_version, data, metadata, recorded_at';
const EVENT_TYPES = ['OrderPlaced', 'OrderPaid', 'OrderPacked', 'OrderShipped', 'OrderDelivered'];

/** ~320 bytes of JSON, 10 fields: an order as a real service would record it. */
function orderPayload(i: number) {
  return {
    orderId: `ord_${(0x10000000 + i * 7919).toString(36)}`,
    customerId: `cus_${(0x2000000 + ((i * 104_729) % 0xffffff)).toString(16)}`,
    status: 'placed',
    channel: i % 3 === 0 ? 'mobile' : 'web',
    currency: 'EUR',
    totalCents: 1000 + ((i * 7919) % 90_000),
    itemCount: 1 + (i % 5),
    lines: [
      { sku: `SKU-${10_000 + (i % 8999)}`, qty: 1 + (i % 3), cents: 999 + (i % 5000) },
      { sku: `SKU-${20_000 + (i % 7919)}`, qty: 1, cents: 4550 },
    ],
    shipTo: { city: 'London', postcode: `NW${1 + (i % 9)} 6XE`, country: 'GB' },
    placedAt: new Date(Date.UTC(2024, 4, 17) + i * 61_000).toISOString(),
  };
}
const PAYLOADS = Array.from({ length: 1024 }, (_, i) => orderPayload(i));
const PAYLOAD_BYTES = Math.round(PAYLOADS.reduce((sum, payload) => sum + Buffer.byteLength(JSON.stringify(payload)), 0) / PAYLOADS.length);

let sequence = 0;
function newEvents(count: number): NewEvent[] {
  return Array.from({ length: count }, () => {
    const n = sequence++;
    return { type: EVENT_TYPES[n % EVENT_TYPES.length] as string, data: PAYLOADS[n % PAYLOADS.length] as NewEvent['data'] };
  });
}

/** A row as the raw baselines insert it: the same columns and JSON text the store writes. */
interface RawRow {
  position: number;
  streamId: string;
  version: number;
  id: string;
  type: string;
  data: string;
  metadata: string;
  recordedAt: string;
}

/** Turns the same events into rows, doing by hand what the store does for an append. */
function rawRows(streamId: string, fromVersion: number, events: NewEvent[], nextPosition: () => number): RawRow[] {
  const metadata = JSON.stringify({ tenant: TENANT, correlationId: randomUUID(), causationId: null, actor: ACTOR });
  const recordedAt = new Date().toISOString();
  return events.map((event, index) => ({
    position: nextPosition(),
    streamId,
    version: fromVersion + index + 1,
    id: randomUUID(),
    type: event.type,
    data: JSON.stringify(event.data),
    metadata,
    recordedAt,
  }));
}

/** Per writer: the stream it is filling and that stream's version; full streams are collected for reads. */
function streamCursor(label: string, writer: number, batch: number, full: string[]) {
  let index = 0;
  let version = 0;
  return {
    next(): { streamId: string; expected: number } {
      if (version + batch > STREAM_LENGTH) {
        index++;
        version = 0;
      }
      return { streamId: `order-${label}-${writer}-${index}`, expected: version };
    },
    advance(streamId: string): void {
      version += batch;
      if (version === STREAM_LENGTH) full.push(streamId);
    },
  };
}

/** A job appending `batch`-event appends from `writers` concurrent loops, each on its own streams. */
function storeAppendJob(store: EventStore, label: string, batch: number, writers: number, full: string[]): Job {
  const cursors = Array.from({ length: writers }, (_, writer) => streamCursor(label, writer, batch, full));
  return {
    key: `store-${batch}x${writers}`,
    loops: writers,
    async step(writer) {
      const cursor = cursors[writer] as ReturnType<typeof streamCursor>;
      const { streamId, expected } = cursor.next();
      await store.append({
        tenant: TENANT,
        streamId,
        events: newEvents(batch),
        expectedVersion: expected,
        metadata: { correlationId: randomUUID(), actor: ACTOR },
      });
      cursor.advance(streamId);
      return batch;
    },
  };
}

function storeAppendJobs(store: EventStore, prefix: string, full: string[]): Job[] {
  return [1, 10].flatMap((batch) =>
    [1, WRITERS].map((writers) => storeAppendJob(store, `${prefix}-${batch}x${writers}`, batch, writers, full)),
  );
}

/** A job inserting the rows of `batch`-event appends with the bare driver, one transaction each. */
function rawAppendJob(key: string, batch: number, nextPosition: () => number, insert: (rows: RawRow[]) => Promise<void> | void): Job {
  const cursor = streamCursor(key, 0, batch, []);
  return {
    key,
    loops: 1,
    async step() {
      const { streamId, expected } = cursor.next();
      await insert(rawRows(streamId, expected, newEvents(batch), nextPosition));
      cursor.advance(streamId);
      return batch;
    },
  };
}

function appendLines(backend: Backend, measured: Map<string, Throughput>): AppendLine[] {
  return [1, 10].flatMap((batch) =>
    [1, WRITERS].map((writers) => ({ backend, batch, writers, store: measured.get(`store-${batch}x${writers}`) as Throughput })),
  );
}

/** Stream reads of full streams, picked across the whole log; `read` returns the events it got. */
function readJob(key: string, readers: number, full: string[], read: (streamId: string) => Promise<number> | number): Job {
  return {
    key,
    loops: readers,
    step: (reader, i) => read(full[(i * 7919 + reader * 104_729) % full.length] as string),
  };
}

/** Appends events to full streams until the log holds at least `target` events. */
async function fillLog(store: EventStore, target: number, full: string[]): Promise<void> {
  let head = Number(await store.headPosition());
  let next = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (head < target) {
        const streamId = `order-fill-${next++}`;
        const result = await store.append({ tenant: TENANT, streamId, events: newEvents(STREAM_LENGTH), expectedVersion: 0 });
        head = Math.max(head, Number(result.lastPosition));
        full.push(streamId);
      }
    }),
  );
}

/** startConsumer from position 0 until it has handled the first CATCH_UP_EVENTS events. */
async function storeCatchUpPass(store: EventStore, name: string): Promise<Throughput> {
  let delivered = 0;
  const started = process.hrtime.bigint();
  const consumer = await startConsumer(store, {
    name,
    batchSize: CATCH_UP_BATCH,
    handle: (events) => {
      delivered += events.length;
    },
  });
  await consumer.waitFor(BigInt(CATCH_UP_EVENTS));
  const result = throughput(Math.min(delivered, CATCH_UP_EVENTS), started);
  await consumer.stop();
  return result;
}

type PageReader = (after: number) => Promise<{ position: number | string }[]> | { position: number | string }[];

/** Raw paging over the first CATCH_UP_EVENTS events of the log. */
async function rawCatchUpPass(readPage: PageReader): Promise<Throughput> {
  const started = process.hrtime.bigint();
  let after = 0;
  let delivered = 0;
  while (delivered < CATCH_UP_EVENTS) {
    const rows = await readPage(after);
    const last = rows.at(-1);
    if (!last) break;
    delivered += rows.length;
    after = Number(last.position);
  }
  return throughput(delivered, started);
}

/** Store and raw passes alternate; the best pass of each is kept. */
async function catchUp(backend: Backend, store: EventStore, readPage: PageReader): Promise<CatchUpLine> {
  let best: { store?: Throughput; raw?: Throughput } = {};
  for (let pass = 0; pass < CATCH_UP_PASSES; pass++) {
    const storePass = await storeCatchUpPass(store, `bench-catch-up-${pass}`);
    const rawPass = await rawCatchUpPass(readPage);
    best = {
      store: best.store && best.store.rate > storePass.rate ? best.store : storePass,
      raw: best.raw && best.raw.rate > rawPass.rate ? best.raw : rawPass,
    };
  }
  return { backend, store: best.store as Throughput, raw: best.raw as Throughput };
}

// ---------------------------------------------------------------------------------------------
// Results

interface AppendLine {
  backend: Backend;
  batch: number;
  writers: number;
  store: Throughput;
}

interface Baseline {
  backend: Backend;
  key: string;
  label: string;
  rowsPerTransaction: number;
  result: Throughput;
}

interface ReadLine {
  backend: Backend;
  readers: number;
  store: Throughput;
  raw: Throughput;
}

interface CatchUpLine {
  backend: Backend;
  store: Throughput;
  raw: Throughput;
}

interface BackendResults {
  appends: AppendLine[];
  baselines: Baseline[];
  reads: ReadLine[];
  catchUp: CatchUpLine[];
  logSize: number;
}

const APPEND_RUN = { seconds: SECONDS, rounds: ROUNDS, warmupSeconds: WARMUP_SECONDS };
const READ_RUN = { seconds: READ_SECONDS, rounds: ROUNDS, warmupSeconds: WARMUP_SECONDS };
const announce = (backend: Backend) => (job: Job) => progress(`${backend}: ${job.key}, ${job.loops} loop(s)`);

// ---------------------------------------------------------------------------------------------
// SQLite

function openRawSqlite(path: string): Database.Database {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  return db;
}

async function benchSqlite(dir: string): Promise<BackendResults> {
  const storePath = join(dir, 'store.sqlite');
  const store = createSqliteEventStore({ path: storePath });
  const raw = openRawSqlite(join(dir, 'raw.sqlite'));
  for (const migration of sqliteMigrations) raw.exec(migration.sql);
  const reader = new Database(storePath, { readonly: true });
  const full: string[] = [];
  try {
    const insert = raw.prepare(`INSERT INTO events (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
    // IMMEDIATE, as the store's writes.
    const insertRows = raw.transaction((rows: RawRow[]) => {
      for (const row of rows) {
        insert.run(row.position, TENANT, row.streamId, row.version, row.id, row.type, 1, row.data, row.metadata, row.recordedAt);
      }
    }).immediate;
    let position = 0;
    const nextPosition = () => ++position;
    progress('SQLite appends');
    const appends = await interleave(
      [
        rawAppendJob('raw-1', 1, nextPosition, insertRows),
        rawAppendJob('raw-10', 10, nextPosition, insertRows),
        ...storeAppendJobs(store, 'sqlite', full),
      ],
      APPEND_RUN,
      announce('SQLite'),
    );

    progress('SQLite stream reads');
    const selectStream = reader.prepare(
      `SELECT ${COLUMNS} FROM events WHERE tenant = ? AND stream_id = ? AND stream_version >= ? ORDER BY stream_version LIMIT ?`,
    );
    const selectPage = reader.prepare(`SELECT ${COLUMNS} FROM events WHERE position > ? ORDER BY position LIMIT ?`);
    const parse = (rows: unknown[]) =>
      (rows as { position: number; data: string; metadata: string }[]).map((row) => ({
        ...row,
        data: JSON.parse(row.data),
        metadata: JSON.parse(row.metadata),
      }));
    const reads = await interleave(
      [
        readJob('store', 1, full, async (streamId) => (await store.readStream(TENANT, streamId)).length),
        readJob('raw', 1, full, (streamId) => parse(selectStream.all(TENANT, streamId, 1, 1000)).length),
      ],
      READ_RUN,
    );

    progress(`SQLite consumer catch-up over ${CATCH_UP_EVENTS} events`);
    await fillLog(store, CATCH_UP_EVENTS, full);
    const logSize = Number(await store.headPosition());
    const catchUpLine = await catchUp('SQLite', store, (after) => parse(selectPage.all(after, CATCH_UP_BATCH)));

    return {
      appends: appendLines('SQLite', appends),
      baselines: [1, 10].map((batch) => ({
        backend: 'SQLite',
        key: `txn-per-append-${batch}`,
        label: `better-sqlite3, 1 transaction per ${batch === 1 ? 'row' : `${batch} rows`}`,
        rowsPerTransaction: batch,
        result: appends.get(`raw-${batch}`) as Throughput,
      })),
      reads: [{ backend: 'SQLite', readers: 1, store: reads.get('store') as Throughput, raw: reads.get('raw') as Throughput }],
      catchUp: [catchUpLine],
      logSize,
    };
  } finally {
    reader.close();
    await store.close();
    raw.close();
  }
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL

async function benchPostgres(): Promise<BackendResults> {
  const database = await createBenchDatabase('eventstore');
  // The raw readers read the store's own rows, under the same row-level security policy, as a
  // session that may see every tenant (what the store's read functions set per transaction).
  const rawOptions = { connectionString: database.url, options: '-c backoffice.tenant=*' };
  const raw = new pg.Client(rawOptions);
  const rawPool = new pg.Pool({ ...rawOptions, max: 10 });
  // pool.end() resolves before its sockets close, so DROP DATABASE … WITH (FORCE) may still hit one.
  rawPool.on('error', () => undefined);
  let store: EventStore | undefined;
  try {
    store = await createPostgresEventStore({ connectionString: database.url });
    await raw.connect();
    // Same columns, types, keys and indexes as the store's table; no row-level security, no function.
    await raw.query('CREATE TABLE raw_events (LIKE events INCLUDING ALL)');
    const full: string[] = [];
    const insertInto = (rowsPerTransaction: number) => {
      const placeholders = Array.from(
        { length: rowsPerTransaction },
        (_, r) => `(${Array.from({ length: 10 }, (_, c) => `$${r * 10 + c + 1}`).join(', ')})`,
      ).join(', ');
      const text = `INSERT INTO raw_events (${COLUMNS}) VALUES ${placeholders}`;
      // One prepared statement in autocommit: one transaction, one commit, per call.
      return async (rows: RawRow[]) => {
        const values = rows.flatMap((row) => [
          row.position,
          TENANT,
          row.streamId,
          row.version,
          row.id,
          row.type,
          1,
          row.data,
          row.metadata,
          row.recordedAt,
        ]);
        await raw.query({ name: `raw_insert_${rowsPerTransaction}`, text, values });
      };
    };
    let position = 0;
    const nextPosition = () => ++position;
    progress('PostgreSQL appends');
    const appends = await interleave(
      [
        rawAppendJob('raw-1', 1, nextPosition, insertInto(1)),
        rawAppendJob('raw-10', 10, nextPosition, insertInto(10)),
        ...storeAppendJobs(store, 'pg', full),
      ],
      APPEND_RUN,
      announce('PostgreSQL'),
    );

    progress('PostgreSQL stream reads');
    const openStore = store;
    const streamSql = `SELECT ${COLUMNS} FROM events WHERE tenant = $1 AND stream_id = $2 AND stream_version >= $3 ORDER BY stream_version LIMIT $4`;
    const rawRead = (client: pg.Client | pg.Pool) => async (streamId: string) =>
      (await client.query({ name: 'raw_stream', text: streamSql, values: [TENANT, streamId, 1, 1000] })).rows.length;
    const storeRead = async (streamId: string) => (await openStore.readStream(TENANT, streamId)).length;
    const reads = await interleave(
      [
        readJob('store-1', 1, full, storeRead),
        readJob('raw-1', 1, full, rawRead(raw)),
        readJob(`store-${PG_READERS}`, PG_READERS, full, storeRead),
        readJob(`raw-${PG_READERS}`, PG_READERS, full, rawRead(rawPool)),
      ],
      READ_RUN,
    );

    progress(`PostgreSQL consumer catch-up over ${CATCH_UP_EVENTS} events`);
    await fillLog(store, CATCH_UP_EVENTS, full);
    const logSize = Number(await store.headPosition());
    const pageSql = `SELECT ${COLUMNS} FROM events WHERE position > $1 ORDER BY position LIMIT $2`;
    const catchUpLine = await catchUp(
      'PostgreSQL',
      store,
      async (after) => (await raw.query<{ position: string }>({ name: 'raw_page', text: pageSql, values: [after, CATCH_UP_BATCH] })).rows,
    );

    return {
      appends: appendLines('PostgreSQL', appends),
      baselines: [
        {
          backend: 'PostgreSQL',
          key: 'txn-per-row',
          label: 'pg, 1 connection, 1 transaction (INSERT, autocommit) per row',
          rowsPerTransaction: 1,
          result: appends.get('raw-1') as Throughput,
        },
        {
          backend: 'PostgreSQL',
          key: 'txn-per-10-rows',
          label: 'pg, 1 connection, 1 transaction (10-row INSERT, autocommit) per 10 rows',
          rowsPerTransaction: 10,
          result: appends.get('raw-10') as Throughput,
        },
      ],
      reads: [1, PG_READERS].map((readers) => ({
        backend: 'PostgreSQL',
        readers,
        store: reads.get(`store-${readers}`) as Throughput,
        raw: reads.get(`raw-${readers}`) as Throughput,
      })),
      catchUp: [catchUpLine],
      logSize,
    };
  } finally {
    await store?.close();
    await raw.end().catch(() => undefined);
    await rawPool.end().catch(() => undefined);
    await database.drop();
  }
}

// ---------------------------------------------------------------------------------------------
// Report

interface TargetCheck {
  text: string;
  met: boolean;
}

function verdict(ratioOrRate: number, target: number, checks: TargetCheck[], text: string): string {
  const met = ratioOrRate >= target;
  checks.push({ text, met });
  return met ? '**met**' : '**missed**';
}

function appendTable(lines: AppendLine[], baselines: Baseline[], checks: TargetCheck[]): string {
  const rows: (string | number)[][] = [];
  for (const line of lines) {
    const name = `${line.backend}, ${line.batch}-event appends, ${line.writers} writer${line.writers > 1 ? 's' : ''}`;
    const versus: { baseline: Baseline | undefined; target?: number }[] =
      line.backend === 'SQLite'
        ? [{ baseline: baselines.find((b) => b.key === `txn-per-append-${line.batch}`), target: SQLITE_APPEND_TARGET }]
        : [
            {
              baseline: baselines.find((b) => b.key === 'txn-per-row'),
              ...(line.writers > 1 ? { target: PG_CONCURRENT_TARGET } : {}),
            },
            ...(line.batch === 10 ? [{ baseline: baselines.find((b) => b.key === 'txn-per-10-rows') }] : []),
          ];
    for (const { baseline, target } of versus) {
      if (!baseline) continue;
      const ratio = line.store.rate / baseline.result.rate;
      rows.push([
        line.backend,
        line.batch,
        line.writers,
        formatCount(line.store.rate),
        formatCount(line.store.rate / line.batch),
        `${baseline.rowsPerTransaction === 1 ? '1 txn/row' : `1 txn/${baseline.rowsPerTransaction} rows`}: ${formatCount(baseline.result.rate)}`,
        formatRatio(ratio),
        target === undefined ? '—' : `≥ ${target}×`,
        target === undefined ? '—' : verdict(ratio, target, checks, `${name}: ${formatRatio(ratio)} of raw (target ≥ ${target}×)`),
      ]);
    }
  }
  return table(
    [
      'Backend',
      'Events/append',
      'Writers',
      'Store events/s',
      'Store appends/s',
      'Raw baseline, rows/s',
      'Ratio to raw',
      'Target',
      'Result',
    ],
    rows,
    'lrrrrlrll',
  );
}

function baselineTable(baselines: Baseline[]): string {
  return table(
    ['Backend', 'Raw baseline', 'Rows/s', 'Transactions/s'],
    baselines.map((b) => [b.backend, b.label, formatCount(b.result.rate), formatCount(b.result.rate / b.rowsPerTransaction)]),
    'llrr',
  );
}

function readTable(lines: ReadLine[]): string {
  return table(
    ['Backend', 'Concurrent readers', 'Store reads/s', 'Store events/s', 'Raw reads/s', 'Raw events/s', 'Ratio to raw'],
    lines.map((line) => [
      line.backend,
      line.readers,
      formatCount(line.store.rate / STREAM_LENGTH),
      formatCount(line.store.rate),
      formatCount(line.raw.rate / STREAM_LENGTH),
      formatCount(line.raw.rate),
      formatRatio(line.store.rate / line.raw.rate),
    ]),
  );
}

function catchUpTable(lines: CatchUpLine[], checks: TargetCheck[]): string {
  return table(
    ['Backend', 'Events', 'Store events/s', 'Raw events/s', 'Ratio to raw', 'Target', 'Result'],
    lines.map((line) => {
      const target = CATCH_UP_TARGET[line.backend];
      return [
        line.backend,
        formatCount(line.store.count),
        formatCount(line.store.rate),
        formatCount(line.raw.rate),
        formatRatio(line.store.rate / line.raw.rate),
        `≥ ${formatCount(target)} events/s`,
        verdict(
          line.store.rate,
          target,
          checks,
          `${line.backend} consumer catch-up: ${formatCount(line.store.rate)} events/s (target ≥ ${formatCount(target)})`,
        ),
      ];
    }),
    'lrrrrll',
  );
}

interface RunInfo {
  started: Date;
  seconds: number;
  /** One-minute load averages before and after: other work on the machine skews absolute figures. */
  load: [number, number];
}

function report(results: BackendResults[], notes: string[], info: RunInfo): string {
  const baselines = results.flatMap((result) => result.baselines);
  const checks: TargetCheck[] = [];
  const appends = appendTable(
    results.flatMap((result) => result.appends),
    baselines,
    checks,
  );
  const catchUp = catchUpTable(
    results.flatMap((result) => result.catchUp),
    checks,
  );
  const met = checks.filter((check) => check.met).length;
  return `_Measured ${info.started.toISOString()}; the suite took ${Math.round(info.seconds)} s; one-minute load average
${info.load[0].toFixed(2)} before, ${info.load[1].toFixed(2)} after (${cpus().length} cores)._

Every store figure is measured through the public \`EventStore\` API (and \`startConsumer\`) with
a ${PAYLOAD_BYTES}-byte JSON order payload (10 fields), tenant \`${TENANT}\`, and metadata with a
correlation id and an actor. SQLite runs with WAL and \`synchronous = FULL\` (the store's default),
PostgreSQL as a role without superuser rights (row-level security applies) in a throwaway database,
with the server's default \`synchronous_commit = on\`. Each raw baseline does the equivalent work with
the bare driver in the same run, on the same table shape and the same JSON text. Each job of a
table (store and raw alike) is warmed up for ${WARMUP_SECONDS} s, then timed for ${SECONDS} s (reads: ${READ_SECONDS} s) in
${ROUNDS} interleaved turns, so that drifts of the machine (fsync latency above all) fall on store and
raw alike.

**Targets: ${met} of ${checks.length} met.**

${checks.map((check) => `- ${check.met ? 'met' : '**missed**'}: ${check.text}`).join('\n')}
${notes.length > 0 ? `\n${notes.map((note) => `> ${note}`).join('\n')}\n` : ''}
### Appends

Single writer: one loop awaiting each append. ${WRITERS} writers: ${WRITERS} async loops, each on its own
streams, every append with the exact expected version; each stream gets ${STREAM_LENGTH} events. The
SQLite baseline writes the same rows one transaction per append on one connection (same pragmas);
the PostgreSQL baselines insert them on one connection, one autocommitted INSERT per row, and one
10-row INSERT per 10 rows (prepared statements). Targets: SQLite appends ≥ ${SQLITE_APPEND_TARGET}× raw inserts of
the same rows; concurrent PostgreSQL appends ≥ ${PG_CONCURRENT_TARGET}× one transaction per row.

${appends}

Raw baselines:

${baselineTable(baselines)}

### Stream reads

\`readStream\` of a full ${STREAM_LENGTH}-event stream, streams picked across the whole log, against a raw
SELECT of the same rows with the JSON columns parsed (better-sqlite3: \`JSON.parse\`; pg parses jsonb
itself). PostgreSQL with ${PG_READERS} concurrent readers uses the store's pool (10 connections) and a raw
\`pg.Pool\` of the same size.

${readTable(results.flatMap((result) => result.reads))}

### Consumer catch-up

\`startConsumer\` from position 0 with \`batchSize: ${CATCH_UP_BATCH}\` until it has handled the first
${formatCount(CATCH_UP_EVENTS)} events of the log (log size: ${results.map((r) => formatCount(r.logSize)).join(' / ')} events),
checkpoint written after each batch; against raw SELECT paging (\`position > ? ORDER BY position LIMIT ${CATCH_UP_BATCH}\`)
with JSON parsing. Best of ${CATCH_UP_PASSES} passes each.

${catchUp}
`;
}

export async function run(): Promise<Section> {
  const started = new Date();
  const startedNs = process.hrtime.bigint();
  const loadBefore = loadavg()[0] ?? 0;
  const results: BackendResults[] = [];
  const notes: string[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'backoffice-bench-'));
  try {
    results.push(await benchSqlite(dir));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  if (await postgresReachable()) results.push(await benchPostgres());
  else notes.push('PostgreSQL was not reachable: its lines are missing from this run.');
  const info: RunInfo = { started, seconds: Number(process.hrtime.bigint() - startedNs) / 1e9, load: [loadBefore, loadavg()[0] ?? 0] };
  if (Math.max(...info.load) > cpus().length) {
    notes.push(
      'The machine was busy with other work during this run (load average above the core count): absolute figures, fsync-bound ones above all, are lower and noisier than on an idle machine.',
    );
  }
  return { id: 'eventstore', title: 'Event store', body: report(results, notes, info) };
}
