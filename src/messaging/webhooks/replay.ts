import { setTimeout as sleep } from 'node:timers/promises';
import type { EventStore, RecordedEvent } from '../../eventstore/index.js';
import { type Logger, uuidv7 } from '../../kernel/index.js';
import { type EventEnvelope, parseEventMessage, toEventMessage } from '../event-message.js';
import type { CompiledWebhook } from './definition.js';
import type { Deliverer } from './deliver.js';
import type { ReplayClaim, ReplayRecord, WebhookStore } from './port.js';

export interface ReplayRequested {
  id: string;
  webhook: string;
  from: bigint;
  /** The log's head when the replay was asked for: the last position it may deliver. */
  to: bigint;
}

const PAGE = 1000;
/** Replays one process runs at once: the others wait for its next tick or go to other processes. */
const REPLAYS_PER_PROCESS = 4;
/** A lease lasts at least this long, renewed at every tick: a dead process' replays are taken over after it. */
const MIN_LEASE_MS = 30_000;
/** Before trying an attempt again that failed inside the platform (the webhook store unavailable). */
const ERROR_PAUSE_MS = 1000;

/**
 * How far a replay is done while up to `maxInFlight` deliveries end out of order: every event read
 * up to `scanned` that is not pending any more is done, so the watermark is just below the oldest
 * pending one.
 */
export function createWatermark(start: bigint) {
  const pending = new Set<bigint>();
  let scanned = start;
  return {
    /** An event read whose delivery is under way. */
    pending(position: bigint): void {
      pending.add(position);
    },
    /** Its delivery ended: delivered, dead-lettered or skipped. */
    done(position: bigint): void {
      pending.delete(position);
    },
    /** Every event up to here is read (and pending, or needs no delivery). */
    scanned(position: bigint): void {
      scanned = position;
    },
    value(): bigint {
      let low = scanned;
      for (const position of pending) if (position - 1n < low) low = position - 1n;
      return low;
    },
  };
}

type Watermark = ReturnType<typeof createWatermark>;

interface Running {
  claim: ReplayClaim;
  webhook: string;
  watermark: Watermark;
  controller: AbortController;
  done: Promise<void>;
}

/**
 * Replays re-deliver a webhook's matching events from the event store (the source of truth), from a
 * position up to the head at the time of the request, through the live pipeline (signature, retries
 * with backoff, dead letters), marked `replay` in the deliveries log. A request only records the
 * replay in the webhook store; processes that deliver webhooks (`start()`) claim running replays
 * under a lease, renew it and save their progress at every tick, and release it when they stop, so
 * that another process resumes from the progress (a few events past it may be delivered twice).
 */
