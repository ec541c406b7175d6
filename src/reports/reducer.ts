import { evolveFields, type LifecycleTypes, lifecycleTypes, type RecordData } from '../datamodel/index.js';
import { type FilterNode, matches } from '../documents/query/index.js';
import type { JsonValue } from '../kernel/index.js';
import type { Bucket, CompiledReport, KeyPart } from './definition.js';
import { bump, type FieldState, type GroupState, type KeyValue } from './groups.js';

/** A record event of the report's entity, its data upcast to the module's current definition. */
export interface ReportEvent {
  recordId: string;
  type: string;
  data: JsonValue;
}

/** The member rows changed by a batch (null: the record is gone) and the change of each group touched. */
export interface Folded {
  members: Map<string, RecordData | null>;
  /** The records of `members` that had no member row before the batch. */
  created: Set<string>;
  deltas: Map<string, GroupState>;
}

export const groupKey = (key: readonly KeyValue[]): string => JSON.stringify(key);

/** A report compiled once more for the fold: its measured fields as a list. */
interface Plan {
  keys: KeyPart[];
  fields: { name: string; sum: boolean; multiset: boolean }[];
  filter: FilterNode | undefined;
  /** The entity's event types that create and delete a record. */
  types: LifecycleTypes;
}

/** What a record adds to its group: the group, and per measured field its number (sum) and value text (multiset). */
interface Contribution {
  id: string;
  key: KeyValue[];
  numbers: (number | undefined)[];
  texts: (string | undefined)[];
}

/** A record the batch touches: its row before the batch and its row now. */
interface Touched {
  stored: RecordData | undefined;
  row: RecordData | undefined;
}

/** A group's change in a batch, with its fields in the plan's order (the same objects as in `f`). */
interface Delta extends GroupState {
  list: FieldState[];
}

const plans = new WeakMap<CompiledReport, Plan>();

function planOf(report: CompiledReport): Plan {
  let plan = plans.get(report);
  if (!plan) {
    const fields = Object.entries(report.measured).map(([name, m]) => ({ name, sum: m.sum, multiset: m.multiset }));
    plan = { keys: report.keys, fields, filter: report.filter, types: lifecycleTypes(report.entity) };
    plans.set(report, plan);
  }
  return plan;
}

/**
 * The fold of a batch, fed event by event: each event moves its record's member row by the
 * datamodel's own rules (`evolveFields`: `evolve` on the row's fields alone), so a record's state is
 * what the document store holds. The groups change
 * by each touched record's contribution before the batch subtracted and its contribution after it
 * added, computed once per record when the batch ends (not per event): a group is a sum over its records.
 */
export interface MemberFold {
  /** Folds the event when the fold already has its record (else false, and nothing is done). */
  step(recordId: string, event: FoldedEvent): boolean;
  /** Folds the first event of a record in the batch, from its member row before the batch (undefined: none). */
  start(recordId: string, stored: RecordData | undefined, event: FoldedEvent): void;
  /** The rows the batch changed (null: gone) and the change of each group touched (once the batch is read). */
  result(): Folded;
}

/** What the fold reads of an event (its data upcast to the module's current definition). */
export type FoldedEvent = Pick<ReportEvent, 'type' | 'data'>;

export function memberFold(report: CompiledReport): MemberFold {
  const plan = planOf(report);
  const records = new Map<string, Touched>();
  const next = (row: RecordData | undefined, event: FoldedEvent) => evolveFields(row, event, plan.types, report.relevant);
  return {
    step(recordId, event) {
      const record = records.get(recordId);
      if (record) record.row = next(record.row, event);
      return record !== undefined;
    },
    start(recordId, stored, event) {
      records.set(recordId, { stored, row: next(stored, event) });
    },
    result() {
      const members = new Map<string, RecordData | null>();
      const created = new Set<string>();
      const deltas = new Map<string, Delta>();
      for (const [id, record] of records) {
        if (record.row === record.stored) continue;
        members.set(id, record.row ?? null);
        if (!record.stored) created.add(id);
        const before = record.stored && contributionOf(plan, id, record.stored, undefined);
        const after = record.row && contributionOf(plan, id, record.row, before && { row: record.stored as RecordData, c: before });
        if (sameContribution(before, after)) continue;
        addTo(plan, deltas, before, -1);
        addTo(plan, deltas, after, 1);
      }
      return { members, created, deltas };
    },
  };
}

/**
 * Folds a batch of events into the member rows (`members`: the current rows of the records the
 * events touch; absent = no row): the rows the batch changed and the change of each group. Pure.
 */
export function foldEvents(report: CompiledReport, members: ReadonlyMap<string, RecordData>, events: readonly ReportEvent[]): Folded {
  const fold = memberFold(report);
  for (const event of events) if (!fold.step(event.recordId, event)) fold.start(event.recordId, members.get(event.recordId), event);
  return fold.result();
}

/**
 * What a record adds to its group, or undefined when it is not in the report. The parts of another
 * contribution of the record (`previous`) whose fields are unchanged are taken over as they are.
 */
