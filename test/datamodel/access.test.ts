import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { type AccessGuards, createAccessGuards } from '../../src/datamodel/access.js';
import { createDataContext } from '../../src/datamodel/index.js';
import type { RecordView } from '../../src/datamodel/records.js';
import { sqliteDocumentStore } from '../../src/documents/sqlite.js';
import type { EventStore } from '../../src/eventstore/index.js';
import { openSqliteDatabase, sqliteEventStore } from '../../src/eventstore/sqlite/store.js';
import { type Authenticate, type AuthenticateOptions, buildApp } from '../../src/http/index.js';
import { principalFor, type RoleDefinition } from '../../src/identity/permissions.js';
import { AppError, createLogger, isAppError } from '../../src/kernel/index.js';

/*
 * The data routes enforce the caller's permissions: actions, rows (`where`) and hidden fields. The data
 * context runs in-process on SQLite; a test Authenticate resolves `x-test-as: <user>:<role>,<role>`
 * against the roles below with the real principalFor.
 */

const TENANT = 'acme';
const HR = {
  entities: {
    employee: {
      fields: {
        name: { type: 'string', required: true },
        owner: { type: 'string' },
        salary: { type: 'number' },
        team: { type: 'enum', values: ['a', 'b'], default: 'a' },
      },
      commands: { promote: { set: { team: 'b' }, emits: 'EmployeePromoted' } },
    },
    note: { fields: { text: { type: 'string' } } },
  },
};
const CRM = { entities: { customer: { fields: { name: { type: 'string' } } } } };

const ROLES: RoleDefinition[] = [
  {
    name: 'clerk',
    permissions: [
      {
        resource: 'hr.employee',
        actions: ['read', 'create', 'update', 'delete', 'command:promote'],
        where: { owner: '$user' },
        hiddenFields: ['salary'],
      },
    ],
  },
  { name: 'viewer', permissions: [{ resource: 'hr.employee', actions: ['read'], hiddenFields: ['salary'] }] },
  { name: 'hr-reader', permissions: [{ resource: 'hr.*', actions: ['read'] }] },
  { name: 'auditor', permissions: [{ resource: '*', actions: ['read'] }] },
  { name: 'crm-reader', permissions: [{ resource: 'crm.customer', actions: ['read'] }] },
  { name: 'misfit', permissions: [{ resource: 'crm.customer', actions: ['read'], where: { owner: '$user' } }] },
];

const EMPLOYEES = [
  { id: 'e1', name: 'Ada', owner: 'ada', salary: 100, team: 'a' },
  { id: 'e2', name: 'Bob', owner: 'bob', salary: 200, team: 'a' },
  { id: 'e3', name: 'Cy', owner: 'ada', salary: 300, team: 'b' },
];

const root = mkdtempSync(join(tmpdir(), 'bo-access-'));
let app: FastifyInstance;
let events: EventStore;
let guards: AccessGuards;
/** The options of every Authenticate call, by route path. */
const authenticated: { url: string; options: AuthenticateOptions | undefined }[] = [];

const authenticate: Authenticate = async (request, tenant, options) => {
  authenticated.push({ url: request.url, options });
  const as = request.headers['x-test-as'];
  if (typeof as !== 'string') throw new AppError('unauthorized', 'x-test-as is required');
  const [user = '', roles = ''] = as.split(':');
  return principalFor({ tenant, user, roles: roles.split(',').filter(Boolean) }, ROLES);
};

type Reply = { status: number; body: ReturnType<typeof JSON.parse> };

