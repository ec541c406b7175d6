import type { FieldType } from '../datamodel/types.js';
import type { JsonValue } from '../kernel/index.js';
import type { AggregateGroup, AggregateQuerySpec, ListPage, ListQuerySpec } from './query/index.js';

/** A point in the past: a log position, or a time. */
export type AsOf = { position: bigint } | { time: Date };

export interface DocumentKey {
  tenant: string;
  module: string;
  entity: string;
  id: string;
}

export interface DocumentRecord {
  id: string;
  version: number;
  /** The log position of the event that produced this version. */
  position: bigint;
  data: Record<string, JsonValue>;
  deleted: boolean;
  createdAt: Date;
  updatedAt: Date;
}

/**
 * The read side of records. Documents are written inline by the event store's append (same
 * transaction); this port reads them, current or as of a past position or time.
 */
export interface DocumentStore {
  /** The version current at `asOf` (or now), deleted ones included (see `deleted`). */
  get(key: DocumentKey, asOf?: AsOf): Promise<DocumentRecord | undefined>;
  /** A filtered, sorted page of documents (see query/). */
  list(spec: ListQuerySpec): Promise<ListPage>;
  aggregate(spec: AggregateQuerySpec): Promise<AggregateGroup[]>;
  /** Whether any current record of the entity holds a value for the field. */
  hasValues(scope: Omit<DocumentKey, 'id'>, field: string): Promise<boolean>;
  /** Creates the expression index of a declared index, if missing. */
  ensureIndex(scope: Omit<DocumentKey, 'id'>, field: string, type: FieldType): Promise<void>;
  /** Replaces every version of an entity's documents in one transaction (projection rebuild). */
  replaceAll(scope: Omit<DocumentKey, 'id'>, versions: DocumentVersion[]): Promise<void>;
}

/** One stored version, as written by a rebuild. */
export interface DocumentVersion {
  id: string;
  version: number;
  data: Record<string, JsonValue> | null;
  createdAt: Date;
  fromPosition: bigint;
  toPosition: bigint | null;
  fromTime: Date;
  toTime: Date | null;
}
