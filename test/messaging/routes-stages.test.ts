import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { JsonValue } from '../../src/kernel/index.js';
import { isAppError } from '../../src/kernel/index.js';
import { type CompiledRoute, compileRoute, validateRoute } from '../../src/messaging/routes/compile.js';
import { backoffMs, deadLetter, RouteFailure } from '../../src/messaging/routes/failures.js';
import { type Item, inferFields } from '../../src/messaging/routes/filter.js';
import { sourceMatches } from '../../src/messaging/routes/pipeline.js';
import {
  completeBySize,
  correlationStage,
  filterStage,
  groupDeadline,
  groupItem,
  mergeStage,
  splitStage,
  targetMessageId,
  targetsFor,
  transformStage,
} from '../../src/messaging/routes/stages.js';

const SECRET = 'a-webhook-secret-of-some-length';

/** A route compiled from a definition, as the consumers run it. */
function route(definition: Record<string, unknown>): CompiledRoute {
  const checked = validateRoute({ name: 'r', source: 'sales.order.*', targets: [{ subject: 'out' }], ...definition });
  const secrets = new Map(checked.targets.flatMap((t, i) => ('webhook' in t ? [[i, SECRET] as const] : [])));
  return compileRoute('acme', 1, { ...checked, id: 'route-1', secretRef: null }, secrets);
}

/** An event message's envelope, as the relay publishes it. */
const event = (data: JsonValue, recordId = 'o-1'): Item => ({
  id: 'event-1',
  value: { id: 'event-1', type: 'OrderPlaced', module: 'sales', entity: 'order', recordId, data },
  event: true,
});

const failsWith = async (work: Promise<unknown>, code: string, permanent = true) =>
  assert.rejects(work, (error: unknown) => {
    assert.ok(error instanceof RouteFailure, String(error));
    assert.equal(error.code, code);
    assert.equal(error.permanent, permanent);
    return true;
  });

describe('route definitions', () => {
  it('accepts the documented example and makes it active by default', () => {
    const definition = validateRoute({
      name: 'big-orders',
      source: 'sales.order.OrderPlaced',
      filter: { amount: { $gt: 100 } },
      transform: '{ "customer": data.customer, "total": data.amount }',
      targets: [
        { when: { total: { $gte: 1000 } }, webhook: { url: 'https://example.com/hook', secret: SECRET } },
        { subject: 'big-orders' },
      ],
    });
    assert.equal(definition.active, true);
  });

  it('lists every problem with its path', () => {
    assert.throws(
      () =>
        validateRoute({
          name: 'Bad Name',
          source: 'sales.order',
          filter: { amount: { $between: 1 } },
          split: 'data.lines[',
          aggregate: { correlation: 'x' },
          targets: [
            { subject: 'a', webhook: { url: 'x' } },
            { webhook: { url: 'ftp://x', secret: 'short' } },
            { command: { entity: 'sales', command: 'pay' } },
          ],
          extra: 1,
        }),
      (error: unknown) => {
        assert.ok(isAppError(error, 'validation_failed'));
        const paths = (error.details.errors ?? []).map((e) => e.path);
        for (const path of [
          '/body/name',
          '/body/source',
          '/body/aggregate',
          '/body/targets/0',
          '/body/targets/1/webhook/url',
          '/body/targets/1/webhook/secret',
          '/body/targets/2/command/entity',
          '/body/targets/2/command/id',
          '/body/extra',
        ])
          assert.ok(paths.includes(path), `${path} in ${paths.join(', ')}`);
        return true;
      },
    );
  });

  it('reports JSONata syntax errors and filter errors with their paths, along with shape problems', () => {
    assert.throws(
      () =>
        validateRoute({
          name: 'Not a name',
          source: 'sales.*.*',
          split: 'data.lines[',
          filter: { amount: { $between: 1 } },
          targets: [{ subject: 'x', when: { a: { $gt: 'x', $lt: 1 } } }],
        }),
      (error: unknown) => {
        assert.ok(isAppError(error, 'validation_failed'));
        const paths = (error.details.errors ?? []).map((e) => e.path);
        assert.ok(paths.includes('/body/name'), paths.join());
        assert.ok(paths.includes('/body/split'), paths.join());
        assert.ok(paths.includes('/body/filter/amount/$between'), paths.join());
        assert.ok(paths.includes('/body/targets/0/when/a/$lt'), paths.join());
        return true;
      },
    );
  });

  it('refuses a subject target that is its own source', () => {
    assert.throws(() => validateRoute({ name: 'r', source: 'routed.loop', targets: [{ subject: 'loop' }] }), /Invalid route/);
  });

  it('infers field kinds from the filter values', () => {
    const fields = inferFields({
      amount: { $gt: 1 },
      status: { $in: [null, 'open'] },
      tags: { $contains: 3 },
      note: { $exists: true },
      $or: [{ vip: true }],
    });
    assert.deepEqual(
      { ...fields },
      {
        amount: { type: 'number' },
        status: { type: 'string' },
        tags: { type: 'array', items: { type: 'number' } },
        note: { type: 'json' },
        vip: { type: 'boolean' },
      },
    );
  });
});

