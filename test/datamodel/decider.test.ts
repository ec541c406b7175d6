import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  applyChanges,
  changedFields,
  decide,
  evolve,
  evolveFields,
  initialState,
  lifecycleTypes,
  mergePatch,
  type RecordData,
  type RecordEvent,
  type RecordState,
} from '../../src/datamodel/decider.js';
import type { EntityDefinition } from '../../src/datamodel/types.js';
import { isAppError } from '../../src/kernel/index.js';
import { entityModel, fold, given } from './spec.js';

const order: EntityDefinition = {
  fields: {
    customer: { type: 'string', required: true, maxLength: 20 },
    amount: { type: 'number', minimum: 0 },
    quantity: { type: 'integer', minimum: 1 },
    status: { type: 'enum', values: ['open', 'paid', 'shipped'], default: 'open' },
    channel: { type: 'enum', values: ['web', 'shop'], default: 'web' },
    placedAt: { type: 'datetime' },
    dueOn: { type: 'date' },
    urgent: { type: 'boolean' },
    lines: { type: 'array', items: { type: 'json' } },
    tags: { type: 'array', items: { type: 'string' }, maxItems: 3 },
    meta: { type: 'json' },
    owner: { type: 'reference', entity: 'crm.customer' },
  },
  commands: {
    pay: { from: { status: 'open' }, set: { status: 'paid' }, emits: 'OrderPaid' },
    ship: { from: { status: 'paid', urgent: true }, set: { status: 'shipped' }, emits: 'OrderShipped' },
    flag: { set: { urgent: true }, emits: 'OrderFlagged' },
  },
};
const model = entityModel('order', order);

const created = (data: Record<string, unknown> = {}): RecordEvent => ({
  type: 'OrderCreated',
  data: { status: 'open', channel: 'web', customer: 'Ada', ...data } as RecordEvent['data'],
});
const deleted: RecordEvent = { type: 'OrderDeleted', data: {} };

const errorPaths = (error: { details: { errors?: { path: string }[] } } | undefined) =>
  (error?.details.errors ?? []).map((e) => e.path).sort();

