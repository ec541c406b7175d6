import type { FieldDefinition, FieldType } from '../../datamodel/types.js';

/** The SQL dialects the compiler targets. */
export type Dialect = 'sqlite' | 'postgres';

/** The entity's fields by name, as declared in its module definition. */
export type EntityFields = Readonly<Record<string, FieldDefinition>>;

/** A value a field can be compared with. */
export type Scalar = string | number | boolean;

export type SortDirection = 'asc' | 'desc';

export interface SortKey {
  field: string;
  direction: SortDirection;
}

/** A past state: the versions valid at a global position, or at a time (RFC 3339 text or a Date). */
export type AsOf = { position: bigint } | { time: string | Date };

/** The keyset a cursor carries: the last row's sort values (in sort order) and its id. */
export interface CursorPosition {
  values: (Scalar | null)[];
  id: string;
}

export type MeasureFunction = 'count' | 'sum' | 'avg' | 'min' | 'max';

export interface Measure {
  fn: MeasureFunction;
  /** Absent for `count`. */
  field?: string;
}

/** Which documents a query reads. */
export interface QueryTarget {
  tenant: string;
  module: string;
  entity: string;
  fields: EntityFields;
  /** Filter document (parsed JSON or its text); validated by the compiler. */
  filter?: unknown;
  asOf?: AsOf;
}

export interface ListQuerySpec extends QueryTarget {
  sort?: readonly SortKey[];
  /** Items per page, 1..MAX_LIMIT. The query fetches one row more to tell whether a next page exists. */
  limit: number;
  after?: CursorPosition;
  /** Data fields to return; all when absent. */
  select?: readonly string[];
}

export interface AggregateQuerySpec extends QueryTarget {
  groupBy: readonly string[];
  measures: readonly Measure[];
  /** At most this many groups (default MAX_GROUPS); more make readAggregateRows throw validation_failed. */
  maxGroups?: number;
}

export interface CompiledQuery {
  sql: string;
  params: unknown[];
}

/** How values of a field compare in SQL. */
export type ValueKind = 'number' | 'text' | 'boolean' | 'array' | 'json';

/** A field a query may name: an entity field, or the pseudo-field `id` (the record id). */
export interface QueryField {
  name: string;
  type: FieldType | 'id';
  kind: ValueKind;
  /** For arrays: the kind of the items. */
  items?: ValueKind;
}

/** A document as a list query returns it, identical from both databases. */
export interface DocumentRow {
  id: string;
  version: number;
  data: Record<string, unknown>;
  /** ISO-8601 UTC with milliseconds. */
  createdAt: string;
  updatedAt: string;
  /** The position at which this version was written (decimal string). */
  position: string;
}

export interface ListPage {
  items: DocumentRow[];
  nextCursor: string | null;
}

export interface AggregateGroup {
  key: Record<string, Scalar | null>;
  [measure: string]: unknown;
}
