import { createHash } from 'node:crypto';
import type { AsOf, DocumentRecord, DocumentStore } from '../documents/port.js';
import type { EventStore, RecordedEvent } from '../eventstore/index.js';
import {
  AppError,
  isAppError,
  type JsonValue,
  metadataOf,
  RECORD_ID,
  type RequestContext,
  uuidv7,
  validationFailed,
} from '../kernel/index.js';
import { decide, evolve, initialState, type RecordCommand, type RecordData, type RecordState } from './decider.js';
import { upcast } from './evolution.js';
import { type ModuleRegistry, recordStream } from './registry.js';

export interface RecordAddress {
  tenant: string;
  module: string;
  entity: string;
  id: string;
}

export interface RecordView {
  id: string;
  version: number;
  position: bigint;
  data: RecordData;
  createdAt: Date;
  updatedAt: Date;
}

export interface WriteOptions {
  /** The version the caller last saw (`If-Match`); a mismatch is a version conflict. */
  expectedVersion?: number;
  idempotencyKey?: string;
  /** Set by create when the server chose the id: a repeated key then matches whatever id it got. */
  idGenerated?: boolean;
}

export interface HistoryEntry {
  position: bigint;
  version: number;
  type: string;
  data: JsonValue;
  metadata: { actor: string | null; at: Date; correlationId: string };
}

/** Writes without If-Match re-read and re-decide this many times when another writer got in between. */
const CONFLICT_RETRIES = 10;

