import pg from 'pg';
import { AppError, assertStreamId, assertTenantId, type Logger } from '../../kernel/index.js';
import { createGroupCommitter, type GroupOutcome } from '../group-commit.js';
import type { AppendResult, EventStore, LogReadOptions, StreamReadOptions } from '../port.js';
import { APPEND_LIMITS, type PreparedAppend, prepareAppend, versionConflict } from '../prepare.js';
import {
  DATA_COLUMNS,
  type EventRow,
  readAfter,
  readFromVersion,
  readLimit,
  type StoredResult,
  toAppendResult,
  toLoggedEvent,
  toRecordedEvent,
} from '../rows.js';
import { createAppendNotifier } from './notifications.js';
import { migratePostgres } from './schema.js';

export interface PostgresEventStoreOptions {
  connectionString: string;
  poolSize?: number;
  idempotencyTtlMs?: number;
  logger?: Logger;
  /** For schema upgrade tests: stop migrating at this version. */
  migrateUpTo?: number;
}

type Outcome = (StoredResult & { duplicate: boolean }) | { error: string; actual?: number; eventId?: string };

const DAY_MS = 24 * 60 * 60 * 1000;
/** A transaction left idle (a hung client) would hold the log lock; the server ends it after this. */
const IDLE_IN_TRANSACTION_MS = 10_000;
/** No statement may run longer (a runaway query, a lock wait): it fails instead of holding a connection. */
const STATEMENT_TIMEOUT_MS = 300_000;

/** Opens a pool, applies migrations and returns an event store that owns the pool. */
export async function createPostgresEventStore(options: PostgresEventStoreOptions): Promise<EventStore> {
  return postgresEventStore(await openPostgresPool(options), options);
}

export async function openPostgresPool(options: PostgresEventStoreOptions): Promise<pg.Pool> {
  const pool = new pg.Pool({
    connectionString: options.connectionString,
    max: options.poolSize ?? 10,
    options: `-c idle_in_transaction_session_timeout=${IDLE_IN_TRANSACTION_MS} -c statement_timeout=${STATEMENT_TIMEOUT_MS}`,
  });
  pool.on('error', (error) => options.logger?.warn({ err: error }, 'idle PostgreSQL connection failed'));
  try {
    await migratePostgres(pool, options.migrateUpTo);
    await warnIfRowSecurityBypassed(pool, options.logger);
    return pool;
  } catch (error) {
    await pool.end();
    throw error;
  }
}

export function postgresEventStore(pool: pg.Pool, options: PostgresEventStoreOptions): EventStore {
  const ttl = `${options.idempotencyTtlMs ?? DAY_MS} milliseconds`;
  const notifier = createAppendNotifier(options.connectionString, options.logger);

  const committer = createGroupCommitter<AppendResult>(async (batch) => {
    const outcomes = await writeGroup(pool, batch, ttl);
    const last = outcomes.findLast((outcome) => outcome.ok);
    if (last?.ok) notifier.announce(last.value.lastPosition);
    return outcomes;
  }, APPEND_LIMITS.maxEventsPerAppend);

  const readRows = async (sql: string, params: unknown[]) =>
    (await pool.query<EventRow<unknown, Date>>(sql, params)).rows.map((row) =>
      toRecordedEvent(
        row,
        (value) => value,
        (value) => value,
      ),
    );

  return {
    backend: 'postgres',
    append: async (request) => committer.submit(prepareAppend(request)),
    async readStream(tenant, streamId, { fromVersion = 1, limit }: StreamReadOptions = {}) {
      assertTenantId(tenant);
      assertStreamId(streamId);
      return readRows('SELECT * FROM read_stream($1, $2, $3, $4)', [tenant, streamId, readFromVersion(fromVersion), readLimit(limit)]);
    },
    async readTenant(tenant, { after = 0n, limit }: LogReadOptions = {}) {
      assertTenantId(tenant);
      return readRows('SELECT * FROM read_log($1, $2, $3)', [tenant, readAfter(after).toString(), readLimit(limit)]);
    },
    async readAll({ after = 0n, limit }: LogReadOptions = {}) {
      return readRows('SELECT * FROM read_log(NULL, $1, $2)', [readAfter(after).toString(), readLimit(limit)]);
    },
    async readAllData({ after = 0n, limit }: LogReadOptions = {}) {
      // The driver then neither parses the metadata's JSON nor the time.
      const { rows } = await pool.query<EventRow<unknown, Date>>(`SELECT ${DATA_COLUMNS} FROM read_log(NULL, $1, $2)`, [
        readAfter(after).toString(),
        readLimit(limit),
      ]);
      return rows.map((row) => toLoggedEvent(row, (value) => value));
    },
    async headPosition() {
      const { rows } = await pool.query<{ position: string }>('SELECT position FROM log_head');
      return BigInt(rows[0]?.position ?? '0');
    },
    async purgeIdempotencyKeys() {
      const { rows } = await pool.query<{ removed: number }>('SELECT purge_idempotency_keys($1::interval) AS removed', [ttl]);
      return rows[0]?.removed ?? 0;
    },
    async deleteTenant(tenant) {
      assertTenantId(tenant);
      await pool.query('SELECT delete_tenant_events($1)', [tenant]);
    },
    async findIdempotent(tenant, key) {
      assertTenantId(tenant);
      const { rows } = await pool.query<{ found: { result: StoredResult; fingerprint: string } | null }>(
        'SELECT find_idempotent($1, $2, $3::interval) AS found',
        [tenant, key, ttl],
      );
      const found = rows[0]?.found;
      return found
        ? { streamId: found.result.streamId, fingerprint: found.fingerprint, result: toAppendResult(found.result, true) }
        : undefined;
    },
    checkpoints: {
      async load(name) {
        const { rows } = await pool.query<{ position: string }>('SELECT position FROM checkpoints WHERE name = $1', [name]);
        return BigInt(rows[0]?.position ?? '0');
      },
      async save(name, position) {
        await pool.query(
          `INSERT INTO checkpoints (name, position, updated_at) VALUES ($1, $2, now())
           ON CONFLICT (name) DO UPDATE SET position = excluded.position, updated_at = excluded.updated_at`,
          [name, position.toString()],
        );
      },
    },
    onAppended: (listener) => notifier.subscribe(listener),
    async ping() {
      await pool.query('SELECT 1');
    },
    async close() {
      while (!committer.idle) await new Promise((resolve) => setTimeout(resolve, 1));
      await notifier.close();
      await pool.end();
    },
  };
}