describe('decide: create', () => {
  it('applies the defaults of absent fields', () => {
    given(model)
      .when({ kind: 'create', data: { customer: 'Ada' } })
      .then([created()]);
  });

  it('keeps a given value over the default', () => {
    given(model)
      .when({ kind: 'create', data: { customer: 'Ada', status: 'paid' } })
      .then([created({ status: 'paid' })]);
  });

  it('treats a null value as an absent field (no default either way)', () => {
    given(model)
      .when({ kind: 'create', data: { customer: 'Ada', amount: null } })
      .then([created()]);
  });

  it('folds the created event into an active record at version 1', () => {
    const { state } = given(model)
      .when({ kind: 'create', data: { customer: 'Ada', amount: 12.5 } })
      .then([created({ amount: 12.5 })]);
    assert.deepEqual(state, { status: 'active', version: 1, data: { customer: 'Ada', amount: 12.5, status: 'open', channel: 'web' } });
  });

  it('requires the required fields', () => {
    const { error } = given(model)
      .when({ kind: 'create', data: { amount: 3 } })
      .then('validation_failed', { errors: [{ path: '/data/customer', message: 'is required' }] });
    assert.ok(error);
  });

  it('refuses fields the entity does not declare, `id` included', () => {
    const { error } = given(model)
      .when({ kind: 'create', data: { customer: 'Ada', colour: 'red', id: 'x' } })
      .then('validation_failed');
    assert.deepEqual(errorPaths(error), ['/data/colour', '/data/id']);
    assert.ok(error?.details.errors?.every((e) => e.message === 'is not a field of the entity'));
  });

  it('lists every invalid value with its path, not only the first', () => {
    const { error } = given(model)
      .when({
        kind: 'create',
        data: {
          customer: 'x'.repeat(21),
          amount: -1,
          quantity: 1.5,
          status: 'lost',
          placedAt: 'yesterday',
          dueOn: '2024-02-30',
          urgent: 'yes',
          lines: { a: 1 },
          tags: ['a', 'b', 'c', 'd'],
          owner: 'not an id',
        },
      })
      .then('validation_failed');
    assert.deepEqual(
      [...new Set(errorPaths(error))],
      [
        '/data/amount',
        '/data/customer',
        '/data/dueOn',
        '/data/lines',
        '/data/owner',
        '/data/placedAt',
        '/data/quantity',
        '/data/status',
        '/data/tags',
        '/data/urgent',
      ],
    );
  });

  it('reports wrong types inside arrays at the item path', () => {
    const { error } = given(model)
      .when({ kind: 'create', data: { customer: 'Ada', tags: ['a', 2] } })
      .then('validation_failed');
    assert.deepEqual(errorPaths(error), ['/data/tags/1']);
  });

  it('refuses a body that is not an object', () => {
    for (const data of [null, 'Ada', 42, ['Ada']]) given(model).when({ kind: 'create', data }).then('validation_failed');
  });

  it('stores datetimes in UTC with milliseconds, whatever offset and precision they were given in', () => {
    const cases: [string, string][] = [
      ['2024-03-01T10:00:00+02:00', '2024-03-01T08:00:00.000Z'],
      ['2024-03-01T08:00:00Z', '2024-03-01T08:00:00.000Z'],
      ['2024-03-01T08:00:00.5Z', '2024-03-01T08:00:00.500Z'],
      ['2024-03-01T08:00:00.123456Z', '2024-03-01T08:00:00.123Z'],
      ['2024-03-01t08:00:00z', '2024-03-01T08:00:00.000Z'],
      ['2024-03-01T00:30:00-05:30', '2024-03-01T06:00:00.000Z'],
    ];
    for (const [input, stored] of cases) {
      given(model)
        .when({ kind: 'create', data: { customer: 'Ada', placedAt: input } })
        .then([created({ placedAt: stored })]);
    }
  });

  it('keeps dates as given (they carry no time zone)', () => {
    given(model)
      .when({ kind: 'create', data: { customer: 'Ada', dueOn: '2024-02-29' } })
      .then([created({ dueOn: '2024-02-29' })]);
  });

  it('refuses to create a record that exists', () => {
    given(model, [created()])
      .when({ kind: 'create', data: { customer: 'Bob' } })
      .then('already_exists');
  });

  it('refuses to create a record that was deleted (ids are not reused)', () => {
    given(model, [created(), deleted])
      .when({ kind: 'create', data: { customer: 'Bob' } })
      .then('already_exists');
  });
});

