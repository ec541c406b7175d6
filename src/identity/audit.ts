import type { RequestContext } from '../kernel/index.js';
import type { AuditAction, AuditStore } from './store/port.js';

/** Audit entries of requests: the actor is `<token tenant>/<subject>`, the address the client's. */
export function requestAuditor(audit: AuditStore) {
  return (context: RequestContext, tenant: string, action: AuditAction, target: string, detail: Record<string, unknown> = {}) =>
    audit.append(tenant, {
      action,
      actor: `${context.caller.tenant}/${context.caller.user}`,
      address: context.address ?? null,
      target,
      detail,
    });
}

export type RequestAuditor = ReturnType<typeof requestAuditor>;