export function createReplays(deps: {
  events: EventStore;
  store: WebhookStore;
  deliverer: Deliverer;
  /** The webhook as defined now; undefined once deleted. */
  definition(tenant: string, id: string): Promise<CompiledWebhook | undefined>;
  root: string;
  settings: { maxInFlight: number; syncIntervalMs: number };
  logger: Logger;
}) {
  const { store, logger } = deps;
  const owner = uuidv7();
  const leaseMs = Math.max(MIN_LEASE_MS, 3 * deps.settings.syncIntervalMs);
  const running = new Map<string, Running>();
  let timer: NodeJS.Timeout | undefined;
  let ticking: Promise<void> = Promise.resolve();
  const described = (claim: ReplayClaim, webhook: string) => ({ tenant: claim.tenant, webhook, replay: claim.id });

  function envelopeOf(event: RecordedEvent): EventEnvelope | undefined {
    const message = toEventMessage(deps.root, event);
    return message && parseEventMessage(message.data);
  }

  /** The tenant's events after `after` up to `to`, in position order. */
  async function* eventsOf(tenant: string, after: bigint, to: bigint): AsyncGenerator<RecordedEvent> {
    while (after < to) {
      const page = await deps.events.readTenant(tenant, { after, limit: PAGE });
      for (const event of page) {
        if (event.position > to) return;
        yield event;
      }
      if (page.length < PAGE) return;
      after = page.at(-1)?.position ?? to;
    }
  }

  /** Attempts one event until it is delivered, dead or skipped (true), or the replay stops (false). */
  async function deliver(task: Running, webhook: CompiledWebhook, envelope: EventEnvelope): Promise<boolean> {
    const { signal } = task.controller;
    for (let attempt = 1; !signal.aborted; ) {
      try {
        const outcome = await deps.deliverer.attempt(webhook, envelope, attempt, true);
        if (outcome.kind !== 'retry') return true;
        attempt++;
        await sleep(outcome.delayMs, undefined, { signal }).catch(() => undefined);
      } catch (error) {
        logger.error(
          { err: error, ...described(task.claim, task.webhook), eventId: envelope.id },
          'replayed delivery failed; trying again',
        );
        await sleep(ERROR_PAUSE_MS, undefined, { signal }).catch(() => undefined);
      }
    }
    return false;
  }

  /** Delivers the replay's matching events, at most `maxInFlight` at once, until the end or a stop. */
  async function deliverAll(task: Running, webhook: CompiledWebhook, replay: ReplayRecord): Promise<void> {
    const inFlight = new Set<Promise<void>>();
    try {
      for await (const event of eventsOf(replay.tenant, replay.progress, replay.to)) {
        if (task.controller.signal.aborted) break;
        const envelope = envelopeOf(event);
        if (envelope && webhook.wants(envelope)) {
          task.watermark.pending(event.position);
          const delivery: Promise<void> = deliver(task, webhook, envelope)
            .then((done) => {
              // An attempt cut short by a stop leaves its event pending: whoever resumes delivers it.
              if (done) task.watermark.done(event.position);
            })
            .finally(() => inFlight.delete(delivery));
          inFlight.add(delivery);
          if (inFlight.size >= deps.settings.maxInFlight) await Promise.race(inFlight);
        }
        task.watermark.scanned(event.position);
      }
    } catch (error) {
      task.controller.abort();
      throw error;
    } finally {
      await Promise.all(inFlight);
    }
  }

  /** True when the replay is over here: finished, or its webhook deleted (false: stopped before the end). */
  async function runToTheEnd(task: Running, replay: ReplayRecord): Promise<boolean> {
    const log = described(task.claim, task.webhook);
    const webhook = await deps.definition(replay.tenant, replay.webhook);
    if (!webhook) {
      await store.cancelReplays(replay.tenant, replay.webhook);
      return true;
    }
    logger.info({ ...log, progress: replay.progress.toString(), to: replay.to.toString() }, 'webhook replay running here');
    await deliverAll(task, webhook, replay);
    if (task.controller.signal.aborted) return false;
    if (await store.finishReplay(task.claim)) logger.info(log, 'webhook replay finished');
    return true;
  }

  /** Runs a claimed replay; unless it is over, saves how far it got and releases it for any process to go on. */
  async function run(task: Running, replay: ReplayRecord): Promise<void> {
    try {
      if (await runToTheEnd(task, replay)) return;
    } catch (error) {
      logger.error({ err: error, ...described(task.claim, task.webhook) }, 'webhook replay failed; it runs again from its progress');
    }
    await release(task);
  }

  /** Saves the progress and ends the lease at once (nothing when the claim no longer holds), so that another process may go on. */
  async function release(task: Running): Promise<void> {
    const progress = task.watermark.value();
    const log = { ...described(task.claim, task.webhook), progress: progress.toString() };
    try {
      if (await store.renewReplay(task.claim, progress, 0)) logger.info(log, 'webhook replay released');
    } catch (error) {
      logger.warn({ err: error, ...log }, 'webhook replay not released: another process takes it once its lease runs out');
    }
  }

  function launch(replay: ReplayRecord): void {
    const task = {
      claim: { tenant: replay.tenant, id: replay.id, owner },
      webhook: replay.webhook,
      watermark: createWatermark(replay.progress),
      controller: new AbortController(),
    } as Running;
    task.done = run(task, replay).finally(() => running.delete(replay.id));
    running.set(replay.id, task);
  }

  /** Saves the progress and extends the lease; a replay cancelled or taken over meanwhile stops here. */
  async function renew(task: Running): Promise<void> {
    const held = await store.renewReplay(task.claim, task.watermark.value(), leaseMs).catch((error: unknown) => {
      logger.warn(
        { err: error, ...described(task.claim, task.webhook) },
        'webhook replay lease not renewed; trying again at the next tick',
      );
      return true;
    });
    if (held) return;
    logger.info(described(task.claim, task.webhook), 'webhook replay cancelled or taken over by another process: stopping here');
    task.controller.abort();
  }

  async function tick(): Promise<void> {
    await Promise.all([...running.values()].map(renew));
    while (timer && running.size < REPLAYS_PER_PROCESS) {
      const replay = await store.claimReplay(owner, leaseMs);
      if (!replay) return;
      launch(replay);
    }
  }

  function tickSoon(): void {
    ticking = ticking
      .then(tick)
      .catch((error: unknown) => logger.warn({ err: error }, 'webhook replays: claiming failed; trying again at the next tick'));
  }

  async function abortAndWait(tasks: Running[]): Promise<void> {
    for (const task of tasks) task.controller.abort();
    await Promise.all(tasks.map((task) => task.done));
  }

  return {
    /** Records a replay of the webhook from `from` up to the log's head; a process that delivers takes it up. */
    async request(tenant: string, webhook: string, from: bigint): Promise<ReplayRequested> {
      const to = await deps.events.headPosition();
      const id = uuidv7();
      await store.createReplay({ id, tenant, webhook, from, to, progress: from > 0n ? from - 1n : 0n });
      logger.info({ tenant, webhook, replay: id, from: from.toString(), to: to.toString() }, 'webhook replay requested');
      // This process delivers too: no need to wait for its next tick.
      if (timer) tickSoon();
      return { id, webhook, from, to };
    },
    /** Claims replays now and every `syncIntervalMs`, and keeps the leases of those it runs. */
    start(): void {
      if (timer) return;
      timer = setInterval(tickSoon, deps.settings.syncIntervalMs).unref();
      tickSoon();
    },
    /** Stops claiming, stops the replays running here (deliveries under way finish first) and releases them. */
    async stop(): Promise<void> {
      clearInterval(timer);
      timer = undefined;
      await ticking;
      await abortAndWait([...running.values()]);
    },
    /** Cancels the replays of a webhook (deleted), or of every webhook of a tenant; those running here end first. */
    async cancel(tenant: string, webhook?: string): Promise<void> {
      const here = [...running.values()].filter(
        (task) => task.claim.tenant === tenant && (webhook === undefined || task.webhook === webhook),
      );
      try {
        await store.cancelReplays(tenant, webhook);
      } finally {
        await abortAndWait(here);
      }
    },
    /** Replays running in this process. */
    get active(): number {
      return running.size;
    },
  };
}

export type Replays = ReturnType<typeof createReplays>;
