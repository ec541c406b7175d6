import { createHash } from 'node:crypto';
import {
  AppError,
  assertStreamId,
  assertTenantId,
  EVENT_TYPE,
  type FieldError,
  RECORD_ID,
  TRACEPARENT,
  toJsonText,
  UUID,
  uuidv7,
  validationFailed,
} from '../kernel/index.js';
import type { AppendRequest, DocumentMigration, DocumentProjection, EventMetadata, ExpectedVersion, MetadataInput } from './port.js';

/** Documented in docs/eventstore.md; both adapters enforce the same limits before any I/O. */
export const APPEND_LIMITS = {
  maxEventsPerAppend: 1000,
  maxEventBytes: 1024 * 1024,
  maxAppendBytes: 8 * 1024 * 1024,
  maxIdempotencyKeyLength: 200,
} as const;

export interface PreparedEvent {
  id: string;
  type: string;
  schemaVersion: number;
  dataJson: string;
  /** Ids supplied by the caller may collide with stored ones and are checked; generated ones are not. */
  clientId: boolean;
}

/** An append that passed every check that needs no I/O, serialised once for the adapter. */
export interface PreparedAppend {
  tenant: string;
  streamId: string;
  expected: ExpectedVersion;
  idempotencyKey: string | null;
  fingerprint: string | null;
  metadataJson: string;
  events: PreparedEvent[];
  document: PreparedDocument | null;
  migrations: DocumentMigration[];
}

export interface PreparedDocument {
  module: string;
  entity: string;
  id: string;
  /** 'null' for a deletion. */
  dataJson: string;
}

const DOCUMENT_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

const IDEMPOTENCY_KEY = /^[\x21-\x7e]+$/;

export function prepareAppend(request: AppendRequest): PreparedAppend {
  assertTenantId(request.tenant);
  assertStreamId(request.streamId);
  const expected = checkExpectedVersion(request.expectedVersion ?? 'any');
  const idempotencyKey = checkIdempotencyKey(request.idempotencyKey);
  const events = prepareEvents(request.events);
  const metadataJson = toJsonText(buildMetadata(request.tenant, request.metadata ?? {}), '/metadata');
  return {
    tenant: request.tenant,
    streamId: request.streamId,
    expected,
    idempotencyKey,
    fingerprint: idempotencyKey === null ? null : (checkFingerprint(request.fingerprint) ?? fingerprintOf(request.streamId, events)),
    metadataJson,
    events,
    document: request.document === undefined ? null : prepareDocument(request.document),
    migrations: (request.documentMigrations ?? []).map(checkMigration),
  };
}

function checkFingerprint(fingerprint: unknown): string | undefined {
  if (fingerprint === undefined) return undefined;
  if (typeof fingerprint === 'string' && fingerprint.length > 0 && fingerprint.length <= 200) return fingerprint;
  throw validationFailed('Invalid fingerprint', [{ path: '/fingerprint', message: 'must be a string of 1 to 200 characters' }]);
}

function checkMigration(migration: DocumentMigration, index: number): DocumentMigration {
  const names = [
    migration.module,
    migration.entity,
    ...('rename' in migration ? [migration.rename.from, migration.rename.to] : [migration.drop]),
  ];
  if (!names.every((name) => typeof name === 'string' && DOCUMENT_NAME.test(name))) {
    throw validationFailed('Invalid document migration', [{ path: `/documentMigrations/${index}`, message: 'names must be valid' }]);
  }
  return migration;
}

function prepareDocument(document: DocumentProjection): PreparedDocument {
  const errors: FieldError[] = [];
  if (!DOCUMENT_NAME.test(String(document.module))) errors.push({ path: '/document/module', message: 'is not a valid name' });
  if (!DOCUMENT_NAME.test(String(document.entity))) errors.push({ path: '/document/entity', message: 'is not a valid name' });
  if (!RECORD_ID.test(String(document.id))) errors.push({ path: '/document/id', message: `must match ${RECORD_ID.source}` });
  if (errors.length > 0) throw validationFailed('Invalid document', errors);
  const dataJson = toJsonText(document.data, '/document/data');
  if (Buffer.byteLength(dataJson) > APPEND_LIMITS.maxEventBytes) {
    throw new AppError('payload_too_large', `A document may hold at most ${APPEND_LIMITS.maxEventBytes} bytes`);
  }
  return { module: document.module, entity: document.entity, id: document.id, dataJson };
}

function prepareEvents(events: unknown): PreparedEvent[] {
  if (!Array.isArray(events) || events.length === 0) {
    throw validationFailed('An append needs at least one event', [{ path: '/events', message: 'must not be empty' }]);
  }
  if (events.length > APPEND_LIMITS.maxEventsPerAppend) {
    throw new AppError('payload_too_large', `At most ${APPEND_LIMITS.maxEventsPerAppend} events per append`);
  }
  const prepared = events.map((event, index) => prepareEvent(event, `/events/${index}`));
  const total = prepared.reduce((sum, event) => sum + Buffer.byteLength(event.dataJson), 0);
  if (total > APPEND_LIMITS.maxAppendBytes) {
    throw new AppError('payload_too_large', `An append may hold at most ${APPEND_LIMITS.maxAppendBytes} bytes of data`);
  }
  assertDistinctIds(prepared);
  return prepared;
}

