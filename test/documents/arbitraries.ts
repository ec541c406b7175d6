import fc from 'fast-check';
import type { Measure, SortKey } from '../../src/documents/query/index.js';
import type { StoredVersion } from './databases.js';
import type { RefDocument } from './reference.js';

// Few distinct values, so that filters match and sort keys tie. Strings mix cases, LIKE/GLOB
// metacharacters, quotes, and characters whose UTF-16 order differs from their UTF-8 byte order.
const char = fc.constantFrom('a', 'b', 'A', 'é', '%', '_', '*', "'", '\\', '\uFF5E', '😀', ' ');
export const text = fc.string({ unit: char, maxLength: 3 });
/** Short needles and prefixes, likely to occur in `text` values. */
const needle = fc.string({ unit: char, maxLength: 2 });
export const number = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: -3, max: 3 }) },
  { weight: 2, arbitrary: fc.constantFrom(0.1, -1.5, 2.5, 1e21, -1e-7, 5e-324, Number.MAX_VALUE, 0.30000000000000004) },
  { weight: 1, arbitrary: fc.double({ noNaN: true, noDefaultInfinity: true }) },
);
export const integer = fc.oneof(fc.integer({ min: -2, max: 2 }), fc.constantFrom(Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER));
const enumValue = fc.constantFrom('red', 'green', 'blue');
const date = fc.constantFrom('2024-01-01', '2024-01-02', '2023-12-31');
const datetime = fc.constantFrom('2024-01-01T00:00:00.000Z', '2024-01-01T00:00:00.001Z', '2024-01-01T10:00:00.000Z');
const json = fc.jsonValue({ maxDepth: 2 }).filter((value) => value !== null);

/** Per field: the values documents hold and filters compare with. */
export const VALUES: Record<string, fc.Arbitrary<unknown>> = {
  s: text,
  t: text,
  n: number,
  i: integer,
  b: fc.boolean(),
  e: enumValue,
  d: date,
  dt: datetime,
  r: fc.constantFrom('c1', 'c2', 'C1'),
};
const ARRAYS: Record<string, fc.Arbitrary<unknown>> = { tags: text, nums: fc.integer({ min: -2, max: 2 }) };

export const data: fc.Arbitrary<Record<string, unknown>> = fc
  .record(
    { ...VALUES, tags: fc.array(text, { maxLength: 3 }), nums: fc.array(fc.integer({ min: -2, max: 2 }), { maxLength: 3 }), j: json },
    { requiredKeys: [] },
  )
  .map((value) => JSON.parse(JSON.stringify(value)));

const ids = fc.uniqueArray(fc.string({ unit: fc.constantFrom('a', 'b', 'Z', 'é', '😀'), minLength: 1, maxLength: 3 }), {
  maxLength: 25,
  size: 'large',
});
export const documents: fc.Arbitrary<RefDocument[]> = ids.chain((list) =>
  fc.tuple(...list.map((id) => data.map((value) => ({ id, data: value })))),
);

const ORDERED = ['s', 't', 'n', 'i', 'e', 'd', 'dt', 'r'];
const TEXTUAL = ['s', 't', 'e', 'd', 'dt', 'r'];

function fieldCondition(): fc.Arbitrary<Record<string, unknown>> {
  const ordered = fc.constantFrom(...ORDERED).chain((f) => operatorOn(f, ['$eq', '$ne', '$gt', '$gte', '$lt', '$lte'], valuesOf(f)));
  const boolean = operatorOn('b', ['$eq', '$ne'], fc.boolean());
  const oneOf = fc
    .constantFrom(...ORDERED, 'b', 'id')
    .chain((f) =>
      fc
        .record({ op: fc.constantFrom('$in', '$nin'), values: fc.array(fc.option(valuesOf(f), { nil: null }), { maxLength: 3 }) })
        .map(({ op, values }) => ({ [f]: { [op]: values } })),
    );
  const exists = fc.record({
    f: fc.constantFrom(...Object.keys(VALUES), 'tags', 'nums', 'j'),
    op: fc.constantFrom('$exists', '$eq', '$ne'),
    b: fc.boolean(),
  });
  const presence = exists.map(({ f, op, b }) => ({ [f]: op === '$exists' ? { $exists: b } : { [op]: null } }));
  const substring = fc.constantFrom('s', 't').chain((f) => operatorOn(f, ['$contains'], needle));
  const prefix = fc
    .constantFrom(...TEXTUAL, 'id')
    .chain((f) => operatorOn(f, ['$startsWith'], f === 'id' ? fc.constantFrom('a', 'é', '') : needle));
  const arrays = fc.constantFrom('tags', 'nums').chain((f) => operatorOn(f, ['$contains'], ARRAYS[f] as fc.Arbitrary<unknown>));
  const shorthand = fc.constantFrom(...ORDERED, 'b').chain((f) => valuesOf(f).map((value) => ({ [f]: value })));
  const range = fc
    .constantFrom(...ORDERED)
    .chain((f) => fc.tuple(valuesOf(f), valuesOf(f)).map(([low, high]) => ({ [f]: { $gte: low, $lt: high } })));
  const negated = fc.constantFrom(...ORDERED).chain((f) => valuesOf(f).map((value) => ({ [f]: { $not: { $gt: value } } })));
  return fc.oneof(ordered, boolean, oneOf, presence, substring, prefix, arrays, shorthand, range, negated);
}

