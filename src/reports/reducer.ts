import { evolve, initialState, type RecordData, type RecordState } from '../datamodel/index.js';
import { matches } from '../documents/query/index.js';
import type { JsonValue } from '../kernel/index.js';
import type { Bucket, CompiledReport } from './definition.js';

export type KeyValue = string | number | boolean | null;

/** What a group keeps per measured field: count and sum of numbers, and a value → count multiset. */
export interface FieldState {
  n: number;
  sum: number;
  v?: Record<string, number>;
}

/** One group of a report: also the shape of a change to it (counts may then be negative). */
export interface GroupState {
  key: KeyValue[];
  count: number;
  f: Record<string, FieldState>;
}

/** A record event of the report's entity, its data upcast to the module's current definition. */
export interface ReportEvent {
  recordId: string;
  type: string;
  data: JsonValue;
}

/** The member rows changed by a batch (null: the record is gone) and the change of each group touched. */
export interface Folded {
  members: Map<string, RecordData | null>;
  deltas: Map<string, GroupState>;
}

export const groupKey = (key: readonly KeyValue[]): string => JSON.stringify(key);

/**
 * Folds a batch of events into the member rows (`members`: the current rows of the records the
 * events touch; absent = no row) with the datamodel's own `evolve`, so a record's state is what the
 * document store holds. Each event moves the record's contribution: the old one is subtracted, the
 * new one added. Pure.
 */
export function foldEvents(report: CompiledReport, members: ReadonlyMap<string, RecordData>, events: readonly ReportEvent[]): Folded {
  const current = new Map<string, RecordData | null>();
  const deltas = new Map<string, GroupState>();
  for (const event of events) {
    const before = current.has(event.recordId) ? current.get(event.recordId) : members.get(event.recordId);
    const after = memberStep(report, before ?? undefined, event);
    addTo(deltas, contribution(report, event.recordId, before ?? undefined), -1);
    addTo(deltas, contribution(report, event.recordId, after), 1);
    current.set(event.recordId, after ?? null);
  }
  return { members: current, deltas };
}

/** The member row after one event: the record's relevant fields while it exists. */
export function memberStep(report: CompiledReport, before: RecordData | undefined, event: ReportEvent): RecordData | undefined {
  const state: RecordState = before ? { status: 'active', version: 1, data: before } : initialState;
  const next = evolve(state, { type: event.type, data: event.data }, report.entity);
  if (next.status !== 'active') return undefined;
  const kept: RecordData = {};
  for (const field of report.relevant) if (Object.hasOwn(next.data, field)) kept[field] = next.data[field] as JsonValue;
  return kept;
}

/** What a record adds to its group (a group of one), or undefined when it is not in the report. */
export function contribution(report: CompiledReport, id: string, data: RecordData | undefined): GroupState | undefined {
  if (!data) return undefined;
  if (report.filter && !matches(report.filter, id, data)) return undefined;
  const key = report.keys.map((part): KeyValue => {
    const value = part.field === 'id' ? id : data[part.field];
    if (value === undefined || value === null) return null;
    if (part.bucket) return bucketStart(value, part.bucket);
    return typeof value === 'object' ? null : value;
  });
  const f: Record<string, FieldState> = {};
  for (const [field, measured] of Object.entries(report.measured)) {
    const value = data[field];
    const state: FieldState = { n: 0, sum: 0 };
    if (measured.sum && typeof value === 'number') {
      state.n = 1;
      state.sum = value;
    }
    if (measured.multiset) state.v = value === undefined || value === null ? {} : { [JSON.stringify(value)]: 1 };
    f[field] = state;
  }
  return { key, count: 1, f };
}

/**
 * Adds `sign` × `change` to the batch's delta of its group, in place: a batch folds many events into
 * few groups, and copying a group's multisets for each of them would cost the square of the batch.
 */
function addTo(deltas: Map<string, GroupState>, change: GroupState | undefined, sign: 1 | -1): void {
  if (!change) return;
  const id = groupKey(change.key);
  let delta = deltas.get(id);
  if (!delta) {
    delta = { key: change.key, count: 0, f: {} };
    deltas.set(id, delta);
  }
  delta.count += sign * change.count;
  for (const [field, b] of Object.entries(change.f)) {
    const a = delta.f[field] ?? { n: 0, sum: 0 };
    delta.f[field] = a;
    a.n += sign * b.n;
    a.sum += sign * b.sum;
    if (!b.v) continue;
    const v = a.v ?? {};
    a.v = v;
    for (const [value, count] of Object.entries(b.v)) {
      const next = (v[value] ?? 0) + sign * count;
      if (next === 0) delete v[value];
      else v[value] = next;
    }
  }
}

