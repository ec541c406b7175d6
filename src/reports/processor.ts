import { type ModuleRegistry, parseRecordStream, upcastData } from '../datamodel/index.js';
import type { EventStore, RecordedEvent } from '../eventstore/index.js';
import { createWaker, isAppError, type Logger } from '../kernel/index.js';
import { type CompiledReport, compileReport, type StoredDefinition } from './definition.js';
import type { ReportStore, VersionRow, VersionState, VersionWrite } from './port.js';
import { foldEvents, type GroupState, groupView, mergeGroups, type ReportEvent } from './reducer.js';

export const REPORT_STREAM = 'report';
export const DEFINED = 'ReportDefined';
export const DELETED = 'ReportDeleted';

/** The groups a batch changed in one version (a group left empty shows `count: 0`). */
export interface BatchNotice {
  tenant: string;
  report: string;
  version: number;
  position: bigint;
  groups: Record<string, unknown>[];
}

export interface ProcessorOptions {
  events: EventStore;
  store: ReportStore;
  registry: ModuleRegistry;
  maxGroups: number;
  batchSize?: number;
  pollIntervalMs?: number;
  logger?: Logger;
}

export interface Version extends VersionRow {
  compiled: CompiledReport;
}

type Pending = { write: VersionWrite; next?: Version; notice?: BatchNotice };

const vkey = (v: { tenant: string; report: string; version: number }) => `${v.tenant}/${v.report}/${v.version}`;

/**
 * The one report processor of a process. It reads the whole log in order from its cursor and keeps
 * every ready version at the cursor; a new version catches up from position 0 in batches of its own
 * (the older version keeps serving) and replaces the older one once it reaches the cursor. Groups,
 * member rows, version positions and the cursor of a batch commit in one transaction, so a
 * processor stopped anywhere resumes without counting twice. A lease (a row naming the process
 * that may run it) would let several processes share the work later; today there is one per process.
 */