describe('decide: update (JSON merge patch)', () => {
  it('emits only the top-level fields whose value changed', () => {
    given(model, [created({ amount: 10 })])
      .when({ kind: 'update', patch: { customer: 'Ada', amount: 20, status: 'open' } })
      .then([{ type: 'OrderUpdated', data: { amount: 20 } }]);
  });

  it('merges nested objects and emits the whole new value of the field', () => {
    const { state } = given(model, [created({ meta: { a: { b: 1, c: 2 }, d: 1 } })])
      .when({ kind: 'update', patch: { meta: { a: { b: 3 } } } })
      .then([{ type: 'OrderUpdated', data: { meta: { a: { b: 3, c: 2 }, d: 1 } } }]);
    assert.deepEqual(state.status === 'active' && state.data.meta, { a: { b: 3, c: 2 }, d: 1 });
  });

  it('removes a field patched to null and reports it as null in the event', () => {
    const { state } = given(model, [created({ amount: 10 })])
      .when({ kind: 'update', patch: { amount: null } })
      .then([{ type: 'OrderUpdated', data: { amount: null } }]);
    assert.ok(state.status === 'active' && !('amount' in state.data));
  });

  it('replaces arrays wholesale', () => {
    given(model, [created({ tags: ['a', 'b'] })])
      .when({ kind: 'update', patch: { tags: ['c'] } })
      .then([{ type: 'OrderUpdated', data: { tags: ['c'] } }]);
  });

  it('normalises a patched datetime, and an equal instant written differently changes nothing', () => {
    given(model, [created({ placedAt: '2024-03-01T08:00:00.000Z' })])
      .when({ kind: 'update', patch: { placedAt: '2024-03-01T09:00:00+01:00' } })
      .then([]);
    given(model, [created({ placedAt: '2024-03-01T08:00:00.000Z' })])
      .when({ kind: 'update', patch: { placedAt: '2024-03-01T10:00:00+01:00' } })
      .then([{ type: 'OrderUpdated', data: { placedAt: '2024-03-01T09:00:00.000Z' } }]);
  });

  it('refuses to remove a required field', () => {
    given(model, [created()])
      .when({ kind: 'update', patch: { customer: null } })
      .then('validation_failed', { errors: [{ path: '/data/customer', message: 'is required' }] });
  });

  it('validates the patched record: invalid values and unknown fields are listed', () => {
    const { error } = given(model, [created()])
      .when({ kind: 'update', patch: { amount: 'ten', colour: 'red' } })
      .then('validation_failed');
    assert.deepEqual(errorPaths(error), ['/data/amount', '/data/colour']);
  });

  it('emits nothing for a patch that changes nothing', () => {
    for (const patch of [{}, { customer: 'Ada' }, { amount: null }, { status: 'open', channel: 'web' }]) {
      given(model, [created()]).when({ kind: 'update', patch }).then([]);
    }
  });

  it('creates the objects a nested patch goes through (RFC 7386), even when it only removes', () => {
    given(model, [created()])
      .when({ kind: 'update', patch: { meta: { gone: null } } })
      .then([{ type: 'OrderUpdated', data: { meta: {} } }]);
  });

  it('refuses a patch that is not an object', () => {
    for (const patch of [null, [], 'x', 1]) given(model, [created()]).when({ kind: 'update', patch }).then('validation_failed');
  });
});

describe('decide: delete, and commands on records that are not there', () => {
  it('deletes an active record; the state keeps its last data and a new version', () => {
    const { state } = given(model, [created({ amount: 1 })])
      .when({ kind: 'delete' })
      .then([deleted]);
    assert.deepEqual(state, { status: 'deleted', version: 2, data: { customer: 'Ada', status: 'open', channel: 'web', amount: 1 } });
  });

  for (const [name, history] of [
    ['absent', []],
    ['deleted', [created(), deleted]],
  ] as const) {
    it(`answers not_found to update, delete and declared commands on a ${name} record`, () => {
      given(model, history)
        .when({ kind: 'update', patch: { amount: 1 } })
        .then('not_found');
      given(model, history).when({ kind: 'delete' }).then('not_found');
      given(model, history).when({ kind: 'run', command: 'pay' }).then('not_found');
      given(model, history).when({ kind: 'run', command: 'nope' }).then('not_found');
    });
  }
});

describe('decide: declared commands', () => {
  it('runs when its `from` guard is met and emits the fields its `set` changes', () => {
    const { state } = given(model, [created()])
      .when({ kind: 'run', command: 'pay' })
      .then([{ type: 'OrderPaid', data: { status: 'paid' } }]);
    assert.ok(state.status === 'active' && state.data.status === 'paid' && state.version === 2);
  });

  it('fails with precondition_failed and the unmet fields with their current values', () => {
    given(model, [created(), { type: 'OrderPaid', data: { status: 'paid' } }])
      .when({ kind: 'run', command: 'pay' })
      .then('precondition_failed', { unmet: { status: 'paid' } });
  });

  it('lists every unmet guard field; an absent field is reported as null', () => {
    given(model, [created()])
      .when({ kind: 'run', command: 'ship' })
      .then('precondition_failed', { unmet: { status: 'open', urgent: null } });
    given(model, [created({ status: 'paid' })])
      .when({ kind: 'run', command: 'ship' })
      .then('precondition_failed', { unmet: { urgent: null } });
    given(model, [created({ status: 'paid', urgent: true })])
      .when({ kind: 'run', command: 'ship' })
      .then([{ type: 'OrderShipped', data: { status: 'shipped' } }]);
  });

  it('a command without a guard always runs; its event is recorded even when `set` changes nothing', () => {
    given(model, [created()])
      .when({ kind: 'run', command: 'flag' })
      .then([{ type: 'OrderFlagged', data: { urgent: true } }]);
    given(model, [created({ urgent: true })])
      .when({ kind: 'run', command: 'flag' })
      .then([{ type: 'OrderFlagged', data: {} }]);
  });

  it('answers not_found to a command the entity does not declare, built-in names included', () => {
    for (const command of ['refund', 'create', 'update', 'delete', 'history']) {
      given(model, [created()]).when({ kind: 'run', command }).then('not_found');
    }
  });
});

