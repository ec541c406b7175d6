import { FILTER_LIMITS } from '../documents/query/index.js';
import { FULL_ACCESS } from '../http/index.js';
import type { Access, Caller, FieldError, JsonValue, Principal } from '../kernel/index.js';

/** One grant of a role: actions on a resource, optionally limited to rows (`where`) and without some fields. */
export interface Permission {
  resource: string;
  actions: string[];
  where?: JsonValue;
  hiddenFields?: string[];
}

export interface RoleDefinition {
  name: string;
  permissions: Permission[];
}

/** The built-in role: every action on every resource, nothing hidden. It cannot be defined or narrowed. */
export const ADMIN_ROLE = 'admin';

/** Resources that are not data entities: reading needs `read` or `admin`, changing them needs `admin`. */
export const PLATFORM_RESOURCES = ['identity', 'modules', 'keys', 'messaging', 'reports', 'tenants'] as const;

export const ROLE_LIMITS = { permissions: 100, hiddenFields: 200 } as const;

const ROLE_NAME = /^[a-z][a-z0-9_-]{0,62}$/;
const NAME = /^[a-z][a-zA-Z0-9_]{0,62}$/;
const ENTITY_ACTIONS = new Set(['read', 'create', 'update', 'delete', 'admin']);
const PERMISSION_KEYS = new Set(['resource', 'actions', 'where', 'hiddenFields']);
const USER = '$user';

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
const pointer = (segment: string | number) => `/${String(segment).replaceAll('~', '~0').replaceAll('/', '~1')}`;

/** `sales.order`, `sales.*` (any entity of a module) and `*` name data; the platform resources do not. */
const isDataResource = (resource: string) => resource === '*' || resource.includes('.');

// ---- checks ---------------------------------------------------------------------------------------

/** Every problem of a role definition (the body of `PUT /roles/{name}`), with its JSON-pointer path. */
export function checkRoleDefinition(input: unknown): FieldError[] {
  if (!isObject(input)) return [{ path: '', message: 'must be an object' }];
  const issues: FieldError[] = [];
  for (const key of Object.keys(input))
    if (key !== 'name' && key !== 'permissions') issues.push({ path: pointer(key), message: 'is not a known property' });
  if (typeof input.name !== 'string' || !ROLE_NAME.test(input.name))
    issues.push({ path: '/name', message: `must match ${ROLE_NAME.source}` });
  else if (input.name === ADMIN_ROLE) issues.push({ path: '/name', message: 'admin is built in: it cannot be defined or narrowed' });
  const permissions = input.permissions;
  if (!Array.isArray(permissions)) return [...issues, { path: '/permissions', message: 'must be an array' }];
  if (permissions.length > ROLE_LIMITS.permissions)
    return [...issues, { path: '/permissions', message: `at most ${ROLE_LIMITS.permissions} permissions` }];
  permissions.forEach((permission, i) => {
    issues.push(...checkPermission(permission, `/permissions/${i}`));
  });
  return issues;
}

function checkPermission(permission: unknown, path: string): FieldError[] {
  if (!isObject(permission)) return [{ path, message: 'must be an object' }];
  const issues: FieldError[] = [];
  for (const key of Object.keys(permission))
    if (!PERMISSION_KEYS.has(key)) issues.push({ path: path + pointer(key), message: 'is not a known property' });
  const { resource } = permission;
  if (!isResource(resource)) {
    issues.push({
      path: `${path}/resource`,
      message: `must be "<module>.<entity>", "<module>.*", "*" or one of ${PLATFORM_RESOURCES.join(', ')}`,
    });
    return issues;
  }
  const data = isDataResource(resource);
  issues.push(...checkActions(permission.actions, `${path}/actions`, data));
  if (!data && (permission.where !== undefined || permission.hiddenFields !== undefined)) {
    issues.push({
      path: `${path}/${permission.where === undefined ? 'hiddenFields' : 'where'}`,
      message: `applies only to data, not to ${resource}`,
    });
    return issues;
  }
  if (permission.where !== undefined) issues.push(...checkFilter(permission.where, `${path}/where`));
  if (permission.hiddenFields !== undefined) issues.push(...checkHiddenFields(permission.hiddenFields, `${path}/hiddenFields`));
  return issues;
}

function isResource(resource: unknown): resource is string {
  if (typeof resource !== 'string') return false;
  if (resource === '*' || (PLATFORM_RESOURCES as readonly string[]).includes(resource)) return true;
  const [module = '', entity, ...rest] = resource.split('.');
  return rest.length === 0 && entity !== undefined && NAME.test(module) && (entity === '*' || NAME.test(entity));
}

