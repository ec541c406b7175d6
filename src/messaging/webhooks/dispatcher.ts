import type { Logger } from '../../kernel/index.js';
import { parseEventMessage } from '../event-message.js';
import type { Bus, Delivery, Subscription } from '../port.js';
import { consumerName } from '../subjects.js';
import { type CompiledWebhook, compileWebhook, type WebhookDocument } from './definition.js';
import type { Deliverer } from './deliver.js';

export interface DispatcherSettings {
  maxInFlight: number;
  maxAttempts: number;
  timeoutMs: number;
}

/** Time a delivery may take beyond the HTTP timeout (transform, secret, log) before the bus sends it again. */
const ACK_MARGIN_MS = 30_000;

interface Running {
  /** Swapped in place when the definition changes: the consumer goes on. */
  webhook: CompiledWebhook;
  subscription: Subscription;
}

/**
 * One durable bus consumer per active webhook, named after it, so that a slow or dead endpoint
 * holds only its own messages; processes that run the same webhook share its messages. Changes of one
 * webhook are applied one after the other.
 */
export function createDispatcher(deps: { bus: Bus; deliverer: Deliverer; settings: DispatcherSettings; logger: Logger }) {
  const { bus, settings } = deps;
  const running = new Map<string, Running>();
  const queues = new Map<string, Promise<void>>();
  const key = (tenant: string, id: string) => `${tenant}/${id}`;
  const spec = (tenant: string, id: string) => ({ name: consumerName('webhook', tenant, id), subject: `${bus.root}.${tenant}.*.*.*` });

  /** Runs changes of one webhook in order. */
  function serial(tenant: string, id: string, work: () => Promise<void>): Promise<void> {
    const k = key(tenant, id);
    const next = (queues.get(k) ?? Promise.resolve()).then(work, work);
    const settled = next.catch(() => undefined);
    queues.set(k, settled);
    void settled.then(() => {
      if (queues.get(k) === settled) queues.delete(k);
    });
    return next;
  }

  async function handle(entry: Running, delivery: Delivery): Promise<void> {
    const envelope = parseEventMessage(delivery.data);
    if (!envelope) return delivery.ack();
    const outcome = await deps.deliverer.attempt(entry.webhook, envelope, delivery.attempt, false);
    if (outcome.kind === 'retry') delivery.retry(outcome.delayMs);
    else if (outcome.kind === 'dead') delivery.reject();
    else delivery.ack();
  }

  async function start(tenant: string, webhook: CompiledWebhook): Promise<void> {
    const entry = { webhook } as Running;
    entry.subscription = await bus.consume({
      ...spec(tenant, webhook.document.id),
      start: 'new',
      maxInFlight: settings.maxInFlight,
      maxAttempts: settings.maxAttempts,
      ackWaitMs: settings.timeoutMs + ACK_MARGIN_MS,
      handle: (delivery) => handle(entry, delivery),
    });
    running.set(key(tenant, webhook.document.id), entry);
  }

  async function stop(tenant: string, id: string): Promise<void> {
    const entry = running.get(key(tenant, id));
    if (!entry) return;
    running.delete(key(tenant, id));
    await entry.subscription.stop();
  }

  return {
    /** Runs the webhook as defined: starts it, swaps its definition, or stops it (inactive or deleted). */
    apply(tenant: string, id: string, document: WebhookDocument | null): Promise<void> {
      return serial(tenant, id, async () => {
        const entry = running.get(key(tenant, id));
        if (!document?.active) return stop(tenant, id);
        if (entry && JSON.stringify(entry.webhook.document) === JSON.stringify(document)) return;
        const webhook = compileWebhook(tenant, document);
        if (entry) entry.webhook = webhook;
        else await start(tenant, webhook);
      });
    },
    /**
     * Creates the webhook's durable consumer without running it (a process that serves the routes but
     * delivers nothing): from now on the bus keeps the webhook's messages for the processes that deliver.
     */
    provision(tenant: string, id: string): Promise<void> {
      return serial(tenant, id, async () => {
        if (running.has(key(tenant, id))) return;
        // A message that slips in before the stop goes back at once to whoever delivers.
        const subscription = await bus.consume({
          ...spec(tenant, id),
          start: 'new',
          maxAttempts: settings.maxAttempts,
          handle: async (delivery) => delivery.retry(0),
        });
        await subscription.stop();
      });
    },
    /** Stops the webhook and forgets its durable consumer (a deleted webhook). */
    remove(tenant: string, id: string): Promise<void> {
      return serial(tenant, id, async () => {
        await stop(tenant, id);
        const { name, subject } = spec(tenant, id);
        await bus.deleteConsumer(name, subject);
      });
    },
    /** The webhooks running here (`tenant/id`). */
    running(): string[] {
      return [...running.keys()];
    },
    /** The definition a running webhook delivers with. */
    current(tenant: string, id: string): CompiledWebhook | undefined {
      return running.get(key(tenant, id))?.webhook;
    },
    /** Lets the changes under way finish, then stops every webhook. */
    async stopAll(): Promise<void> {
      await Promise.all(queues.values());
      await Promise.all([...running.values()].map((entry) => entry.subscription.stop()));
      running.clear();
    },
  };
}

export type Dispatcher = ReturnType<typeof createDispatcher>;