describe('route stages', () => {
  it('filters on the event data, with the record id as id', () => {
    const r = route({ filter: { amount: { $gt: 100 }, id: { $startsWith: 'o-' } } });
    assert.equal(filterStage(r, event({ amount: 150 })), true);
    assert.equal(filterStage(r, event({ amount: 50 })), false);
    assert.equal(filterStage(r, event({ amount: 150 }, 'x-1')), false);
    assert.equal(filterStage(r, event({ amount: '150' })), false);
  });

  it('splits into one message per element, with ids derived from the source', async () => {
    const r = route({ split: 'data.lines' });
    const items = await splitStage(r, event({ lines: [{ sku: 'a' }, { sku: 'b' }] }));
    assert.deepEqual(items, [
      { id: 'event-1#0', value: { sku: 'a' }, event: false },
      { id: 'event-1#1', value: { sku: 'b' }, event: false },
    ]);
    assert.equal((await splitStage(r, event({ lines: [{ sku: 'a' }] }))).length, 1);
    assert.equal((await splitStage(r, event({}))).length, 0);
    await failsWith(splitStage(route({ split: '[1..2000]' }), event({})), 'expression_failed');
  });

  it('translates with JSONata; nothing drops the message; a failure is permanent', async () => {
    const r = route({ transform: 'data.amount > 0 ? { "total": data.amount * 2, "order": recordId }' });
    assert.deepEqual((await transformStage(r, event({ amount: 21 })))?.value, { total: 42, order: 'o-1' });
    assert.equal(await transformStage(r, event({ amount: 0 })), undefined);
    await failsWith(transformStage(route({ transform: '$error("boom")' }), event({})), 'expression_failed');
  });

  it('merges an enrichment response, by default over the message', async () => {
    const merged = await mergeStage(route({ enrich: { url: 'https://example.com/x' } }), event({}), { vip: true });
    assert.equal((merged.value as Record<string, JsonValue>).vip, true);
    assert.equal((merged.value as Record<string, JsonValue>).recordId, 'o-1');
    const custom = await mergeStage(
      route({ enrich: { url: 'https://example.com/x', merge: '$merge([$message.data, $response])' } }),
      event({ a: 1 }),
      { b: 2 },
    );
    assert.deepEqual(custom.value, { a: 1, b: 2 });
  });

  it('correlates by a key and completes groups by size or deadline', async () => {
    const r = route({ aggregate: { correlation: 'data.customer', size: 2, timeoutMs: 500 } });
    assert.equal(await correlationStage(r, event({ customer: 'ann' })), 'ann');
    assert.equal(await correlationStage(route({ aggregate: { correlation: 'data.n', size: 2 } }), event({ n: 7 })), '7');
    await failsWith(correlationStage(r, event({ customer: { name: 'ann' } })), 'expression_failed');
    assert.equal(completeBySize(r, 1), false);
    assert.equal(completeBySize(r, 2), true);
    assert.equal(groupDeadline(r, 1000), 1500);
    assert.equal(groupDeadline(route({ aggregate: { correlation: 'x', size: 3 } }), 1000), null);
    assert.equal(completeBySize(route({ aggregate: { correlation: 'x', timeoutMs: 500 } }), 999), false);
    assert.equal(completeBySize(route({ aggregate: { correlation: 'x', timeoutMs: 500 } }), 1000), true);
    assert.deepEqual(groupItem('g1', 'ann', [1, 2]), { id: 'group:g1', value: { key: 'ann', messages: [1, 2] }, event: false });
  });

  it('routes by content: every target whose condition matches', () => {
    const r = route({
      targets: [{ when: { amount: { $gt: 100 } }, subject: 'big' }, { subject: 'all' }, { when: { country: 'FR' }, subject: 'fr' }],
    });
    const names = (data: JsonValue) => targetsFor(r, event(data)).map((t) => (t.kind === 'subject' ? t.subject : t.kind));
    assert.deepEqual(names({ amount: 150, country: 'FR' }), ['big', 'all', 'fr']);
    assert.deepEqual(names({ amount: 50 }), ['all']);
  });

  it('derives the same target message id for the same message, another for another target', () => {
    const r = route({ targets: [{ subject: 'a' }, { subject: 'b' }] });
    const [a, b] = r.targets as [CompiledRoute['targets'][number], CompiledRoute['targets'][number]];
    assert.equal(targetMessageId(r, event({}), a), targetMessageId(r, event({}), a));
    assert.notEqual(targetMessageId(r, event({}), a), targetMessageId(r, event({}), b));
  });

  it('matches event subjects by pattern, never internal modules', () => {
    const r = route({ source: '*.*.*' });
    assert.equal(sourceMatches(r, 'bo.acme.sales.order.OrderPlaced'), true);
    assert.equal(sourceMatches(r, 'bo.acme._platform.route.RouteDefined'), false);
    assert.equal(sourceMatches(route({ source: 'sales.order.OrderPaid' }), 'bo.acme.sales.order.OrderPlaced'), false);
  });
});

describe('route failures', () => {
  it('backs off exponentially within bounds', () => {
    assert.equal(
      backoffMs(1, 100, 10_000, () => 1),
      100,
    );
    assert.equal(
      backoffMs(4, 100, 10_000, () => 1),
      800,
    );
    assert.equal(
      backoffMs(40, 100, 10_000, () => 1),
      10_000,
    );
    assert.equal(
      backoffMs(1, 100, 10_000, () => 0),
      80,
    );
  });

  it('dead-letters with the cause, the message and a stable id', () => {
    const failure = new RouteFailure('expression_failed', 'transform: boom', true, 'transform');
    const failed = { subject: 'bo.acme.sales.order.OrderPlaced', id: 'e-1', body: { a: 1 } };
    const letter = deadLetter('bo', 'acme', 'r-1', failed, failure);
    assert.equal(letter.subject, 'bo.acme.deadletter.route-r-1');
    assert.equal(letter.headers?.['Bo-Error-Code'], 'expression_failed');
    assert.deepEqual(JSON.parse(Buffer.from(letter.data).toString()), {
      cause: { code: 'expression_failed', message: 'transform: boom', stage: 'transform' },
      message: failed,
    });
    assert.equal(letter.id, deadLetter('bo', 'acme', 'r-1', failed, failure).id);
  });
});