function checkActions(actions: unknown, path: string, data: boolean): FieldError[] {
  if (!Array.isArray(actions) || actions.length === 0) return [{ path, message: 'must be a non-empty array of actions' }];
  return actions.flatMap((action, i): FieldError[] => {
    const at = `${path}/${i}`;
    const known = typeof action === 'string' && (ENTITY_ACTIONS.has(action) || isCommandAction(action));
    if (!known) return [{ path: at, message: 'must be read, create, update, delete, admin or command:<name>' }];
    if (!data && action !== 'read' && action !== 'admin') return [{ path: at, message: 'only read and admin apply to this resource' }];
    if (actions.indexOf(action) !== i) return [{ path: at, message: `${action} is listed twice` }];
    return [];
  });
}

const isCommandAction = (action: string) => action.startsWith('command:') && NAME.test(action.slice('command:'.length));

function checkHiddenFields(fields: unknown, path: string): FieldError[] {
  if (!Array.isArray(fields) || fields.length > ROLE_LIMITS.hiddenFields)
    return [{ path, message: `must be an array of at most ${ROLE_LIMITS.hiddenFields} field names` }];
  return fields.flatMap((field, i): FieldError[] => {
    if (typeof field !== 'string' || !NAME.test(field) || field === 'id')
      return [{ path: `${path}/${i}`, message: `must be a field name (${NAME.source}, not id)` }];
    return fields.indexOf(field) === i ? [] : [{ path: `${path}/${i}`, message: `${field} is listed twice` }];
  });
}

/**
 * The shape of a query filter, without the entity's fields (which are only known when a request
 * uses the role; a `where` that does not fit an entity then grants nothing on it). `"$user"` is a string,
 * so it is valid wherever a value is.
 */
function checkFilter(filter: unknown, path: string): FieldError[] {
  const shape = new FilterShape(path);
  shape.document(filter, path, 1);
  return shape.issues;
}

class FilterShape {
  readonly issues: FieldError[] = [];
  private nodes = 0;

  constructor(private readonly root: string) {}

  document(value: unknown, path: string, depth: number): void {
    if (!isObject(value)) {
      this.add(path, 'must be an object');
      return;
    }
    if (!this.enter(path, depth)) return;
    for (const [key, item] of Object.entries(value)) {
      const at = path + pointer(key);
      if (key === '$and' || key === '$or') this.list(item, at, depth);
      else if (key === '$not') this.document(item, at, depth + 1);
      else if (key.startsWith('$')) this.add(at, `unknown operator ${key}`);
      else if (!NAME.test(key)) this.add(at, `must be a field name (${NAME.source})`);
      else this.condition(item, at, depth);
    }
  }

  private list(items: unknown, path: string, depth: number): void {
    if (!Array.isArray(items) || items.length === 0) this.add(path, 'must be a non-empty array of filters');
    else for (const [i, item] of items.entries()) this.document(item, `${path}/${i}`, depth + 1);
  }

  /** `field: value` (equality) or `field: { $op: operand, … }`. */
  private condition(value: unknown, path: string, depth: number): void {
    if (!isObject(value)) {
      const message = scalarProblem(value, true);
      if (message) this.add(path, message);
      return;
    }
    if (Object.keys(value).length === 0) this.add(path, 'needs at least one operator');
    else if (this.enter(path, depth)) {
      for (const [op, operand] of Object.entries(value)) {
        const message = operatorProblem(op, operand);
        if (message) this.add(path + pointer(op), message);
        else if (op === '$not') this.condition(operand, path + pointer(op), depth + 1);
      }
    }
  }

  /** Counts a node and checks the bounds of the query filter parser; false stops descending. */
  private enter(path: string, depth: number): boolean {
    this.nodes += 1;
    if (depth > FILTER_LIMITS.depth) this.add(path, `nesting deeper than ${FILTER_LIMITS.depth} levels`);
    else if (this.nodes === FILTER_LIMITS.nodes + 1) this.add(this.root, `more than ${FILTER_LIMITS.nodes} conditions`);
    return depth <= FILTER_LIMITS.depth && this.nodes <= FILTER_LIMITS.nodes;
  }

  private add(path: string, message: string): void {
    this.issues.push({ path, message });
  }
}