function contributionOf(
  plan: Plan,
  id: string,
  row: RecordData,
  previous: { row: RecordData; c: Contribution } | undefined,
): Contribution | undefined {
  if (plan.filter && !matches(plan.filter, id, row)) return undefined;
  const old = previous?.c;
  const before = previous?.row;
  const key: KeyValue[] = new Array(plan.keys.length);
  let same = old !== undefined;
  for (let i = 0; i < plan.keys.length; i += 1) {
    const part = plan.keys[i] as KeyPart;
    const kept = old && before && part.field !== 'id' && row[part.field] === before[part.field];
    key[i] = kept ? (old.key[i] as KeyValue) : keyValue(part, id, row);
    if (!old || key[i] !== old.key[i]) same = false;
  }
  const numbers: (number | undefined)[] = new Array(plan.fields.length);
  const texts: (string | undefined)[] = new Array(plan.fields.length);
  for (let i = 0; i < plan.fields.length; i += 1) {
    const field = plan.fields[i] as Plan['fields'][number];
    const value = row[field.name];
    if (field.sum && typeof value === 'number') numbers[i] = value;
    if (field.multiset && value !== undefined && value !== null)
      texts[i] = old && before && value === before[field.name] ? old.texts[i] : JSON.stringify(value);
  }
  return { id: same && old ? old.id : groupKey(key), key: same && old ? old.key : key, numbers, texts };
}

/** Whether moving from one contribution to the other changes nothing. */
function sameContribution(a: Contribution | undefined, b: Contribution | undefined): boolean {
  if (!a || !b) return a === b;
  if (a.id !== b.id) return false;
  for (let i = 0; i < a.numbers.length; i += 1) if (a.numbers[i] !== b.numbers[i] || a.texts[i] !== b.texts[i]) return false;
  return true;
}

function keyValue(part: KeyPart, id: string, row: RecordData): KeyValue {
  const value = part.field === 'id' ? id : row[part.field];
  if (value === undefined || value === null) return null;
  if (part.bucket) return bucketStart(value, part.bucket);
  return typeof value === 'object' ? null : value;
}

/**
 * Adds `sign` × the contribution to the batch's delta of its group, in place: a batch folds many
 * events into few groups, and copying a group's multisets for each of them would cost the square of the batch.
 */
function addTo(plan: Plan, deltas: Map<string, Delta>, c: Contribution | undefined, sign: 1 | -1): void {
  if (!c) return;
  let delta = deltas.get(c.id);
  if (!delta) {
    const list = plan.fields.map((field): FieldState => (field.multiset ? { n: 0, sum: 0, v: new Map() } : { n: 0, sum: 0 }));
    const f: Record<string, FieldState> = {};
    plan.fields.forEach((field, i) => {
      f[field.name] = list[i] as FieldState;
    });
    delta = { key: c.key, count: 0, f, list };
    deltas.set(c.id, delta);
  }
  delta.count += sign;
  for (let i = 0; i < delta.list.length; i += 1) {
    const state = delta.list[i] as FieldState;
    const number = c.numbers[i];
    if (number !== undefined) {
      state.n += sign;
      state.sum += sign * number;
    }
    const text = c.texts[i];
    if (text !== undefined && state.v) bump(state.v, text, sign);
  }
}

const MINUTE_MS = 60_000;
const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;
/** Bucket starts already written as text (a log holds few distinct buckets); cleared when it grows large. */
const startTexts = new Map<number, string>();

/** The start of the UTC bucket holding the date or datetime, as an RFC 3339 time (weeks start on Monday). */
export function bucketStart(value: JsonValue, bucket: Bucket): string | null {
  const time = typeof value === 'string' ? Date.parse(value) : Number.NaN;
  if (Number.isNaN(time)) return null;
  const start = bucketMillis(time, bucket);
  let text = startTexts.get(start);
  if (text === undefined) {
    if (startTexts.size >= 10_000) startTexts.clear();
    text = new Date(start).toISOString();
    startTexts.set(start, text);
  }
  return text;
}

const floorTo = (time: number, unit: number) => time - (((time % unit) + unit) % unit);

function bucketMillis(time: number, bucket: Bucket): number {
  if (bucket === 'minute') return floorTo(time, MINUTE_MS);
  if (bucket === 'hour') return floorTo(time, HOUR_MS);
  const day = floorTo(time, DAY_MS);
  if (bucket === 'day') return day;
  // 1970-01-01 was a Thursday: day n since then is weekday (n + 3) mod 7, Monday = 0.
  if (bucket === 'week') return day - ((((day / DAY_MS + 3) % 7) + 7) % 7) * DAY_MS;
  const d = new Date(day);
  const month = d.getUTCMonth();
  d.setUTCFullYear(d.getUTCFullYear(), bucket === 'month' ? month : bucket === 'quarter' ? month - (month % 3) : 0, 1);
  return d.getTime();
}
