import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { evolve, initialState, type RecordState } from '../../src/datamodel/decider.js';
import { upcast } from '../../src/datamodel/evolution.js';
import { createDataContext, rebuildEntity } from '../../src/datamodel/index.js';
import { type LoadedModule, recordStream } from '../../src/datamodel/registry.js';
import { unauthenticatedAdmin } from '../../src/http/index.js';
import { isAppError, type JsonValue, type RequestContext } from '../../src/kernel/index.js';
import { openStorage, type Storage } from '../../src/platform/storage.js';

/*
 * The documents written inline by each append must be exactly what a rebuild from the log produces:
 * same versions, same data, same position and time ranges. A random sequence of record commands runs
 * through the real record service on SQLite; then every document version of the tenant is read with a
 * separate connection, the entity is rebuilt from the log, and the tables are compared column by column.
 */

const MODULE = 'sales';
const ENTITY = 'order';
const IDS = ['a', 'b', 'c', 'd', 'x:1'] as const;
/** About 3 s on a laptop; BO_REBUILD_RUNS=600 explores further (each run is a new tenant in one database file). */
const RUNS = Number(process.env.BO_REBUILD_RUNS ?? 60);
const EXPECTED_ERRORS = ['validation_failed', 'not_found', 'already_exists', 'precondition_failed'] as const;

function salesDefinition(noteField: string): Record<string, unknown> {
  return {
    entities: {
      order: {
        fields: {
          customer: { type: 'string', required: true, maxLength: 8 },
          amount: { type: 'number', minimum: 0 },
          quantity: { type: 'integer', minimum: 1 },
          status: { type: 'enum', values: ['open', 'paid', 'shipped'], default: 'open' },
          placedAt: { type: 'datetime' },
          urgent: { type: 'boolean' },
          tags: { type: 'array', items: { type: 'string' }, maxItems: 3 },
          meta: { type: 'json' },
          [noteField]: { type: 'text' },
        },
        indexes: ['status', 'placedAt', 'amount'],
        commands: {
          pay: { from: { status: 'open' }, set: { status: 'paid' }, emits: 'OrderPaid' },
          ship: { from: { status: 'paid' }, set: { status: 'shipped', urgent: false }, emits: 'OrderShipped' },
          flag: { set: { urgent: true }, emits: 'OrderFlagged' },
        },
      },
      // Its streams (`sales.orderLine:<id>`) share the prefix text `sales.order`: the rebuild must not read them.
      orderLine: { fields: { sku: { type: 'string', required: true }, note: { type: 'string' } } },
    },
  };
}

// ---- arbitraries ----------------------------------------------------------------------------------

const maybeNull = <T>(arb: fc.Arbitrary<T>) => fc.oneof({ weight: 4, arbitrary: arb }, { weight: 1, arbitrary: fc.constant(null) });
/** Mostly valid values, sometimes an invalid one (the service must refuse it and write nothing). */
const mostly = <T>(valid: fc.Arbitrary<T>, invalid: fc.Arbitrary<T>) =>
  fc.oneof({ weight: 12, arbitrary: valid }, { weight: 1, arbitrary: invalid });
const customer = mostly(fc.oneof(fc.constantFrom('Ada', 'Bob', 'Cy'), fc.string({ maxLength: 8 })), fc.string({ minLength: 9 }));
const amount = mostly(
  fc.oneof(fc.integer({ min: 0, max: 1000 }), fc.double({ min: 0, max: 1e6, noNaN: true, noDefaultInfinity: true })),
  fc.constant(-1),
);
const datetime = fc
  .tuple(fc.date({ min: new Date('1990-01-01T00:00:00Z'), max: new Date('2090-01-01T00:00:00Z'), noInvalidDate: true }), fc.boolean())
  .map(([date, withOffset]) => {
    if (!withOffset) return date.toISOString();
    const shifted = new Date(date.getTime() + 2 * 3600_000).toISOString().slice(0, 19);
    return `${shifted}+02:00`;
  });
