import type { JsonValue } from './json.js';

/** Who is acting: the authenticated subject and the tenant its token belongs to. */
export interface Caller {
  tenant: string;
  user: string;
  roles: string[];
}

/**
 * What a caller may do with one resource once an action is granted: only the rows that match
 * `where` (a query filter, `$user` already replaced by the caller's name), never the `hiddenFields`.
 */
export interface Access {
  where?: JsonValue;
  hiddenFields: readonly string[];
}

/** An authenticated caller and the permissions of its roles, resolved for the tenant it acts in. */
export interface Principal extends Caller {
  /** The access one of its roles grants for the action on the resource, or undefined. */
  access(resource: string, action: string): Access | undefined;
}

/** What every command and query receives from the edge: the caller and the request's trace ids. */
export interface RequestContext {
  caller: Caller;
  correlationId: string;
  /** The client's network address (for the audit log). */
  address?: string;
  traceparent?: string;
  tracestate?: string;
}

/** Event metadata of a write made for this request. */
export function metadataOf(context: RequestContext) {
  return {
    actor: context.caller.user,
    correlationId: context.correlationId,
    ...(context.traceparent ? { traceparent: context.traceparent } : {}),
    ...(context.tracestate ? { tracestate: context.tracestate } : {}),
  };
}