/**
 * `base` plus `sign` × `change`. Multiset entries that reach zero are removed; when `settle` (a stored
 * group, not a change), a sum with no value left is exactly 0 (no rounding residue).
 */
export function add(base: GroupState, change: GroupState, sign: 1 | -1 = 1, settle = false): GroupState {
  const f: Record<string, FieldState> = {};
  for (const field of new Set([...Object.keys(base.f), ...Object.keys(change.f)])) {
    const a = base.f[field] ?? { n: 0, sum: 0 };
    const b = change.f[field] ?? { n: 0, sum: 0 };
    const n = a.n + sign * b.n;
    const state: FieldState = { n, sum: settle && n === 0 ? 0 : a.sum + sign * b.sum };
    if (a.v || b.v) {
      const v: Record<string, number> = { ...a.v };
      for (const [value, count] of Object.entries(b.v ?? {})) {
        const next = (v[value] ?? 0) + sign * count;
        if (next === 0) delete v[value];
        else v[value] = next;
      }
      state.v = v;
    }
    f[field] = state;
  }
  return { key: base.key, count: base.count + sign * change.count, f };
}

/** Applies the batch's changes to the stored groups it touches: the groups to write (null: delete). */
export function mergeGroups(
  groups: ReadonlyMap<string, GroupState>,
  deltas: ReadonlyMap<string, GroupState>,
): { changed: Map<string, GroupState | null>; added: number } {
  const changed = new Map<string, GroupState | null>();
  let added = 0;
  for (const [id, delta] of deltas) {
    const base = groups.get(id);
    if (delta.count === 0 && Object.values(delta.f).every(isZero)) continue;
    const sum = add(base ?? { key: delta.key, count: 0, f: {} }, delta, 1, true);
    const next = sum.count === 0 ? null : sum;
    if (!base && next) added += 1;
    if (base && !next) added -= 1;
    changed.set(id, next);
  }
  return { changed, added };
}

const isZero = (state: FieldState) => state.n === 0 && state.sum === 0 && Object.keys(state.v ?? {}).length === 0;

/** A group as the API shows it: `{ key: {…}, count, sum_amount, avg_amount, … }`. */
export function groupView(report: CompiledReport, group: GroupState): Record<string, unknown> {
  const key: Record<string, KeyValue> = {};
  report.keys.forEach((part, i) => {
    key[part.name] = group.key[i] ?? null;
  });
  const view: Record<string, unknown> = { key };
  for (const m of report.measures) view[m.name] = measureValue(report, group, m.fn, m.field);
  return view;
}

function measureValue(report: CompiledReport, group: GroupState, fn: string, field: string | undefined): unknown {
  if (fn === 'count' || !field) return group.count;
  const state = group.f[field] ?? { n: 0, sum: 0 };
  if (fn === 'sum') return state.n === 0 ? null : state.sum;
  if (fn === 'avg') return state.n === 0 ? null : state.sum / state.n;
  const values = Object.keys(state.v ?? {}).map((text) => JSON.parse(text) as string | number | boolean);
  if (fn === 'countDistinct') return values.length;
  if (values.length === 0) return null;
  const numeric = report.measured[field]?.numeric ?? false;
  const less = (a: string | number | boolean, b: string | number | boolean) => (numeric ? Number(a) < Number(b) : String(a) < String(b));
  return values.reduce((best, value) => ((fn === 'min' ? less(value, best) : less(best, value)) ? value : best));
}

/** Groups in key order, missing values first (like the aggregate route). */
export function sortGroups<T extends { key: KeyValue[] }>(groups: T[]): T[] {
  return groups.sort((a, b) => {
    for (let i = 0; i < a.key.length; i += 1) {
      const x = a.key[i] ?? null;
      const y = b.key[i] ?? null;
      if (x === y) continue;
      if (x === null) return -1;
      if (y === null) return 1;
      return x < y ? -1 : 1;
    }
    return 0;
  });
}

/** The start of the UTC bucket holding the date or datetime, as an RFC 3339 time (weeks start on Monday). */
export function bucketStart(value: JsonValue, bucket: Bucket): string | null {
  const time = typeof value === 'string' ? Date.parse(value) : Number.NaN;
  if (Number.isNaN(time)) return null;
  const d = new Date(time);
  const [y, m, day] = [d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()];
  const starts: Record<Bucket, () => number> = {
    hour: () => Date.UTC(y, m, day, d.getUTCHours()),
    day: () => Date.UTC(y, m, day),
    week: () => Date.UTC(y, m, day - ((d.getUTCDay() + 6) % 7)),
    month: () => Date.UTC(y, m, 1),
    quarter: () => Date.UTC(y, m - (m % 3), 1),
    year: () => Date.UTC(y, 0, 1),
  };
  return new Date(starts[bucket]()).toISOString();
}