function prepareEvent(event: unknown, path: string): PreparedEvent {
  if (typeof event !== 'object' || event === null) throw validationFailed('Invalid event', [{ path, message: 'must be an object' }]);
  const { type, data, schemaVersion = 1, id } = event as Record<string, unknown>;
  const errors: FieldError[] = [];
  if (typeof type !== 'string' || !EVENT_TYPE.test(type)) errors.push({ path: `${path}/type`, message: `must match ${EVENT_TYPE.source}` });
  if (!Number.isInteger(schemaVersion) || (schemaVersion as number) < 1 || (schemaVersion as number) > 32767) {
    errors.push({ path: `${path}/schemaVersion`, message: 'must be an integer from 1 to 32767' });
  }
  if (id !== undefined && (typeof id !== 'string' || !UUID.test(id)))
    errors.push({ path: `${path}/id`, message: 'must be a lowercase UUID' });
  if (data === undefined) errors.push({ path: `${path}/data`, message: 'is required' });
  if (errors.length > 0) throw validationFailed('Invalid event', errors);
  const dataJson = toJsonText(data, `${path}/data`);
  if (Buffer.byteLength(dataJson) > APPEND_LIMITS.maxEventBytes) {
    throw new AppError('payload_too_large', `An event's data may hold at most ${APPEND_LIMITS.maxEventBytes} bytes`, { path });
  }
  return {
    id: (id as string | undefined) ?? uuidv7(),
    type: type as string,
    schemaVersion: schemaVersion as number,
    dataJson,
    clientId: id !== undefined,
  };
}

function assertDistinctIds(events: PreparedEvent[]): void {
  const ids = new Set(events.map((event) => event.id));
  if (ids.size !== events.length) {
    throw validationFailed('Event ids must be unique', [{ path: '/events', message: 'contains the same id twice' }]);
  }
}

function checkExpectedVersion(expected: unknown): ExpectedVersion {
  if (expected === 'any' || expected === 'no_stream' || expected === 'exists') return expected;
  if (typeof expected === 'number' && Number.isInteger(expected) && expected >= 0) return expected;
  throw validationFailed('Invalid expected version', [
    { path: '/expectedVersion', message: "must be 'any', 'no_stream', 'exists' or a non-negative integer" },
  ]);
}

function checkIdempotencyKey(key: unknown): string | null {
  if (key === undefined || key === null) return null;
  if (typeof key === 'string' && key.length <= APPEND_LIMITS.maxIdempotencyKeyLength && IDEMPOTENCY_KEY.test(key)) return key;
  throw validationFailed('Invalid idempotency key', [
    { path: '/idempotencyKey', message: `must be 1 to ${APPEND_LIMITS.maxIdempotencyKeyLength} printable ASCII characters` },
  ]);
}

function buildMetadata(tenant: string, input: MetadataInput): EventMetadata {
  const errors: FieldError[] = [];
  const optionalText = (name: keyof MetadataInput, max: number) => {
    const value = input[name];
    if (value === undefined || value === null) return null;
    if (typeof value === 'string' && value.length > 0 && value.length <= max) return value;
    errors.push({ path: `/metadata/${name}`, message: `must be a string of 1 to ${max} characters` });
    return null;
  };
  const metadata: EventMetadata = {
    tenant,
    correlationId: optionalText('correlationId', 200) ?? uuidv7(),
    causationId: optionalText('causationId', 200),
    actor: optionalText('actor', 200),
  };
  const traceparent = optionalText('traceparent', 55);
  if (traceparent !== null && !TRACEPARENT.test(traceparent))
    errors.push({ path: '/metadata/traceparent', message: 'must be W3C traceparent' });
  else if (traceparent !== null) metadata.traceparent = traceparent;
  const tracestate = optionalText('tracestate', 512);
  if (tracestate !== null) metadata.tracestate = tracestate;
  if (errors.length > 0) throw validationFailed('Invalid metadata', errors);
  return metadata;
}

function fingerprintOf(streamId: string, events: PreparedEvent[]): string {
  const hash = createHash('sha256').update(streamId);
  for (const event of events) hash.update(`\u0000${event.type}\u0000${event.schemaVersion}\u0000${event.dataJson}`);
  return hash.digest('base64url');
}

/** The optimistic concurrency rule, shared by every adapter. */
export function versionMatches(expected: ExpectedVersion, current: number): boolean {
  if (expected === 'any') return true;
  if (expected === 'no_stream') return current === 0;
  if (expected === 'exists') return current > 0;
  return expected === current;
}

export function versionConflict(tenant: string, streamId: string, expected: ExpectedVersion, actual: number): AppError {
  return new AppError('version_conflict', `Stream ${streamId} is at version ${actual}, expected ${expected}`, {
    tenant,
    streamId,
    expected,
    actual,
  });
}
