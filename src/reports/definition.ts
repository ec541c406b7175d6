import type { FieldDefinition } from '../datamodel/index.js';
import { type FilterNode, parseFilter } from '../documents/query/index.js';
import { type FieldError, isAppError, type JsonValue, validationFailed } from '../kernel/index.js';

export const BUCKETS = ['minute', 'hour', 'day', 'week', 'month', 'quarter', 'year'] as const;
export type Bucket = (typeof BUCKETS)[number];
export type GroupKeySpec = string | { time: string; bucket: Bucket };
export const REPORT_FUNCTIONS = ['count', 'sum', 'avg', 'min', 'max', 'countDistinct'] as const;
export type ReportFunction = (typeof REPORT_FUNCTIONS)[number];

/** What a client sends to `PUT /t/{tenant}/reports/{name}`. */
export interface ReportDefinition {
  entity: string;
  groupBy: GroupKeySpec[];
  measures: string[];
  filter?: JsonValue;
}

export const REPORT_LIMITS = { groupBy: 8, measures: 20, definitionBytes: 16 * 1024 } as const;
export const REPORT_NAME = /^[a-z][a-zA-Z0-9_-]{0,62}$/;

export interface KeyPart {
  /** The name in each group's `key`: the field, or `<field>_<bucket>` for a time bucket. */
  name: string;
  field: string;
  bucket?: Bucket;
}

export interface ReportMeasure {
  /** `count`, or `<fn>_<field>` like the aggregate route. */
  name: string;
  fn: ReportFunction;
  field?: string;
}

/** What a group keeps per measured field. */
export interface MeasuredField {
  /** Keeps the count and sum of its numeric values (sum, avg). */
  sum: boolean;
  /** Keeps a value → count multiset (min, max, countDistinct): exact after deletes. */
  multiset: boolean;
  /** Whether min/max compare as numbers (else as normalised text: dates and datetimes). */
  numeric: boolean;
}

/** A definition checked against the entity's fields, ready for the reducer. */
export interface CompiledReport {
  module: string;
  entity: string;
  keys: KeyPart[];
  measures: ReportMeasure[];
  measured: Record<string, MeasuredField>;
  filter?: FilterNode;
  /** The record fields a member row keeps: those grouped, measured or filtered on. */
  relevant: string[];
}

/** A definition with the entity's field definitions it was checked against (what the processor needs offline). */
export interface StoredDefinition {
  definition: ReportDefinition;
  fields: Record<string, FieldDefinition>;
}

const NUMERIC = new Set(['number', 'integer']);
const TIMES = new Set(['date', 'datetime']);
const GROUPABLE = new Set(['string', 'text', 'enum', 'reference', 'number', 'integer', 'boolean', 'date', 'datetime']);
const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** `sales.order` → module and entity, or undefined. */
export function entityName(value: unknown): { module: string; entity: string } | undefined {
  const match = typeof value === 'string' ? /^([a-z][a-zA-Z0-9_]{0,62})\.([a-z][a-zA-Z0-9_]{0,62})$/.exec(value) : null;
  return match?.[1] && match[2] ? { module: match[1], entity: match[2] } : undefined;
}

/** The shape of a definition (before its entity is known); lists every problem at once. */
export function checkShape(input: unknown): ReportDefinition {
  const errors: FieldError[] = [];
  if (!isObject(input))
    throw validationFailed('A report definition must be a JSON object', [{ path: '/body', message: 'must be an object' }]);
  if (Buffer.byteLength(JSON.stringify(input)) > REPORT_LIMITS.definitionBytes)
    errors.push({ path: '/body', message: `larger than ${REPORT_LIMITS.definitionBytes} bytes` });
  for (const key of Object.keys(input))
    if (!['entity', 'groupBy', 'measures', 'filter'].includes(key)) errors.push({ path: `/body/${key}`, message: 'unknown member' });
  if (!entityName(input.entity)) errors.push({ path: '/body/entity', message: 'must be "<module>.<entity>"' });
  const groupBy = input.groupBy ?? [];
  if (!Array.isArray(groupBy)) errors.push({ path: '/body/groupBy', message: 'must be an array' });
  else if (groupBy.length > REPORT_LIMITS.groupBy)
    errors.push({ path: '/body/groupBy', message: `more than ${REPORT_LIMITS.groupBy} keys` });
  const measures = input.measures ?? ['count'];
  if (!Array.isArray(measures) || measures.length === 0 || measures.some((m) => typeof m !== 'string'))
    errors.push({ path: '/body/measures', message: 'must be a non-empty array of strings' });
  else if (measures.length > REPORT_LIMITS.measures)
    errors.push({ path: '/body/measures', message: `more than ${REPORT_LIMITS.measures} measures` });
  if (errors.length > 0) throw validationFailed('Invalid report definition', errors);
  const definition: ReportDefinition = {
    entity: input.entity as string,
    groupBy: groupBy as GroupKeySpec[],
    measures: measures as string[],
  };
  if (input.filter !== undefined && input.filter !== null) definition.filter = input.filter as JsonValue;
  return definition;
}

