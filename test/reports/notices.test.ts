import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { BatchNotice } from '../../src/reports/batch.js';
import { NOTICE_PART_BYTES, noticeParts, parseNotice } from '../../src/reports/notices.js';

const notice = (groups: Record<string, unknown>[]): BatchNotice => ({
  tenant: 'acme',
  report: 'byStatus',
  version: 3,
  position: 12345678901234n,
  groups,
});
const group = (index: number) => ({
  key: { status: `s${index}`, placedAt_day: '2026-11-26T00:00:00.000Z' },
  count: index,
  sum_amount: index * 1.5,
});

describe('report notices on the bus', () => {
  it('round-trips a small notice in one part', () => {
    const small = notice([group(1), group(2)]);
    const parts = noticeParts(small);
    assert.equal(parts.length, 1);
    assert.deepEqual(parseNotice(parts[0] as Buffer), small);
  });

  it('splits a large notice into parts under the size limit that together hold every group once, in order', () => {
    const groups = Array.from({ length: 10_000 }, (_, index) => group(index));
    const parts = noticeParts(notice(groups));
    assert.ok(parts.length > 1, `${parts.length} parts`);
    const parsed = parts.map((part) => parseNotice(part));
    for (const part of parts) assert.ok(part.length <= NOTICE_PART_BYTES + 200, `part of ${part.length} bytes`);
    assert.deepEqual(
      parsed.flatMap((p) => p?.groups ?? []),
      groups,
    );
    for (const p of parsed) assert.deepEqual({ ...p, groups: [] }, { ...notice([]), groups: [] });
  });

  it('sends no part for a notice without groups', () => {
    assert.deepEqual(noticeParts(notice([])), []);
  });

  it('ignores what is not a notice', () => {
    for (const text of [
      'not json',
      'null',
      '[]',
      '{"tenant":"acme","report":"r","version":1,"position":"x","groups":[]}',
      '{"tenant":"acme","report":"r","version":1.5,"position":"1","groups":[]}',
      '{"tenant":"acme","report":"r","version":1,"position":"1","groups":[1]}',
      '{"tenant":1,"report":"r","version":1,"position":"1","groups":[]}',
    ]) {
      assert.equal(parseNotice(Buffer.from(text)), undefined, text);
    }
  });
});
