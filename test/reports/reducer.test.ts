import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { RecordData } from '../../src/datamodel/index.js';
import { compileReport } from '../../src/reports/definition.js';
import { type GroupState, groupView, mergeGroups, sortGroups } from '../../src/reports/groups.js';
import { bucketStart, foldEvents, memberFold, type ReportEvent } from '../../src/reports/reducer.js';

const FIELDS = {
  customer: { type: 'string' as const },
  amount: { type: 'number' as const },
  status: { type: 'enum' as const, values: ['open', 'paid'] },
  placedAt: { type: 'datetime' as const },
};
const report = compileReport(
  {
    entity: 'sales.order',
    groupBy: ['status', { time: 'placedAt', bucket: 'day' }],
    measures: ['count', 'sum:amount', 'avg:amount', 'min:amount', 'max:amount', 'countDistinct:customer'],
  },
  FIELDS,
);

/** Given the member rows and groups, when the events are folded, then the groups are… */
function given(events: ReportEvent[]) {
  const members = new Map<string, RecordData>();
  const groups = new Map<string, GroupState>();
  return {
    when(more: ReportEvent[]) {
      for (const batch of [events, more]) {
        const folded = foldEvents(report, members, batch);
        for (const [id, data] of folded.members) data ? members.set(id, data) : members.delete(id);
        for (const [id, group] of mergeGroups(groups, folded.deltas).changed) group ? groups.set(id, group) : groups.delete(id);
      }
      return sortGroups([...groups.values()]).map((group) => groupView(report, group));
    },
  };
}

const created = (id: string, data: RecordData): ReportEvent => ({ recordId: id, type: 'OrderCreated', data });
const at = '2024-05-01T10:00:00.000Z';

describe('report reducer', () => {
  it('moves a record from one group to another on an update', () => {
    const groups = given([created('1', { customer: 'a', amount: 10, status: 'open', placedAt: at })]).when([
      { recordId: '1', type: 'OrderUpdated', data: { status: 'paid' } },
    ]);
    assert.deepEqual(groups, [
      {
        key: { status: 'paid', placedAt_day: '2024-05-01T00:00:00.000Z' },
        count: 1,
        sum_amount: 10,
        avg_amount: 10,
        min_amount: 10,
        max_amount: 10,
        countDistinct_customer: 1,
      },
    ]);
  });

  it('keeps min, max and countDistinct right after deletes', () => {
    const groups = given([
      created('1', { customer: 'a', amount: 1, status: 'open', placedAt: at }),
      created('2', { customer: 'b', amount: 5, status: 'open', placedAt: at }),
      created('3', { customer: 'b', amount: 9, status: 'open', placedAt: at }),
    ]).when([
      { recordId: '3', type: 'OrderDeleted', data: {} },
      { recordId: '1', type: 'OrderDeleted', data: {} },
    ]);
    assert.equal(groups.length, 1);
    assert.deepEqual([groups[0]?.min_amount, groups[0]?.max_amount, groups[0]?.countDistinct_customer, groups[0]?.count], [5, 5, 1, 1]);
  });

  it('applies declared command events through evolve and removes empty groups', () => {
    const groups = given([created('1', { customer: 'a', amount: 3, status: 'open', placedAt: at })]).when([
      { recordId: '1', type: 'OrderPaid', data: { status: 'paid' } },
      { recordId: '1', type: 'OrderUpdated', data: { amount: null } },
    ]);
    assert.deepEqual(
      groups.map((g) => [g.key, g.count, g.sum_amount, g.min_amount]),
      [[{ status: 'paid', placedAt_day: '2024-05-01T00:00:00.000Z' }, 1, null, null]],
    );
  });

  it('gives the same groups whether a log is folded event by event, in one batch or in batches of any size (property)', () => {
    const event = fc.oneof(
      fc.record({
        recordId: fc.constantFrom('1', '2', '3', '4'),
        type: fc.constantFrom('OrderCreated', 'OrderUpdated'),
        data: fc.record(
          {
            customer: fc.constantFrom('a', 'b'),
            amount: fc.integer({ min: 0, max: 8 }).map((n) => n / 4),
            status: fc.constantFrom('open', 'paid'),
            placedAt: fc.constantFrom(at, '2024-05-02T23:30:00+02:00'),
          },
          { requiredKeys: [] },
        ),
      }),
      fc.record({ recordId: fc.constantFrom('1', '2', '3', '4'), type: fc.constant('OrderDeleted'), data: fc.constant({}) }),
    );
    fc.assert(
      fc.property(fc.array(event, { maxLength: 40 }), fc.array(fc.integer({ min: 1, max: 12 }), { minLength: 1 }), (log, sizes) => {
        const members = new Map<string, RecordData>();
        const groups = new Map<string, GroupState>();
        const fold = (batch: ReportEvent[]) => {
          const folded = foldEvents(report, members, batch);
          for (const [id, data] of folded.members) data ? members.set(id, data) : members.delete(id);
          for (const [id, group] of mergeGroups(groups, folded.deltas).changed) group ? groups.set(id, group) : groups.delete(id);
        };
        for (const e of log) fold([e]);
        const perEvent = sortGroups([...groups.values()]).map((group) => groupView(report, group));
        // The same log in batches of the sizes drawn, each fed event by event to a member fold.
        const chunked = new Map<string, GroupState>();
        const rows = new Map<string, RecordData>();
        for (let i = 0, b = 0; i < log.length; b += 1) {
          const batch = memberFold(report);
          for (const e of log.slice(i, i + (sizes[b % sizes.length] as number))) {
            if (!batch.step(e.recordId, e)) batch.start(e.recordId, rows.get(e.recordId), e);
            i += 1;
          }
          const folded = batch.result();
          for (const [id, data] of folded.members) data ? rows.set(id, data) : rows.delete(id);
          for (const [id, group] of mergeGroups(chunked, folded.deltas).changed) group ? chunked.set(id, group) : chunked.delete(id);
        }
        assert.deepEqual(
          sortGroups([...chunked.values()]).map((group) => groupView(report, group)),
          perEvent,
        );
        assert.deepEqual(given(log).when([]), perEvent);
      }),
      { numRuns: 200 },
    );
  });

  it('starts minutes and hours at their first millisecond, weeks on Monday and quarters on their first month', () => {
    assert.equal(bucketStart('2024-05-01T10:17:59.999+02:00', 'minute'), '2024-05-01T08:17:00.000Z');
    assert.equal(bucketStart('1969-12-31T23:59:30Z', 'minute'), '1969-12-31T23:59:00.000Z');
    assert.equal(bucketStart('2024-05-01T10:17:59Z', 'hour'), '2024-05-01T10:00:00.000Z');
    assert.equal(bucketStart('2024-05-01T10:00:00Z', 'week'), '2024-04-29T00:00:00.000Z');
    assert.equal(bucketStart('2024-05-31', 'quarter'), '2024-04-01T00:00:00.000Z');
  });
});
