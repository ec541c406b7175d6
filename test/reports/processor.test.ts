import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import fc from 'fast-check';
import { createDataContext, parseRecordStream, type RecordData } from '../../src/datamodel/index.js';
import { unauthenticatedAdmin } from '../../src/http/index.js';
import { openStorage, type Storage } from '../../src/platform/storage.js';
import { compileReport, type ReportDefinition } from '../../src/reports/definition.js';
import { type GroupState, groupView, mergeGroups, sortGroups } from '../../src/reports/groups.js';
import { openReportStore, type ReportStore } from '../../src/reports/index.js';
import { type ReportProcessor, startReportProcessor } from '../../src/reports/processor.js';
import { foldEvents } from '../../src/reports/reducer.js';
import { createReportService } from '../../src/reports/service.js';
import { SALES } from '../api/fixtures.js';
import { REPORT } from './contract.js';

const TENANT = 'acme';
const root = mkdtempSync(join(tmpdir(), 'bo-report-processor-'));
after(() => rmSync(root, { recursive: true, force: true }));
const context = { caller: { tenant: TENANT, user: 'test', roles: ['admin'] }, correlationId: 'report-processor-test' };

/** Creates, updates, pays and deletes orders through the record service (one event each). */
async function writeOrders(data: ReturnType<typeof createDataContext>, ids: string[], seed: number, count: number): Promise<void> {
  const scope = { tenant: TENANT, module: 'sales', entity: 'order' };
  const ops = fc.sample(fc.tuple(fc.nat(9), fc.nat(), fc.integer({ min: 0, max: 40 }), fc.nat(2)), { numRuns: count, seed });
  for (const [kind, pick, amount, day] of ops) {
    const id = ids[pick % Math.max(ids.length, 1)];
    if (kind < 5 || !id) {
      const body = { customer: `c${pick % 4}`, amount: amount / 4, status: 'open', placedAt: `2024-05-0${day + 1}T10:00:00Z` };
      ids.push((await data.records.create(context, scope, body)).id);
    } else if (kind < 8) await data.records.update(context, { ...scope, id }, { amount, status: kind === 7 ? 'shipped' : 'paid' });
    else {
      await data.records.remove(context, { ...scope, id });
      ids.splice(ids.indexOf(id), 1);
    }
  }
}

/** The report folded from the whole log in one batch, straight through the reducer. */
async function direct(storage: Storage, fields: Parameters<typeof compileReport>[1]): Promise<unknown[]> {
  const report = compileReport(REPORT as ReportDefinition, fields);
  const log = await storage.events.readAll({ after: 0n, limit: 10_000 });
  const relevant = log.flatMap((event) => {
    const stream = parseRecordStream(event.streamId);
    return stream?.entity === 'order' ? [{ recordId: stream.id, type: event.type, data: event.data }] : [];
  });
  const groups = new Map<string, GroupState>();
  for (const [id, group] of mergeGroups(groups, foldEvents(report, new Map<string, RecordData>(), relevant).deltas).changed)
    if (group) groups.set(id, group);
  return sortGroups([...groups.values()]).map((group) => groupView(report, group));
}

async function served(processor: ReportProcessor, reports: ReportStore, head: bigint, version: number): Promise<unknown[]> {
  const ready = () => processor.serving(TENANT, 'daily')?.version === version && processor.serving(TENANT, 'daily')?.position === head;
  assert.ok(await processor.until(ready, 10_000), `version ${version} reaches position ${head}`);
  const v = processor.serving(TENANT, 'daily');
  if (!v) throw new Error('no serving version');
  const fromStates = sortGroups([...(await reports.groups(v)).values()]).map((group) => groupView(v.compiled, group));
  // The views stored with the groups say the same as their states.
  const fromViews = (await reports.views(v)).map((group) =>
    group.view === undefined ? groupView(v.compiled, group.state) : JSON.parse(group.view),
  );
  const texts = (views: unknown[]) => views.map((view) => JSON.stringify(view)).sort();
  assert.deepEqual(texts(fromViews), texts(fromStates));
  return fromStates;
}

describe('report processor', () => {
  it('gives the report of the whole log whatever the sizes of its reads and batches, building, keeping up and rebuilding', async () => {
    const path = join(root, 'backoffice.db');
    const storage = await openStorage({ kind: 'sqlite', path });
    const reports = await openReportStore({ kind: 'sqlite', path });
    const data = createDataContext({ events: storage.events, documents: storage.documents, authenticate: unauthenticatedAdmin });
    const service = createReportService({ ...storage, registry: data.registry });
    let processor: ReportProcessor | undefined;
    try {
      await data.modules.define(context, TENANT, 'sales', SALES);
      const ids: string[] = [];
      await writeOrders(data, ids, 1, 60);
      await service.define(context, TENANT, 'daily', REPORT);
      await writeOrders(data, ids, 2, 60);
      const { entity } = await data.registry.entity(TENANT, 'sales', 'order');
      const options = { events: storage.events, store: reports, registry: data.registry, maxGroups: 1000, pollIntervalMs: 20 };
      processor = await startReportProcessor({ ...options, batchSize: 3, maxBatchSize: 10, memberCacheRows: 7, groupCacheRows: 2 });
      assert.deepEqual(
        await served(processor, reports, await storage.events.headPosition(), 1),
        await direct(storage, entity.definition.fields),
      );
      await writeOrders(data, ids, 3, 40);
      assert.deepEqual(
        await served(processor, reports, await storage.events.headPosition(), 1),
        await direct(storage, entity.definition.fields),
      );
      await service.define(context, TENANT, 'daily', REPORT);
      await writeOrders(data, ids, 4, 20);
      const rebuilt = await served(processor, reports, await storage.events.headPosition(), 2);
      assert.deepEqual(rebuilt, await direct(storage, entity.definition.fields));
      await processor.stop();
      // Another processor with the default sizes goes on from the same store.
      processor = await startReportProcessor(options);
      await writeOrders(data, ids, 5, 20);
      assert.deepEqual(
        await served(processor, reports, await storage.events.headPosition(), 2),
        await direct(storage, entity.definition.fields),
      );
      await processor.stop();
      // A group stored before views were (no view): reads take it from its state.
      const v = processor.serving(TENANT, 'daily');
      if (!v) throw new Error('no serving version');
      const [id, group] = [...(await reports.groups(v))][0] ?? [];
      if (!id || !group) throw new Error('no group');
      await reports.commit([{ id: v, groups: new Map([[id, group]]) }], await reports.cursor());
      const stored = (await reports.views(v)).find((found) => found.groupKey === id);
      assert.deepEqual(stored, { groupKey: id, state: group });
    } finally {
      await processor?.stop();
      await reports.close();
      await storage.close();
    }
  });
});
