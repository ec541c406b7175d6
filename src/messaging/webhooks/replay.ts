import { setTimeout as sleep } from 'node:timers/promises';
import type { EventStore, RecordedEvent } from '../../eventstore/index.js';
import { type Logger, uuidv7 } from '../../kernel/index.js';
import { type EventEnvelope, parseEventMessage, toEventMessage } from '../event-message.js';
import type { CompiledWebhook } from './definition.js';
import type { Deliverer } from './deliver.js';

export interface ReplayStarted {
  id: string;
  webhook: string;
  from: bigint;
  /** The log's head when the replay was asked for: the last position it may deliver. */
  to: bigint;
}

const PAGE = 1000;

interface Task {
  controller: AbortController;
  done: Promise<void>;
}

/**
 * Replays re-deliver a webhook's matching events from the event store (the source of truth), from a
 * position up to the head at the time of the request, through the live pipeline (signature,
 * retries with backoff, dead letters), marked `replay` in the deliveries log. They run in the
 * background of the process that accepted them, at most `maxInFlight` events at once.
 */
export function createReplays(deps: { events: EventStore; deliverer: Deliverer; root: string; maxInFlight: number; logger: Logger }) {
  const running = new Map<string, Set<Task>>();
  const key = (webhook: CompiledWebhook) => `${webhook.tenant}/${webhook.document.id}`;

  async function deliver(webhook: CompiledWebhook, envelope: EventEnvelope, signal: AbortSignal): Promise<void> {
    for (let attempt = 1; !signal.aborted; attempt++) {
      const outcome = await deps.deliverer.attempt(webhook, envelope, attempt, true);
      if (outcome.kind !== 'retry') return;
      await sleep(outcome.delayMs, undefined, { signal }).catch(() => undefined);
    }
  }

  function envelopeOf(event: RecordedEvent): EventEnvelope | undefined {
    const message = toEventMessage(deps.root, event);
    return message && parseEventMessage(message.data);
  }

  async function run(webhook: CompiledWebhook, from: bigint, to: bigint, signal: AbortSignal): Promise<void> {
    const inFlight = new Set<Promise<void>>();
    let after = from > 0n ? from - 1n : 0n;
    while (!signal.aborted && after < to) {
      const page = await deps.events.readTenant(webhook.tenant, { after, limit: PAGE });
      for (const event of page) {
        if (event.position > to || signal.aborted) break;
        const envelope = envelopeOf(event);
        if (!envelope || !webhook.wants(envelope)) continue;
        const task = deliver(webhook, envelope, signal)
          .catch((error: unknown) =>
            deps.logger.error(
              { err: error, tenant: webhook.tenant, webhook: webhook.document.id, eventId: event.id },
              'replayed delivery failed',
            ),
          )
          .finally(() => inFlight.delete(task));
        inFlight.add(task);
        if (inFlight.size >= deps.maxInFlight) await Promise.race(inFlight);
      }
      if (page.length < PAGE) break;
      after = page.at(-1)?.position ?? to;
    }
    await Promise.all(inFlight);
  }

  return {
    async start(webhook: CompiledWebhook, from: bigint): Promise<ReplayStarted> {
      const to = await deps.events.headPosition();
      const id = uuidv7();
      const controller = new AbortController();
      const log = { tenant: webhook.tenant, webhook: webhook.document.id, replay: id };
      deps.logger.info({ ...log, from: from.toString(), to: to.toString() }, 'webhook replay started');
      const set = running.get(key(webhook)) ?? new Set();
      running.set(key(webhook), set);
      const task: Task = {
        controller,
        done: run(webhook, from, to, controller.signal)
          .then(() => deps.logger.info(log, controller.signal.aborted ? 'webhook replay cancelled' : 'webhook replay finished'))
          .catch((error: unknown) => deps.logger.error({ err: error, ...log }, 'webhook replay failed'))
          .finally(() => set.delete(task)),
      };
      set.add(task);
      return { id, webhook: webhook.document.id, from, to };
    },
    /** Cancels the replays of a webhook (deleted), or of every webhook of a tenant, and waits for them to end. */
    async cancel(tenant: string, id?: string): Promise<void> {
      const tasks = [...running].filter(([k]) => k === `${tenant}/${id}` || (id === undefined && k.startsWith(`${tenant}/`)));
      await stop(tasks.flatMap(([, set]) => [...set]));
    },
    /** Replays still running. */
    get active(): number {
      return [...running.values()].reduce((sum, set) => sum + set.size, 0);
    },
    async stopAll(): Promise<void> {
      await stop([...running.values()].flatMap((set) => [...set]));
    },
  };
}

async function stop(tasks: Task[]): Promise<void> {
  for (const task of tasks) task.controller.abort();
  await Promise.all(tasks.map((task) => task.done));
}

export type Replays = ReturnType<typeof createReplays>;