/** Checks the definition against the entity's fields (every problem with its path) and compiles it. */
export function compileReport(definition: ReportDefinition, fields: Record<string, FieldDefinition>): CompiledReport {
  const errors: FieldError[] = [];
  const field = (name: unknown, path: string): FieldDefinition | undefined => {
    const found = typeof name === 'string' && Object.hasOwn(fields, name) ? fields[name] : undefined;
    if (!found) errors.push({ path, message: `unknown field ${String(name)}` });
    return found;
  };
  const keys = definition.groupBy.flatMap((spec, i) => keyPart(spec, `/body/groupBy/${i}`, field, errors));
  const names = new Set<string>();
  keys.forEach((key, i) => {
    if (names.has(key.name)) errors.push({ path: `/body/groupBy/${i}`, message: `${key.name} is listed twice` });
    names.add(key.name);
  });
  const measures = definition.measures.flatMap((text, i) => measure(text, `/body/measures/${i}`, field, errors));
  const measureNames = new Set<string>();
  measures.forEach((m, i) => {
    if (measureNames.has(m.name)) errors.push({ path: `/body/measures/${i}`, message: `${m.name} is listed twice` });
    measureNames.add(m.name);
  });
  const filter = compileFilter(definition.filter, fields, errors);
  if (errors.length > 0) throw validationFailed('Invalid report definition', errors);
  const entity = entityName(definition.entity) as { module: string; entity: string };
  const measured: Record<string, MeasuredField> = {};
  for (const m of measures) {
    if (!m.field) continue;
    const entry = measured[m.field] ?? { sum: false, multiset: false, numeric: NUMERIC.has(fields[m.field]?.type ?? '') };
    measured[m.field] = entry;
    if (m.fn === 'sum' || m.fn === 'avg') entry.sum = true;
    else entry.multiset = true;
  }
  const relevant = new Set([...keys.map((k) => k.field), ...Object.keys(measured), ...(filter ? filterFieldNames(filter) : [])]);
  relevant.delete('id');
  return { ...entity, keys, measures, measured, relevant: [...relevant].sort(), ...(filter ? { filter } : {}) };
}

function keyPart(
  spec: unknown,
  path: string,
  field: (name: unknown, path: string) => FieldDefinition | undefined,
  errors: FieldError[],
): KeyPart[] {
  if (typeof spec === 'string') {
    const found = field(spec, path);
    if (found && !GROUPABLE.has(found.type)) errors.push({ path, message: `cannot group by a ${found.type} field` });
    return found ? [{ name: spec, field: spec }] : [];
  }
  if (!isObject(spec) || Object.keys(spec).some((k) => k !== 'time' && k !== 'bucket')) {
    errors.push({ path, message: 'must be a field name or { "time": <field>, "bucket": <bucket> }' });
    return [];
  }
  const found = field(spec.time, `${path}/time`);
  if (found && !TIMES.has(found.type))
    errors.push({ path: `${path}/time`, message: `a time bucket needs a date or datetime field, not ${found.type}` });
  if (!BUCKETS.includes(spec.bucket as Bucket)) errors.push({ path: `${path}/bucket`, message: `must be one of ${BUCKETS.join(', ')}` });
  return found
    ? [{ name: `${spec.time as string}_${spec.bucket as string}`, field: spec.time as string, bucket: spec.bucket as Bucket }]
    : [];
}

function measure(
  text: string,
  path: string,
  field: (name: unknown, path: string) => FieldDefinition | undefined,
  errors: FieldError[],
): ReportMeasure[] {
  const [fn = '', name] = text.split(/:(.*)/s);
  if (!REPORT_FUNCTIONS.includes(fn as ReportFunction)) {
    errors.push({ path, message: `unknown measure ${fn}; use ${REPORT_FUNCTIONS.join(', ')}` });
    return [];
  }
  if (fn === 'count') {
    if (name !== undefined) errors.push({ path, message: 'count takes no field' });
    return [{ name: 'count', fn: 'count' }];
  }
  if (name === undefined) {
    errors.push({ path, message: `${fn} needs a field: ${fn}:<field>` });
    return [];
  }
  const found = field(name, path);
  if (!found) return [];
  const problem = measureProblem(fn as ReportFunction, found.type);
  if (problem) errors.push({ path, message: problem });
  return problem ? [] : [{ name: `${fn}_${name}`, fn: fn as ReportFunction, field: name }];
}

function measureProblem(fn: ReportFunction, type: string): string | undefined {
  if ((fn === 'sum' || fn === 'avg') && !NUMERIC.has(type)) return `${fn} applies to number and integer fields, not ${type}`;
  if ((fn === 'min' || fn === 'max') && !NUMERIC.has(type) && !TIMES.has(type))
    return `${fn} applies to number, integer, date and datetime fields, not ${type}`;
  if (fn === 'countDistinct' && !GROUPABLE.has(type)) return `countDistinct does not apply to ${type} fields`;
  return undefined;
}

function compileFilter(
  filter: JsonValue | undefined,
  fields: Record<string, FieldDefinition>,
  errors: FieldError[],
): FilterNode | undefined {
  if (filter === undefined || filter === null) return undefined;
  try {
    return parseFilter(filter, fields);
  } catch (error) {
    if (!isAppError(error, 'validation_failed')) throw error;
    for (const e of error.details.errors ?? []) errors.push({ path: `/body${e.path}`, message: e.message });
    return undefined;
  }
}

/** The field names a compiled filter reads. */
export function filterFieldNames(node: FilterNode): string[] {
  if (node.kind === 'and' || node.kind === 'or') return node.nodes.flatMap(filterFieldNames);
  if (node.kind === 'not') return filterFieldNames(node.node);
  return 'field' in node ? [node.field.name] : [];
}

/** Every field a report shows or depends on (what a caller must be allowed to see). */
export function reportFields(report: CompiledReport): string[] {
  return [...new Set([...report.relevant, ...(report.filter ? filterFieldNames(report.filter) : [])])];
}