describe('evolve', () => {
  it('folds every event type: created, updated, custom, deleted; each adds one version', () => {
    const events: RecordEvent[] = [
      created({ amount: 1, meta: { a: 1 } }),
      { type: 'OrderUpdated', data: { amount: 2, quantity: 3 } },
      { type: 'OrderPaid', data: { status: 'paid' } },
      { type: 'OrderUpdated', data: { quantity: null } },
      { type: 'OrderFlagged', data: {} },
      deleted,
    ];
    const states = events.map((_, i) => fold(events.slice(0, i + 1), 'order'));
    assert.deepEqual(
      states.map((s) => [s.status, s.version]),
      [
        ['active', 1],
        ['active', 2],
        ['active', 3],
        ['active', 4],
        ['active', 5],
        ['deleted', 6],
      ],
    );
    assert.deepEqual(states[3]?.status !== 'absent' && states[3]?.data, {
      customer: 'Ada',
      status: 'paid',
      channel: 'web',
      amount: 2,
      meta: { a: 1 },
    });
    assert.deepEqual(states[4], { ...states[3], version: 5 });
    assert.deepEqual(states[5]?.status !== 'absent' && states[5]?.data, states[4]?.status !== 'absent' && states[4]?.data);
  });

  it('a created event replaces the state; its data is the record', () => {
    assert.deepEqual(evolve(initialState, { type: 'OrderCreated', data: { customer: 'Ada' } }, 'order'), {
      status: 'active',
      version: 1,
      data: { customer: 'Ada' },
    });
  });

  it('takes the event type prefix from the entity name', () => {
    const lineModel = entityModel('orderLine', { fields: { sku: { type: 'string' } } });
    const state = fold(
      [
        { type: 'OrderLineCreated', data: { sku: 'a' } },
        { type: 'OrderLineDeleted', data: {} },
      ],
      lineModel.name,
    );
    assert.equal(state.status, 'deleted');
    given(lineModel)
      .when({ kind: 'create', data: { sku: 'a' } })
      .then([{ type: 'OrderLineCreated', data: { sku: 'a' } }]);
  });

  it('replaces a json field wholesale: a nested key removed by a merge patch stays removed', () => {
    const history = [created({ meta: { keep: 1, drop: { deep: true }, list: [1, 2] } })];
    const { events, state } = given(model, history)
      .when({ kind: 'update', patch: { meta: { drop: null, list: [3] } } })
      .then([{ type: 'OrderUpdated', data: { meta: { keep: 1, list: [3] } } }]);
    assert.ok(state.status === 'active');
    assert.deepEqual(state.data.meta, { keep: 1, list: [3] });
    assert.deepEqual(fold([...history, ...events], 'order'), state, 'folding from the start gives the same state');
    // a later unrelated update does not bring the key back
    const later = given(model, [...history, ...events])
      .when({ kind: 'update', patch: { amount: 1 } })
      .then([{ type: 'OrderUpdated', data: { amount: 1 } }]);
    assert.deepEqual(later.state.status === 'active' && later.state.data.meta, { keep: 1, list: [3] });
  });

  it('evolve after decide equals mergePatch of the data, for updates', () => {
    const before = { customer: 'Ada', status: 'open', meta: { a: { b: 1 }, c: [1] }, tags: ['x'] };
    const patch = { meta: { a: { b: null, e: 2 }, c: null }, tags: null, amount: 3 };
    const [event] = given(model, [{ type: 'OrderCreated', data: before }])
      .when({ kind: 'update', patch })
      .then([{ type: 'OrderUpdated', data: { meta: { a: { e: 2 } }, tags: null, amount: 3 } }]).events;
    assert.ok(event);
    assert.deepEqual(applyChanges(before, event.data), mergePatch(before, patch));
  });
});

