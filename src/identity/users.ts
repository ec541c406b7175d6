import { AppError, type FieldError, type RequestContext, validationFailed } from '../kernel/index.js';
import type { EntityLog } from './entity-log.js';
import { checkPasswordPolicy, hashSecret, type PasswordCost, verifyAgainstDummy, verifySecret } from './passwords.js';
import type { IdentityStore } from './store/port.js';

/** Usernames: lower case, digits and `._@-` (an e-mail address fits), 1 to 128 characters. */
export const USERNAME = /^[a-z0-9][a-z0-9._@-]{0,127}$/;

export type UserDocument = { username: string; roles: string[]; disabled: boolean };

export interface UserInput {
  username?: unknown;
  password?: unknown;
  roles?: unknown;
  disabled?: unknown;
}

export interface UserView extends UserDocument {
  passwordChangeRequired: boolean;
}

export interface UserDeps {
  users: EntityLog<UserDocument>;
  store: IdentityStore;
  /** Whether the tenant has such a role (built-in or defined). */
  roleExists(tenant: string, role: string): Promise<boolean>;
  passwordCost?: PasswordCost;
  audit(
    context: RequestContext,
    tenant: string,
    action: 'user_created' | 'user_changed' | 'user_deleted' | 'password_changed' | 'password_reset',
    target: string,
    detail?: Record<string, unknown>,
  ): Promise<void>;
}