export async function startReportProcessor(options: ProcessorOptions) {
  const { events, store, registry } = options;
  const batchSize = options.batchSize ?? 1000;
  let cursor = 0n;
  /** Committed batches, as last seen: the fence of this processor's next commit. */
  let generation = 0n;
  let versions = new Map<string, Version>();
  const waker = createWaker();
  const listeners = new Set<(notice: BatchNotice) => void>();
  const progress = new Set<() => void>();

  async function reload(): Promise<void> {
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

  async function step(): Promise<boolean> {
    waker.clear();
    await dropDeletedTenants();
    const batch = await events.readAll({ after: cursor, limit: batchSize });
    if (batch.length > 0) await mainBatch(batch);
    const cohorts = new Map<bigint, Version[]>();
    for (const v of versions.values())
      if (v.status === 'building' && v.position < cursor) cohorts.set(v.position, [...(cohorts.get(v.position) ?? []), v]);
    for (const [position, cohort] of cohorts) await catchUp(position, cohort);
    return batch.length === batchSize || cohorts.size > 0;
  }

  async function mainBatch(batch: RecordedEvent[]): Promise<void> {
    const last = (batch.at(-1) as RecordedEvent).position;
    const writes: VersionWrite[] = [];
    const dropped = new Set<string>();
    const created: Version[] = [];
    for (const event of batch) definitionChange(event, writes, dropped, created);
    const live = [...versions.values()].filter((v) => v.status !== 'failed' && v.position === cursor && !dropped.has(vkey(v)));
    const results = await Promise.all(live.map((v) => applyTo(v, batch, last, last)));
    await commit([...writes, ...results.map((r) => r.write)], results, created, dropped, last);
  }

  /** A report's definition event: a new version (which supersedes a version still building) or the report's deletion. */
  function definitionChange(event: RecordedEvent, writes: VersionWrite[], dropped: Set<string>, created: Version[]): void {
    if (!event.streamId.startsWith(`${REPORT_STREAM}:`) || (event.type !== DEFINED && event.type !== DELETED)) return;
    const report = event.streamId.slice(REPORT_STREAM.length + 1);
    for (const v of [...versions.values(), ...created]) {
      if (v.tenant !== event.tenant || v.report !== report || dropped.has(vkey(v))) continue;
      if (event.type === DELETED || v.status !== 'ready') {
        dropped.add(vkey(v));
        writes.push({ id: v, drop: true });
      }
    }
    if (event.type !== DEFINED) return;
    const stored = (event.data as unknown as { stored: StoredDefinition }).stored;
    const id = { tenant: event.tenant, report, version: event.streamVersion };
    writes.push({ id, create: stored });
    const row: VersionRow = { ...id, stored, status: 'building', reason: null, position: 0n, groupCount: 0 };
    created.push(withCompiled(row));
  }

  async function catchUp(position: bigint, cohort: Version[]): Promise<void> {
    const raw = await events.readAll({ after: position, limit: batchSize });
    const batch = raw.filter((event) => event.position <= cursor);
    const reached = raw.length < batchSize || batch.length < raw.length;
    const next = reached ? cursor : (batch.at(-1) as RecordedEvent).position;
    const results = await Promise.all(cohort.map((v) => applyTo(v, batch, next, cursor)));
    await commit(
      results.map((r) => r.write),
      results,
      [],
      new Set(),
    );
  }

  /** Applies the batch to one version: member rows, groups and its new state (not yet written). */
  async function applyTo(v: Version, batch: RecordedEvent[], position: bigint, target: bigint): Promise<Pending> {
    const relevant = await reportEvents(v, batch);
    const members = await store.members(v, [...new Set(relevant.map((e) => e.recordId))]);
    const folded = foldEvents(v.compiled, members, relevant);
    const groups = await store.groups(v, [...folded.deltas.keys()]);
    const { changed, added } = mergeGroups(groups, folded.deltas);
    const groupCount = v.groupCount + added;
    if (groupCount > options.maxGroups) {
      const state: VersionState = { status: 'failed', reason: 'too_many_groups', position, groupCount: 0 };
      return { write: { id: v, clear: true, state }, next: { ...v, ...state } };
    }
    const status = v.status === 'building' && position === target ? 'ready' : v.status;
    const state: VersionState = { status, reason: null, position, groupCount };
    const views = [...changed].map(([id, group]) =>
      groupView(v.compiled, group ?? { key: (groups.get(id) ?? (folded.deltas.get(id) as GroupState)).key, count: 0, f: {} }),
    );
    const notice = views.length > 0 ? { tenant: v.tenant, report: v.report, version: v.version, position, groups: views } : undefined;
    return {
      write: { id: v, members: folded.members, groups: changed, state },
      next: { ...v, ...state },
      ...(notice ? { notice } : {}),
    };
  }

  async function reportEvents(v: Version, batch: RecordedEvent[]): Promise<ReportEvent[]> {
    const { module, entity } = v.compiled;
    const selected = batch.filter((event) => {
      if (event.tenant !== v.tenant || event.position <= v.position) return false;
      const stream = parseRecordStream(event.streamId);
      return stream?.module === module && stream.entity === entity;
    });
    if (selected.length === 0) return [];
    const loaded = await registry.load(v.tenant, module);
    const modules = new Map([[module, loaded]]);
    return selected.map((event) => ({
      recordId: (parseRecordStream(event.streamId) as { id: string }).id,
      type: event.type,
      data: upcastData(event, modules),
    }));
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
    versions = next;
    if (newCursor !== undefined) cursor = newCursor;
    for (const r of results) if (r.notice) for (const listener of listeners) listener(r.notice);
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

  await reload();
  const running = run();

  return {
    /** The version of the report that answers reads: the newest failed one, else the newest ready one. */
    serving(tenant: string, report: string): Version | undefined {
      const own = [...versions.values()].filter((v) => v.tenant === tenant && v.report === report).sort((a, b) => b.version - a.version);
      return own[0]?.status === 'failed' ? own[0] : own.find((v) => v.status === 'ready');
    },
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
    subscribe(listener: (notice: BatchNotice) => void): () => void {
      listeners.add(listener);
      return () => listeners.delete(listener);
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
