import type { Logger } from '../../kernel/index.js';
import { type Bus, BusError, type ConsumerSpec, type Delivery, type Subscription } from '../port.js';
import { consumerName, messageSubject } from '../subjects.js';
import { type CompiledRoute, compileRoute } from './compile.js';
import { parseSource, type Source } from './definition.js';
import { asFailure, backoffMs, deadLetter, type RouteFailure } from './failures.js';
import { type PipelineDeps, parseMessage, processDelivery, sourceMatches } from './pipeline.js';
import type { RegistryRow, RouteStore } from './port.js';

export interface RetrySettings {
  /** Deliveries of one message before it is dead-lettered. */
  maxAttempts: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
  /** Messages of one route under way at once, per process (default 1: in order). */
  maxInFlight?: number;
}

/** What this process' routes did since it started (metrics, tests). */
export interface RouteCounters {
  /** Messages that went through their route (and were acknowledged). */
  handled: number;
  /** Messages and groups dead-lettered. */
  deadLettered: number;
  /** Aggregation groups sent on to their targets. */
  groupsEmitted: number;
}

/** Deliveries the bus still makes after `maxAttempts`, should dead-lettering itself keep failing (the bus being down). */
const DEAD_LETTER_ATTEMPTS = 20;
const ACK_WAIT_MS = 60_000;

/** The durable consumer's subject: every event of the tenant (patterns are matched here), or one message subject. */
export function consumerSubject(root: string, tenant: string, source: Source): string {
  return source.kind === 'events' ? `${root}.${tenant}.*.*.*` : messageSubject(root, tenant, source.stream, source.name);
}

type Running = { route: CompiledRoute; subscription: Subscription };
type Consumed = { tenant: string; id: string; source: Source };

/**
 * One durable bus consumer per active route (`route_<tenant>_<id>`): every process running routes
 * opens it, so they share its messages. A message that fails is retried with backoff, then
 * dead-lettered and rejected, so a poison message never blocks the route.
 */
