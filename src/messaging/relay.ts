import { type EventStore, type RecordedEvent, startConsumer } from '../eventstore/index.js';
import { type Lease, whileLeased } from '../eventstore/lease.js';
import type { Logger } from '../kernel/index.js';
import { toEventMessage } from './event-message.js';
import type { Bus, OutgoingMessage } from './port.js';

export interface RelayOptions {
  events: EventStore;
  bus: Bus;
  /** Only the holder relays; the others wait to take over (src/eventstore/lease.ts). */
  lease: Lease;
  logger: Logger;
  batchSize?: number;
  /** How often a waiting relay tries to take the lease, and the holder checks it still has it. */
  leaseIntervalMs?: number;
}

export interface Relay {
  /** True while this process holds the lease and publishes. */
  readonly active: boolean;
  /** Events published by this process since it started. */
  readonly published: number;
  /** Positions committed to the log but not yet published (from any process's checkpoint). */
  lag(): Promise<bigint>;
  stop(): Promise<void>;
}

/** The checkpoint of the relay of a bus root: one per root, shared by every relay process. */
export const relayCheckpoint = (root: string) => `relay:${root}`;

/** Every event of a known stream form becomes a message (src/messaging/event-message.ts). */
export function relayMessages(root: string, events: readonly RecordedEvent[]): OutgoingMessage[] {
  const messages: OutgoingMessage[] = [];
  for (const event of events) {
    const message = toEventMessage(root, event);
    if (message) messages.push(message);
  }
  return messages;
}

/**
 * The transactional outbox: a checkpointed reader of the event store that publishes every committed
 * event to the bus, id = event id. The checkpoint moves only after the bus stored the batch, so an
 * event is never lost; a crash in between publishes the batch again and the bus drops the duplicates
 * by id. While the bus is down the batch fails and is retried (every 2 s at most): writes go on and
 * the events wait in the log.
 */
export function startRelay(options: RelayOptions): Relay {
  const { events, bus, logger } = options;
  const name = relayCheckpoint(bus.root);
  let published = 0;
  const leased = whileLeased(
    options.lease,
    async () => {
      logger.info({ relay: name }, 'relay: publishing');
      return startConsumer(events, {
        name,
        batchSize: options.batchSize ?? 1000,
        pollIntervalMs: 250,
        retryDelayMs: 100,
        maxRetryDelayMs: 2000,
        // The next batch is read from the log while the bus stores this one.
        readAhead: true,
        logger,
        handle: async (batch) => {
          const messages = relayMessages(bus.root, batch);
          if (messages.length > 0) await bus.publish(messages);
          published += messages.length;
        },
      });
    },
    options.leaseIntervalMs ?? 2000,
    logger,
  );
  return {
    get active() {
      return leased.active;
    },
    get published() {
      return published;
    },
    async lag() {
      const [head, position] = await Promise.all([events.headPosition(), events.checkpoints.load(name)]);
      return head > position ? head - position : 0n;
    },
    stop: () => leased.stop(),
  };
}
