import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { AppError, type RequestContext, validationFailed } from '../kernel/index.js';
import type { EntityLog } from './entity-log.js';
import type { IdentityStore } from './store/port.js';

export const CLIENT_ID = /^[a-z0-9][a-z0-9._-]{0,62}$/;

export type ClientDocument = { id: string; name: string; roles: string[] };

/**
 * Client secrets are 256 random bits made here, never chosen by a person: a SHA-256 hash protects
 * them as well as a slow hash would (nothing to guess), and keeps client_credentials cheap.
 */
const SECRET_BYTES = 32;
const hashOf = (secret: string) => `sha256$${createHash('sha256').update(secret).digest('base64url')}`;

export interface ClientDeps {
  clients: EntityLog<ClientDocument>;
  store: IdentityStore;
  checkRoles(tenant: string, roles: unknown): Promise<string[]>;
  audit(
    context: RequestContext,
    tenant: string,
    action: 'client_created' | 'client_deleted',
    target: string,
    detail?: Record<string, unknown>,
  ): Promise<void>;
}

/** Service clients of one tenant (the client_credentials grant). */
export function createClientService(deps: ClientDeps) {
  const { clients, store } = deps;
  return {
    /** The secret is in this answer only. */
    async create(context: RequestContext, tenant: string, input: { id?: unknown; name?: unknown; roles?: unknown }) {
      const id = input.id ?? `client-${randomBytes(8).toString('hex')}`;
      if (typeof id !== 'string' || !CLIENT_ID.test(id))
        throw validationFailed('Invalid client id', [{ path: '/id', message: `must match ${CLIENT_ID.source}` }]);
      if (input.name !== undefined && (typeof input.name !== 'string' || input.name.length > 200))
        throw validationFailed('Invalid client name', [{ path: '/name', message: 'must be a string of at most 200 characters' }]);
      const roles = await deps.checkRoles(tenant, input.roles ?? []);
      const existing = await clients.find(tenant, id);
      if (existing && !existing.deleted) throw new AppError('already_exists', `Client ${id} already exists`);
      const document: ClientDocument = { id, name: typeof input.name === 'string' ? input.name : id, roles };
      await clients.write(context, tenant, id, { type: 'ClientCreated', data: document }, document, existing);
      const secret = randomBytes(SECRET_BYTES).toString('base64url');
      await store.credentials.put({
        tenant,
        kind: 'client',
        subject: id,
        hash: hashOf(secret),
        changeRequired: false,
        updatedAt: new Date(),
      });
      await deps.audit(context, tenant, 'client_created', id, { roles });
      return { ...document, secret };
    },
    async list(tenant: string, after?: string): Promise<ClientDocument[]> {
      return clients.list(tenant, after);
    },
    async get(tenant: string, id: string): Promise<ClientDocument> {
      return (await clients.get(tenant, id)).data;
    },
    async remove(context: RequestContext, tenant: string, id: string): Promise<void> {
      const current = await clients.get(tenant, id);
      await clients.write(context, tenant, id, { type: 'ClientDeleted', data: {} }, null, current);
      await store.credentials.delete(tenant, 'client', id);
      await deps.audit(context, tenant, 'client_deleted', id);
    },
    /** The client when the secret is its own; undefined otherwise (in constant time for the comparison). */
    async check(tenant: string, id: string, secret: string): Promise<ClientDocument | undefined> {
      if (!CLIENT_ID.test(id)) return undefined;
      const [found, credential] = await Promise.all([clients.find(tenant, id), store.credentials.get(tenant, 'client', id)]);
      if (!found || found.deleted || !credential) return undefined;
      const expected = Buffer.from(credential.hash);
      const actual = Buffer.from(hashOf(secret));
      return expected.length === actual.length && timingSafeEqual(expected, actual) ? found.data : undefined;
    },
  };
}

export type ClientService = ReturnType<typeof createClientService>;