describe('evolveFields', () => {
  it('gives the fields evolve gives, and the same row while they do not change (property)', () => {
    const fields = ['amount', 'status'];
    const value = fc.constantFrom<RecordData[string]>(1, 2, 'paid', null, { a: 1 });
    const event = fc.record({
      type: fc.constantFrom('OrderCreated', 'OrderUpdated', 'OrderPaid', 'OrderDeleted'),
      data: fc.oneof(
        fc.dictionary(fc.constantFrom('amount', 'status', 'note'), value),
        fc.constant(null),
        fc.constant<RecordData[string]>([1]),
      ),
    });
    const types = lifecycleTypes('order');
    fc.assert(
      fc.property(fc.array(event, { maxLength: 12 }), (events) => {
        let state: RecordState = initialState;
        let row: RecordData | undefined;
        for (const e of events) {
          const before = row;
          state = evolve(state.status === 'active' ? state : initialState, e, 'order');
          row = evolveFields(before, e, types, fields);
          const data = state.status === 'active' ? state.data : undefined;
          const expected = data && Object.fromEntries(fields.filter((f) => Object.hasOwn(data, f)).map((f) => [f, data[f]]));
          assert.deepEqual(row, expected);
          if (before && expected && fields.every((f) => before[f] === expected[f])) assert.equal(row, before);
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('helpers', () => {
  it('mergePatch follows RFC 7386', () => {
    // the examples of RFC 7386, appendix A
    const cases: [unknown, unknown, unknown][] = [
      [{ a: 'b' }, { a: 'c' }, { a: 'c' }],
      [{ a: 'b' }, { b: 'c' }, { a: 'b', b: 'c' }],
      [{ a: 'b' }, { a: null }, {}],
      [{ a: 'b', b: 'c' }, { a: null }, { b: 'c' }],
      [{ a: ['b'] }, { a: 'c' }, { a: 'c' }],
      [{ a: 'c' }, { a: ['b'] }, { a: ['b'] }],
      [{ a: { b: 'c' } }, { a: { b: 'd', c: null } }, { a: { b: 'd' } }],
      [{ a: [{ b: 'c' }] }, { a: [1] }, { a: [1] }],
      [
        ['a', 'b'],
        ['c', 'd'],
        ['c', 'd'],
      ],
      [{ a: 'b' }, ['c'], ['c']],
      [{ a: 'foo' }, null, null],
      [{ a: 'foo' }, 'bar', 'bar'],
      [{ e: null }, { a: 1 }, { e: null, a: 1 }],
      [[1, 2], { a: 'b', c: null }, { a: 'b' }],
      [{}, { a: { bb: { ccc: null } } }, { a: { bb: {} } }],
    ];
    for (const [target, patch, result] of cases) assert.deepEqual(mergePatch(target as never, patch as never), result);
  });

  it('mergePatch does not modify its arguments', () => {
    const target = { a: { b: 1 } };
    const patch = { a: { b: null, c: 2 } };
    mergePatch(target, patch);
    assert.deepEqual(target, { a: { b: 1 } });
    assert.deepEqual(patch, { a: { b: null, c: 2 } });
  });

  it('changedFields reports changed and added fields with their value, removed ones as null, ignoring key order', () => {
    assert.deepEqual(changedFields({ a: 1, b: { x: 1, y: 2 }, c: 3 }, { b: { y: 2, x: 1 }, a: 2, d: 4 }), { a: 2, d: 4, c: null });
    assert.deepEqual(changedFields({ a: [1, 2] }, { a: [2, 1] }), { a: [2, 1] });
    assert.deepEqual(changedFields({ a: {} }, { a: [] }), { a: [] });
  });
});

describe('regressions', () => {
  it('a `from` guard on a datetime field matches the same instant as the record holds', () => {
    // The stored value is normalised to UTC milliseconds (normaliseValues), the guard value is not,
    // so runDeclared compares '2024-01-01T00:00:00.000Z' with '2024-01-01T00:00:00Z' and fails.
    const timed = entityModel('slot', {
      fields: { at: { type: 'datetime' }, state: { type: 'enum', values: ['new', 'done'] } },
      commands: { close: { from: { at: '2024-01-01T00:00:00Z' }, set: { state: 'done' }, emits: 'SlotClosed' } },
    });
    const { events } = given(timed)
      .when({ kind: 'create', data: { at: '2024-01-01T00:00:00Z' } })
      .then([{ type: 'SlotCreated', data: { at: '2024-01-01T00:00:00.000Z' } }]);
    given(timed, events)
      .when({ kind: 'run', command: 'close' })
      .then([{ type: 'SlotClosed', data: { state: 'done' } }]);
  });

  it('datetimes inside an array field are stored in UTC with milliseconds, like datetime fields', () => {
    // normaliseValues only looks at top-level datetime fields; items of `array` of `datetime` keep
    // their offset, so they neither compare nor sort as text, and `$contains` misses equal instants.
    const timed = entityModel('slot', { fields: { ats: { type: 'array', items: { type: 'datetime' } } } });
    given(timed)
      .when({ kind: 'create', data: { ats: ['2024-01-01T02:00:00+02:00'] } })
      .then([{ type: 'SlotCreated', data: { ats: ['2024-01-01T00:00:00.000Z'] } }]);
  });

  it('a leap-second datetime is refused or stored in UTC (never with its offset)', () => {
    // ajv-formats accepts a leap second (`:60`), Date.parse does not, so utcMillis keeps the text as
    // given: '2016-12-31T20:59:60-03:00' is stored with its offset and breaks text ordering.
    let stored: unknown;
    try {
      const [event] = decide({ kind: 'create', data: { customer: 'Ada', placedAt: '2016-12-31T20:59:60-03:00' } }, initialState, model);
      stored = event?.data.placedAt;
    } catch (error) {
      assert.ok(isAppError(error, 'validation_failed'), String(error));
      return;
    }
    assert.match(String(stored), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  });

  it('a command name inherited from Object.prototype is not a declared command (not_found)', () => {
    // runDeclared looks the name up with `commands?.[name]`: 'toString', 'constructor', 'valueOf',
    // 'hasOwnProperty'… resolve to Object.prototype members, so decide returns an event whose type is
    // undefined (the append then fails with validation_failed instead of a 404). These names match the
    // command pattern of POST /t/{tenant}/data/{module}/{entity}/{id}/{command}.
    for (const command of ['toString', 'constructor', 'valueOf', 'hasOwnProperty', 'isPrototypeOf', '__proto__']) {
      given(model, [created()]).when({ kind: 'run', command }).then('not_found');
    }
  });

  it('mergePatch treats a member named "__proto__" as a member (RFC 7386), not as the prototype', () => {
    // JSON.parse makes "__proto__" an own property; `result[key] = …` in mergePatch sets the prototype
    // instead, so the member is lost and the result is no longer a plain object (toJsonText refuses it).
    const patched = mergePatch({ meta: {} }, JSON.parse('{"meta":{"__proto__":{"x":1}}}')) as Record<string, Record<string, unknown>>;
    const meta = patched.meta ?? {};
    assert.equal(Object.getPrototypeOf(meta), Object.prototype, 'the result is a plain object');
    assert.deepEqual(Object.keys(meta), ['__proto__']);
  });
});
