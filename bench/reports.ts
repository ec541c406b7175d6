/**
 * Reports (`npm run bench -- reports`): (a) how fast the report processor builds a report from
 * position 0 over a log of order events, against a consumer catching up over the same log in the
 * same run, on SQLite and (when it answers) PostgreSQL; (b) read latency of a report of 10,000
 * groups over HTTP, JSON and CSV.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { failures, latencyOf, type Measured, ms, serverCpu, type Timing } from './http-load.js';
import { createBenchDatabase, postgresReachable } from './postgres.js';
import { benchMaintenance, type MaintenanceRun, PASSES, postgresBackend, REPORT_DEFINITION, sqliteBackend } from './reports-load.js';
import { benchReads, READ_CONNECTIONS, type ReadRun, WIDE_GROUPS, WIDE_REPORT } from './reports-read.js';
import { benchSeconds, formatCount, formatRatio, progress, type Section, type Throughput, table } from './support.js';

/** Events in the maintenance log; BENCH_REPORTS_EVENTS changes it. */
const EVENTS = positiveInteger(process.env.BENCH_REPORTS_EVENTS) ?? 100_000;
const RATIO_TARGET = 0.5;
const SECONDS = Math.max(2, Math.round(benchSeconds(4)));
const READ_TIMING: Timing = { warmupSeconds: 1, rounds: 2, turnSeconds: Math.max(1, Math.round(SECONDS / 2)) };

function positiveInteger(text: string | undefined): number | undefined {
  const value = Number(text);
  return Number.isInteger(value) && value > 0 ? value : undefined;
}

const best = <T extends Throughput>(passes: T[]): T => passes.reduce((a, b) => (b.rate > a.rate ? b : a));
const verdict = (met: boolean) => (met ? '**met**' : '**missed**');

async function maintenanceRuns(): Promise<{ runs: MaintenanceRun[]; postgres: string }> {
  const runs: MaintenanceRun[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'backoffice-bench-reports-'));
  try {
    runs.push(await benchMaintenance(sqliteBackend(join(dir, 'backoffice.db')), EVENTS));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  if (!(await postgresReachable())) return { runs, postgres: 'not reachable: PostgreSQL lines left out' };
  const database = await createBenchDatabase('reports');
  try {
    runs.push(await benchMaintenance(postgresBackend(database.url), EVENTS));
  } finally {
    await database.drop();
  }
  return { runs, postgres: 'measured' };
}

function maintenanceTable(runs: MaintenanceRun[], checks: string[]): string {
  const rows = runs.map((run) => {
    const report = best(run.reportPasses);
    const catchUp = best(run.catchUpPasses);
    const ratio = report.rate / catchUp.rate;
    checks.push(
      `${verdict(ratio >= RATIO_TARGET)}: ${run.backend} report maintenance ${formatCount(report.rate)} events/s, ${formatRatio(ratio)} of the consumer catch-up (target ≥ ${RATIO_TARGET}×)`,
    );
    return [
      run.backend,
      formatCount(run.events),
      `${report.seconds.toFixed(2)} s`,
      formatCount(report.rate),
      run.reportPasses.map((pass) => formatCount(pass.rate)).join(' / '),
      formatCount(best(run.reducerPasses).rate),
      formatCount(catchUp.rate),
      run.catchUpPasses.map((pass) => formatCount(pass.rate)).join(' / '),
      formatRatio(ratio),
      `≥ ${RATIO_TARGET}×`,
      verdict(ratio >= RATIO_TARGET),
      `${formatCount(run.groups)} groups, ${formatCount(run.counted)} of ${formatCount(run.mix.live)} live records${run.counted === run.mix.live ? '' : ' **(mismatch)**'}`,
    ];
  });
  return table(
    [
      'Backend',
      'Events in the log',
      'Report build (best)',
      'Report events/s (best)',
      'Each pass',
      'Reducer alone events/s (best)',
      'Catch-up events/s (best)',
      'Each pass',
      'Ratio',
      'Target',
      'Result',
      'Report at the head',
    ],
    rows,
    'lrrrrrrrrlll',
  );
}

