import { type ModuleRegistry, parseRecordStream, type RecordData, upcastData } from '../datamodel/index.js';
import type { AsOf } from '../documents/port.js';
import type { EventStore } from '../eventstore/index.js';
import { AppError, validationFailed } from '../kernel/index.js';
import type { CompiledReport } from './definition.js';
import { type GroupState, groupView, type KeyValue, mergeGroups, sortGroups } from './groups.js';
import type { ReportStore } from './port.js';
import type { ReportProcessor } from './processor.js';
import { foldEvents } from './reducer.js';

export interface ReportData {
  groups: Record<string, unknown>[];
  position: bigint;
}

/** The maintained groups as stored: each group's view as JSON text, in key order. */
export interface CurrentData {
  views: string[];
  position: bigint;
  report: CompiledReport;
}

const WAIT_MS = 5000;
const PAGE = 5000;

/** Reads of a report's groups: the maintained ones, or a past state folded from the log. */
export function createReportReads(deps: {
  events: EventStore;
  store: ReportStore;
  processor: ReportProcessor;
  registry: ModuleRegistry;
  asOfMaxEvents: number;
}) {
  const { processor } = deps;

  /** The serving version once it has processed `after` (bounded wait); `unavailable` when it does not in time. */
  async function serving(tenant: string, name: string, after: bigint) {
    processor.poke();
    const reached = () => {
      const v = processor.serving(tenant, name);
      return v !== undefined && (v.status === 'failed' || v.position >= after);
    };
    if (!(await processor.until(reached, WAIT_MS)))
      throw new AppError('unavailable', `Report ${name} has not processed position ${after} within ${WAIT_MS} ms`);
    const v = processor.serving(tenant, name);
    if (!v) throw new AppError('unavailable', `Report ${name} is not ready`);
    if (v.status === 'failed')
      throw new AppError('validation_failed', `Report ${name} failed: ${v.reason}`, {
        reason: v.reason,
        errors: [{ path: '/groupBy', message: `more groups than the report's limit (${v.reason})` }],
      });
    return v;
  }

  return {
    /** The serving version's groups, their views read as stored (no group state parsed): a read of many groups costs little more than their bytes. */
    async current(tenant: string, name: string, after = 0n): Promise<CurrentData> {
      for (let attempt = 0; ; attempt += 1) {
        const v = await serving(tenant, name, after);
        const position = v.position;
        const stored = await deps.store.views(v);
        // A switch to a newer version may have dropped this one meanwhile: read the new one.
        if (!processor.version(tenant, name, v.version) && attempt < 3) continue;
        const keyed = stored.map((group) => ({
          key: JSON.parse(group.groupKey) as KeyValue[],
          // Groups stored before views were have their state instead.
          text: group.view ?? JSON.stringify(groupView(v.compiled, group.state)),
        }));
        return { views: sortGroups(keyed).map((group) => group.text), position, report: v.compiled };
      }
    },

    /**
     * The report as it was at a position or time: the tenant's log up to there folded in memory
     * through the same reducer. Costs one read of the tenant's log up to that point (at most
     * `asOfMaxEvents` events, else validation_failed) and memory for its records.
     */
    async asOf(tenant: string, report: CompiledReport, at: AsOf): Promise<ReportData> {
      const members = new Map<string, RecordData>();
      const groups = new Map<string, GroupState>();
      const loaded = await deps.registry.load(tenant, report.module);
      const modules = new Map([[report.module, loaded]]);
      let position = 0n;
      let read = 0;
      for (let after = 0n; ; ) {
        const page = await deps.events.readTenant(tenant, { after, limit: PAGE });
        const within = page.filter((e) =>
          'position' in at ? e.position <= at.position : e.recordedAt.getTime() <= new Date(at.time).getTime(),
        );
        read += within.length;
        if (read > deps.asOfMaxEvents)
          throw validationFailed('Too far back', [
            { path: '/querystring/asOf', message: `more than ${deps.asOfMaxEvents} events to fold` },
          ]);
        const relevant = within.flatMap((event) => {
          const stream = parseRecordStream(event.streamId);
          if (stream?.module !== report.module || stream.entity !== report.entity) return [];
          return [{ recordId: stream.id, type: event.type, data: upcastData(event, modules) }];
        });
        const folded = foldEvents(report, members, relevant);
        for (const [id, data] of folded.members) {
          if (data) members.set(id, data);
          else members.delete(id);
        }
        for (const [id, group] of mergeGroups(groups, folded.deltas).changed) {
          if (group) groups.set(id, group);
          else groups.delete(id);
        }
        position = within.at(-1)?.position ?? position;
        const last = page.at(-1);
        if (!last || page.length < PAGE || within.length < page.length) break;
        after = last.position;
      }
      if ('position' in at) position = at.position;
      return { groups: sortGroups([...groups.values()]).map((group) => groupView(report, group)), position };
    },
  };
}

export type ReportReads = ReturnType<typeof createReportReads>;
