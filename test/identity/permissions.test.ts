import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FILTER_LIMITS } from '../../src/documents/query/index.js';
import { FULL_ACCESS } from '../../src/http/index.js';
import { ADMIN_ROLE, checkRoleDefinition, type Permission, principalFor, type RoleDefinition } from '../../src/identity/permissions.js';
import type { Access, JsonValue } from '../../src/kernel/index.js';

const role = (name: string, ...permissions: Permission[]): RoleDefinition => ({ name, permissions });
const paths = (input: unknown) => checkRoleDefinition(input).map((issue) => issue.path);
const withPermission = (permission: unknown) => ({ name: 'clerk', permissions: [permission] });

/** The role definition has issues at exactly these paths (every one with a message). */
function assertIssues(input: unknown, expected: string[]): void {
  const issues = checkRoleDefinition(input);
  assert.deepEqual([...new Set(issues.map((issue) => issue.path))], expected, JSON.stringify(issues));
  for (const issue of issues) assert.ok(issue.message.length > 0);
}

/**
 * Given the tenant's roles, when a caller holding some of them asks, then its access to a resource is:
 *
 *   given(clerk).when(['clerk']).then('sales.order', 'read', { hiddenFields: [] })
 */
function given(...roles: RoleDefinition[]) {
  return {
    when(held: string[], user = 'ada') {
      const principal = principalFor({ tenant: 'acme', user, roles: held }, roles);
      return {
        principal,
        // biome-ignore lint/suspicious/noThenProperty: the Given/When/Then vocabulary; this object is never awaited
        then(resource: string, action: string, expected: Access | undefined) {
          assert.deepEqual(principal.access(resource, action), expected, `${action} on ${resource}`);
          return this;
        },
      };
    },
  };
}

