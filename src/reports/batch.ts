import { type ModuleRegistry, type RecordData, upcastData } from '../datamodel/index.js';
import type { LoggedEvent } from '../eventstore/index.js';
import type { CompiledReport } from './definition.js';
import { type GroupState, groupView, mergeGroups } from './groups.js';
import type { ReportStore, VersionRow, VersionState, VersionWrite } from './port.js';
import { type FoldedEvent, type MemberFold, memberFold } from './reducer.js';
import type { VersionCache } from './version-cache.js';

export interface Version extends VersionRow {
  compiled: CompiledReport;
}

/** The groups a batch changed in one version (a group left empty shows `count: 0`). */
export interface BatchNotice {
  tenant: string;
  report: string;
  version: number;
  position: bigint;
  groups: Record<string, unknown>[];
}

/** What a batch writes for one version, the version after it, and its notice. */
export type Pending = { write: VersionWrite; next?: Version; notice?: BatchNotice };

export const vkey = (v: { tenant: string; report: string; version: number }) => `${v.tenant}/${v.report}/${v.version}`;

/** One version's part of a batch being read: its fold, written when the batch commits. */
export interface Work {
  v: Version;
  fold: MemberFold;
}

/**
 * Folds the chunks of a batch into each version's work as they are read, and ends the batch: member
 * rows and groups come from the caches, else from the store (one query per chunk, one per batch).
 */
export function batchWork(deps: {
  store: ReportStore;
  registry: ModuleRegistry;
  members: VersionCache<RecordData>;
  groups: VersionCache<GroupState>;
  maxGroups: number;
  /** Whether batches of ready versions have notices (their changed groups' views). */
  notices: boolean;
}) {
  const { store } = deps;

  /** The event as the fold reads it: its data as the module's current definition has it (events of its newest version as they are). */
  async function upcaster(v: Version): Promise<(event: LoggedEvent) => FoldedEvent> {
    const { module } = v.compiled;
    const loaded = await deps.registry.load(v.tenant, module);
    const newest = Math.max(0, ...(loaded?.history ?? []).map((h) => h.version));
    const modules = new Map([[module, loaded]]);
    return (event) => (event.schemaVersion >= newest ? event : { type: event.type, data: upcastData(event, modules) });
  }

  /** The groups the batch changes, as stored: from the cache, else from the store (unless the cache holds all of the version's). */
  async function groupsOf(v: Version, ids: string[]): Promise<Map<string, GroupState>> {
    const { found, missing } = deps.groups.lookup(vkey(v), ids);
    if (missing.length === 0 || deps.groups.size(vkey(v)) === v.groupCount) return found;
    const rows = await store.groups(v, missing);
    deps.groups.put(vkey(v), rows);
    for (const [id, group] of rows) found.set(id, group);
    return found;
  }

  return {
    start: (v: Version): Work => ({ v, fold: memberFold(v.compiled) }),

    /**
     * Folds a chunk of the batch into the version's work: its events of the version's entity after
     * its position. A record met first opens its stream (no member row yet) or has its member row in
     * the cache, else in the store: its events wait for one read of those rows.
     */
    async apply(work: Work, chunk: readonly LoggedEvent[]): Promise<void> {
      const { v, fold } = work;
      const key = vkey(v);
      // A record's stream is `<module>.<entity>:<id>` (parseRecordStream), matched without a regular expression.
      const prefix = `${v.compiled.module}.${v.compiled.entity}:`;
      const upcast = await upcaster(v);
      const unread = new Set<string>();
      const waiting: [string, FoldedEvent][] = [];
      for (const event of chunk) {
        if (event.tenant !== v.tenant || event.position <= v.position || !event.streamId.startsWith(prefix)) continue;
        const recordId = event.streamId.slice(prefix.length);
        const folded = upcast(event);
        // A stream's first event: the record is new to the fold and to the store (no lookup of either).
        if (event.streamVersion === 1) fold.start(recordId, undefined, folded);
        else if (unread.size > 0 && unread.has(recordId)) waiting.push([recordId, folded]);
        else if (fold.step(recordId, folded)) continue;
        else {
          const row = deps.members.get(key, recordId);
          if (row) fold.start(recordId, row, folded);
          else {
            unread.add(recordId);
            waiting.push([recordId, folded]);
          }
        }
      }
      if (unread.size === 0) return;
      const rows = await store.members(v, [...unread]);
      deps.members.put(key, rows);
      for (const [recordId, event] of waiting) if (!fold.step(recordId, event)) fold.start(recordId, rows.get(recordId), event);
    },

    /** The version's writes once the batch has reached `position` (ready when that is `target`). */
    async finish(work: Work, position: bigint, target: bigint): Promise<Pending> {
      const { v } = work;
      const folded = work.fold.result();
      const stored = await groupsOf(v, [...folded.deltas.keys()]);
      const { changed, added } = mergeGroups(stored, folded.deltas);
      const groupCount = v.groupCount + added;
      if (groupCount > deps.maxGroups) {
        const state: VersionState = { status: 'failed', reason: 'too_many_groups', position, groupCount: 0 };
        return { write: { id: v, clear: true, state }, next: { ...v, ...state } };
      }
      const status = v.status === 'building' && position === target ? 'ready' : v.status;
      const state: VersionState = { status, reason: null, position, groupCount };
      // Each changed group's view, as reads and notices show it (a group left empty: `count: 0`).
      const shown = new Map<string, Record<string, unknown>>();
      for (const [id, group] of changed) {
        shown.set(
          id,
          groupView(v.compiled, group ?? { key: (stored.get(id) ?? (folded.deltas.get(id) as GroupState)).key, count: 0, f: {} }),
        );
      }
      const views = new Map<string, string>();
      for (const [id, group] of changed) if (group) views.set(id, JSON.stringify(shown.get(id)));
      const write: VersionWrite = { id: v, members: folded.members, created: folded.created, groups: changed, views, state };
      const next = { ...v, ...state };
      if (changed.size === 0 || !deps.notices || status !== 'ready') return { write, next };
      return { write, next, notice: { tenant: v.tenant, report: v.report, version: v.version, position, groups: [...shown.values()] } };
    },
  };
}
