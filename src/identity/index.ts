import type { DocumentStore } from '../documents/port.js';
import type { EventStore } from '../eventstore/index.js';
import type { Authenticate } from '../http/index.js';
import { requestAuditor } from './audit.js';
import { type ClientDocument, createClientService } from './clients.js';
import { entityLog } from './entity-log.js';
import { identityRoutes } from './http-identity.js';
import type { PasswordCost } from './passwords.js';
import { createRoleService, type RoleDocument } from './roles.js';
import type { IdentityStore } from './store/port.js';
import { createUserService, type UserDocument } from './users.js';

export type { RequestAuditor } from './audit.js';
export type { ClientService } from './clients.js';
export { type EntityLog, entityLog, type Stored } from './entity-log.js';
export { attemptKeys, lockDurationMs, retryAfterSeconds } from './lockout.js';
export { DEFAULT_ARGON2_COST, generatePassword, type PasswordCost } from './passwords.js';
export { ADMIN_ROLE, type Permission, principalFor, type RoleDefinition } from './permissions.js';
export type { RoleService } from './roles.js';
export type * from './store/port.js';
export { USERNAME, type UserService } from './users.js';

/** The identity context: users, roles and service clients of every tenant, and the audit log. */
export function createIdentityContext(deps: {
  events: EventStore;
  documents: DocumentStore;
  store: IdentityStore;
  passwordCost?: PasswordCost;
}) {
  const { store } = deps;
  const audit = requestAuditor(store.audit);
  const roles = createRoleService({
    roles: entityLog<RoleDocument>(deps, { module: '_identity', entity: 'role', prefix: 'role', noun: 'role' }),
    audit,
  });
  const users = createUserService({
    users: entityLog<UserDocument>(deps, { module: '_identity', entity: 'user', prefix: 'user', noun: 'user' }),
    store,
    roleExists: roles.exists,
    audit,
    ...(deps.passwordCost ? { passwordCost: deps.passwordCost } : {}),
  });
  const clients = createClientService({
    clients: entityLog<ClientDocument>(deps, { module: '_identity', entity: 'client', prefix: 'client', noun: 'client' }),
    store,
    checkRoles: users.checkRoles,
    audit,
  });
  return {
    users,
    roles,
    clients,
    audit,
    store,
    routes: (authenticate: Authenticate) => identityRoutes({ users, roles, clients, audit: store.audit, authenticate }),
  };
}

export type IdentityContext = ReturnType<typeof createIdentityContext>;
