import { checkAsOf, DOCUMENTS_TABLE, whereSql } from './base.js';
import { DIALECTS, type DialectSyntax } from './dialects.js';
import { describe, isOrdered, pointer, resolveField } from './fields.js';
import { readFilter } from './filter.js';
import { listItems, type Problems, validate } from './problems.js';
import { join, param, raw, render, type Sql, sql } from './sql.js';
import type {
  AggregateGroup,
  AggregateQuerySpec,
  CompiledQuery,
  Dialect,
  EntityFields,
  Measure,
  MeasureFunction,
  QueryField,
} from './types.js';

/** Default cap on groups; an aggregate with more groups fails with validation_failed (never truncates). */
export const MAX_GROUPS = 10_000;
const MAX_GROUPS_CEILING = 1_000_000;
const MAX_GROUP_BY = 8;
const FUNCTIONS = new Set<string>(['count', 'sum', 'avg', 'min', 'max']);

interface ResolvedMeasure {
  fn: MeasureFunction;
  field?: QueryField;
  name: string;
}

/** Parses `status,owner`; empty → [] (one group over all matching documents, key `{}`). */
export function parseGroupBy(text: string | undefined, fields: EntityFields): string[] {
  const names = listItems(text);
  validate('Invalid groupBy', (problems) => resolveGroupBy(names, fields, problems));
  return names;
}

function resolveGroupBy(names: readonly string[], fields: EntityFields, problems: Problems): QueryField[] {
  if (names.length > MAX_GROUP_BY) problems.add('/groupBy', `more than ${MAX_GROUP_BY} fields`);
  return names.flatMap((name, i) => {
    const path = `/groupBy${pointer(i)}`;
    const field = resolveField(name, fields);
    if (!field) problems.add(path, name === '' ? 'empty field name' : `unknown field ${name}`);
    else if (!isOrdered(field)) problems.add(path, `cannot group by ${describe(field)}`);
    else if (names.indexOf(name) !== i) problems.add(path, `${name} is listed twice`);
    else return [field];
    return [];
  });
}

/** Parses `count,sum:amount,avg:amount,min:placedAt,max:amount`. */
export function parseMeasures(text: string | undefined, fields: EntityFields): Measure[] {
  const measures = listItems(text).map((item): Measure => {
    const [fn = '', field] = item.split(/:(.*)/s);
    return field === undefined ? { fn: fn as MeasureFunction } : { fn: fn as MeasureFunction, field };
  });
  validate('Invalid measures', (problems) => resolveMeasures(measures, fields, problems));
  return measures;
}

function resolveMeasures(measures: readonly Measure[], fields: EntityFields, problems: Problems): ResolvedMeasure[] {
  if (measures.length === 0) problems.add('/measures', 'at least one measure is needed');
  const names = new Set<string>();
  return measures.flatMap((measure, i) => {
    const path = `/measures${pointer(i)}`;
    const problem = measureProblem(measure, fields);
    const name = measure.field === undefined ? measure.fn : `${measure.fn}_${measure.field}`;
    if (problem) problems.add(path, problem);
    else if (names.has(name)) problems.add(path, `${name} is listed twice`);
    names.add(name);
    const field = measure.field === undefined ? undefined : resolveField(measure.field, fields);
    return problem ? [] : [field ? { fn: measure.fn, field, name } : { fn: measure.fn, name }];
  });
}

function measureProblem({ fn, field: name }: Measure, fields: EntityFields): string | undefined {
  if (!FUNCTIONS.has(fn)) return `unknown measure ${fn}; use count, sum, avg, min or max`;
  if (fn === 'count') return name === undefined ? undefined : 'count takes no field';
  if (name === undefined) return `${fn} needs a field: ${fn}:<field>`;
  const field = resolveField(name, fields);
  if (!field) return `unknown field ${name}`;
  if ((fn === 'sum' || fn === 'avg') && field.kind !== 'number') return `${fn} applies to number fields, not ${describe(field)}`;
  if (field.kind !== 'number' && field.kind !== 'text') return `${fn} applies to number and text fields, not ${describe(field)}`;
  return undefined;
}