async function call(as: string, method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', url: string, body?: unknown): Promise<Reply> {
  const response = await app.inject({
    method,
    url: `/t/${TENANT}${url}`,
    headers: { 'x-test-as': as, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
  });
  return { status: response.statusCode, body: response.body === '' ? undefined : JSON.parse(response.body) };
}

const ADMIN = 'root:admin';
const ADA = 'ada:clerk';
const VIEWER = 'val:viewer';

function expect(reply: Reply, status: number, code?: string): ReturnType<typeof JSON.parse> {
  assert.equal(reply.status, status, JSON.stringify(reply.body));
  if (code) assert.equal(reply.body.code, code);
  return reply.body;
}

const list = (as: string, query = '') => call(as, 'GET', `/data/hr/employee${query}`);
const ids = (reply: Reply) => (expect(reply, 200).items as { id: string }[]).map((item) => item.id);
const filter = (value: unknown) => `?filter=${encodeURIComponent(JSON.stringify(value))}`;
/** The events the caller sees from the start of the log, and the position it may continue from. */
const eventsSeen = async (as: string) => expect(await call(as, 'GET', '/events?limit=1000'), 200) as { items: Event[]; position: string };
type Event = { streamId: string; type: string; data: Record<string, unknown> };

before(async () => {
  const db = openSqliteDatabase({ path: join(root, 'access.db'), synchronous: 'NORMAL' });
  events = sqliteEventStore(db);
  const documents = sqliteDocumentStore(db);
  const data = createDataContext({ events, documents, authenticate });
  guards = createAccessGuards({ documents, registry: data.registry });
  app = await buildApp({ logger: createLogger('silent'), bodyLimitBytes: 1 << 20, contexts: [{ plugin: data.plugin }] });
  expect(await call(ADMIN, 'PUT', '/modules/hr', HR), 201);
  expect(await call(ADMIN, 'PUT', '/modules/crm', CRM), 201);
  for (const employee of EMPLOYEES) expect(await call(ADMIN, 'POST', '/data/hr/employee', employee), 201);
  expect(await call(ADMIN, 'PATCH', '/data/hr/employee/e2', { salary: 250 }), 200);
  expect(await call(ADMIN, 'POST', '/data/hr/note', { id: 'n1', text: 'hello' }), 201);
  expect(await call(ADMIN, 'POST', '/data/crm/customer', { id: 'c1', name: 'Dee' }), 201);
});

after(async () => {
  await app?.close();
  await events?.close();
  rmSync(root, { recursive: true, force: true });
});

describe('actions', () => {
  it('refuses every read of an entity without read on it, whether the record exists or not', async () => {
    const reader = 'cid:crm-reader';
    for (const url of [
      '/data/hr/employee',
      '/data/hr/employee/e1',
      '/data/hr/employee/nope',
      '/data/hr/employee/e1/history',
      '/data/hr/employee/aggregate?measures=count',
    ]) {
      expect(await call(reader, 'GET', url), 403, 'forbidden');
    }
    expect(await call(reader, 'GET', '/data/crm/customer/c1'), 200);
  });

  it('refuses writes the roles do not grant', async () => {
    expect(await call(VIEWER, 'POST', '/data/hr/employee', { name: 'Zed' }), 403, 'forbidden');
    expect(await call(VIEWER, 'PATCH', '/data/hr/employee/e1', { name: 'Zed' }), 403, 'forbidden');
    expect(await call(VIEWER, 'DELETE', '/data/hr/employee/e1'), 403, 'forbidden');
    expect(await call(VIEWER, 'POST', '/data/hr/employee/e1/promote'), 403, 'forbidden');
    expect(await call('ada:hr-reader', 'POST', '/data/hr/employee/e1/promote'), 403, 'forbidden');
  });

  it('shows the events of the entities the caller may read only, and never module definitions without modules read', async () => {
    const seen = await eventsSeen('cid:crm-reader');
    assert.deepEqual(
      seen.items.map((event) => event.streamId),
      ['crm.customer:c1'],
    );
    const all = await eventsSeen(ADMIN);
    assert.equal(seen.position, all.position, 'paging continues past the skipped events');
  });

  it('needs modules read to read module definitions and modules admin to change them', async () => {
    for (const as of [ADA, 'cid:crm-reader', 'hal:hr-reader']) {
      expect(await call(as, 'GET', '/modules'), 403, 'forbidden');
      expect(await call(as, 'GET', '/modules/hr'), 403, 'forbidden');
    }
    expect(await call('aud:auditor', 'GET', '/modules/hr'), 200);
    assert.equal(expect(await call('aud:auditor', 'GET', '/modules'), 200).items.length, 2);
    expect(await call('aud:auditor', 'PUT', '/modules/hr', HR), 403, 'forbidden');
    expect(await call(ADMIN, 'PUT', '/modules/hr', HR), 200);
  });

  it('tells Authenticate which entity a data route serves (group-shared entities admit member tenants)', async () => {
    authenticated.length = 0;
    await call(VIEWER, 'GET', '/data/hr/employee/e1');
    await call(VIEWER, 'GET', '/data/hr/employee/e1/history');
    await call(VIEWER, 'GET', '/data/hr/employee?limit=1');
    await call(VIEWER, 'GET', '/data/hr/employee/aggregate');
    await call(VIEWER, 'PATCH', '/data/hr/employee/e1', {});
    await call(VIEWER, 'GET', '/events');
    const entities = authenticated.map((entry) => entry.options?.entity);
    assert.deepEqual(entities.slice(0, 5), Array(5).fill({ module: 'hr', entity: 'employee' }));
    assert.equal(entities[5], undefined);
  });
});

describe('hidden fields', () => {
  it('are absent from a record, a past version, a list and its history', async () => {
    const record = expect(await call(VIEWER, 'GET', '/data/hr/employee/e2'), 200);
    assert.deepEqual(record.data, { name: 'Bob', owner: 'bob', team: 'a' });
    const past = expect(await call(VIEWER, 'GET', `/data/hr/employee/e2?asOf=${record.position}`), 200);
    assert.equal(past.data.salary, undefined);
    const items = expect(await list(VIEWER), 200).items as { data: Record<string, unknown> }[];
    assert.equal(items.length, 3);
    for (const item of items) assert.ok(!('salary' in item.data), JSON.stringify(item));
    const history = expect(await call(VIEWER, 'GET', '/data/hr/employee/e2/history'), 200) as Event[];
    assert.deepEqual(
      history.map((event) => [event.type, event.data]),
      [
        ['EmployeeCreated', { name: 'Bob', owner: 'bob', team: 'a' }],
        ['EmployeeUpdated', {}],
      ],
    );
  });

  it('are absent from the event log', async () => {
    const seen = await eventsSeen(VIEWER);
    const employees = seen.items.filter((event) => event.streamId.startsWith('hr.employee:'));
    assert.ok(employees.length >= 4);
    for (const event of employees) assert.ok(!('salary' in event.data), JSON.stringify(event));
    assert.ok(!seen.items.some((event) => !event.streamId.startsWith('hr.employee:')), 'nothing the viewer may not read');
  });

  it('are absent from write responses', async () => {
    const created = expect(await call(ADA, 'POST', '/data/hr/employee', { id: 'w1', name: 'Wes', owner: 'ada' }), 201);
    assert.deepEqual(created.data, { name: 'Wes', owner: 'ada', team: 'a' });
    expect(await call(ADMIN, 'PATCH', '/data/hr/employee/w1', { salary: 10 }), 200);
    const patched = expect(await call(ADA, 'PATCH', '/data/hr/employee/w1', { name: 'Wesley' }), 200);
    assert.deepEqual(patched.data, { name: 'Wesley', owner: 'ada', team: 'a' });
    const promoted = expect(await call(ADA, 'POST', '/data/hr/employee/w1/promote'), 200);
    assert.deepEqual(promoted.data, { name: 'Wesley', owner: 'ada', team: 'b' });
    expect(await call(ADA, 'DELETE', '/data/hr/employee/w1'), 200);
  });

  it('cannot be probed by a filter, a sort, a selection, a groupBy or a measure', async () => {
    for (const query of [
      filter({ salary: { $gt: 150 } }),
      filter({ $or: [{ name: 'Ada' }, { $not: { salary: 100 } }] }),
      '?sort=-salary',
      '?fields=name,salary',
    ]) {
      expect(await list(VIEWER, query), 403, 'forbidden');
    }
    for (const query of ['?groupBy=salary', '?measures=count,max:salary', `?measures=count&${filter({ salary: 100 }).slice(1)}`]) {
      expect(await call(VIEWER, 'GET', `/data/hr/employee/aggregate${query}`), 403, 'forbidden');
    }
    assert.deepEqual(ids(await list(VIEWER, `${filter({ team: 'b' })}&sort=-name&fields=name`)), ['e3']);
  });

  it('cannot be written', async () => {
    expect(await call(ADA, 'POST', '/data/hr/employee', { name: 'Sal', owner: 'ada', salary: 1 }), 403, 'forbidden');
    expect(await call(ADA, 'PATCH', '/data/hr/employee/e1', { salary: 1 }), 403, 'forbidden');
    expect(await call(ADA, 'PATCH', '/data/hr/employee/e1', { salary: null }), 403, 'forbidden');
    assert.equal(expect(await call(ADMIN, 'GET', '/data/hr/employee/e1'), 200).data.salary, 100);
  });
});

describe('rows limited by where with $user', () => {
  it('lists and aggregates only the caller’s rows, also under its own filter and in the past', async () => {
    assert.deepEqual(ids(await list(ADA, '?sort=id')), ['e1', 'e3']);
    assert.deepEqual(ids(await list(ADA, filter({ team: 'b' }))), ['e3']);
    assert.deepEqual(ids(await list(ADA, filter({ owner: 'bob' }))), []);
    assert.deepEqual(ids(await list('bob:clerk')), ['e2']);
    const groups = expect(await call(ADA, 'GET', '/data/hr/employee/aggregate?groupBy=team&measures=count'), 200).groups;
    assert.deepEqual(groups, [
      { key: { team: 'a' }, count: 1 },
      { key: { team: 'b' }, count: 1 },
    ]);
    const position = expect(await list(ADMIN), 200).position;
    assert.deepEqual(ids(await list(ADA, `?asOf=${position}&sort=id`)), ['e1', 'e3']);
  });

  it('keeps the error paths of the caller’s own filter', async () => {
    const problem = expect(await list(ADA, filter({ nope: 1 })), 400, 'validation_failed');
    assert.deepEqual(
      problem.errors.map((error: { path: string }) => error.path),
      ['/filter/nope'],
    );
  });

  it('answers 404 for another owner’s record, as if it did not exist', async () => {
    const missing = expect(await call(ADA, 'GET', '/data/hr/employee/nope'), 404, 'not_found');
    const hidden = expect(await call(ADA, 'GET', '/data/hr/employee/e2'), 404, 'not_found');
    assert.equal(hidden.detail, missing.detail.replace('nope', 'e2'));
    const position = expect(await call(ADMIN, 'GET', '/data/hr/employee/e2'), 200).position;
    expect(await call(ADA, 'GET', `/data/hr/employee/e2?asOf=${position}`), 404, 'not_found');
    expect(await call(ADA, 'GET', '/data/hr/employee/e2/history'), 404, 'not_found');
    expect(await call(ADA, 'PATCH', '/data/hr/employee/e2', { name: 'Bobby' }), 404, 'not_found');
    expect(await call(ADA, 'POST', '/data/hr/employee/e2/promote'), 404, 'not_found');
    expect(await call(ADA, 'DELETE', '/data/hr/employee/e2'), 404, 'not_found');
    const e2 = expect(await call(ADMIN, 'GET', '/data/hr/employee/e2'), 200);
    assert.deepEqual([e2.version, e2.data.name, e2.data.team], [2, 'Bob', 'a'], 'nothing was written');
  });

  it('reads, patches and runs commands on the caller’s own records', async () => {
    expect(await call(ADA, 'GET', '/data/hr/employee/e1'), 200);
    assert.equal(expect(await call(ADA, 'GET', '/data/hr/employee/e1/history'), 200).length, 1);
    assert.equal(expect(await call(ADA, 'PATCH', '/data/hr/employee/e1', { name: 'Ada L.' }), 200).data.name, 'Ada L.');
  });

  it('refuses to create a record for another owner, or none', async () => {
    expect(await call(ADA, 'POST', '/data/hr/employee', { name: 'Eve', owner: 'bob' }), 403, 'forbidden');
    expect(await call(ADA, 'POST', '/data/hr/employee', { name: 'Eve' }), 403, 'forbidden');
    const mine = expect(await call(ADA, 'POST', '/data/hr/employee', { name: 'Eve', owner: 'ada' }), 201);
    assert.deepEqual(ids(await list(ADMIN, filter({ name: 'Eve' }))), [mine.id]);
  });

  it('refuses a patch that would give the record away', async () => {
    expect(await call(ADA, 'PATCH', '/data/hr/employee/e3', { owner: 'bob' }), 403, 'forbidden');
    expect(await call(ADA, 'PATCH', '/data/hr/employee/e3', { owner: null }), 403, 'forbidden');
    assert.equal(expect(await call(ADMIN, 'GET', '/data/hr/employee/e3'), 200).data.owner, 'ada');
  });

  it('honours If-Match against the version it checked', async () => {
    const current = expect(await call(ADA, 'GET', '/data/hr/employee/e3'), 200);
    const stale = await app.inject({
      method: 'PATCH',
      url: `/t/${TENANT}/data/hr/employee/e3`,
      headers: { 'x-test-as': ADA, 'content-type': 'application/json', 'if-match': `"${current.version - 1}"` },
      payload: JSON.stringify({ name: 'Cyd' }),
    });
    assert.equal(stale.statusCode, 409, stale.body);
    assert.equal(JSON.parse(stale.body).code, 'version_conflict');
  });

  it('shows in the event log only the events of the caller’s records, deletions included', async () => {
    const mine = expect(await call(ADA, 'POST', '/data/hr/employee', { id: 'gone', name: 'Gus', owner: 'ada' }), 201);
    assert.equal(mine.id, 'gone');
    expect(await call(ADA, 'DELETE', '/data/hr/employee/gone'), 200);
    const seen = await eventsSeen(ADA);
    const streams = new Set(seen.items.map((event) => event.streamId));
    assert.ok(streams.has('hr.employee:e1') && streams.has('hr.employee:e3') && streams.has('hr.employee:gone'));
    assert.ok(!streams.has('hr.employee:e2'), 'another owner’s record');
    assert.ok(![...streams].some((stream) => !stream.startsWith('hr.employee:')), [...streams].join());
    assert.deepEqual(
      seen.items.filter((event) => event.streamId === 'hr.employee:gone').map((event) => event.type),
      ['EmployeeCreated', 'EmployeeDeleted'],
    );
    for (const event of seen.items) assert.ok(!('salary' in event.data));
    assert.equal(seen.position, (await eventsSeen(ADMIN)).position);
  });

  it('grants nothing on an entity whose fields the where does not fit', async () => {
    expect(await call('mo:misfit', 'GET', '/data/crm/customer'), 403, 'forbidden');
    expect(await call('mo:misfit', 'GET', '/data/crm/customer/c1'), 403, 'forbidden');
    assert.deepEqual((await eventsSeen('mo:misfit')).items, []);
  });
});

describe('resource patterns', () => {
  it('lets <module>.* read every entity of the module and nothing else', async () => {
    const reader = 'hal:hr-reader';
    assert.equal(expect(await call(reader, 'GET', '/data/hr/employee/e1'), 200).data.salary, 100);
    expect(await call(reader, 'GET', '/data/hr/note/n1'), 200);
    expect(await call(reader, 'GET', '/data/crm/customer/c1'), 403, 'forbidden');
    const streams = (await eventsSeen(reader)).items.map((event) => event.streamId);
    assert.ok(streams.includes('hr.note:n1') && streams.includes('hr.employee:e1'));
    assert.ok(!streams.some((stream) => stream.startsWith('crm.') || stream.startsWith('module:')));
  });

  it('lets * read every entity and the module definitions', async () => {
    const auditor = 'aud:auditor';
    expect(await call(auditor, 'GET', '/data/hr/note/n1'), 200);
    expect(await call(auditor, 'GET', '/data/crm/customer/c1'), 200);
    expect(await call(auditor, 'POST', '/data/crm/customer', { name: 'No' }), 403, 'forbidden');
    const seen = await eventsSeen(auditor);
    assert.deepEqual(seen, await eventsSeen(ADMIN));
  });

  it('lets the admin see every row and field', async () => {
    const items = expect(await list(ADMIN, filter({ salary: { $gte: 100 } })), 200).items as { data: { salary: number } }[];
    assert.deepEqual(
      items.map((item) => item.data.salary).sort((a, b) => a - b),
      [100, 250, 300],
    );
    const types = (await eventsSeen(ADMIN)).items.map((event) => event.type);
    assert.ok(types.includes('ModuleDefined') && types.includes('EmployeeDeleted'));
  });
});

describe('row-limited writes racing another writer', () => {
  const clerkGuard = (action: string) =>
    guards.forEntity(
      principalFor({ tenant: TENANT, user: 'ada', roles: ['clerk'] }, ROLES),
      { tenant: TENANT, module: 'hr', entity: 'employee' },
      action,
    );
  const version = async (id: string) => expect(await call(ADMIN, 'GET', `/data/hr/employee/${id}`), 200).version as number;

  it('are pinned to the version checked, and checked again after losing the race', async () => {
    const guard = await clerkGuard('update');
    const before = await version('e1');
    const pinned: (number | undefined)[] = [];
    const view = await guard.write('e1', {}, async (options) => {
      pinned.push(options.expectedVersion);
      if (pinned.length > 1) return { id: 'e1', version: 0 } as RecordView;
      expect(await call(ADMIN, 'PATCH', '/data/hr/employee/e1', { team: 'b' }), 200);
      throw new AppError('version_conflict', 'another writer got in between');
    });
    assert.equal(view.id, 'e1');
    assert.deepEqual(pinned, [before, before + 1]);
  });

  it('answer 404 when the record left the caller’s rows meanwhile', async () => {
    const guard = await clerkGuard('delete');
    let runs = 0;
    const attempt = guard.write('e3', {}, async () => {
      runs += 1;
      expect(await call(ADMIN, 'PATCH', '/data/hr/employee/e3', { owner: 'bob' }), 200);
      throw new AppError('version_conflict', 'another writer got in between');
    });
    await assert.rejects(attempt, (error) => isAppError(error, 'not_found'));
    assert.equal(runs, 1);
  });

  it('do not retry when the caller sent If-Match', async () => {
    const guard = await clerkGuard('update');
    const current = await version('e1');
    let runs = 0;
    const attempt = guard.write('e1', { expectedVersion: current }, async () => {
      runs += 1;
      throw new AppError('version_conflict', 'lost');
    });
    await assert.rejects(attempt, (error) => isAppError(error, 'version_conflict'));
    assert.equal(runs, 1);
  });
});