export function createRecordService(deps: { events: EventStore; documents: DocumentStore; registry: ModuleRegistry }) {
  const { events, documents, registry } = deps;

  /** The record's state for the decider, and the document it came from (absent for a new record). */
  async function current(address: RecordAddress): Promise<{ state: RecordState; document?: DocumentRecord }> {
    const document = await documents.get(address);
    if (!document) return { state: initialState };
    const state: RecordState = { status: document.deleted ? 'deleted' : 'active', version: document.version, data: document.data };
    return { state, document };
  }

  /** A repeated `Idempotency-Key` returns the first response, as it was, and writes nothing. */
  async function replay(address: RecordAddress, command: RecordCommand, options: WriteOptions): Promise<RecordView | undefined> {
    const prior = options.idempotencyKey ? await events.findIdempotent(address.tenant, options.idempotencyKey) : undefined;
    if (!prior) return undefined;
    const prefix = recordStream(address.module, address.entity, '');
    const id = prior.streamId.startsWith(prefix) ? prior.streamId.slice(prefix.length) : undefined;
    if (id === undefined || prior.fingerprint !== requestFingerprint({ ...address, id }, command, options)) {
      throw new AppError('idempotency_key_reused', 'The idempotency key was used for another request');
    }
    const { result } = prior;
    const document = await documents.get({ ...address, id }, { position: result.lastPosition });
    if (document && !document.deleted) return viewOf(id, document);
    return {
      id,
      version: result.streamVersion,
      position: result.lastPosition,
      data: {},
      createdAt: result.recordedAt,
      updatedAt: result.recordedAt,
    };
  }

  async function execute(
    context: RequestContext,
    address: RecordAddress,
    command: RecordCommand,
    options: WriteOptions,
    attempt = 0,
  ): Promise<RecordView> {
    const { module, entity } = await registry.entity(address.tenant, address.module, address.entity);
    const replayed = attempt === 0 ? await replay(address, command, options) : undefined;
    if (replayed) return replayed;
    // A server-chosen id (UUIDv7) names no stored record yet: nothing to read.
    const { state, document } = command.kind === 'create' && options.idGenerated ? { state: initialState } : await current(address);
    if (options.expectedVersion !== undefined && options.expectedVersion !== state.version) {
      throw new AppError('version_conflict', `The record is at version ${state.version}`, { actual: state.version });
    }
    const decided = decide(command, state, entity);
    if (decided.length === 0) return viewOf(address.id, document);
    const next = decided.reduce((folded, event) => evolve(folded, event, entity.name), state);
    const data = next.status === 'active' ? next.data : null;
    try {
      const result = await events.append({
        tenant: address.tenant,
        streamId: recordStream(address.module, address.entity, address.id),
        events: decided.map((event) => ({ type: event.type, data: event.data, schemaVersion: module.version })),
        expectedVersion: state.version === 0 ? 'no_stream' : state.version,
        metadata: metadataOf(context),
        ...(options.idempotencyKey
          ? { idempotencyKey: options.idempotencyKey, fingerprint: requestFingerprint(address, command, options) }
          : {}),
        document: { module: address.module, entity: address.entity, id: address.id, data },
      });
      if (result.duplicate) return viewOf(address.id, await documents.get(address, { position: result.lastPosition }));
      return {
        id: address.id,
        version: result.streamVersion,
        position: result.lastPosition,
        data: data ?? {},
        createdAt: document?.createdAt ?? result.recordedAt,
        updatedAt: result.recordedAt,
      };
    } catch (error) {
      if (!isAppError(error, 'version_conflict')) throw error;
      if (command.kind === 'create') throw new AppError('already_exists', `A ${address.entity} with id ${address.id} already exists`);
      if (options.expectedVersion === undefined && attempt < CONFLICT_RETRIES) {
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 2 ** attempt));
        return execute(context, address, command, options, attempt + 1);
      }
      throw new AppError('version_conflict', `The ${address.entity} ${address.id} was changed concurrently; retry`, {
        actual: error.details.actual,
      });
    }
  }

  return {
    create(context: RequestContext, scope: Omit<RecordAddress, 'id'>, body: unknown, options: WriteOptions = {}) {
      if (typeof body !== 'object' || body === null || Array.isArray(body)) {
        throw validationFailed('A record must be a JSON object', [{ path: '/body', message: 'must be an object' }]);
      }
      const { id = uuidv7(), ...data } = body as Record<string, unknown>;
      if (typeof id !== 'string' || !RECORD_ID.test(id)) {
        throw validationFailed('Invalid record id', [{ path: '/id', message: `must match ${RECORD_ID.source}` }]);
      }
      const idGenerated = !('id' in body);
      return execute(context, { ...scope, id }, { kind: 'create', data }, { ...options, idGenerated });
    },
    update: (context: RequestContext, address: RecordAddress, patch: unknown, options: WriteOptions = {}) =>
      execute(context, address, { kind: 'update', patch }, options),
    remove: (context: RequestContext, address: RecordAddress, options: WriteOptions = {}) =>
      execute(context, address, { kind: 'delete' }, options),
    run: (context: RequestContext, address: RecordAddress, command: string, options: WriteOptions = {}) =>
      execute(context, address, { kind: 'run', command }, options),

    async get(address: RecordAddress, asOf?: AsOf): Promise<RecordView> {
      await registry.entity(address.tenant, address.module, address.entity);
      return viewOf(address.id, await documents.get(address, asOf));
    },

    async history(address: RecordAddress, range: { fromVersion?: number; limit?: number } = {}): Promise<HistoryEntry[]> {
      const { module } = await registry.entity(address.tenant, address.module, address.entity);
      const stream = await events.readStream(address.tenant, recordStream(address.module, address.entity, address.id), range);
      if (stream.length === 0 && (range.fromVersion ?? 1) === 1)
        throw new AppError('not_found', `No ${address.entity} with id ${address.id}`);
      return stream.map((event) => historyEntry(event, address.entity, module.history));
    },
  };
}

export type RecordService = ReturnType<typeof createRecordService>;

/** What makes two writes the same request for `Idempotency-Key`: the command, its body and its record (unless the server chose the id). */
function requestFingerprint(address: RecordAddress, command: RecordCommand, options: WriteOptions): string {
  const target = command.kind === 'create' && options.idGenerated ? '' : address.id;
  const body =
    command.kind === 'create' ? command.data : command.kind === 'update' ? command.patch : command.kind === 'run' ? command.command : null;
  return createHash('sha256')
    .update(JSON.stringify([command.kind, address.module, address.entity, target, body]))
    .digest('base64url');
}

function viewOf(id: string, document: DocumentRecord | undefined): RecordView {
  if (!document || document.deleted) throw new AppError('not_found', `No record with id ${id}`);
  const { version, position, data, createdAt, updatedAt } = document;
  return { id, version, position, data, createdAt, updatedAt };
}

export function historyEntry(event: RecordedEvent, entity: string, history: Parameters<typeof upcast>[3]): HistoryEntry {
  return {
    position: event.position,
    version: event.streamVersion,
    type: event.type,
    data: upcast(event.data, entity, event.schemaVersion, history),
    metadata: { actor: event.metadata.actor, at: event.recordedAt, correlationId: event.metadata.correlationId },
  };
}