export function createConsumers(deps: {
  bus: Bus;
  store: RouteStore;
  pipeline: PipelineDeps;
  settings: RetrySettings;
  counters: RouteCounters;
  logger: Logger;
}) {
  const { bus, store, settings, counters, logger } = deps;
  const running = new Map<string, Running>();
  const key = (tenant: string, id: string) => `${tenant}/${id}`;
  const nameOf = (route: { tenant: string; id: string }) => consumerName('route', route.tenant, route.id);

  async function deadLettered(route: CompiledRoute, delivery: Delivery, failure: RouteFailure): Promise<void> {
    let body: ReturnType<typeof parseMessage>;
    try {
      body = parseMessage(delivery.data);
    } catch {
      body = Buffer.from(delivery.data).toString('base64');
    }
    const failed = { subject: delivery.subject, id: delivery.id, body, headers: delivery.headers };
    await bus.publish([deadLetter(bus.root, route.tenant, route.id, failed, failure)]);
    logger.warn(
      { tenant: route.tenant, route: route.id, message: delivery.id, code: failure.code, stage: failure.stage },
      'route: dead-lettered a message',
    );
  }

  async function handle(route: CompiledRoute, delivery: Delivery): Promise<void> {
    if (!sourceMatches(route, delivery.subject)) return delivery.ack();
    try {
      await processDelivery(route, delivery, deps.pipeline);
      counters.handled++;
      return delivery.ack();
    } catch (error) {
      const failure = asFailure(error, 'route');
      const delay = backoffMs(delivery.attempt, settings.backoffBaseMs, settings.backoffMaxMs);
      if (!failure.permanent && delivery.attempt < settings.maxAttempts) return delivery.retry(delay);
      if (failure.code === 'loop_detected') {
        // Dead-lettering it could feed the cycle again: it stops here.
        logger.error(
          { tenant: route.tenant, route: route.id, message: delivery.id },
          'route: dropped a message that went round a cycle of routes',
        );
        return delivery.reject();
      }
      try {
        await deadLettered(route, delivery, failure);
        counters.deadLettered++;
        delivery.reject();
      } catch (publishError) {
        logger.error({ err: publishError, route: route.id }, 'route: dead-lettering failed; retrying');
        delivery.retry(delay);
      }
    }
  }

  /** Opens the consumer; one left on another subject of the same stream (an older source) is replaced. */
  async function consume(route: Consumed, handler: ConsumerSpec['handle']): Promise<Subscription> {
    const subject = consumerSubject(bus.root, route.tenant, route.source);
    const other = route.source.kind === 'events' ? `${bus.root}.${route.tenant}.*.*` : `${bus.root}.${route.tenant}.*.*.*`;
    await bus.deleteConsumer(nameOf(route), other);
    const spec: ConsumerSpec = {
      name: nameOf(route),
      subject,
      start: 'new',
      ackWaitMs: ACK_WAIT_MS,
      maxInFlight: settings.maxInFlight ?? 1,
      maxAttempts: settings.maxAttempts + DEAD_LETTER_ATTEMPTS,
      handle: handler,
    };
    try {
      return await bus.consume(spec);
    } catch (error) {
      if (!(error instanceof BusError) || error.reason !== 'invalid') throw error;
      await bus.deleteConsumer(spec.name, subject);
      return bus.consume(spec);
    }
  }

  async function compiled(row: RegistryRow): Promise<CompiledRoute | undefined> {
    const document = row.document;
    if (!document) return undefined;
    const secrets = await store.secrets(row.tenant, row.id, document.secretRef ?? '');
    const route = compileRoute(row.tenant, row.version, document, secrets);
    // A webhook secret is missing when a newer version replaced it: that version starts instead.
    if (route.targets.some((target) => target.kind === 'webhook' && target.secret === '')) return undefined;
    return route;
  }

  async function stop(k: string): Promise<void> {
    const current = running.get(k);
    running.delete(k);
    await current?.subscription.stop();
  }

  async function start(row: RegistryRow): Promise<void> {
    const k = key(row.tenant, row.id);
    await stop(k);
    try {
      const route = await compiled(row);
      if (route) running.set(k, { route, subscription: await consume(route, (delivery) => handle(route, delivery)) });
    } catch (error) {
      logger.error({ err: error, tenant: row.tenant, route: row.id }, 'route: starting its consumer failed');
    }
  }

  return {
    /** Starts active routes not running at their version, stops the others (their durable consumers stay). */
    async sync(rows: readonly RegistryRow[]): Promise<void> {
      const wanted = new Map(rows.filter((row) => row.document?.active).map((row) => [key(row.tenant, row.id), row]));
      for (const k of running.keys()) if (!wanted.has(k)) await stop(k);
      for (const [k, row] of wanted) if (running.get(k)?.route.version !== row.version) await start(row);
    },
    /**
     * Creates the route's durable consumer without running it (a process that serves the API but
     * runs no route): from now on it keeps the route's messages for the processes that run it.
     */
    async provision(row: RegistryRow): Promise<void> {
      const source = parseSource(row.document?.source);
      if (!source) return;
      // A message that slips in before the stop goes back at once to whoever runs the route.
      const subscription = await consume({ tenant: row.tenant, id: row.id, source }, async (delivery) => delivery.retry(0));
      await subscription.stop();
    },
    /** A deleted route: its consumer stops and is deleted on both streams, its groups and secrets go. */
    async remove(tenant: string, id: string): Promise<void> {
      await stop(key(tenant, id));
      const name = nameOf({ tenant, id });
      await bus.deleteConsumer(name, `${bus.root}.${tenant}.*.*.*`);
      await bus.deleteConsumer(name, `${bus.root}.${tenant}.*.*`);
      await store.dropRoute(tenant, id);
    },
    /** The running route, compiled (undefined when paused, deleted or not known here). */
    get(tenant: string, id: string): CompiledRoute | undefined {
      return running.get(key(tenant, id))?.route;
    },
    tenantRoutes(tenant: string): string[] {
      return [...running.values()].filter((r) => r.route.tenant === tenant).map((r) => r.route.id);
    },
    async stopAll(): Promise<void> {
      for (const k of [...running.keys()]) await stop(k);
    },
  };
}

export type Consumers = ReturnType<typeof createConsumers>;
