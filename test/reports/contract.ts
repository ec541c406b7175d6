import assert from 'node:assert/strict';
import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { type Config, storageConfig } from '../../src/platform/config.js';
import type { Platform } from '../../src/platform/platform.js';
import { openReportStore } from '../../src/reports/index.js';
import { type Api, apiClient, expectProblem, expectStatus, expectValidation } from '../api/client.js';
import { orders, SALES, salesTenant } from '../api/fixtures.js';
import { SseStream } from '../live/sse.js';
import { userWithRole } from '../security/fixtures.js';
import { centralAdminToken, startTestPlatform } from '../support/platform.js';

/** A report over API.md's order entity, with every measure. */
export const REPORT = {
  entity: 'sales.order',
  groupBy: ['status', { time: 'placedAt', bucket: 'day' }],
  measures: ['count', 'sum:amount', 'avg:amount', 'min:amount', 'max:amount', 'countDistinct:customer'],
};

/** The contract's platforms allow this many groups per report. */
export const MAX_GROUPS = 20;

type Order = { customer: string; amount?: number; status?: string; placedAt?: string };
type Group = Record<string, unknown> & { key: Record<string, unknown> };

/** The report computed directly from the current documents (listed through the API). */
async function expected(api: Api, tenant: string, filter?: (o: Order) => boolean): Promise<Group[]> {
  const items: Order[] = [];
  for (let cursor: string | undefined; ; ) {
    const page = expectStatus(await api.get(`${orders(tenant)}?limit=1000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`), 200);
    items.push(...page.items.map((item: { data: Order }) => item.data));
    if (!page.nextCursor) break;
    cursor = page.nextCursor;
  }
  const groups = new Map<string, Order[]>();
  for (const order of items.filter(filter ?? (() => true))) {
    const day = order.placedAt ? `${order.placedAt.slice(0, 10)}T00:00:00.000Z` : null;
    const id = JSON.stringify([order.status ?? null, day]);
    groups.set(id, [...(groups.get(id) ?? []), order]);
  }
  return [...groups.entries()]
    .sort(([a], [b]) => compareKeys(JSON.parse(a), JSON.parse(b)))
    .map(([id, members]) => {
      const [status, day] = JSON.parse(id);
      const amounts = members.flatMap((o) => (o.amount === undefined ? [] : [o.amount]));
      const sum = amounts.reduce((a, b) => a + b, 0);
      return {
        key: { status, placedAt_day: day },
        count: members.length,
        sum_amount: amounts.length ? sum : null,
        avg_amount: amounts.length ? sum / amounts.length : null,
        min_amount: amounts.length ? Math.min(...amounts) : null,
        max_amount: amounts.length ? Math.max(...amounts) : null,
        countDistinct_customer: new Set(members.map((o) => o.customer)).size,
      };
    });
}

function compareKeys(a: (string | null)[], b: (string | null)[]): number {
  for (let i = 0; i < a.length; i += 1) {
    if (a[i] === b[i]) continue;
    if (a[i] === null) return -1;
    if (b[i] === null) return 1;
    return (a[i] as string) < (b[i] as string) ? -1 : 1;
  }
  return 0;
}

async function reportData(api: Api, tenant: string, name: string, after: string): Promise<{ groups: Group[]; position: string }> {
  return expectStatus(await api.get(`/t/${tenant}/reports/${name}/data?after=${after}`), 200);
}

async function head(api: Api, tenant: string): Promise<string> {
  const reply = expectStatus(await api.post(`${orders(tenant)}`, { customer: 'marker', status: 'shipped' }), 201);
  return reply.position;
}

const ops = fc.array(
  fc.oneof(
    fc.record({
      op: fc.constant('create' as const),
      customer: fc.constantFrom('ann', 'bob', 'cy'),
      amount: fc.option(
        fc.integer({ min: 0, max: 40 }).map((n) => n / 4),
        { nil: undefined },
      ),
      status: fc.constantFrom('open', 'paid'),
      day: fc.option(fc.integer({ min: 1, max: 3 }), { nil: undefined }),
    }),
    fc.record({
      op: fc.constant('update' as const),
      pick: fc.nat(),
      amount: fc.integer({ min: 0, max: 40 }),
      status: fc.constantFrom('open', 'paid', 'shipped'),
    }),
    fc.record({ op: fc.constant('delete' as const), pick: fc.nat() }),
    fc.record({ op: fc.constant('pay' as const), pick: fc.nat() }),
  ),
  { minLength: 1, maxLength: 25 },
);