/** One round trip and one commit for the whole group; see the append_events function. */
async function writeGroup(pool: pg.Pool, batch: PreparedAppend[], ttl: string): Promise<GroupOutcome<AppendResult>[]> {
  try {
    const { rows } = await pool.query<{ outcomes: Outcome[] }>('SELECT append_events($1::jsonb, $2::interval) AS outcomes', [
      batchJson(batch),
      ttl,
    ]);
    return (rows[0]?.outcomes ?? []).map((outcome, index) => toOutcome(outcome, batch[index] as PreparedAppend));
  } catch (error) {
    if (batch.length > 1 && isServerError(error)) return retryOneByOne(pool, batch, ttl);
    throw error;
  }
}

/** The server rejected the group before commit; retry each append alone so that only the faulty one fails. */
async function retryOneByOne(pool: pg.Pool, batch: PreparedAppend[], ttl: string): Promise<GroupOutcome<AppendResult>[]> {
  const outcomes: GroupOutcome<AppendResult>[] = [];
  for (const append of batch) {
    try {
      const [outcome] = await writeGroup(pool, [append], ttl);
      outcomes.push(outcome as GroupOutcome<AppendResult>);
    } catch (error) {
      outcomes.push({ ok: false, error });
    }
  }
  return outcomes;
}

function isServerError(error: unknown): boolean {
  return error instanceof Error && 'severity' in error && typeof (error as { code?: unknown }).code === 'string';
}

/** Builds the group's JSON from the already-serialised pieces, so event data is never stringified twice. */
function batchJson(batch: PreparedAppend[]): string {
  const appends = batch.map((append) => {
    const events = append.events.map(
      (event) => `{"i":"${event.id}","y":${JSON.stringify(event.type)},"v":${event.schemaVersion},"d":${event.dataJson}}`,
    );
    return `{"t":"${append.tenant}","s":${JSON.stringify(append.streamId)},"x":${JSON.stringify(append.expected)},"k":${JSON.stringify(
      append.idempotencyKey,
    )},"f":${JSON.stringify(append.fingerprint)},"c":${append.events.some((event) => event.clientId)},"m":${append.metadataJson},"e":[${events.join(',')}]${documentJson(append)}}`;
  });
  return `[${appends.join(',')}]`;
}

function documentJson({ document, migrations }: PreparedAppend): string {
  const mig = migrations.length > 0 ? `,"mig":${JSON.stringify(migrations)}` : '';
  if (document === null) return mig;
  return `,"doc":{"m":"${document.module}","n":"${document.entity}","i":${JSON.stringify(document.id)},"d":${document.dataJson}}${mig}`;
}

function toOutcome(outcome: Outcome, append: PreparedAppend): GroupOutcome<AppendResult> {
  if (!('error' in outcome)) return { ok: true, value: toAppendResult(outcome, outcome.duplicate) };
  if (outcome.error === 'version_conflict') {
    return { ok: false, error: versionConflict(append.tenant, append.streamId, append.expected, outcome.actual ?? 0) };
  }
  if (outcome.error === 'already_exists') {
    return { ok: false, error: new AppError('already_exists', `Event ${outcome.eventId} already exists`, { eventId: outcome.eventId }) };
  }
  return {
    ok: false,
    error: new AppError('idempotency_key_reused', 'The idempotency key was used for a different append', {
      idempotencyKey: append.idempotencyKey,
    }),
  };
}

async function warnIfRowSecurityBypassed(pool: pg.Pool, logger?: Logger): Promise<void> {
  const { rows } = await pool.query<{ bypass: boolean }>(
    'SELECT rolsuper OR rolbypassrls AS bypass FROM pg_roles WHERE rolname = current_user',
  );
  if (rows[0]?.bypass) {
    logger?.warn('connected to PostgreSQL as a role that bypasses row-level security; use a dedicated non-superuser role');
  }
}
