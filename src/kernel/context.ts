/** Who is acting: the authenticated subject and the tenant its token belongs to. */
export interface Caller {
  tenant: string;
  user: string;
  roles: string[];
}

/** What every command and query receives from the edge: the caller and the request's trace ids. */
export interface RequestContext {
  caller: Caller;
  correlationId: string;
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