type Op = typeof ops extends fc.Arbitrary<(infer T)[]> ? T : never;

async function run(api: Api, tenant: string, op: Op, ids: string[]): Promise<void> {
  if (op.op === 'create') {
    const body: Order = { customer: op.customer, status: op.status };
    if (op.amount !== undefined) body.amount = op.amount;
    if (op.day !== undefined) body.placedAt = `2024-05-0${op.day}T1${op.day}:30:00+02:00`;
    ids.push(expectStatus(await api.post(orders(tenant), body), 201).id);
    return;
  }
  const id = ids[op.pick % Math.max(ids.length, 1)];
  if (!id) return;
  if (op.op === 'update') await api.patch(`${orders(tenant)}/${id}`, { amount: op.amount, status: op.status });
  if (op.op === 'pay') await api.post(`${orders(tenant)}/${id}/pay`, {});
  if (op.op === 'delete' && (await api.delete(`${orders(tenant)}/${id}`)).status < 300) ids.splice(ids.indexOf(id), 1);
}

export function reportsContract(label: string, newConfig: () => Promise<Config>): void {
  describe(`reports (${label})`, () => {
    let platform: Platform;
    let api: Api;
    let config: Config;
    before(async () => {
      config = await newConfig();
      platform = await startTestPlatform(config);
      api = apiClient(platform.app, await centralAdminToken(platform.app));
    });
    after(() => platform.close());

    it('keeps every report equal to the aggregate of the current documents (property)', async () => {
      await fc.assert(
        fc.asyncProperty(ops, async (sequence) => {
          const tenant = await salesTenant(api, 'rp');
          expectStatus(await api.put(`/t/${tenant}/reports/daily`, REPORT), 201);
          const ids: string[] = [];
          for (const op of sequence) await run(api, tenant, op, ids);
          const position = await head(api, tenant);
          const data = await reportData(api, tenant, 'daily', position);
          assert.deepEqual(data.groups, await expected(api, tenant));
          assert.ok(BigInt(data.position) >= BigInt(position));
        }),
        { numRuns: 12 },
      );
    });

    it('builds a new definition version from position 0 to the same result, then switches', async () => {
      const tenant = await salesTenant(api, 'rb');
      expectStatus(await api.put(`/t/${tenant}/reports/daily`, REPORT), 201);
      const ids: string[] = [];
      for (const op of fc.sample(ops, { numRuns: 1, seed: 7 })[0] ?? []) await run(api, tenant, op, ids);
      const incremental = await reportData(api, tenant, 'daily', await head(api, tenant));
      const replaced = expectStatus(await api.put(`/t/${tenant}/reports/daily`, REPORT), 200);
      assert.equal(replaced.version, 2);
      let status = '';
      for (let i = 0; i < 100 && status !== 'ready'; i += 1) {
        const found = expectStatus(await api.get(`/t/${tenant}/reports/daily`), 200);
        status = found.version === 2 ? found.status : '';
        if (status !== 'ready') await new Promise((resolve) => setTimeout(resolve, 50));
      }
      assert.equal(status, 'ready');
      const rebuilt = await reportData(api, tenant, 'daily', incremental.position);
      assert.deepEqual(rebuilt.groups, incremental.groups);
    });

    it('answers CSV with a header row and RFC 4180 escaping, and the report as of a past position', async () => {
      const tenant = await salesTenant(api, 'rc');
      const report = { entity: 'sales.order', groupBy: ['customer'], measures: ['count', 'sum:amount'] };
      expectStatus(await api.put(`/t/${tenant}/reports/byCustomer`, report), 201);
      const first = expectStatus(await api.post(orders(tenant), { customer: 'Smith, "Jo"', amount: 2 }), 201);
      expectStatus(await api.post(orders(tenant), { customer: 'plain', amount: 3 }), 201);
      const csv = await api.get(`/t/${tenant}/reports/byCustomer/data?format=csv&after=${await head(api, tenant)}`);
      assert.equal(csv.status, 200);
      assert.match(String(csv.headers['content-type']), /^text\/csv/);
      assert.equal(csv.text, 'customer,count,sum_amount\r\n"Smith, ""Jo""",1,2\r\nmarker,1,\r\nplain,1,3\r\n');
      const past = expectStatus(await api.get(`/t/${tenant}/reports/byCustomer/data?asOf=${first.position}`), 200);
      assert.deepEqual(past, { groups: [{ key: { customer: 'Smith, "Jo"' }, count: 1, sum_amount: 2 }], position: first.position });
    });

    it('rejects bad definitions with every path and changes nothing', async () => {
      const tenant = await salesTenant(api, 'rv');
      const bad = {
        entity: 'sales.order',
        groupBy: ['nope', { time: 'amount', bucket: 'day' }, { time: 'placedAt', bucket: 'fortnight' }],
        measures: ['sum:customer', 'min:status', 'median:amount'],
        filter: { amount: { $gt: 'x' } },
      };
      expectValidation(await api.put(`/t/${tenant}/reports/bad`, bad), [
        'body/groupBy/0',
        'body/groupBy/1/time',
        'body/groupBy/2/bucket',
        'body/measures/0',
        'body/measures/1',
        'body/measures/2',
        'body/filter/amount/$gt',
      ]);
      expectValidation(await api.put(`/t/${tenant}/reports/bad`, { ...REPORT, entity: 'sales.nothing' }), ['body/entity']);
      expectValidation(await api.put(`/t/${tenant}/reports/bad`, { ...REPORT, groupBy: Array(9).fill('status') }), ['body/groupBy']);
      expectValidation(await api.put(`/t/${tenant}/reports/bad`, { ...REPORT, filter: { customer: 'x'.repeat(17_000) } }), ['body']);
      expectProblem(await api.get(`/t/${tenant}/reports/bad`), 404, 'not_found');
      assert.deepEqual(expectStatus(await api.get(`/t/${tenant}/reports`), 200).items, []);
    });

    it('refuses a module change that would break a report, naming the report, and applies it once the report is gone', async () => {
      const tenant = await salesTenant(api, 'rm');
      expectStatus(await api.put(`/t/${tenant}/reports/daily`, REPORT), 201);
      const { amount: _dropped, ...kept } = SALES.entities.order.fields;
      const withoutAmount = { ...SALES, entities: { ...SALES.entities, order: { ...SALES.entities.order, fields: kept } } };
      const refused = expectProblem(await api.put(`/t/${tenant}/modules/sales`, withoutAmount), 400, 'validation_failed');
      assert.ok(
        refused.errors.some(
          (e: { path: string; message: string }) =>
            e.path === '/entities/order' && /report daily/.test(e.message) && /amount/.test(e.message),
        ),
        JSON.stringify(refused.errors),
      );
      const retyped = {
        ...SALES,
        entities: { ...SALES.entities, order: { ...SALES.entities.order, fields: { ...kept, amount: { type: 'string' } } } },
      };
      expectProblem(await api.put(`/t/${tenant}/modules/sales`, retyped), 400, 'validation_failed');
      const withoutOrders = { ...SALES, entities: { customer: SALES.entities.customer } };
      expectProblem(await api.put(`/t/${tenant}/modules/sales`, withoutOrders), 400, 'validation_failed');
      assert.equal(expectStatus(await api.get(`/t/${tenant}/modules/sales`), 200).version, 1, 'nothing changed');
      // A change the report survives goes through; without the report, so does the one it refused.
      const widened = {
        ...SALES,
        entities: {
          ...SALES.entities,
          order: { ...SALES.entities.order, fields: { ...kept, amount: { type: 'number' }, extra: { type: 'string' } } },
        },
      };
      expectStatus(await api.put(`/t/${tenant}/modules/sales`, widened), 200);
      expectStatus(await api.delete(`/t/${tenant}/reports/daily`), 200);
      expectStatus(await api.put(`/t/${tenant}/modules/sales`, withoutAmount), 200);
    });

    it('fails a report with more groups than the limit', async () => {
      const tenant = await salesTenant(api, 'rf');
      expectStatus(await api.put(`/t/${tenant}/reports/many`, { entity: 'sales.order', groupBy: ['customer'], measures: ['count'] }), 201);
      for (let i = 0; i < MAX_GROUPS; i += 1) expectStatus(await api.post(orders(tenant), { customer: `c${i}` }), 201);
      const problem = expectProblem(
        await api.get(`/t/${tenant}/reports/many/data?after=${await head(api, tenant)}`),
        400,
        'validation_failed',
      );
      assert.equal(problem.reason, 'too_many_groups');
      assert.equal(expectStatus(await api.get(`/t/${tenant}/reports/many`), 200).status, 'failed');
    });

    it('authorizes: admin to define, read on the entity without row limit or hidden report fields to read', async () => {
      const tenant = await salesTenant(api, 'ra');
      expectStatus(await api.put(`/t/${tenant}/reports/daily`, REPORT), 201);
      const { app } = platform;
      const reader = await userWithRole(app, api, tenant, {
        name: 'reader',
        permissions: [
          { resource: 'sales.order', actions: ['read'] },
          { resource: 'reports', actions: ['read'] },
        ],
      });
      const limited = await userWithRole(app, api, tenant, {
        name: 'limited',
        permissions: [{ resource: 'sales.order', actions: ['read'], where: { status: 'open' } }],
      });
      const hiding = await userWithRole(app, api, tenant, {
        name: 'hiding',
        permissions: [{ resource: 'sales.order', actions: ['read'], hiddenFields: ['amount'] }],
      });
      const none = await userWithRole(app, api, tenant, { name: 'none', permissions: [{ resource: 'reports', actions: ['read'] }] });
      const position = await head(api, tenant);
      expectStatus(await reader.get(`/t/${tenant}/reports/daily/data?after=${position}`), 200);
      expectProblem(await limited.get(`/t/${tenant}/reports/daily/data`), 403, 'forbidden');
      expectProblem(await hiding.get(`/t/${tenant}/reports/daily/data`), 403, 'forbidden');
      expectProblem(await none.get(`/t/${tenant}/reports/daily/data`), 403, 'forbidden');
      expectProblem(await reader.put(`/t/${tenant}/reports/other`, REPORT), 403, 'forbidden');
      expectProblem(await reader.delete(`/t/${tenant}/reports/daily`), 403, 'forbidden');
      expectProblem(await limited.get(`/t/${tenant}/reports`), 403, 'forbidden');
      expectProblem(await apiClient(app).get(`/t/${tenant}/reports/daily/data`), 401, 'unauthorized');
      expectStatus(await api.delete(`/t/${tenant}/reports/daily`), 200);
      expectProblem(await reader.get(`/t/${tenant}/reports/daily/data`), 404, 'not_found');
    });

    it("drops a deleted tenant's report versions, groups and member rows", async () => {
      const tenant = await salesTenant(api, 'rdel');
      expectStatus(await api.put(`/t/${tenant}/reports/gone`, REPORT), 201);
      await reportData(api, tenant, 'gone', await head(api, tenant));
      const store = await openReportStore(storageConfig(config));
      try {
        assert.equal((await store.versions({ tenant, report: 'gone' })).length, 1);
        expectStatus(await api.delete(`/t/central/tenants/${tenant}`), 204);
        for (let waited = 0; waited < 5000 && (await store.versions({ tenant, report: 'gone' })).length > 0; waited += 50)
          await new Promise((resolve) => setTimeout(resolve, 50));
        assert.deepEqual(await store.versions({ tenant, report: 'gone' }), []);
      } finally {
        await store.close();
      }
    });

    it('streams only the changed groups over SSE', async () => {
      const tenant = await salesTenant(api, 'rl');
      expectStatus(
        await api.put(`/t/${tenant}/reports/byStatus`, { entity: 'sales.order', groupBy: ['status'], measures: ['count'] }),
        201,
      );
      expectStatus(await api.post(orders(tenant), { customer: 'a', status: 'open' }), 201);
      await reportData(api, tenant, 'byStatus', await head(api, tenant));
      const address = await platform.app.listen({ port: 0, host: '127.0.0.1' });
      const { port } = platform.app.server.address() as AddressInfo;
      void address;
      const token = (api as unknown as { token?: string }).token ?? (await centralAdminToken(platform.app));
      const frames: string[] = [];
      const req = request({
        port,
        host: '127.0.0.1',
        path: `/t/${tenant}/reports/byStatus/live`,
        headers: { authorization: `Bearer ${token}` },
      });
      const received = new Promise<string>((resolve, reject) => {
        req.on('response', (res) => {
          assert.equal(res.statusCode, 200);
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            frames.push(chunk);
            if (chunk.startsWith(': subscribed')) {
              api.post(orders(tenant), { customer: 'b', status: 'paid' }).catch(reject);
            }
            const event = frames
              .join('')
              .split('\n\n')
              .find((block) => block.includes('event: groups'));
            if (event) resolve(event);
          });
        });
        req.on('error', reject);
      });
      req.end();
      const event = await received;
      req.destroy();
      const data = JSON.parse(
        event
          .split('\n')
          .find((line) => line.startsWith('data: '))
          ?.slice(6) ?? '{}',
      );
      assert.deepEqual(data.groups, [{ key: { status: 'paid' }, count: 1 }]);
      assert.match(event, /^id: [0-9]+/);
    });
  });
}

