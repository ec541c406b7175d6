import { validationFailed } from '../kernel/index.js';
import { type AppendResult, type LoggedEvent, READ_LIMIT_DEFAULT, READ_LIMIT_MAX, type RecordedEvent } from './port.js';

/** The result of an append as kept with its idempotency key, so that a retry returns it unchanged. */
export interface StoredResult {
  streamId: string;
  streamVersion: number;
  firstPosition: string;
  lastPosition: string;
  eventIds: string[];
  recordedAt: string;
}

export function toAppendResult(stored: StoredResult, duplicate: boolean): AppendResult {
  return {
    streamVersion: stored.streamVersion,
    firstPosition: BigInt(stored.firstPosition),
    lastPosition: BigInt(stored.lastPosition),
    eventIds: stored.eventIds,
    recordedAt: new Date(stored.recordedAt),
    duplicate,
  };
}

export function readLimit(limit: number | undefined): number {
  const value = limit ?? READ_LIMIT_DEFAULT;
  if (!Number.isInteger(value) || value < 1 || value > READ_LIMIT_MAX) {
    throw validationFailed('Invalid limit', [{ path: 'limit', message: `must be an integer from 1 to ${READ_LIMIT_MAX}` }]);
  }
  return value;
}

/** The largest position: PostgreSQL's bigint. */
const MAX_POSITION = 2n ** 63n - 1n;

export function readAfter(after: bigint): bigint {
  if (typeof after !== 'bigint' || after < 0n || after > MAX_POSITION) {
    throw validationFailed('Invalid position', [{ path: 'after', message: 'must be a non-negative position' }]);
  }
  return after;
}

export function readFromVersion(fromVersion: number): number {
  if (!Number.isInteger(fromVersion) || fromVersion < 1 || fromVersion > 2_147_483_647) {
    throw validationFailed('Invalid version', [{ path: 'fromVersion', message: 'must be an integer of at least 1' }]);
  }
  return fromVersion;
}

/** An events row as both databases return it; each adapter decodes its own JSON and time columns. */
export interface EventRow<Json, Time> {
  position: string | number;
  tenant: string;
  stream_id: string;
  stream_version: number;
  event_id: string;
  type: string;
  schema_version: number;
  data: Json;
  metadata: Json;
  recorded_at: Time;
}

/** The columns of an events row that `readAllData` reads. */
export const DATA_COLUMNS = 'position, tenant, stream_id, stream_version, type, schema_version, data';

export function toLoggedEvent<Json>(
  row: Omit<EventRow<Json, unknown>, 'event_id' | 'metadata' | 'recorded_at'>,
  json: (value: Json) => unknown,
): LoggedEvent {
  return {
    position: BigInt(row.position),
    tenant: row.tenant,
    streamId: row.stream_id,
    streamVersion: row.stream_version,
    type: row.type,
    schemaVersion: row.schema_version,
    data: json(row.data) as LoggedEvent['data'],
  };
}

export function toRecordedEvent<Json, Time>(
  row: EventRow<Json, Time>,
  json: (value: Json) => unknown,
  time: (value: Time) => Date,
): RecordedEvent {
  return {
    position: BigInt(row.position),
    tenant: row.tenant,
    streamId: row.stream_id,
    streamVersion: row.stream_version,
    id: row.event_id,
    type: row.type,
    schemaVersion: row.schema_version,
    data: json(row.data) as RecordedEvent['data'],
    metadata: json(row.metadata) as RecordedEvent['metadata'],
    recordedAt: time(row.recorded_at),
  };
}