function loadSentence(runs: MaintenanceRun[]): string {
  const first = runs[0] as MaintenanceRun;
  const { creates, updates, deletes, live } = first.mix;
  const times = runs
    .map((run) => `${run.backend} ${run.loadSeconds.toFixed(1)} s (${formatCount((run.events - 2) / run.loadSeconds)} events/s)`)
    .join(', ');
  return `The log: the module and report definitions, then ${formatCount(creates)} creates, ${formatCount(updates)} updates and ${formatCount(deletes)} deletes of
\`sales.orders\` (${formatCount(live)} records live at the end), one event per append, 256 appends in flight, each appender owning its
records. Every update moves its record to the next status (another group) with a new amount; one in four also moves \`placedAt\`
a day on (another day bucket). Loading took ${times}.`;
}

const ratioOf = (run: MaintenanceRun) => best(run.reportPasses).rate / best(run.catchUpPasses).rate;

/** Why the target is met or missed in this run, from its passes, and what the code does for it. */
function explanation(runs: MaintenanceRun[]): string {
  const missed = runs.filter((run) => ratioOf(run) < RATIO_TARGET);
  const title =
    missed.length === 0
      ? 'Why the target is met.'
      : `Why the target is missed${missed.length < runs.length ? ` on ${missed.map((run) => run.backend).join(' and ')}` : ''}.`;
  const list = (part: (run: MaintenanceRun) => string) => runs.map((run) => `${run.backend} ${part(run)}`).join(', ');
  const micros = (rate: number) => (1e6 / rate).toFixed(1);
  const percent = (share: number) => `${Math.round(share * 100)} %`;
  const report = (run: MaintenanceRun) => best(run.reportPasses);
  const extra = (run: MaintenanceRun) => 1e6 / report(run).rate - 1e6 / best(run.catchUpPasses).rate;
  return `**${title}** The build reads the log once, as the consumer does, which costs the consumer ${list((run) => `${micros(best(run.catchUpPasses).rate)} µs`)}
an event here; the target holds while the build's own work (its fold and its report store) costs at most as much again: it took
${list((run) => `${extra(run) >= 0 ? '+' : ''}${extra(run).toFixed(1)} µs`)} an event (best passes). The reducer alone (the same events fed to \`memberFold\`, batches merged
with \`mergeGroups\`, member rows and groups in memory, one read of the log) takes ${list((run) => percent(best(run.reducerPasses).seconds / report(run).seconds))} of the
build's time; the report store's reads and commits took ${list((run) => percent(report(run).storeSeconds / report(run).seconds))} of it, writing ${list((run) => formatCount(report(run).memberRows))}
member rows (one per record that a batch touched; most in the last batch, which holds most of the log).${
    runs.some((run) => run.backend === 'PostgreSQL')
      ? ` On PostgreSQL the reads overlap with the fold (the next chunk is read while one is folded) but the last batch's commit does
not: it is server time (parsing the rows' JSON, inserting them and their index entries, upserting the groups) that the build
waits for at its end.`
      : ''
  }

Before (run of 2026-11-25): SQLite 3,879 events/s (0.02× of 182,373), PostgreSQL 3,447 (0.03× of 124,872), the reducer alone
5,111–7,754 events/s, ~150–200 µs per event. Each event was folded into its group's delta one by one (its contribution subtracted,
its new one added, group keys and values turned into JSON text each time), and each batch's deltas were added to copies of the
stored groups, whose value → count multisets (\`{ ...a.v }\` on objects keyed by values' JSON, \`delete\` when a count reached 0) the copy
made slow to build and slow to collect; member rows were read one statement per record and written one statement per row; the
processor read the log twice while a version built (its main pass, applying nothing, and the version's catch-up, one batch behind
the other), in batches of 1,000, each its own transaction that rewrote the pages of all member rows it touched. Now (src/reports):
an event only moves its record's member row (\`evolve\`); when the batch ends, each record touched subtracts its contribution from
before the batch and adds its contribution after it, computed once (\`memberFold\` in reducer.ts), and the groups are updated in place
with multisets as \`Map\`s; a batch takes what the log holds after the cursor, up to 100,000 events, read in chunks of 1,000 with the
next chunk read while one is folded, and commits once; while no version is at the cursor, the cursor waits for the building ones, so
a build reads the log once; a record whose first event opens its stream has no member row to read, the others come from a cache of
the member rows last committed (emptied whenever a fenced commit fails) and else from one query per chunk; groups come from a cache
too; rows are written with multi-row statements (SQLite: upserts of 64 rows; PostgreSQL: one \`jsonb_each\` statement per table, a
plain insert for the member rows of records new to the store, which costs it much less than an upsert), the groups' JSON written by hand.
`;
}

function readRow(label: string, measured: Measured, bytes: number): (string | number)[] {
  const latency = latencyOf(measured);
  const cpu = serverCpu(measured);
  return [
    label,
    `${(bytes / 1024).toFixed(0)} KiB`,
    formatCount(measured.rate),
    ms(latency.p50),
    ms(latency.p95),
    ms(latency.p99),
    formatCount(measured.count),
    cpu.share,
    failures(measured),
  ];
}

function readTable(run: ReadRun): string {
  const json = run.measured.get('json') as Measured;
  const csv = run.measured.get('csv') as Measured;
  return table(
    ['Request', 'Answer size', 'Req/s', 'p50 ms', 'p95 ms', 'p99 ms', 'Responses', 'Server CPU', 'Failed'],
    [readRow(`\`GET …/reports/${WIDE_REPORT}/data\` (JSON)`, json, run.bytes.json), readRow(`\`…/data?format=csv\``, csv, run.bytes.csv)],
    'lrrrrrrrr',
  );
}

function body(started: Date, seconds: number, load: [number, number], runs: MaintenanceRun[], postgres: string, reads: ReadRun): string {
  const checks: string[] = [];
  const maintenance = maintenanceTable(runs, checks);
  const busy = load[0] > cpus().length || load[1] > cpus().length;
  return `_Measured ${started.toISOString()}; the module took ${Math.round(seconds)} s; one-minute load average
${load[0].toFixed(2)} before, ${load[1].toFixed(2)} after (${cpus().length} cores)._

**Targets: ${checks.filter((check) => check.startsWith('**met')).length} of ${checks.length} met.**

${checks.map((check) => `- ${check}`).join('\n')}
${busy ? '\n> The machine was busy with other work during this run (load average above the core count): figures are lower and noisier than on an idle machine.\n' : ''}
### Maintenance throughput

The report: \`${JSON.stringify(REPORT_DEFINITION)}\`. ${loadSentence(runs)}

Both measurements read the same log in the same process. **Report build**: \`startReportProcessor\` with the platform's settings
(reads of 1,000 events, batches of up to 100,000, caches of 100,000 member rows and 10,000 groups) on an emptied report store,
from the start until the report is \`ready\` at the head (the data model's registry loaded before the clock starts, as in a running platform); it is what a first definition, a restart on an empty report store or a
changed definition costs. Its first batch ends at the report's definition; the new version then builds up to the cursor and joins
it, and the rest of the log is read once, in batches that each commit the member rows, groups, the version's position and the cursor
in one transaction. **Catch-up**: \`startConsumer\` with \`batchSize: 1000\` and a fresh checkpoint name, handling nothing,
until it has seen the head: the event store's own rate of reading and decoding the log (it commits its checkpoint after each batch
of 1,000). ${PASSES} passes of each, alternating; the
best is compared. PostgreSQL: ${postgres}${runs.length > 1 ? ' (a throwaway database, a role without superuser rights, `ANALYZE` during the load as autovacuum would)' : ''}.

${maintenance}

${explanation(runs)}

### Read latency, ${formatCount(WIDE_GROUPS)} groups

The platform (\`BENCH_SERVER=platform\`, SQLite, tokens required) in its own process; a report grouping ${formatCount(reads.orders)}
orders (created through \`POST\` in ${reads.seedSeconds.toFixed(1)} s, report processed included) by region and \`placedAt\` day
into ${formatCount(reads.groups)} groups with the same six measures. ${READ_CONNECTIONS} connection (one request at a time), autocannon's
per-response times; each format warmed up for ${READ_TIMING.warmupSeconds} s, then timed for ${READ_TIMING.rounds} × ${READ_TIMING.turnSeconds} s in interleaved turns.
Server CPU: user + system of the server process over the timed turns (100 % = one core).

${readTable(reads)}`;
}

export async function run(): Promise<Section> {
  const started = new Date();
  const startedNs = process.hrtime.bigint();
  const loadBefore = loadavg()[0] ?? 0;
  const { runs, postgres } = await maintenanceRuns();
  progress('reports: read latency');
  const reads = await benchReads(READ_TIMING);
  const seconds = Number(process.hrtime.bigint() - startedNs) / 1e9;
  return {
    id: 'reports',
    title: 'Reports',
    body: body(started, seconds, [loadBefore, loadavg()[0] ?? 0], runs, postgres, reads),
  };
}