const small = fc.oneof(fc.integer({ min: -5, max: 5 }), fc.constantFrom('', 'x', 'yz'), fc.boolean());
const nested = fc.dictionary(fc.constantFrom('p', 'q'), fc.oneof(small, fc.constant(null)), { maxKeys: 2 });
const jsonObject = fc.dictionary(
  fc.constantFrom('x', 'y', 'z'),
  fc.oneof(small, fc.constant(null), nested, fc.array(small, { maxLength: 2 })),
  {
    maxKeys: 3,
  },
);
const meta = fc.oneof({ weight: 4, arbitrary: jsonObject }, { weight: 1, arbitrary: fc.oneof(small, fc.array(small, { maxLength: 2 })) });
const tags = mostly<string[]>(fc.array(fc.constantFrom('red', 'blue', 'green'), { maxLength: 3 }), fc.constant(['a', 'b', 'c', 'd']));

function orderFields(note: string) {
  return {
    customer,
    amount,
    quantity: mostly(fc.integer({ min: 1, max: 3 }), fc.constant(0)),
    status: mostly(fc.constantFrom('open', 'paid', 'shipped'), fc.constant('lost')),
    placedAt: datetime,
    urgent: fc.boolean(),
    tags,
    meta,
    [note]: fc.string({ maxLength: 6 }),
  };
}

type Op =
  | { kind: 'create'; entity: string; id: string; data: Record<string, unknown> }
  | { kind: 'update'; entity: string; id: string; patch: Record<string, unknown> }
  | { kind: 'delete'; entity: string; id: string }
  | { kind: 'run'; entity: string; id: string; command: string };

function ops(note: string): fc.Arbitrary<Op[]> {
  const fields = orderFields(note);
  const patchFields = Object.fromEntries(Object.entries(fields).map(([name, arb]) => [name, maybeNull(arb as fc.Arbitrary<unknown>)]));
  const id = fc.constantFrom(...IDS);
  const createOf = (id: fc.Arbitrary<string>): fc.Arbitrary<Op> =>
    fc.record({
      kind: fc.constant('create' as const),
      entity: fc.constant(ENTITY),
      id,
      data: fc.record(fields, { requiredKeys: ['customer'] }),
    });
  const create = createOf(id);
  const order: fc.Arbitrary<Op> = fc.oneof(
    { weight: 2, arbitrary: create },
    {
      weight: 8,
      arbitrary: fc.record({
        kind: fc.constant('update' as const),
        entity: fc.constant(ENTITY),
        id,
        patch: fc.oneof(
          { weight: 12, arbitrary: fc.record(patchFields, { requiredKeys: [] }) },
          { weight: 1, arbitrary: fc.constant({ colour: 'red' }) },
        ),
      }),
    },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('delete' as const), entity: fc.constant(ENTITY), id }) },
    {
      weight: 4,
      arbitrary: fc.record({
        kind: fc.constant('run' as const),
        entity: fc.constant(ENTITY),
        id,
        command: fc.constantFrom('pay', 'ship', 'flag', 'refund'),
      }),
    },
  );
  const line: fc.Arbitrary<Op> = fc.oneof(
    fc.record({
      kind: fc.constant('create' as const),
      entity: fc.constant('orderLine'),
      id,
      data: fc.record({ sku: fc.constantFrom('s1', 's2'), note: fc.string({ maxLength: 3 }) }, { requiredKeys: ['sku'] }),
    }),
    fc.record({
      kind: fc.constant('update' as const),
      entity: fc.constant('orderLine'),
      id,
      patch: fc.record({ note: maybeNull(fc.string({ maxLength: 3 })) }),
    }),
  );
  // Most ids are created first, so that most later commands find a record.
  return fc
    .tuple(
      fc
        .tuple(...IDS.map((name) => fc.option(createOf(fc.constant(name)), { freq: 5, nil: undefined })))
        .map((creates) => creates.filter((op) => op !== undefined)),
      fc.array(fc.oneof({ weight: 6, arbitrary: order }, { weight: 1, arbitrary: line }), { minLength: 1, maxLength: 40, size: 'medium' }),
    )
    .map(([creates, rest]) => [...creates, ...rest]);
}

