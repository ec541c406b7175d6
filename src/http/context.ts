import type { FastifyRequest } from 'fastify';
import { type Access, AppError, type Caller, type Principal, type RequestContext, TRACEPARENT } from '../kernel/index.js';

export interface AuthenticateOptions {
  /** The entity the route serves (`<module>.<entity>`): a member of the group it is shared with may act too. */
  entity?: { module: string; entity: string };
  /** The password change route: the one route a token that must change its password may call. */
  passwordChange?: boolean;
}

/**
 * Resolves who is calling from the request's bearer token, for a route of `tenant`: `unauthorized`
 * without a valid token or with one that may not act in this tenant, `tenant_suspended`,
 * `password_change_required`.
 */
export type Authenticate = (request: FastifyRequest, tenant: string, options?: AuthenticateOptions) => Promise<Principal>;

/** The access the principal has for the action on the resource, or `forbidden`. */
export function authorize(principal: Principal, resource: string, action: string): Access {
  const access = principal.access(resource, action);
  if (!access) throw new AppError('forbidden', `Your roles do not allow ${action} on ${resource}`);
  return access;
}

/** A caller's identity without its permissions (what commands record as the actor). */
export function callerOf(principal: Principal): Caller {
  return { tenant: principal.tenant, user: principal.user, roles: principal.roles };
}

export function requestContext(request: FastifyRequest, caller: Caller): RequestContext {
  const header = (name: string) => {
    const value = request.headers[name];
    return typeof value === 'string' ? value : undefined;
  };
  const correlationId = header('x-correlation-id');
  const traceparent = header('traceparent');
  const tracestate = header('tracestate');
  return {
    caller,
    address: request.ip,
    correlationId: correlationId && correlationId.length <= 200 ? correlationId : String(request.id),
    ...(traceparent && TRACEPARENT.test(traceparent) ? { traceparent } : {}),
    ...(traceparent && tracestate && tracestate.length <= 512 ? { tracestate } : {}),
  };
}

/** `If-Match: "3"` (or `3`, or a weak `W/"3"`) → 3. */
export function ifMatchVersion(request: FastifyRequest): number | undefined {
  const value = request.headers['if-match'];
  if (value === undefined) return undefined;
  const match = /^(?:W\/)?"?(\d{1,9})"?$/.exec(String(value).trim());
  if (!match?.[1])
    throw new AppError('validation_failed', 'If-Match must be a quoted version such as "3"', {
      errors: [{ path: '/headers/if-match', message: 'must be "<version>"' }],
    });
  return Number(match[1]);
}

export function idempotencyKey(request: FastifyRequest): string | undefined {
  const value = request.headers['idempotency-key'];
  return typeof value === 'string' ? value : undefined;
}

/** Every action on every resource, nothing hidden. */
export const FULL_ACCESS: Access = Object.freeze({ hiddenFields: Object.freeze([]) });

/**
 * The tenant's admin without a token: for in-process callers only (the CLI, tests, the benchmarks'
 * authentication-off baseline). The served platform never uses it.
 */
export const unauthenticatedAdmin: Authenticate = async (_request, tenant) => ({
  tenant,
  user: 'anonymous',
  roles: ['admin'],
  access: () => FULL_ACCESS,
});