describe('checkRoleDefinition', () => {
  it('accepts every resource form, action and a where using $user', () => {
    const input = role(
      'order-clerk_2',
      { resource: 'sales.order', actions: ['read', 'create', 'update', 'delete', 'command:pay'], where: { owner: '$user' } },
      { resource: 'sales.*', actions: ['read'], hiddenFields: ['amount', 'note'] },
      { resource: '*', actions: ['read'] },
      { resource: 'identity', actions: ['admin'] },
      { resource: 'modules', actions: ['read'] },
      { resource: 'keys', actions: ['read'] },
      { resource: 'messaging', actions: ['admin'] },
      { resource: 'reports', actions: ['read', 'admin'] },
      { resource: 'tenants', actions: ['read'] },
      {
        resource: 'crm.customer',
        actions: ['admin'],
        where: {
          $or: [{ owner: '$user' }, { team: { $in: ['a', '$user', null] } }],
          amount: { $gte: 0, $not: { $gt: 100 } },
          name: { $startsWith: 'A', $contains: 'x', $exists: true, $ne: null },
          $not: { status: 'closed' },
          $and: [{ id: { $nin: ['x'] } }],
        },
      },
    );
    assert.deepEqual(checkRoleDefinition(input), []);
  });

  it('refuses to define the built-in admin role', () => {
    assertIssues(role(ADMIN_ROLE, { resource: '*', actions: ['read'] }), ['/name']);
  });

  it('refuses names that do not match the naming rule', () => {
    for (const name of ['', 'Clerk', '1clerk', 'a'.repeat(64), 'clerk.x', 3]) assertIssues({ name, permissions: [] }, ['/name']);
  });

  it('refuses what is not a role object, unknown properties and a missing permission list', () => {
    assertIssues(null, ['']);
    assertIssues([], ['']);
    assertIssues({ name: 'clerk', permissions: [], extra: 1 }, ['/extra']);
    assertIssues({ name: 'clerk' }, ['/permissions']);
    assertIssues(withPermission({ resource: '*', actions: ['read'], grant: true }), ['/permissions/0/grant']);
    assertIssues(withPermission('*'), ['/permissions/0']);
  });

  it('refuses more than 100 permissions', () => {
    const many = Array.from({ length: 101 }, () => ({ resource: '*', actions: ['read'] }));
    assertIssues({ name: 'clerk', permissions: many }, ['/permissions']);
    assert.deepEqual(paths({ name: 'clerk', permissions: many.slice(0, 100) }), []);
  });

  it('refuses resources that are neither an entity, a module, * nor a platform resource', () => {
    for (const resource of ['sales', 'Sales.order', 'sales.order.line', 'sales.', '.order', 'sales.*.x', '**', 'audit', 'sales.Order', 7]) {
      assertIssues(withPermission({ resource, actions: ['read'] }), ['/permissions/0/resource']);
    }
  });

  it('refuses empty, unknown and repeated actions with the path of each', () => {
    assertIssues(withPermission({ resource: '*', actions: [] }), ['/permissions/0/actions']);
    assertIssues(withPermission({ resource: '*', actions: 'read' }), ['/permissions/0/actions']);
    assertIssues(withPermission({ resource: '*', actions: ['read', 'write'] }), ['/permissions/0/actions/1']);
    assertIssues(withPermission({ resource: '*', actions: ['read', 'update', 'read'] }), ['/permissions/0/actions/2']);
    assertIssues(withPermission({ resource: '*', actions: ['command:', 'command:Pay', 'command:pay', 'command'] }), [
      '/permissions/0/actions/0',
      '/permissions/0/actions/1',
      '/permissions/0/actions/3',
    ]);
  });

  it('allows only read and admin on a platform resource, and no where or hiddenFields there', () => {
    assertIssues(withPermission({ resource: 'identity', actions: ['read', 'update'] }), ['/permissions/0/actions/1']);
    assertIssues(withPermission({ resource: 'modules', actions: ['read'], where: { owner: '$user' } }), ['/permissions/0/where']);
    assertIssues(withPermission({ resource: 'keys', actions: ['read'], hiddenFields: ['kid'] }), ['/permissions/0/hiddenFields']);
  });

  it('refuses a where that is not the shape of a query filter, with the path of each problem', () => {
    const where = (filter: unknown) => withPermission({ resource: 'sales.order', actions: ['read'], where: filter });
    const at = (suffix: string) => `/permissions/0/where${suffix}`;
    assertIssues(where('owner = $user'), [at('')]);
    assertIssues(where([{ owner: '$user' }]), [at('')]);
    assertIssues(where({ $where: 'x' }), [at('/$where')]);
    assertIssues(where({ 'a/b': 1 }), [at('/a~1b')]);
    assertIssues(where({ owner: { $like: 'a' } }), [at('/owner/$like')]);
    assertIssues(where({ owner: {} }), [at('/owner')]);
    assertIssues(where({ owner: { name: 'x' } }), [at('/owner/name')]);
    assertIssues(where({ owner: ['a'] }), [at('/owner')]);
    assertIssues(where({ $or: [] }), [at('/$or')]);
    assertIssues(where({ $and: [{ a: 1 }, 'b'] }), [at('/$and/1')]);
    assertIssues(where({ amount: { $gt: null } }), [at('/amount/$gt')]);
    assertIssues(where({ amount: { $in: 'a' } }), [at('/amount/$in')]);
    assertIssues(where({ amount: { $in: [1, {}] } }), [at('/amount/$in')]);
    assertIssues(where({ amount: { $exists: 'yes' } }), [at('/amount/$exists')]);
    assertIssues(where({ name: { $startsWith: 1 } }), [at('/name/$startsWith')]);
    assertIssues(where({ name: 'x'.repeat(FILTER_LIMITS.stringLength + 1) }), [at('/name')]);
    assertIssues(where({ amount: Number.POSITIVE_INFINITY }), [at('/amount')]);
    assertIssues(where({ amount: { $in: Array.from({ length: FILTER_LIMITS.inValues + 1 }, (_, i) => i) } }), [at('/amount/$in')]);
  });

  it('refuses a where nested deeper than the query filter allows', () => {
    let filter: Record<string, unknown> = { owner: '$user' };
    for (let i = 0; i < FILTER_LIMITS.depth; i += 1) filter = { $not: filter };
    const issues = checkRoleDefinition(withPermission({ resource: '*', actions: ['read'], where: filter }));
    assert.equal(issues.length, 1, JSON.stringify(issues));
    assert.match(issues[0]?.path ?? '', /^\/permissions\/0\/where(\/\$not){8}$/);
  });

  it('refuses hiddenFields that are not distinct field names', () => {
    const hidden = (fields: unknown) => withPermission({ resource: 'sales.order', actions: ['read'], hiddenFields: fields });
    assertIssues(hidden('amount'), ['/permissions/0/hiddenFields']);
    assertIssues(hidden(['amount', 'Amount', 'id', 3, 'amount']), [
      '/permissions/0/hiddenFields/1',
      '/permissions/0/hiddenFields/2',
      '/permissions/0/hiddenFields/3',
      '/permissions/0/hiddenFields/4',
    ]);
  });
});

