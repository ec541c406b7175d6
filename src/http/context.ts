import type { FastifyRequest } from 'fastify';
import { AppError, type Caller, type RequestContext, TRACEPARENT } from '../kernel/index.js';

/** Resolves who is calling; the identity context provides the real one (tokens). */
export type Authenticate = (request: FastifyRequest, tenant: string) => Promise<Caller>;

/** Only on the embedded default with `auth: disabled`: every caller is the tenant's admin. */
export const unauthenticatedAdmin: Authenticate = async (_request, tenant) => ({ tenant, user: 'anonymous', roles: ['admin'] });

export const noAuthenticator: Authenticate = async () => {
  throw new AppError('unauthorized', 'A bearer token is required');
};

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
