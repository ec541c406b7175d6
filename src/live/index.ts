import type { FastifyPluginAsync } from 'fastify';
import type { ModuleRegistry } from '../datamodel/index.js';
import type { DocumentStore } from '../documents/port.js';
import type { EventStore } from '../eventstore/index.js';
import type { Authenticate } from '../http/index.js';
import type { Caller, Logger, Principal } from '../kernel/index.js';
import { startHeartbeat, type TenantStatus } from './heartbeat.js';
import { liveRoutes } from './http-live.js';
import { LiveHub } from './hub.js';
import { type Announcements, startTail, type Tail } from './tail.js';

export { PATTERN_LIMITS, parsePatterns } from './patterns.js';
export type { Announcements } from './tail.js';

export interface LiveSettings {
  heartbeatMs: number;
  maxConnectionsPerTenant: number;
  maxConnections: number;
  bufferEvents: number;
  bufferBytes: number;
  /** The `retry:` hint sent at the start of each stream. */
  retryMs?: number;
  /** The tail's safety poll when no append is announced. */
  pollIntervalMs?: number;
}

export interface LiveDeps {
  events: EventStore;
  documents: DocumentStore;
  registry: ModuleRegistry;
  authenticate: Authenticate;
  /** The caller's principal with its roles' current permissions. */
  principal(caller: Caller): Promise<Principal>;
  tenantStatus(tenant: string): Promise<TenantStatus>;
  logger: Logger;
  settings: LiveSettings;
  /**
   * Server mode: the broker's announcements of published events (their positions), so that a write
   * through any process reaches this process's subscribers as soon as the relay published it.
   */
  announcements?: Announcements;
}

const DEFAULT_RETRY_MS = 3000;

/**
 * The live feed (`GET /t/{tenant}/live`): one tail of the log per process fans committed events out
 * to every open stream. The tail starts when the app is ready; every stream ends before the server
 * waits for its connections to close (Fastify's `preClose`), so a shutdown never hangs on them.
 */
export function createLiveContext(deps: LiveDeps) {
  const { settings, logger } = deps;
  let tail: Tail | undefined;
  const hub = new LiveHub(
    { events: deps.events, documents: deps.documents, registry: deps.registry, principal: deps.principal, logger },
    { perTenant: settings.maxConnectionsPerTenant, total: settings.maxConnections },
    () => tail?.wake(),
  );
  const plugin: FastifyPluginAsync = async (app) => {
    let heartbeat: { stop(): void } | undefined;
    app.addHook('onReady', async () => {
      tail = await startTail(deps.events, hub, logger, {
        ...(settings.pollIntervalMs ? { pollIntervalMs: settings.pollIntervalMs } : {}),
        ...(deps.announcements ? { announcements: deps.announcements } : {}),
      });
      heartbeat = startHeartbeat({ hub, tenantStatus: deps.tenantStatus, logger }, settings.heartbeatMs);
    });
    app.addHook('preClose', async () => {
      heartbeat?.stop();
      hub.shutdown();
      await tail?.stop();
    });
    await app.register(
      liveRoutes({
        hub,
        events: deps.events,
        authenticate: deps.authenticate,
        buffer: { maxEvents: settings.bufferEvents, maxBytes: settings.bufferBytes },
        retryMs: settings.retryMs ?? DEFAULT_RETRY_MS,
      }),
    );
  };
  return {
    plugin,
    hub,
    /** Takes one of a tenant's live-stream slots (`429 rate_limited` over the limits): report streams count too. */
    reserve: (tenant: string) => hub.reserve(tenant),
  };
}
