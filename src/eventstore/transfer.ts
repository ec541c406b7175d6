import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { type JsonValue, validationFailed } from '../kernel/index.js';
import type { EventStore, RecordedEvent } from './port.js';

/** One line of an export: an event of the tenant's log, without its position. */
export interface ExportedEvent {
  streamId: string;
  version: number;
  id: string;
  type: string;
  schemaVersion: number;
  data: JsonValue;
  metadata: RecordedEvent['metadata'];
  recordedAt: string;
  position: string;
}

const PAGE = 5000;
/** Streams imported at once; group commit writes their appends together. */
const IMPORT_CONCURRENCY = 64;

/**
 * Writes the tenant's log as JSON lines, in position order (only the streams `include` accepts,
 * all by default). Returns the number of events written.
 */
export async function exportTenant(
  events: EventStore,
  tenant: string,
  out: Writable,
  include: (streamId: string) => boolean = () => true,
): Promise<number> {
  let count = 0;
  for (let after = 0n; ; ) {
    const page = await events.readTenant(tenant, { after, limit: PAGE });
    const kept = page.filter((event) => include(event.streamId));
    const lines = kept.map((event) => JSON.stringify(toExported(event))).join('\n');
    if (kept.length > 0 && !out.write(`${lines}\n`)) await new Promise((resolve) => out.once('drain', resolve));
    count += kept.length;
    const last = page.at(-1);
    if (!last || page.length < PAGE) return count;
    after = last.position;
  }
}

function toExported(event: RecordedEvent): ExportedEvent {
  return {
    position: event.position.toString(),
    streamId: event.streamId,
    version: event.streamVersion,
    id: event.id,
    type: event.type,
    schemaVersion: event.schemaVersion,
    data: event.data,
    metadata: event.metadata,
    recordedAt: event.recordedAt.toISOString(),
  };
}

/**
 * Appends an exported log to `tenant` (which may differ from the exported one), keeping event ids,
 * types, schema versions, data and metadata, and each stream's versions (an existing stream
 * conflicts). Positions and commit times are those of the new log.
 */
export async function importTenant(events: EventStore, tenant: string, input: Readable): Promise<number> {
  const streams = new Map<string, ExportedEvent[]>();
  let line = 0;
  for await (const text of createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY })) {
    line++;
    if (text.trim() === '') continue;
    const event = parseLine(text, line);
    const stream = streams.get(event.streamId) ?? [];
    if (event.version !== stream.length + 1)
      throw validationFailed(`Line ${line}: stream ${event.streamId} skips from version ${stream.length} to ${event.version}`);
    stream.push(event);
    streams.set(event.streamId, stream);
  }
  const queue = [...streams.values()];
  const worker = async () => {
    for (let stream = queue.shift(); stream; stream = queue.shift()) {
      for (const event of stream) {
        const { correlationId, causationId, actor, traceparent, tracestate } = event.metadata;
        await events.append({
          tenant,
          streamId: event.streamId,
          events: [{ id: event.id, type: event.type, data: event.data, schemaVersion: event.schemaVersion }],
          expectedVersion: event.version === 1 ? 'no_stream' : event.version - 1,
          metadata: { correlationId, causationId, actor, ...(traceparent ? { traceparent } : {}), ...(tracestate ? { tracestate } : {}) },
        });
      }
    }
  };
  await Promise.all(Array.from({ length: IMPORT_CONCURRENCY }, worker));
  return [...streams.values()].reduce((sum, stream) => sum + stream.length, 0);
}

function parseLine(text: string, line: number): ExportedEvent {
  let event: Partial<ExportedEvent>;
  try {
    event = JSON.parse(text);
  } catch {
    throw validationFailed(`Line ${line} is not JSON`);
  }
  const valid =
    typeof event.streamId === 'string' &&
    Number.isInteger(event.version) &&
    typeof event.id === 'string' &&
    typeof event.type === 'string' &&
    Number.isInteger(event.schemaVersion) &&
    event.data !== undefined &&
    typeof event.metadata === 'object' &&
    event.metadata !== null;
  if (!valid) throw validationFailed(`Line ${line} is not an exported event`);
  return event as ExportedEvent;
}