// ---- the database ---------------------------------------------------------------------------------

const dir = mkdtempSync(join(tmpdir(), 'bo-rebuild-'));
const path = join(dir, 'rebuild.db');
let storage: Storage;
let raw: Database.Database;
let data: ReturnType<typeof createDataContext>;
let tenants = 0;
const stats = new Map<string, number>();
const count = (key: string) => stats.set(key, (stats.get(key) ?? 0) + 1);

before(async () => {
  storage = await openStorage({ kind: 'sqlite', path, synchronous: 'NORMAL' });
  data = createDataContext({ ...storage, authenticate: unauthenticatedAdmin });
  raw = new Database(path, { readonly: true });
});
after(async () => {
  raw?.close();
  await storage?.close();
  rmSync(dir, { recursive: true, force: true });
});

const contextOf = (tenant: string): RequestContext => ({ caller: { tenant, user: 'test', roles: ['admin'] }, correlationId: 'c' });

async function apply(tenant: string, op: Op): Promise<void> {
  const context = contextOf(tenant);
  const scope = { tenant, module: MODULE, entity: op.entity };
  try {
    if (op.kind === 'create') await data.records.create(context, scope, { id: op.id, ...op.data });
    else if (op.kind === 'update') await data.records.update(context, { ...scope, id: op.id }, op.patch);
    else if (op.kind === 'delete') await data.records.remove(context, { ...scope, id: op.id });
    else await data.records.run(context, { ...scope, id: op.id }, op.command);
    count(`${op.entity}.${op.kind}${op.kind === 'run' ? `.${op.command}` : ''}`);
  } catch (error) {
    if (!EXPECTED_ERRORS.some((code) => isAppError(error, code))) throw error;
    count(`error.${(error as { code: string }).code}`);
  }
}

type Row = Record<string, unknown>;

/** Every stored version of every document of the tenant, every column, in key order. */
/** Every stored version; `data` parsed, since key order inside the JSON text carries no meaning. */
function snapshot(tenant: string): Row[] {
  const rows = raw.prepare('SELECT * FROM documents WHERE tenant = ? ORDER BY module, entity, id, version').all(tenant) as Row[];
  return rows.map((row) => ({ ...row, data: row.data === null ? null : JSON.parse(row.data as string) }));
}

async function loadModule(tenant: string): Promise<LoadedModule> {
  const module = await data.registry.load(tenant, MODULE);
  assert.ok(module);
  return module;
}

/** The version chain of each document is contiguous: versions 1..n, each closed where the next starts, the last open. */
function assertChains(rows: Row[]): void {
  const byKey = new Map<string, Row[]>();
  for (const row of rows) {
    const key = `${row.module}/${row.entity}/${row.id}`;
    byKey.set(key, [...(byKey.get(key) ?? []), row]);
  }
  for (const [key, versions] of byKey) {
    versions.forEach((row, i) => {
      assert.equal(row.version, i + 1, `${key}: versions are 1..n`);
      const next = versions[i + 1];
      assert.equal(row.to_position, next ? next.from_position : null, `${key} v${row.version}: closed where the next starts`);
      assert.equal(row.to_time, next ? next.from_time : null, `${key} v${row.version}: to_time`);
      assert.equal(row.updated_at, row.from_time, `${key} v${row.version}: updated_at`);
      assert.equal(row.created_at, versions[0]?.from_time, `${key} v${row.version}: created_at is the first version's time`);
      assert.equal(row.deleted === 1, row.data === null, `${key} v${row.version}: deleted iff no data`);
      if (row.deleted === 1) assert.equal(next, undefined, `${key}: nothing after a deletion`);
    });
  }
}