/** A processor stopped mid-stream (the platform closed while it works) resumes on the same database without counting twice. */
export function restartContract(label: string, newConfig: () => Promise<Config>): void {
  describe(`reports after a restart (${label})`, () => {
    it('resumes without double counting', async () => {
      const config = await newConfig();
      let platform = await startTestPlatform(config);
      let api = apiClient(platform.app, await centralAdminToken(platform.app));
      const tenant = await salesTenant(api, 'rr');
      expectStatus(await api.put(`/t/${tenant}/reports/daily`, REPORT), 201);
      const ids: string[] = [];
      for (const op of fc.sample(ops, { numRuns: 4, seed: 11 }).flat()) await run(api, tenant, op, ids);
      await platform.close();
      platform = await startTestPlatform(config);
      try {
        api = apiClient(platform.app, await centralAdminToken(platform.app));
        for (const op of fc.sample(ops, { numRuns: 2, seed: 12 }).flat()) await run(api, tenant, op, ids);
        const data = await reportData(api, tenant, 'daily', await head(api, tenant));
        assert.deepEqual(data.groups, await expected(api, tenant));
      } finally {
        await platform.close();
      }
    });

    it('counts every event once when two processes maintain the reports of one database', async () => {
      const config = await newConfig();
      const platforms = [await startTestPlatform(config), await startTestPlatform(config)];
      try {
        const [first, second] = await Promise.all(platforms.map(async (p) => apiClient(p.app, await centralAdminToken(p.app))));
        if (!first || !second) throw new Error('two platforms');
        const tenant = await salesTenant(first, 'r2');
        expectStatus(await first.put(`/t/${tenant}/reports/daily`, REPORT), 201);
        const ids: string[] = [];
        const samples = fc.sample(ops, { numRuns: 6, seed: 21 });
        for (const [i, sample] of samples.entries()) for (const op of sample) await run(i % 2 ? second : first, tenant, op, ids);
        const position = await head(first, tenant);
        const want = await expected(first, tenant);
        assert.deepEqual((await reportData(first, tenant, 'daily', position)).groups, want);
        assert.deepEqual((await reportData(second, tenant, 'daily', position)).groups, want);
      } finally {
        for (const p of platforms) await p.close();
      }
    });

    it('brings the groups of batches another process committed to the live viewers of this one', async () => {
      const config = await newConfig();
      const [writer, viewer] = [await startTestPlatform(config), await startTestPlatform(config)];
      let live: SseStream | undefined;
      try {
        const api = apiClient(writer.app, await centralAdminToken(writer.app));
        const tenant = await salesTenant(api, 'rv');
        const definition = { entity: 'sales.order', groupBy: ['status'], measures: ['count'] };
        expectStatus(await api.put(`/t/${tenant}/reports/byStatus`, definition), 201);
        expectStatus(await api.post(orders(tenant), { customer: 'a', status: 'open' }), 201);
        await reportData(api, tenant, 'byStatus', await head(api, tenant));
        const base = await viewer.app.listen({ port: 0, host: '127.0.0.1' });
        live = await SseStream.open(`${base}/t/${tenant}/reports/byStatus/live`, { token: await centralAdminToken(viewer.app) });
        assert.equal(live.status, 200);
        const stream = live;
        const counts = () => stream.events.filter((e) => e.event === 'groups').flatMap((e) => JSON.parse(e.data ?? '{}').groups);
        // Writes through the writer only: its processor, woken by its own appends, commits their batches.
        for (const [index, status] of ['paid', 'paid', 'open', 'shipped'].entries()) {
          expectStatus(await api.post(orders(tenant), { customer: `c${index}`, status }), 201);
          await stream.until(() => counts().length > index, `the groups of write ${index + 1} on the viewer`);
        }
        assert.deepEqual(counts(), [
          { key: { status: 'paid' }, count: 1 },
          { key: { status: 'paid' }, count: 2 },
          { key: { status: 'open' }, count: 2 },
          // `head` wrote one shipped marker before.
          { key: { status: 'shipped' }, count: 2 },
        ]);
      } finally {
        live?.close();
        for (const p of [writer, viewer]) await p.close();
      }
    });
  });
}
