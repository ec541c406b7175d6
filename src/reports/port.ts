import type { RecordData } from '../datamodel/index.js';
import { AppError } from '../kernel/index.js';
import type { StoredDefinition } from './definition.js';
import type { GroupState } from './groups.js';

/** Where the processor is: its log position and the count of committed batches. */
export interface Cursor {
  position: bigint;
  generation: bigint;
}

/** One version of a report's definition: each builds its own groups from position 0. */
export interface VersionId {
  tenant: string;
  report: string;
  version: number;
}

export type ReportStatus = 'building' | 'ready' | 'failed';

export interface VersionState {
  status: ReportStatus;
  /** Why a version failed (`too_many_groups`). */
  reason: string | null;
  /** The last log position applied to its groups. */
  position: bigint;
  groupCount: number;
}

export interface VersionRow extends VersionId, VersionState {
  stored: StoredDefinition;
}

/** What one batch changes of one version; every write of a batch commits in one transaction. */
export interface VersionWrite {
  id: VersionId;
  /** Inserts the version (building, position 0). */
  create?: StoredDefinition;
  /** Deletes the version with its groups and member rows. */
  drop?: boolean;
  /** Deletes its groups and member rows, keeping the version (a failed one). */
  clear?: boolean;
  state?: VersionState;
  /** Member rows by record id (null: delete). */
  members?: ReadonlyMap<string, RecordData | null>;
  /** The records of `members` that have no member row in the store yet (inserted without a conflict check). */
  created?: ReadonlySet<string>;
  /** Groups by key (null: delete). */
  groups?: ReadonlyMap<string, GroupState | null>;
  /** Each written group of `groups` as reads show it (`groupView`, as JSON), stored with it. */
  views?: ReadonlyMap<string, string>;
}

/** A stored group as reads need it: its key (JSON of the key's values) and its view (JSON), or its state if it was stored without one. */
export type StoredView = { groupKey: string } & ({ view: string; state?: undefined } | { view?: undefined; state: GroupState });

/**
 * Where reports keep their versions, groups and per-record member rows, next to the log. The
 * processor's own position (`cursor`) moves in the same transaction as the writes of its batch.
 */
export interface ReportStore {
  /** The processor's position, and how many batches were committed so far (the fence of the next). */
  cursor(): Promise<Cursor>;
  versions(filter?: { tenant: string; report: string }): Promise<VersionRow[]>;
  members(id: VersionId, recordIds: readonly string[]): Promise<Map<string, RecordData>>;
  /** The version's groups with these keys, or all of them. */
  groups(id: VersionId, keys?: readonly string[]): Promise<Map<string, GroupState>>;
  /** Every group of the version, its view as stored (no state parsed, but for groups stored before views were). */
  views(id: VersionId): Promise<StoredView[]>;
  /**
   * Writes the batch and moves the position to `position`, in one transaction, only when no batch
   * was committed since `generation` (the batch was computed from the current state): otherwise
   * nothing is written and it fails with `version_conflict`. Returns the new generation.
   */
  commit(writes: readonly VersionWrite[], cursor: Cursor): Promise<bigint>;
  close(): Promise<void>;
}

/** Another processor committed a batch this one computed from the same state: it reloads and goes on. */
export const overtaken = () => new AppError('version_conflict', 'Another report processor committed first');
