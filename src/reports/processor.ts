import type { ModuleRegistry, RecordData } from '../datamodel/index.js';
import { type EventStore, type LoggedEvent, READ_LIMIT_MAX } from '../eventstore/index.js';
import { createWaker, isAppError, type Logger } from '../kernel/index.js';
import { type BatchNotice, batchWork, type Pending, type Version, vkey, type Work } from './batch.js';
import { compileReport, type StoredDefinition } from './definition.js';
import type { GroupState } from './groups.js';
import type { ReportStore, VersionRow, VersionWrite } from './port.js';
import { versionCache } from './version-cache.js';

export type { BatchNotice, Version } from './batch.js';

export const REPORT_STREAM = 'report';
export const DEFINED = 'ReportDefined';
export const DELETED = 'ReportDeleted';
const REPORT_PREFIX = `${REPORT_STREAM}:`;

export interface ProcessorOptions {
  events: EventStore;
  store: ReportStore;
  registry: ModuleRegistry;
  maxGroups: number;
  /** Events per read of the log (default 1,000). */
  batchSize?: number;
  /** Events per batch at most: a batch takes what the log holds after its start, up to this (default 100,000). */
  maxBatchSize?: number;
  /** Member rows kept in memory across batches (default 100,000). */
  memberCacheRows?: number;
  /** Groups kept in memory across batches (default 10,000). */
  groupCacheRows?: number;
  pollIntervalMs?: number;
  /** Told of the groups each committed batch changed in a serving version (else they are not computed). */
  notify?: (notice: BatchNotice) => void;
  logger?: Logger;
}

/**
 * The one report processor of a process. It reads the whole log in order from its cursor and keeps
 * every ready version at the cursor; a new version catches up from position 0 in batches of its own
 * (the older version keeps serving) and replaces the older one once it reaches the cursor; while no
 * version is at the cursor, the cursor waits for the building ones, so a first build reads the log
 * once. A batch takes what the log holds after its start (up to `maxBatchSize` events, ending at
 * a definition), read in chunks of `batchSize` events, each folded as it comes; its groups, member
 * rows, version positions and cursor commit in one transaction, so a processor stopped anywhere
 * resumes without counting twice, and every commit is fenced, so several processes on one database
 * count each event once.
 */
