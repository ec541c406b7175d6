import type { RecordData } from '../datamodel/index.js';
import type { StoredDefinition } from './definition.js';
import type { GroupState } from './reducer.js';

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
  /** Groups by key (null: delete). */
  groups?: ReadonlyMap<string, GroupState | null>;
}

/**
 * Where reports keep their versions, groups and per-record member rows, next to the log. The
 * processor's own position (`cursor`) moves in the same transaction as the writes of its batch.
 */
export interface ReportStore {
  cursor(): Promise<bigint>;
  versions(filter?: { tenant: string; report: string }): Promise<VersionRow[]>;
  members(id: VersionId, recordIds: readonly string[]): Promise<Map<string, RecordData>>;
  /** The version's groups with these keys, or all of them. */
  groups(id: VersionId, keys?: readonly string[]): Promise<Map<string, GroupState>>;
  commit(writes: readonly VersionWrite[], cursor?: bigint): Promise<void>;
  close(): Promise<void>;
}
