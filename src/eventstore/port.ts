import type { JsonValue } from '../kernel/index.js';

/** What the caller expects the stream to look like before its append. */
export type ExpectedVersion = 'any' | 'no_stream' | 'exists' | number;

export interface EventMetadata {
  tenant: string;
  correlationId: string;
  causationId: string | null;
  actor: string | null;
  /** W3C trace context of the request that caused the event. */
  traceparent?: string;
  tracestate?: string;
}

export type MetadataInput = Partial<Omit<EventMetadata, 'tenant'>>;

export interface NewEvent {
  type: string;
  data: JsonValue;
  schemaVersion?: number;
  /** UUID; generated (UUIDv7) when absent. */
  id?: string;
}

/**
 * The document of the stream after the append, projected inline: written in the same transaction
 * as the events, as a new version valid from the append's last position. `data: null` records a deletion.
 */
export interface DocumentProjection {
  module: string;
  entity: string;
  id: string;
  data: JsonValue | null;
}

/**
 * A change to the stored documents of one entity, applied in the append's transaction (so no write
 * can slip between): the same rename or drop that upcasting applies to old events on read.
 */
export type DocumentMigration = { module: string; entity: string } & ({ rename: { from: string; to: string } } | { drop: string });

export interface AppendRequest {
  tenant: string;
  streamId: string;
  events: NewEvent[];
  expectedVersion?: ExpectedVersion;
  idempotencyKey?: string;
  metadata?: MetadataInput;
  document?: DocumentProjection;
  documentMigrations?: DocumentMigration[];
  /** Identifies the request behind an idempotent append; defaults to a hash of the stream and events. */
  fingerprint?: string;
}

export interface AppendResult {
  /** The stream's version after the append; the first event of a stream has version 1. */
  streamVersion: number;
  firstPosition: bigint;
  lastPosition: bigint;
  eventIds: string[];
  recordedAt: Date;
  /** True when an earlier append with the same idempotency key is being returned. */
  duplicate: boolean;
}

export interface RecordedEvent {
  position: bigint;
  tenant: string;
  streamId: string;
  streamVersion: number;
  id: string;
  type: string;
  schemaVersion: number;
  data: JsonValue;
  metadata: EventMetadata;
  recordedAt: Date;
}

/** An event as a reader of the log's data alone gets it (`readAllData`): without its id, metadata and time. */
export type LoggedEvent = Pick<RecordedEvent, 'position' | 'tenant' | 'streamId' | 'streamVersion' | 'type' | 'schemaVersion' | 'data'>;

export interface LogReadOptions {
  /** Exclusive: events with a greater position. Defaults to the start of the log. */
  after?: bigint;
  limit?: number;
}

export interface StreamReadOptions {
  /** Inclusive. Defaults to 1. */
  fromVersion?: number;
  limit?: number;
}

export interface CheckpointStore {
  load(name: string): Promise<bigint>;
  save(name: string, position: bigint): Promise<void>;
}

/**
 * The event log, source of truth of the platform. Positions are gapless (but for the positions of
 * deleted tenants) and committed in order: once position N is readable, every position below N is
 * readable too, so a reader that remembers the last position it saw never skips an event
 * (docs/decisions/0002).
 */
export interface EventStore {
  readonly backend: 'sqlite' | 'postgres';
  append(request: AppendRequest): Promise<AppendResult>;
  readStream(tenant: string, streamId: string, options?: StreamReadOptions): Promise<RecordedEvent[]>;
  readTenant(tenant: string, options?: LogReadOptions): Promise<RecordedEvent[]>;
  readAll(options?: LogReadOptions): Promise<RecordedEvent[]>;
  /**
   * `readAll` without the events' ids, metadata and times, which are neither read nor decoded: for
   * readers that fold the log's data (the report processor), to which they are a third of the cost of a read.
   */
  readAllData(options?: LogReadOptions): Promise<LoggedEvent[]>;
  headPosition(): Promise<bigint>;
  /** The committed append of an idempotency key still within its time to live, and its stream. */
  findIdempotent(tenant: string, key: string): Promise<{ streamId: string; fingerprint: string; result: AppendResult } | undefined>;
  /** Deletes idempotency keys past their time to live; returns how many. Stores also do it hourly. */
  purgeIdempotencyKeys(): Promise<number>;
  /**
   * Deletes the tenant's events, documents (every version) and idempotency keys in one transaction.
   * Other tenants' positions do not change and the deleted positions are never given again: the log
   * just no longer holds them. The tenant's streams start again from version 1.
   */
  deleteTenant(tenant: string): Promise<void>;
  readonly checkpoints: CheckpointStore;
  /** Calls the listener after events are committed (by this process or, where the backend can tell, another). */
  onAppended(listener: (position: bigint) => void): () => void;
  ping(): Promise<void>;
  close(): Promise<void>;
}

export const READ_LIMIT_DEFAULT = 1000;
export const READ_LIMIT_MAX = 10_000;