describe('principalFor', () => {
  const clerk = role('clerk', {
    resource: 'sales.order',
    actions: ['read', 'update'],
    where: { owner: '$user' },
    hiddenFields: ['amount'],
  });
  const salesReader = role('sales-reader', { resource: 'sales.*', actions: ['read'], hiddenFields: ['amount', 'note'] });
  const auditor = role('auditor', { resource: '*', actions: ['read'] });
  const manager = role('manager', { resource: 'sales.order', actions: ['admin'] });

  it('gives the built-in admin every action on every resource, nothing hidden', () => {
    given(clerk)
      .when([ADMIN_ROLE, 'clerk'])
      .then('sales.order', 'delete', FULL_ACCESS)
      .then('crm.customer', 'command:merge', FULL_ACCESS)
      .then('identity', 'admin', FULL_ACCESS)
      .then('tenants', 'admin', FULL_ACCESS);
  });

  it('grants nothing without roles, and ignores roles the caller does not hold', () => {
    given(clerk, auditor).when([]).then('sales.order', 'read', undefined).then('modules', 'read', undefined);
    given(clerk, auditor).when(['auditor-2']).then('sales.order', 'read', undefined);
  });

  it('does not let a stored role named admin stand for the built-in one', () => {
    given(role(ADMIN_ROLE, { resource: 'sales.order', actions: ['read'] }))
      .when(['clerk'])
      .then('sales.order', 'read', undefined);
  });

  it('grants only the listed actions on the exact entity, with the caller in place of $user', () => {
    given(clerk)
      .when(['clerk'], 'bob')
      .then('sales.order', 'read', { where: { owner: 'bob' }, hiddenFields: ['amount'] })
      .then('sales.order', 'update', { where: { owner: 'bob' }, hiddenFields: ['amount'] })
      .then('sales.order', 'delete', undefined)
      .then('sales.orderLine', 'read', undefined)
      .then('crm.order', 'read', undefined);
  });

  it('grants <module>.* on every entity of that module only', () => {
    given(salesReader)
      .when(['sales-reader'])
      .then('sales.order', 'read', { hiddenFields: ['amount', 'note'] })
      .then('sales.customer', 'read', { hiddenFields: ['amount', 'note'] })
      .then('crm.customer', 'read', undefined)
      .then('modules', 'read', undefined)
      .then('sales.order', 'create', undefined);
  });

  it('grants * on every entity and every platform resource', () => {
    given(auditor)
      .when(['auditor'])
      .then('sales.order', 'read', { hiddenFields: [] })
      .then('crm.customer', 'read', { hiddenFields: [] })
      .then('modules', 'read', FULL_ACCESS)
      .then('identity', 'read', FULL_ACCESS)
      .then('modules', 'admin', undefined)
      .then('sales.order', 'update', undefined);
  });

  it('lets admin on a resource imply every action on it, commands included', () => {
    given(manager)
      .when(['manager'])
      .then('sales.order', 'delete', { hiddenFields: [] })
      .then('sales.order', 'command:pay', { hiddenFields: [] })
      .then('sales.customer', 'read', undefined);
  });

  it('lets a platform resource be read with read or admin, and changed only with admin', () => {
    const reader = role('reader', { resource: 'identity', actions: ['read'] });
    const owner = role('owner', { resource: 'keys', actions: ['admin'] });
    given(reader, owner)
      .when(['reader', 'owner'])
      .then('identity', 'read', FULL_ACCESS)
      .then('identity', 'admin', undefined)
      .then('identity', 'update', undefined)
      .then('keys', 'read', FULL_ACCESS)
      .then('keys', 'admin', FULL_ACCESS)
      .then('messaging', 'read', undefined);
  });

  it('does not open platform resources through a row-limited *', () => {
    given(role('own', { resource: '*', actions: ['read'], where: { owner: '$user' } }))
      .when(['own'])
      .then('sales.order', 'read', { where: { owner: 'ada' }, hiddenFields: [] })
      .then('identity', 'read', undefined)
      .then('modules', 'read', undefined);
  });

  it('allows every row when one granting permission has no where', () => {
    given(clerk, salesReader)
      .when(['clerk', 'sales-reader'])
      .then('sales.order', 'read', { hiddenFields: ['amount'] });
  });

  it('allows the rows of any granting permission when each has a where ($or, duplicates once)', () => {
    const team = role('team', { resource: 'sales.*', actions: ['read'], where: { team: { $in: ['$user', 'shared'] } } });
    const twin = role('twin', { resource: 'sales.order', actions: ['read'], where: { owner: '$user' } });
    given(clerk, team, twin)
      .when(['clerk', 'team', 'twin'])
      .then('sales.order', 'read', { where: { $or: [{ owner: 'ada' }, { team: { $in: ['ada', 'shared'] } }] }, hiddenFields: [] })
      .then('sales.order', 'update', { where: { owner: 'ada' }, hiddenFields: ['amount'] });
  });

  it('hides a field only when every granting permission hides it', () => {
    const a = role('a', { resource: 'sales.order', actions: ['read'], hiddenFields: ['amount', 'note', 'meta'] });
    const b = role('b', { resource: 'sales.*', actions: ['read'], hiddenFields: ['note', 'amount'] });
    const c = role('c', { resource: '*', actions: ['read', 'update'], hiddenFields: ['note'] });
    given(a, b, c)
      .when(['a', 'b'])
      .then('sales.order', 'read', { hiddenFields: ['amount', 'note'] })
      .then('sales.order', 'update', undefined);
    given(a, b, c)
      .when(['a', 'b', 'c'])
      .then('sales.order', 'read', { hiddenFields: ['note'] });
  });

  it('replaces "$user" values at any depth, not in keys nor inside longer strings', () => {
    const where: JsonValue = {
      $or: [{ owner: '$user' }, { reviewers: { $contains: '$user' } }],
      $user: { $ne: '$users' },
      tags: { $in: ['x', '$user'] },
    };
    given(role('deep', { resource: 'sales.order', actions: ['read'], where }))
      .when(['deep'], 'eve')
      .then('sales.order', 'read', {
        where: { $or: [{ owner: 'eve' }, { reviewers: { $contains: 'eve' } }], $user: { $ne: '$users' }, tags: { $in: ['x', 'eve'] } },
        hiddenFields: [],
      });
  });

  it('keeps the caller and resolves each resource and action once', () => {
    const { principal } = given(clerk).when(['clerk'], 'bob');
    assert.deepEqual(
      { tenant: principal.tenant, user: principal.user, roles: principal.roles },
      { tenant: 'acme', user: 'bob', roles: ['clerk'] },
    );
    const first = principal.access('sales.order', 'read');
    assert.ok(first);
    assert.equal(principal.access('sales.order', 'read'), first);
    assert.equal(principal.access('sales.order', 'read:x'), undefined);
  });
});