export async function startReportProcessor(options: ProcessorOptions) {
  const { events, store } = options;
  const batchSize = Math.min(options.batchSize ?? 1000, READ_LIMIT_MAX);
  const maxBatchSize = Math.max(batchSize, options.maxBatchSize ?? 100_000);
  const members = versionCache<RecordData>(options.memberCacheRows ?? 100_000);
  const groupCache = versionCache<GroupState>(options.groupCacheRows ?? 10_000);
  let cursor = 0n;
  /** Committed batches, as last seen: the fence of this processor's next commit. */
  let generation = 0n;
  let versions = new Map<string, Version>();
  const waker = createWaker();
  const { notify } = options;
  /** Another process committed beyond the cursor: take its state rather than redo its batch. */
  let behind = false;
  const progress = new Set<() => void>();
  const work = batchWork({
    store,
    registry: options.registry,
    members,
    groups: groupCache,
    maxGroups: options.maxGroups,
    notices: notify !== undefined,
  });

  async function reload(): Promise<void> {
    // Uncommitted work may have changed cached rows in place: the caches go with it.
    members.clear();
    groupCache.clear();
    // The fence first: a batch committed while the rest is read makes the next commit fail, then reload.
    ({ position: cursor, generation } = await store.cursor());
    versions = new Map((await store.versions()).map((row) => [vkey(row), withCompiled(row)]));
  }

  /** Tenants deleted since the last pass: their versions and rows go, in the processor's own loop. */
  const deletedTenants = new Set<string>();

  async function dropDeletedTenants(): Promise<void> {
    if (deletedTenants.size === 0) return;
    const gone = [...versions.values()].filter((v) => deletedTenants.has(v.tenant));
    deletedTenants.clear();
    if (gone.length === 0) return;
    await commit(
      gone.map((v) => ({ id: v, drop: true })),
      [],
      [],
      new Set(gone.map(vkey)),
    );
  }

  /**
   * Starts reading a chunk of the log, so that it is read while the previous one is folded (its failure surfaces where it is awaited).
   * The events' data alone: reports read no metadata, and decoding it would cost a third of the read.
   */
  function readChunk(after: bigint, limit: number): Promise<LoggedEvent[]> {
    const chunk = events.readAllData({ after, limit });
    chunk.catch(() => undefined);
    return chunk;
  }

  const building = () => [...versions.values()].filter((v) => v.status === 'building' && v.position < cursor);

  async function step(): Promise<boolean> {
    waker.clear();
    if (behind) {
      behind = false;
      await reload();
    }
    await dropDeletedTenants();
    // Versions that build with none at the cursor: they catch up first, then the log is read once for all.
    const atCursor = [...versions.values()].some((v) => v.status !== 'failed' && v.position === cursor);
    const more = atCursor || building().length === 0 ? await mainBatch() : false;
    const cohorts = new Map<bigint, Version[]>();
    for (const v of building()) cohorts.set(v.position, [...(cohorts.get(v.position) ?? []), v]);
    for (const [position, cohort] of cohorts) await catchUp(position, cohort);
    return more || cohorts.size > 0;
  }

  /** A batch from the cursor: its definitions, and its events folded into the versions at the cursor. Whether it was full. */
  async function mainBatch(): Promise<boolean> {
    const writes: VersionWrite[] = [];
    const dropped = new Set<string>();
    const created: Version[] = [];
    const works = new Map<string, Work>();
    for (const v of versions.values()) if (v.status !== 'failed' && v.position === cursor) works.set(vkey(v), work.start(v));
    let position = cursor;
    let read = 0;
    let limit = Math.min(batchSize, maxBatchSize);
    let next = readChunk(position, limit);
    let full = true;
    for (let more = true; more; ) {
      const chunk = await next;
      let defined = false;
      for (const event of chunk) defined = definitionChange(event, writes, dropped, created) || defined;
      for (const key of dropped) works.delete(key);
      position = chunk.at(-1)?.position ?? position;
      read += chunk.length;
      full = chunk.length === limit;
      // A definition changes the versions: the batch ends with it.
      more = full && !defined && read < maxBatchSize;
      if (more) {
        limit = Math.min(batchSize, maxBatchSize - read);
        next = readChunk(position, limit);
      }
      await Promise.all([...works.values()].map((w) => work.apply(w, chunk)));
    }
    if (read === 0) return false;
    const results = await Promise.all([...works.values()].map((w) => work.finish(w, position, position)));
    await commit([...writes, ...results.map((r) => r.write)], results, created, dropped, position);
    return full;
  }

  /** A report's definition event: a new version (which supersedes a version still building) or the report's deletion. */
  function definitionChange(event: LoggedEvent, writes: VersionWrite[], dropped: Set<string>, created: Version[]): boolean {
    if ((event.type !== DEFINED && event.type !== DELETED) || !event.streamId.startsWith(REPORT_PREFIX)) return false;
    const report = event.streamId.slice(REPORT_PREFIX.length);
    for (const v of [...versions.values(), ...created]) {
      if (v.tenant !== event.tenant || v.report !== report || dropped.has(vkey(v))) continue;
      if (event.type === DELETED || v.status !== 'ready') {
        dropped.add(vkey(v));
        writes.push({ id: v, drop: true });
      }
    }
    if (event.type !== DEFINED) return true;
    const stored = (event.data as unknown as { stored: StoredDefinition }).stored;
    const id = { tenant: event.tenant, report, version: event.streamVersion };
    writes.push({ id, create: stored });
    const row: VersionRow = { ...id, stored, status: 'building', reason: null, position: 0n, groupCount: 0 };
    created.push(withCompiled(row));
    return true;
  }

  /** Versions building behind the cursor from one position: a batch of the largest size, at most up to the cursor. */
  async function catchUp(position: bigint, cohort: Version[]): Promise<void> {
    const works = cohort.map((v) => work.start(v));
    let at = position;
    let read = 0;
    let reached = false;
    let limit = Math.min(batchSize, maxBatchSize, Number(cursor - at));
    let next = readChunk(at, limit);
    for (let more = true; more; ) {
      const raw = await next;
      const chunk = raw.filter((event) => event.position <= cursor);
      reached = raw.length < limit || chunk.length < raw.length || chunk.at(-1)?.position === cursor;
      at = chunk.at(-1)?.position ?? at;
      read += raw.length;
      more = !reached && read < maxBatchSize;
      if (more) {
        limit = Math.min(batchSize, maxBatchSize - read, Number(cursor - at));
        next = readChunk(at, limit);
      }
      await Promise.all(works.map((w) => work.apply(w, chunk)));
    }
    const results = await Promise.all(works.map((w) => work.finish(w, reached ? cursor : at, cursor)));
    await commit(
      results.map((r) => r.write),
      results,
      [],
      new Set(),
    );
  }

  /** Writes the batch in one transaction, then switches caught-up versions in and old ones out. */
  async function commit(writes: VersionWrite[], results: Pending[], created: Version[], dropped: Set<string>, newCursor?: bigint) {
    const next = new Map(versions);
    for (const key of dropped) next.delete(key);
    for (const v of created) next.set(vkey(v), v);
    for (const r of results) if (r.next && !dropped.has(vkey(r.next))) next.set(vkey(r.next), r.next);
    for (const r of results) {
      const v = r.next;
      const switched = v && v.status !== 'building' && versions.get(vkey(v))?.status === 'building';
      if (!v || !switched) continue;
      for (const old of next.values()) {
        if (old.tenant === v.tenant && old.report === v.report && old.version < v.version) {
          next.delete(vkey(old));
          writes.push({ id: old, drop: true });
        }
      }
    }
    // Every batch is fenced on the cursor, a catch-up too: one computed from a stale cursor must not land.
    generation = await store.commit(writes, { position: newCursor ?? cursor, generation });
    for (const w of writes) {
      for (const cache of [members, groupCache]) if (w.drop || w.clear) cache.drop(vkey(w.id));
      if (w.members) members.put(vkey(w.id), w.members);
      if (w.groups) groupCache.put(vkey(w.id), w.groups);
    }
    versions = next;
    if (newCursor !== undefined) cursor = newCursor;
    for (const r of results) if (r.notice && serving(r.notice.tenant, r.notice.report)?.version === r.notice.version) notify?.(r.notice);
    for (const resolve of progress) resolve();
  }

  const unsubscribe = events.onAppended(() => waker.notify());
  async function run(): Promise<void> {
    let retry = 100;
    while (!waker.stopped) {
      try {
        const more = await step();
        retry = 100;
        if (!more) await waker.sleep(options.pollIntervalMs ?? 500);
      } catch (error) {
        if (isAppError(error, 'version_conflict')) {
          // Another process's processor is ahead: take its state and go on (no error, no back-off).
          await reload().catch(() => undefined);
          for (const resolve of progress) resolve();
          continue;
        }
        options.logger?.error({ err: error }, 'report batch failed; retrying');
        await waker.sleep(retry);
        retry = Math.min(retry * 2, 30_000);
        await reload().catch(() => undefined);
      }
    }
  }

  /** The version of the report that answers reads: the newest failed one, else the newest ready one. */
  function serving(tenant: string, report: string): Version | undefined {
    const own = [...versions.values()].filter((v) => v.tenant === tenant && v.report === report).sort((a, b) => b.version - a.version);
    return own[0]?.status === 'failed' ? own[0] : own.find((v) => v.status === 'ready');
  }

  await reload();
  const running = run();

  return {
    serving,
    version(tenant: string, report: string, version: number): Version | undefined {
      return versions.get(vkey({ tenant, report, version }));
    },
    get cursor() {
      return cursor;
    },
    /** Resolves when `ready()` holds, or after `timeoutMs` (then false). */
    until(ready: () => boolean, timeoutMs: number): Promise<boolean> {
      if (ready() || waker.stopped) return Promise.resolve(ready());
      return new Promise((resolve) => {
        const check = () => {
          if (!ready() && !waker.stopped) return;
          finish(true);
        };
        const timer = setTimeout(() => finish(false), timeoutMs);
        function finish(ok: boolean) {
          clearTimeout(timer);
          progress.delete(check);
          resolve(ok);
        }
        progress.add(check);
      });
    },
    /** A batch was committed up to `position` (heard from any process): beyond the cursor, the state is read again. */
    heard(position: bigint): void {
      if (position <= cursor) return;
      behind = true;
      waker.notify();
    },
    /** Wakes the processor (after a definition was written here). */
    poke: () => waker.notify(),
    /** The tenant was deleted: its report versions, groups and member rows are dropped. */
    dropTenant(tenant: string): void {
      deletedTenants.add(tenant);
      waker.notify();
    },
    async stop(): Promise<void> {
      unsubscribe();
      waker.stop();
      await running;
      for (const resolve of progress) resolve();
    },
  };
}

export type ReportProcessor = Awaited<ReturnType<typeof startReportProcessor>>;

function withCompiled(row: VersionRow): Version {
  return { ...row, compiled: compileReport(row.stored.definition, row.stored.fields) };
}
