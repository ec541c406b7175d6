import type { Logger } from '../kernel/index.js';
import { closedFrame, type LiveHub } from './hub.js';
import { textFrame } from './output.js';
import type { Subscriber } from './subscriber.js';

export type TenantStatus = 'active' | 'suspended' | undefined;

export interface HeartbeatDeps {
  hub: LiveHub;
  tenantStatus(tenant: string): Promise<TenantStatus>;
  logger: Logger;
}

/**
 * One timer for every stream of the process. Each beat ends the streams whose access is gone (the
 * token expired, its tenant was suspended or deleted, the tenant followed was deleted) with
 * `event: closed`, and sends the others `: ping` — with an `id:` when the stream has scanned past
 * events it was not shown, so that a reconnection does not scan them again.
 */
export function startHeartbeat(deps: HeartbeatDeps, intervalMs: number): { stop(): void } {
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    beat(deps)
      .catch((error: unknown) => deps.logger.warn({ err: error }, 'live heartbeat failed'))
      .finally(() => {
        running = false;
      });
  }, intervalMs).unref();
  return { stop: () => clearInterval(timer) };
}

async function beat({ hub, tenantStatus }: HeartbeatDeps): Promise<void> {
  const subscribers = [...hub.all];
  const tenants = new Set(subscribers.flatMap((subscriber) => [subscriber.tenant, subscriber.caller.tenant]));
  const statuses = new Map(
    await Promise.all([...tenants].map(async (tenant) => [tenant, await tenantStatus(tenant).catch(() => 'unknown' as const)] as const)),
  );
  const now = Date.now();
  for (const subscriber of subscribers) {
    if (subscriber.closed) continue;
    const reason = revoked(subscriber, statuses, now);
    if (reason) hub.close(subscriber, closedFrame(subscriber, reason));
    else ping(hub, subscriber);
  }
}

/** Why the stream may not go on, mirroring the checks of the connection (src/auth/authenticate.ts). */
function revoked(subscriber: Subscriber, statuses: ReadonlyMap<string, TenantStatus | 'unknown'>, now: number): string | undefined {
  if (now >= subscriber.expiresAt) return 'token_expired';
  const issuer = statuses.get(subscriber.caller.tenant);
  if (issuer === undefined || statuses.get(subscriber.tenant) === undefined) return 'tenant_deleted';
  if (issuer === 'suspended') return 'tenant_suspended';
  return undefined;
}

function ping(hub: LiveHub, subscriber: Subscriber): void {
  // A client that is not reading has data pending already: a ping adds nothing.
  if (subscriber.output.congested) return;
  const scanned = subscriber.live && hub.position > subscriber.cursor ? hub.position : subscriber.cursor;
  const advanced = scanned > subscriber.output.lastQueued;
  subscriber.output.push(advanced ? textFrame(`id: ${scanned}\n: ping\n\n`, scanned) : textFrame(': ping\n\n'));
}
