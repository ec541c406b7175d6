import type { RecordedEvent } from '../eventstore/index.js';
import type { JsonValue } from '../kernel/index.js';
import { HEADERS, type Headers, type OutgoingMessage } from './port.js';
import { eventSubject } from './subjects.js';

/** The body of an event message: the event as `/events` shows it, with its record's address. */
export interface EventEnvelope {
  position: string;
  id: string;
  tenant: string;
  streamId: string;
  module: string;
  entity: string;
  recordId: string;
  version: number;
  type: string;
  schemaVersion: number;
  data: JsonValue;
  metadata: RecordedEvent['metadata'];
  recordedAt: string;
}

/** `sales.order:42` → module, entity, id. */
const RECORD_STREAM = /^([a-z][a-zA-Z0-9_]*)\.([a-z][a-zA-Z0-9_]*):(.+)$/;
/** `module:sales` → module events under the reserved entity `_module`. */
const MODULE_STREAM = /^module:([a-z][a-zA-Z0-9_]*)$/;
/** `user:ann`, `role:clerk`, `webhook:…`: platform objects (docs/decisions/0004) under the reserved module `_platform`. */
const PLATFORM_STREAM = /^([a-z][a-z0-9-]{0,62}):(.+)$/;
const TYPE = /^[A-Za-z0-9_-]{1,128}$/;

/** Where an event belongs on the bus, or undefined for a stream id of no known form. */
export function eventAddress(event: RecordedEvent): { module: string; entity: string; recordId: string } | undefined {
  if (!TYPE.test(event.type)) return undefined;
  const record = RECORD_STREAM.exec(event.streamId);
  if (record?.[1] && record[2] && record[3]) return { module: record[1], entity: record[2], recordId: record[3] };
  const module = MODULE_STREAM.exec(event.streamId);
  if (module?.[1]) return { module: module[1], entity: '_module', recordId: module[1] };
  const platform = PLATFORM_STREAM.exec(event.streamId);
  if (platform?.[1] && platform[2]) return { module: '_platform', entity: platform[1], recordId: platform[2] };
  return undefined;
}

/** The message the relay publishes for an event: subject, id = event id, headers, JSON body. */
export function toEventMessage(root: string, event: RecordedEvent): OutgoingMessage | undefined {
  const address = eventAddress(event);
  if (!address) return undefined;
  const envelope: EventEnvelope = {
    position: event.position.toString(),
    id: event.id,
    tenant: event.tenant,
    streamId: event.streamId,
    ...address,
    version: event.streamVersion,
    type: event.type,
    schemaVersion: event.schemaVersion,
    data: event.data,
    metadata: event.metadata,
    recordedAt: event.recordedAt.toISOString(),
  };
  const headers: Headers = {
    [HEADERS.tenant]: event.tenant,
    [HEADERS.position]: envelope.position,
    [HEADERS.correlation]: event.metadata.correlationId,
    [HEADERS.type]: event.type,
    [HEADERS.stream]: event.streamId,
    [HEADERS.version]: String(event.streamVersion),
    [HEADERS.recordedAt]: envelope.recordedAt,
  };
  if (event.metadata.causationId) headers[HEADERS.causation] = event.metadata.causationId;
  if (event.metadata.traceparent) headers[HEADERS.traceparent] = event.metadata.traceparent;
  return {
    subject: eventSubject(root, event.tenant, address.module, address.entity, event.type),
    id: event.id,
    headers,
    data: Buffer.from(JSON.stringify(envelope)),
  };
}

/** The envelope of a delivered event message; undefined when the body is not one. */
export function parseEventMessage(data: Uint8Array): EventEnvelope | undefined {
  try {
    const value = JSON.parse(Buffer.from(data).toString('utf8')) as Partial<EventEnvelope>;
    return typeof value === 'object' && value !== null && typeof value.position === 'string' && typeof value.type === 'string'
      ? (value as EventEnvelope)
      : undefined;
  } catch {
    return undefined;
  }
}
