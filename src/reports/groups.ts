import type { CompiledReport } from './definition.js';

export type KeyValue = string | number | boolean | null;

/** What a group keeps per measured field: count and sum of numbers, and a value (as JSON text) → count multiset. */
export interface FieldState {
  n: number;
  sum: number;
  v?: Map<string, number>;
}

/** One group of a report: also the shape of a change to it (counts may then be negative). */
export interface GroupState {
  key: KeyValue[];
  count: number;
  f: Record<string, FieldState>;
}

export function bump(values: Map<string, number>, text: string, by: number): void {
  const next = (values.get(text) ?? 0) + by;
  if (next === 0) values.delete(text);
  else values.set(text, next);
}

/**
 * Applies the batch's changes to the stored groups it touches: the groups to write (null: delete).
 * The groups of `groups` are updated in place (copying a group's multisets would cost its size per
 * batch; one left with a count of 0 counts as absent); a sum with no value left is exactly 0 (no
 * rounding residue).
 */
export function mergeGroups(
  groups: ReadonlyMap<string, GroupState>,
  deltas: ReadonlyMap<string, GroupState>,
): { changed: Map<string, GroupState | null>; added: number } {
  const changed = new Map<string, GroupState | null>();
  let added = 0;
  for (const [id, delta] of deltas) {
    if (delta.count === 0 && Object.values(delta.f).every(isZero)) continue;
    const base = groups.get(id);
    const had = base !== undefined && base.count !== 0;
    const next = base ?? { key: delta.key, count: 0, f: {} };
    next.count += delta.count;
    for (const [field, b] of Object.entries(delta.f)) {
      let a = next.f[field];
      if (!a) {
        a = { n: 0, sum: 0 };
        next.f[field] = a;
      }
      a.n += b.n;
      a.sum = a.n === 0 ? 0 : a.sum + b.sum;
      if (!b.v) continue;
      const v = a.v ?? new Map<string, number>();
      a.v = v;
      for (const [text, count] of b.v) bump(v, text, count);
    }
    if (!had && next.count !== 0) added += 1;
    if (had && next.count === 0) added -= 1;
    changed.set(id, next.count === 0 ? null : next);
  }
  return { changed, added };
}

const isZero = (state: FieldState) => state.n === 0 && state.sum === 0 && (state.v?.size ?? 0) === 0;

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
  if (fn === 'countDistinct') return state.v?.size ?? 0;
  const numeric = report.measured[field]?.numeric ?? false;
  let best: string | number | boolean | null = null;
  for (const text of state.v?.keys() ?? []) {
    const value = JSON.parse(text) as string | number | boolean;
    if (best === null) best = value;
    else if (fn === 'min' ? less(numeric, value, best) : less(numeric, best, value)) best = value;
  }
  return best;
}

const less = (numeric: boolean, a: string | number | boolean, b: string | number | boolean) =>
  numeric ? Number(a) < Number(b) : String(a) < String(b);

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

type StoredField = { n: number; sum: number; v?: Record<string, number> };

/**
 * A group as stored, as JSON text: `{ key, count, f: { <field>: { n, sum, v: { "<value as JSON>": count } } } }`.
 * Written by hand: going through an object per multiset costs several times more for large ones.
 */
export function groupText(group: GroupState): string {
  const fields: string[] = [];
  for (const [field, state] of Object.entries(group.f)) {
    const head = `${JSON.stringify(field)}:{"n":${JSON.stringify(state.n)},"sum":${JSON.stringify(state.sum)}`;
    fields.push(state.v ? `${head},"v":${multisetText(state.v)}}` : `${head}}`);
  }
  return `{"key":${JSON.stringify(group.key)},"count":${JSON.stringify(group.count)},"f":{${fields.join(',')}}}`;
}

function multisetText(values: Map<string, number>): string {
  let text = '';
  for (const [value, count] of values) text += `${text === '' ? '' : ','}${JSON.stringify(value)}:${JSON.stringify(count)}`;
  return `{${text}}`;
}

/** A stored group (parsed JSON) back in memory. */
export function groupFromJson(json: unknown): GroupState {
  const stored = json as { key: KeyValue[]; count: number; f: Record<string, StoredField> };
  const f: Record<string, FieldState> = {};
  for (const [field, state] of Object.entries(stored.f))
    f[field] = state.v ? { n: state.n, sum: state.sum, v: new Map(Object.entries(state.v)) } : { n: state.n, sum: state.sum };
  return { key: stored.key, count: stored.count, f };
}