/**
 * Groups the matching documents by the groupBy fields (ordered by key, missing values first) with the
 * measures per group; sums and averages are double precision on both databases. Fetches one group more
 * than the cap so that readAggregateRows can refuse an over-large result.
 */
export function compileAggregateQuery(spec: AggregateQuerySpec, dialect: Dialect): CompiledQuery {
  const d = DIALECTS[dialect];
  const plan = validate('Invalid query', (problems) => ({
    filter: readFilter(spec.filter, spec.fields, problems),
    groups: resolveGroupBy(spec.groupBy, spec.fields, problems),
    measures: resolveMeasures(spec.measures, spec.fields, problems),
    asOf: checkAsOf(spec.asOf, problems),
    maxGroups: checkMaxGroups(spec.maxGroups, problems),
  }));
  const keys = plan.groups.map((field) => d.value(field));
  const selected = [...keys.map((e, i) => `${e} AS g${i}`), ...plan.measures.map((m, i) => `${measureSql(m, d)} AS m${i}`)];
  let statement = sql`SELECT ${raw(selected.join(', '))} FROM ${raw(DOCUMENTS_TABLE)} WHERE ${whereSql(spec, plan.filter, plan.asOf, d)}`;
  if (keys.length > 0) statement = sql`${statement} GROUP BY ${raw(keys.join(', '))} ORDER BY ${groupOrder(keys)}`;
  return render(sql`${statement} LIMIT ${param(plan.maxGroups + 1)}`, dialect);
}

function groupOrder(keys: readonly string[]): Sql {
  return join(
    keys.map((e) => raw(`${e} ASC NULLS FIRST`)),
    ', ',
  );
}

function measureSql({ fn, field }: ResolvedMeasure, d: DialectSyntax): string {
  if (!field) return 'count(*)';
  const e = d.value(field);
  if (fn === 'sum' || fn === 'avg') return d[fn](e);
  return `${fn}(${e})`;
}

function checkMaxGroups(maxGroups: number | undefined, problems: Problems): number {
  if (maxGroups === undefined) return MAX_GROUPS;
  if (Number.isInteger(maxGroups) && maxGroups >= 1 && maxGroups <= MAX_GROUPS_CEILING) return maxGroups;
  problems.add('/maxGroups', `must be an integer from 1 to ${MAX_GROUPS_CEILING}`);
  return MAX_GROUPS;
}

/**
 * The rows of compileAggregateQuery(spec) as `{ key: { status: 'open' }, count, sum_amount, … }`.
 * Throws validation_failed when there are more groups than the cap.
 */
export function readAggregateRows(rows: readonly Record<string, unknown>[], spec: AggregateQuerySpec, dialect: Dialect): AggregateGroup[] {
  const maxGroups = spec.maxGroups ?? MAX_GROUPS;
  if (rows.length > maxGroups) {
    validate('Too many groups', (problems) =>
      problems.add('/groupBy', `more than ${maxGroups} groups; narrow the filter or group by fewer fields`),
    );
  }
  const groups = validate('Invalid query', (problems) => resolveGroupBy(spec.groupBy, spec.fields, problems));
  const measures = validate('Invalid query', (problems) => resolveMeasures(spec.measures, spec.fields, problems));
  return rows.map((row) => decodeGroup(row, groups, measures, DIALECTS[dialect]));
}

function decodeGroup(row: Record<string, unknown>, groups: QueryField[], measures: ResolvedMeasure[], d: DialectSyntax): AggregateGroup {
  const group: AggregateGroup = { key: {} };
  groups.forEach((field, i) => {
    group.key[field.name] = decodeValue(row[`g${i}`], field, d);
  });
  measures.forEach((measure, i) => {
    const value = row[`m${i}`];
    group[measure.name] =
      measure.field && measure.fn !== 'sum' && measure.fn !== 'avg' ? decodeValue(value, measure.field, d) : toNumber(value);
  });
  return group;
}

function decodeValue(value: unknown, field: QueryField, d: DialectSyntax): string | number | boolean | null {
  if (value === null || value === undefined) return null;
  if (field.kind === 'number') return Number(value);
  if (field.kind === 'boolean') return d.decodeBoolean(value);
  return String(value);
}

function toNumber(value: unknown): number | null {
  return value === null || value === undefined ? null : Number(value);
}
