import type { EventStore } from '../eventstore/index.js';
import { createWaker, type Logger } from '../kernel/index.js';
import type { LiveHub } from './hub.js';

/** Subscribes to announced log positions (the broker in server mode); resolves to its unsubscribe. */
export type Announcements = (listener: (position: bigint) => void) => Promise<() => Promise<void>>;

export interface TailOptions {
  announcements?: Announcements;
  batchSize?: number;
  /** Longest wait between reads when no append is announced (a lost notification only delays). */
  pollIntervalMs?: number;
}

const MAX_RETRY_MS = 5000;

export interface Tail {
  /** Reads at once (the first subscriber went live). */
  wake(): void;
  stop(): Promise<void>;
}

/**
 * The one reader of the log in this process. It wakes on every announced append (on PostgreSQL,
 * other processes' appends too, through LISTEN/NOTIFY; in server mode also on every event the broker
 * announces, whichever process wrote it) and polls as a safety net. While no
 * subscriber is live it reads nothing: announced heads (and the head each new stream reads) move
 * the hub's watermark instead.
 */
export async function startTail(events: EventStore, hub: LiveHub, logger: Logger, options: TailOptions = {}): Promise<Tail> {
  const batchSize = options.batchSize ?? 1000;
  const pollIntervalMs = options.pollIntervalMs ?? 1000;
  hub.advanceIdle(await events.headPosition());
  const waker = createWaker();

  const announced = (head: bigint) => {
    if (hub.idle) hub.advanceIdle(head);
    else waker.notify();
  };
  const unsubscribe = events.onAppended(announced);
  const unlisten = await options.announcements?.(announced);

  async function step(): Promise<boolean> {
    waker.clear();
    if (hub.idle) return false;
    const batch = await events.readAll({ after: hub.position, limit: batchSize });
    if (batch.length === 0) return false;
    await hub.dispatch(batch);
    return batch.length === batchSize;
  }

  async function run(): Promise<void> {
    let retryMs = 100;
    while (!waker.stopped) {
      try {
        const more = await step();
        retryMs = 100;
        if (!more) await waker.sleep(pollIntervalMs);
      } catch (error) {
        logger.error({ err: error }, 'live tail: reading the log failed; retrying');
        await waker.sleep(retryMs);
        retryMs = Math.min(retryMs * 2, MAX_RETRY_MS);
      }
    }
  }

  const running = run();
  return {
    wake: () => waker.notify(),
    async stop() {
      unsubscribe();
      await unlisten?.();
      waker.stop();
      await running;
    },
  };
}