/** Datetime operands in other forms than the stored one: they compare by instant. */
const instants = fc.constantFrom(
  '2024-01-01T01:00:00+01:00',
  '2024-01-01T10:00:00.000+00:00',
  '2024-01-01',
  '2023-12-31T23:00:00.001-01:00',
);

function valuesOf(field: string): fc.Arbitrary<unknown> {
  if (field === 'id') return fc.constantFrom('a', 'b', 'é', '😀');
  return field === 'dt' ? fc.oneof(datetime, instants) : (VALUES[field] as fc.Arbitrary<unknown>);
}

function operatorOn(field: string, ops: string[], value: fc.Arbitrary<unknown>): fc.Arbitrary<Record<string, unknown>> {
  return fc.record({ op: fc.constantFrom(...ops), value }).map(({ op, value: v }) => ({ [field]: { [op]: v } }));
}

/** Random filters: conditions combined with $and, $or, $not and implicit AND, at most 3 levels deep. */
export const filter: fc.Arbitrary<Record<string, unknown>> = fc.letrec<{ node: Record<string, unknown> }>((tie) => ({
  node: fc.oneof(
    { maxDepth: 3, depthIdentifier: 'filter' },
    fieldCondition(),
    fc.array(tie('node'), { minLength: 1, maxLength: 2 }).map((nodes) => ({ $and: nodes })),
    fc.array(tie('node'), { minLength: 1, maxLength: 2 }).map((nodes) => ({ $or: nodes })),
    tie('node').map((node) => ({ $not: node })),
    fc.tuple(fieldCondition(), fieldCondition()).map(([a, b]) => ({ ...b, ...a })),
  ),
})).node;

export const sort: fc.Arbitrary<SortKey[]> = fc
  .shuffledSubarray([...ORDERED, 'b', 'id'], { maxLength: 3 })
  .chain((names) =>
    fc.tuple(...names.map((field) => fc.constantFrom<SortKey['direction']>('asc', 'desc').map((direction) => ({ field, direction })))),
  );

export const select = fc.option(fc.subarray([...Object.keys(VALUES), 'tags', 'nums', 'j', 'id'], { minLength: 0 }), { nil: undefined });

const GROUPABLE = [...ORDERED, 'b'];
export const groupBy = fc.shuffledSubarray(GROUPABLE, { maxLength: 2 });
const MEASURES: Measure[] = [
  { fn: 'count' },
  { fn: 'sum', field: 'n' },
  { fn: 'avg', field: 'n' },
  { fn: 'sum', field: 'i' },
  { fn: 'avg', field: 'i' },
  { fn: 'min', field: 'n' },
  { fn: 'max', field: 'i' },
  { fn: 'min', field: 's' },
  { fn: 'max', field: 's' },
  { fn: 'max', field: 'dt' },
];
export const measures = fc.subarray(MEASURES, { minLength: 1 });

export interface History {
  versions: StoredVersion[];
  /** The highest position written. */
  head: number;
}

const BASE_TIME = Date.parse('2024-01-01T00:00:00.000Z');
export const timeAt = (position: number) => new Date(BASE_TIME + position * 1000).toISOString();

/** Documents with 1–3 versions each (a version may be a deletion), positions interleaved across documents. */
export const histories: fc.Arbitrary<History> = ids.chain((list) =>
  fc
    .tuple(
      ...list.map((id) =>
        fc.array(fc.option(data, { nil: null, freq: 4 }), { minLength: 1, maxLength: 3 }).map((states) => ({ id, states })),
      ),
    )
    .map(toHistory),
);

function toHistory(docs: { id: string; states: (Record<string, unknown> | null)[] }[]): History {
  const versions: StoredVersion[] = [];
  let position = 0;
  const rounds = Math.max(0, ...docs.map((doc) => doc.states.length));
  for (let round = 0; round < rounds; round++) {
    for (const doc of docs) {
      const state = doc.states[round];
      if (state === undefined) continue;
      position += 1;
      const previous = versions.findLast((version) => version.id === doc.id);
      if (previous) Object.assign(previous, { toPosition: position, toTime: timeAt(position) });
      versions.push(storedVersion(doc.id, round + 1, state, position, previous?.createdAt));
    }
  }
  return { versions, head: position };
}

export function storedVersion(
  id: string,
  version: number,
  state: Record<string, unknown> | null,
  position: number,
  createdAt?: string,
): StoredVersion {
  const at = timeAt(position);
  return {
    tenant: 'acme',
    module: 'sales',
    entity: 'order',
    id,
    version,
    data: state,
    createdAt: createdAt ?? at,
    updatedAt: at,
    fromPosition: position,
    toPosition: null,
    fromTime: at,
    toTime: null,
  };
}
