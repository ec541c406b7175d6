import type { EventStore, RecordedEvent } from '../../eventstore/index.js';
import { createWaker, type Logger } from '../../kernel/index.js';
import type { Consumers } from './consumers.js';
import type { RouteDocument } from './definition.js';
import type { RegistryRow, RouteStore } from './port.js';
import { DEFINED, DELETED, ROUTE_STREAM } from './service.js';

const BATCH = 1000;
/** Batches a request waits for before answering (the loop applies the rest). */
const MAX_PASSES = 100;
/** How often the position alone is saved (with a change it is saved at once). */
const CURSOR_SAVE_MS = 5000;
const PREFIX = `${ROUTE_STREAM}:`;

/** A route's definition event as a registry row, or undefined for any other event. */
export function registryChange(event: RecordedEvent): RegistryRow | undefined {
  if (!event.streamId.startsWith(PREFIX) || (event.type !== DEFINED && event.type !== DELETED)) return undefined;
  const document = event.type === DEFINED ? (event.data as unknown as RouteDocument) : null;
  return { tenant: event.tenant, id: event.streamId.slice(PREFIX.length), version: event.streamVersion, document };
}

/**
 * Follows the log for route definitions, as every process does: the registry in the route store
 * (with the position it reflects) is updated by whoever gets there first — the same rows, so
 * processes never disagree — and this process' consumers follow it. Changes made here are applied
 * before their request answers (`reach`); changes of other processes within `pollMs`.
 */
export function startRegistry(deps: { events: EventStore; store: RouteStore; consumers: Consumers; pollMs: number; logger: Logger }) {
  const { events, store, consumers, logger } = deps;
  const waker = createWaker();
  /** The log position applied; read from the store on first use. */
  let cursor: bigint | undefined;
  let savedAt = 0;
  let queue: Promise<unknown> = Promise.resolve();
  /** Whether this process runs the routes (else it only provisions the durable consumers of the changes it makes). */
  let started = false;
  let running: Promise<void> | undefined;
  let unsubscribe = () => {};

  /** A deleted tenant: its routes' consumers are deleted, its rows dropped (its events are gone already). */
  async function drop(tenant: string): Promise<void> {
    const stored = (await store.routes()).filter((row) => row.tenant === tenant).map((row) => row.id);
    for (const id of new Set([...stored, ...consumers.tenantRoutes(tenant)])) await consumers.remove(tenant, id);
    await store.dropTenant(tenant);
  }

  /** One pass: new definition events are recorded and applied. True when there may be more. */
  async function step(): Promise<boolean> {
    if (cursor === undefined) cursor = await store.cursor();
    const batch = await events.readAll({ after: cursor, limit: BATCH });
    const last = batch.at(-1);
    if (!last) return false;
    const changes = batch.flatMap((event) => registryChange(event) ?? []);
    // The position alone is saved at most every CURSOR_SAVE_MS: a write per append would cost more than rereading after a restart.
    if (changes.length > 0 || Date.now() - savedAt >= CURSOR_SAVE_MS) {
      await store.record(changes, last.position);
      savedAt = Date.now();
    }
    cursor = last.position;
    for (const change of changes) if (change.document === null) await consumers.remove(change.tenant, change.id);
    if (changes.length > 0 && started) await consumers.sync(await store.routes());
    else for (const change of changes) if (change.document?.active) await consumers.provision(change);
    return batch.length === BATCH;
  }

  /** Steps run one at a time, whoever asks (the loop, a request waiting for its change). */
  function serially<T>(work: () => Promise<T>): Promise<T> {
    const next = queue.then(work, work);
    queue = next.catch(() => undefined);
    return next;
  }

  async function run(): Promise<void> {
    let retryMs = 100;
    while (!waker.stopped) {
      try {
        waker.clear();
        const more = await serially(step);
        retryMs = 100;
        if (!more) await waker.sleep(deps.pollMs);
      } catch (error) {
        logger.error({ err: error }, 'routes: following route definitions failed; retrying');
        await waker.sleep(retryMs);
        retryMs = Math.min(retryMs * 2, 30_000);
      }
    }
  }

  return {
    /** Loads the registry, starts every active route, then follows the log. */
    async start(): Promise<void> {
      started = true;
      await serially(async () => {
        cursor = await store.cursor();
        await consumers.sync(await store.routes());
      });
      unsubscribe = events.onAppended(() => waker.notify());
      running = run();
    },
    /** Applies the log up to `position` (a change just written), so that its consumer runs when the request answers. */
    async reach(position: bigint): Promise<void> {
      try {
        // At least one step of our own: it runs after any step under way, which may have moved the cursor already.
        for (let pass = 0; pass === 0 || ((cursor ?? 0n) < position && pass < MAX_PASSES); pass++) await serially(step);
      } catch (error) {
        logger.warn({ err: error }, 'routes: applying a change failed; the registry loop applies it later');
      }
    },
    /** Runs between steps, so that no step in flight records the tenant's routes again. */
    async dropTenant(tenant: string): Promise<void> {
      await serially(() => drop(tenant)).catch((error: unknown) =>
        logger.error({ err: error, tenant }, 'routes: dropping a tenant failed'),
      );
    },
    async stop(): Promise<void> {
      started = false;
      unsubscribe();
      waker.stop();
      await running;
      await queue;
    },
  };
}

export type Registry = ReturnType<typeof startRegistry>;