/** Each stored version of each record equals the fold of its stream's events up to that version. */
async function assertFolds(tenant: string, module: LoadedModule, rows: Row[]): Promise<void> {
  for (const entity of module.entities.keys()) {
    const ids = new Set(rows.filter((row) => row.module === MODULE && row.entity === entity).map((row) => String(row.id)));
    for (const id of IDS) {
      const stream = await storage.events.readStream(tenant, recordStream(MODULE, entity, id));
      const versions = rows.filter((row) => row.module === MODULE && row.entity === entity && row.id === id);
      assert.equal(versions.length, stream.length, `${entity}/${id}: one document version per event`);
      assert.equal(ids.has(id), stream.length > 0);
      let state: RecordState = initialState;
      for (const [i, event] of stream.entries()) {
        state = evolve(state, { type: event.type, data: upcast(event.data, entity, event.schemaVersion, module.history) }, entity);
        const row = versions[i];
        assert.ok(row);
        assert.equal(row.version, state.version);
        assert.equal(BigInt(row.from_position as number), event.position, `${entity}/${id} v${state.version}: from_position`);
        assert.equal(row.from_time, event.recordedAt.toISOString());
        assert.deepEqual(row.data, state.status === 'active' ? state.data : null, `${entity}/${id} v${state.version}: data`);
      }
      if (state.status === 'active') {
        const view = await data.records.get({ tenant, module: MODULE, entity, id });
        assert.deepEqual(view.data, state.data as Record<string, JsonValue>);
        assert.equal(view.version, state.version);
      } else if (state.status === 'deleted') {
        await assert.rejects(data.records.get({ tenant, module: MODULE, entity, id }), (error: unknown) => isAppError(error, 'not_found'));
      }
    }
  }
}

async function assertRebuildReproduces(tenant: string): Promise<void> {
  const module = await loadModule(tenant);
  const before = snapshot(tenant);
  assertChains(before);
  await assertFolds(tenant, module, before);
  const seen = await rebuildEntity(storage, tenant, module, ENTITY);
  const rebuilt = snapshot(tenant);
  assert.equal(seen, new Set(before.filter((row) => row.module === MODULE && row.entity === ENTITY).map((row) => row.id)).size);
  assert.deepEqual(rebuilt, before, 'the rebuild from the log writes exactly the documents the appends wrote');
  // and rebuilding again changes nothing either
  await rebuildEntity(storage, tenant, module, 'orderLine');
  assert.deepEqual(snapshot(tenant), before);
}

describe('rebuildEntity reproduces the inline documents', () => {
  it('after a random sequence of creates, merge patches, deletes and declared commands', async () => {
    await fc.assert(
      fc.asyncProperty(ops('note'), async (sequence) => {
        const tenant = `t-${++tenants}`;
        await data.modules.define(contextOf(tenant), tenant, MODULE, salesDefinition('note'));
        for (const op of sequence) await apply(tenant, op);
        await assertRebuildReproduces(tenant);
      }),
      { numRuns: RUNS },
    );
    for (const key of [
      'order.create',
      'order.update',
      'order.delete',
      'order.run.pay',
      'order.run.ship',
      'order.run.flag',
      'orderLine.create',
    ])
      assert.ok((stats.get(key) ?? 0) > 0, `the sequences exercised ${key}: ${JSON.stringify(Object.fromEntries(stats))}`);
    assert.ok((stats.get('error.precondition_failed') ?? 0) > 0);
  });

  it('across a module version that renames a field (events before it are upcast)', async () => {
    await fc.assert(
      fc.asyncProperty(ops('note'), ops('remark'), async (first, second) => {
        const tenant = `t-${++tenants}`;
        await data.modules.define(contextOf(tenant), tenant, MODULE, salesDefinition('note'));
        for (const op of first) await apply(tenant, op);
        await data.modules.define(contextOf(tenant), tenant, MODULE, {
          ...salesDefinition('remark'),
          migrations: [{ rename: { from: 'note', to: 'remark' }, entity: ENTITY }],
        });
        for (const op of second) await apply(tenant, op);
        const rows = snapshot(tenant).filter((row) => row.entity === ENTITY && row.data !== null);
        assert.ok(
          rows.every((row) => !('note' in (row.data as object))),
          'no version holds the old name',
        );
        await assertRebuildReproduces(tenant);
      }),
      { numRuns: Math.max(1, Math.round(RUNS * 0.4)) },
    );
  });
});
