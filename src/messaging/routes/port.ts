import type { JsonValue } from '../../kernel/index.js';
import type { RouteDocument } from './definition.js';

/** One route in the registry: its latest version, or a tombstone (`document: null`) once deleted. */
export interface RegistryRow {
  tenant: string;
  id: string;
  version: number;
  document: RouteDocument | null;
}

/** A message that joins its open group (the group is created when the key has none). */
export interface MemberInput {
  tenant: string;
  route: string;
  key: string;
  /** Unique per source message and split element: a redelivered message joins no group twice. */
  memberId: string;
  body: JsonValue;
  /** The group completes when it holds this many messages. */
  limit: number;
  /** For a new group: when it is due by timeout (epoch ms), or null. */
  deadline: number | null;
  /** For a new group: its id. */
  groupId: string;
  now: number;
}

export type AddResult = 'added' | 'completed' | 'duplicate';

/** A due group claimed by one process until its lease ends: its messages in arrival order. */
export interface ClaimedGroup {
  tenant: string;
  route: string;
  groupId: string;
  key: string;
  /** How many emissions of it failed so far. */
  failures: number;
  messages: JsonValue[];
}

/**
 * What routes keep next to the log, shared by every process: the registry of routes (a projection
 * of their definition events, with the log position it reached), the webhook targets' secrets
 * (kept out of events), and the open aggregation groups with their messages.
 */
export interface RouteStore {
  /** The log position the registry reflects. */
  cursor(): Promise<bigint>;
  /**
   * Applies definition changes — a version replaces an older one, never a newer — and moves the
   * cursor forward to `position` (never back), in one transaction. Several processes may apply the same.
   */
  record(changes: readonly RegistryRow[], position: bigint): Promise<void>;
  /** Every live route of every tenant. */
  routes(): Promise<RegistryRow[]>;
  putSecrets(tenant: string, route: string, ref: string, secrets: ReadonlyMap<number, string>): Promise<void>;
  /** The secrets of a reference, by target index. */
  secrets(tenant: string, route: string, ref: string): Promise<Map<number, string>>;
  /**
   * Deletes the route's secrets of references older than `current` (references are UUIDv7, so they
   * sort by creation): those of older versions and failed writes, never those of a write in flight.
   */
  pruneSecrets(tenant: string, route: string, current: string): Promise<void>;
  /** Records a message in its group; `completed` when it filled the group (then due at once). */
  addToGroup(input: MemberInput): Promise<AddResult>;
  /**
   * Claims up to `limit` due groups (open groups past their deadline, complete ones) whose lease has
   * ended: each is closed (new messages open another group) and leased until `leaseUntil`.
   */
  claimDue(now: number, leaseUntil: number, limit: number): Promise<ClaimedGroup[]>;
  /** A claimed group not emitted now: claimable again from `retryAt`; `failed` counts a failed emission. */
  release(group: ClaimedGroup, retryAt: number, failed: boolean): Promise<void>;
  /** A claimed group was emitted (or dead-lettered): it goes; its member ids stay to refuse redeliveries. */
  finish(group: ClaimedGroup, now: number): Promise<void>;
  /** Forgets member ids of finished groups older than `before` (epoch ms); returns how many. */
  purgeMembers(before: number): Promise<number>;
  /** A deleted route: its groups, members and secrets go (its tombstone stays). */
  dropRoute(tenant: string, route: string): Promise<void>;
  /** A deleted tenant: everything of it goes, registry rows included. */
  dropTenant(tenant: string): Promise<void>;
  close(): Promise<void>;
}