function operatorProblem(op: string, operand: unknown): string | undefined {
  switch (op) {
    case '$eq':
    case '$ne':
      return scalarProblem(operand, true);
    case '$gt':
    case '$gte':
    case '$lt':
    case '$lte':
    case '$contains':
      return scalarProblem(operand, false);
    case '$startsWith':
      return typeof operand === 'string' ? scalarProblem(operand, false) : 'must be a string';
    case '$in':
    case '$nin':
      if (!Array.isArray(operand) || operand.length > FILTER_LIMITS.inValues)
        return `must be an array of at most ${FILTER_LIMITS.inValues} values`;
      return operand.map((item) => scalarProblem(item, true)).find((problem) => problem !== undefined);
    case '$exists':
      return typeof operand === 'boolean' ? undefined : 'must be true or false';
    case '$not':
      return undefined;
    default:
      return `unknown operator ${op}`;
  }
}

function scalarProblem(value: unknown, nullable: boolean): string | undefined {
  if (value === null) return nullable ? undefined : 'must not be null';
  if (typeof value === 'number') return Number.isFinite(value) ? undefined : 'must be a finite number';
  if (typeof value === 'boolean') return undefined;
  if (typeof value !== 'string') return 'must be a string, number or boolean';
  if (value.length > FILTER_LIMITS.stringLength) return `longer than ${FILTER_LIMITS.stringLength} characters`;
  return value.includes('\u0000') || !value.isWellFormed() ? 'must not contain NUL characters or lone surrogates' : undefined;
}

// ---- resolution -----------------------------------------------------------------------------------

/**
 * The caller with the permissions of its roles (those of `roles` it holds; the built-in admin holds
 * them all). `access` is computed once per resource and action.
 */
export function principalFor(caller: Caller, roles: readonly RoleDefinition[]): Principal {
  const admin = caller.roles.includes(ADMIN_ROLE);
  const held = new Set(caller.roles);
  const permissions = admin
    ? []
    : roles.filter((role) => role.name !== ADMIN_ROLE && held.has(role.name)).flatMap((role) => role.permissions);
  const memo = new Map<string, Access | undefined>();
  return {
    tenant: caller.tenant,
    user: caller.user,
    roles: [...caller.roles],
    access(resource: string, action: string): Access | undefined {
      if (admin) return FULL_ACCESS;
      const key = JSON.stringify([resource, action]);
      if (!memo.has(key)) memo.set(key, resolveAccess(permissions, resource, action, caller.user));
      return memo.get(key);
    },
  };
}

/**
 * What the permissions that grant `action` on `resource` allow together: every row unless each of
 * them limits rows (then the rows any of them allows), and only the fields that all of them hide.
 */
export function resolveAccess(permissions: readonly Permission[], resource: string, action: string, user: string): Access | undefined {
  const data = resource.includes('.');
  const granting = permissions.filter(
    (permission) =>
      resourceMatches(permission.resource, resource) &&
      actionGranted(permission.actions, action, data) &&
      // A row-limited `*` is about data: it does not open the platform resources.
      (data || permission.where === undefined),
  );
  if (granting.length === 0) return undefined;
  if (!data) return FULL_ACCESS;
  const wheres = granting.map((permission) => permission.where);
  const where = wheres.some((w) => w === undefined) ? undefined : anyOf(wheres.map((w) => withUser(w as JsonValue, user)));
  const hiddenFields = granting
    .map((permission) => permission.hiddenFields ?? [])
    .reduce((common, fields) => common.filter((field) => fields.includes(field)));
  return Object.freeze({ ...(where === undefined ? {} : { where }), hiddenFields: Object.freeze([...new Set(hiddenFields)]) });
}

function resourceMatches(granted: string, requested: string): boolean {
  if (granted === '*' || granted === requested) return true;
  return granted.endsWith('.*') && requested.includes('.') && requested.startsWith(granted.slice(0, -1));
}

function actionGranted(actions: readonly string[], action: string, data: boolean): boolean {
  if (actions.includes('admin')) return true;
  return data ? actions.includes(action) : action === 'read' && actions.includes('read');
}

function anyOf(filters: JsonValue[]): JsonValue {
  const distinct = [...new Map(filters.map((filter) => [JSON.stringify(filter), filter])).values()];
  return distinct.length === 1 && distinct[0] !== undefined ? distinct[0] : { $or: distinct };
}

/** Every string value `"$user"`, at any depth, becomes the caller's user name. */
function withUser(value: JsonValue, user: string): JsonValue {
  if (value === USER) return user;
  if (Array.isArray(value)) return value.map((item) => withUser(item, user));
  if (isObject(value)) return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, withUser(item as JsonValue, user)]));
  return value;
}