/** Users of one tenant: their roles and state are events; their password hashes live in the identity store. */
export function createUserService(deps: UserDeps) {
  const { users, store } = deps;

  async function checkRoles(tenant: string, roles: unknown, path = '/roles'): Promise<string[]> {
    if (!Array.isArray(roles) || roles.some((role) => typeof role !== 'string') || roles.length > 100)
      throw validationFailed('Invalid roles', [{ path, message: 'must be an array of at most 100 role names' }]);
    const unique = [...new Set(roles as string[])];
    const missing: FieldError[] = [];
    for (const [index, role] of unique.entries())
      if (!(await deps.roleExists(tenant, role)))
        missing.push({ path: `${path}/${index}`, message: `${role} is not a role of this tenant` });
    if (missing.length > 0) throw validationFailed('Unknown roles', missing);
    return unique;
  }

  async function setPassword(tenant: string, username: string, password: string, changeRequired: boolean, path: string) {
    const issues = checkPasswordPolicy(username, password, path);
    if (issues.length > 0) throw validationFailed('The password does not meet the policy', issues);
    const hash = await hashSecret(password, deps.passwordCost);
    await store.credentials.put({ tenant, kind: 'user', subject: username, hash, changeRequired, updatedAt: new Date() });
  }

  async function view(tenant: string, user: UserDocument): Promise<UserView> {
    const credential = await store.credentials.get(tenant, 'user', user.username);
    return { ...user, passwordChangeRequired: credential?.changeRequired ?? false };
  }

  return {
    checkRoles: (tenant: string, roles: unknown) => checkRoles(tenant, roles),

    async create(context: RequestContext, tenant: string, input: UserInput, options: { changeRequired?: boolean } = {}): Promise<UserView> {
      const { username, password } = input;
      if (typeof username !== 'string' || !USERNAME.test(username))
        throw validationFailed('Invalid username', [{ path: '/username', message: `must match ${USERNAME.source}` }]);
      if (typeof password !== 'string') throw validationFailed('A password is required', [{ path: '/password', message: 'is required' }]);
      if (input.disabled !== undefined && typeof input.disabled !== 'boolean')
        throw validationFailed('Invalid user', [{ path: '/disabled', message: 'must be a boolean' }]);
      const policy = checkPasswordPolicy(username, password, '/password');
      if (policy.length > 0) throw validationFailed('The password does not meet the policy', policy);
      const roles = await checkRoles(tenant, input.roles ?? []);
      const existing = await users.find(tenant, username);
      if (existing && !existing.deleted) throw new AppError('already_exists', `User ${username} already exists`);
      const document: UserDocument = { username, roles, disabled: input.disabled === true };
      // The event first: a second creation fails there, before it could replace the first user's password.
      await users.write(context, tenant, username, { type: 'UserCreated', data: document }, document, existing);
      await setPassword(tenant, username, password, options.changeRequired ?? false, '/password');
      await deps.audit(context, tenant, 'user_created', username, { roles });
      return { ...document, passwordChangeRequired: options.changeRequired ?? false };
    },

    async get(tenant: string, username: string): Promise<UserView> {
      return view(tenant, (await users.get(tenant, username)).data);
    },

    async find(tenant: string, username: string): Promise<UserDocument | undefined> {
      const found = await users.find(tenant, username);
      return found && !found.deleted ? found.data : undefined;
    },

    async list(tenant: string, after?: string): Promise<UserDocument[]> {
      return users.list(tenant, after);
    },

    /** Roles and `disabled`; a `password` here is an admin reset (the user must change it). */
    async update(context: RequestContext, tenant: string, username: string, input: UserInput): Promise<UserView> {
      if (input.username !== undefined && input.username !== username)
        throw validationFailed('A username cannot change', [{ path: '/username', message: 'cannot change' }]);
      if (input.disabled !== undefined && typeof input.disabled !== 'boolean')
        throw validationFailed('Invalid user', [{ path: '/disabled', message: 'must be a boolean' }]);
      const current = await users.get(tenant, username);
      const roles = input.roles === undefined ? current.data.roles : await checkRoles(tenant, input.roles);
      const next: UserDocument = {
        username,
        roles,
        disabled: typeof input.disabled === 'boolean' ? input.disabled : current.data.disabled,
      };
      if (typeof input.password === 'string') await resetPassword(context, tenant, username, input.password);
      else if (input.password !== undefined)
        throw validationFailed('Invalid password', [{ path: '/password', message: 'must be a string' }]);
      const changed = next.disabled !== current.data.disabled || JSON.stringify(next.roles) !== JSON.stringify(current.data.roles);
      if (changed) {
        await users.write(context, tenant, username, { type: 'UserChanged', data: { roles, disabled: next.disabled } }, next, current);
        // A disabled user's refresh tokens die at once; its access tokens end within their lifetime.
        if (next.disabled) await store.sessions.revokeSubject(tenant, username, new Date());
        await deps.audit(context, tenant, 'user_changed', username, { roles, disabled: next.disabled });
      }
      return view(tenant, next);
    },

    async remove(context: RequestContext, tenant: string, username: string): Promise<void> {
      const current = await users.get(tenant, username);
      await users.write(context, tenant, username, { type: 'UserDeleted', data: {} }, null, current);
      await store.credentials.delete(tenant, 'user', username);
      await store.sessions.revokeSubject(tenant, username, new Date());
      await deps.audit(context, tenant, 'user_deleted', username);
    },

    /** The user's own change: the current password is required. */
    async changeOwnPassword(context: RequestContext, tenant: string, username: string, current: unknown, next: unknown): Promise<void> {
      if (typeof next !== 'string')
        throw validationFailed('A new password is required', [{ path: '/newPassword', message: 'is required' }]);
      const credential = await store.credentials.get(tenant, 'user', username);
      if (typeof current !== 'string' || !credential || !(await verifySecret(credential.hash, current)))
        throw validationFailed('The current password is not right', [{ path: '/currentPassword', message: 'is not the current password' }]);
      if (current === next)
        throw validationFailed('The new password must differ', [{ path: '/newPassword', message: 'must differ from the current one' }]);
      await setPassword(tenant, username, next, false, '/newPassword');
      await store.sessions.revokeSubject(tenant, username, new Date());
      await deps.audit(context, tenant, 'password_changed', username);
    },

    resetPassword: (context: RequestContext, tenant: string, username: string, next: unknown) =>
      resetPassword(context, tenant, username, next),

    /** The user when the password is right and the user may log in; the same time whether or not it exists. */
    async checkPassword(
      tenant: string,
      username: string,
      password: string,
    ): Promise<{ user: UserDocument; changeRequired: boolean } | { refused: 'invalid' | 'disabled' }> {
      const found = USERNAME.test(username) ? await users.find(tenant, username) : undefined;
      const credential = found && !found.deleted ? await store.credentials.get(tenant, 'user', username) : undefined;
      if (!found || found.deleted || !credential) {
        await verifyAgainstDummy(password, deps.passwordCost);
        return { refused: 'invalid' };
      }
      if (!(await verifySecret(credential.hash, password))) return { refused: 'invalid' };
      if (found.data.disabled) return { refused: 'disabled' };
      return { user: found.data, changeRequired: credential.changeRequired };
    },
  };

  /** An admin sets a password the user must change at the next login; the user's sessions end. */
  async function resetPassword(context: RequestContext, tenant: string, username: string, next: unknown): Promise<void> {
    if (typeof next !== 'string') throw validationFailed('A new password is required', [{ path: '/newPassword', message: 'is required' }]);
    await users.get(tenant, username);
    await setPassword(tenant, username, next, true, '/newPassword');
    await store.sessions.revokeSubject(tenant, username, new Date());
    await deps.audit(context, tenant, 'password_reset', username);
  }
}

export type UserService = ReturnType<typeof createUserService>;
