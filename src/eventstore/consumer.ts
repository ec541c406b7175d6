import type { Logger } from '../kernel/index.js';
import type { EventStore, RecordedEvent } from './port.js';

export interface ConsumerOptions {
  /** Names the checkpoint; a consumer started again with the same name resumes after it. */
  name: string;
  /** Called with each batch in position order; the checkpoint moves past a batch once this resolves. */
  handle: (events: RecordedEvent[]) => Promise<void> | void;
  /** Only this tenant's events; the whole log when absent. */
  tenant?: string;
  batchSize?: number;
  /** Longest wait between polls when no notification arrives. */
  pollIntervalMs?: number;
  /** First delay after a failing batch; doubles up to `maxRetryDelayMs` (default 30 s) while it keeps failing. */
  retryDelayMs?: number;
  maxRetryDelayMs?: number;
  /**
   * Reads the next batch while `handle` works on a full one, so that reading and handling overlap
   * (for a handler that waits on something else than this process's CPU, such as a broker's acks).
   */
  readAhead?: boolean;
  logger?: Logger;
}

export interface Consumer {
  /** The position of the last event handled. */
  readonly position: bigint;
  /** Resolves once the consumer has handled every event up to `position` (or is stopped). */
  waitFor(position: bigint): Promise<void>;
  stop(): Promise<void>;
}

const MAX_RETRY_DELAY_MS = 30_000;

/**
 * A checkpointed reader of the log. Positions are committed in order (docs/decisions/0002),
 * so remembering the last one handled is enough to deliver every event once, in order,
 * across restarts. A crash between `handle` and the checkpoint write repeats that one batch.
 */
export async function startConsumer(store: EventStore, options: ConsumerOptions): Promise<Consumer> {
  const batchSize = options.batchSize ?? 1000;
  const pollIntervalMs = options.pollIntervalMs ?? 500;
  let position = await store.checkpoints.load(options.name);
  let stopped = false;
  let wake: (() => void) | undefined;
  /** An append announced while a batch was being handled: the next sleep is skipped. */
  let pending = false;
  /** Ends any sleep, for stop(). */
  let stopWake: (() => void) | undefined;
  const waiters = new Set<{ position: bigint; resolve: () => void }>();

  const unsubscribe = store.onAppended(() => {
    pending = true;
    wake?.();
  });

  /** Waits for the poll interval, or less when an append is announced (not for retries: `wakeable` false). */
  const sleep = (ms: number, wakeable = true) =>
    new Promise<void>((resolve) => {
      if (stopped || (wakeable && pending)) {
        resolve();
        return;
      }
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        wake = undefined;
        stopWake = undefined;
        resolve();
      }
      wake = wakeable ? done : undefined;
      stopWake = done;
    });

  function settleWaiters(): void {
    for (const waiter of waiters) {
      if (stopped || waiter.position <= position) {
        waiters.delete(waiter);
        waiter.resolve();
      }
    }
  }

  function read(after: bigint): Promise<RecordedEvent[]> {
    const range = { after, limit: batchSize };
    return options.tenant ? store.readTenant(options.tenant, range) : store.readAll(range);
  }

  /** The batch read ahead, from where it was read (used only if the consumer is still there). */
  let ahead: { after: bigint; batch: Promise<RecordedEvent[]> } | undefined;

  function readBatch(): Promise<RecordedEvent[]> {
    const next = ahead?.after === position ? ahead.batch : read(position);
    ahead = undefined;
    return next;
  }

  function readAheadOf(last: bigint): void {
    const batch = read(last);
    // Its failure surfaces in the step that uses it.
    batch.catch(() => undefined);
    ahead = { after: last, batch };
  }

  async function step(): Promise<boolean> {
    pending = false;
    const events = await readBatch();
    const last = events.at(-1);
    if (!last) return false;
    if (options.readAhead && events.length === batchSize) readAheadOf(last.position);
    await options.handle(events);
    await store.checkpoints.save(options.name, last.position);
    position = last.position;
    settleWaiters();
    return events.length === batchSize;
  }

  async function run(): Promise<void> {
    let retryDelay = options.retryDelayMs ?? 100;
    while (!stopped) {
      try {
        const more = await step();
        retryDelay = options.retryDelayMs ?? 100;
        if (!more && !stopped) await sleep(pollIntervalMs);
      } catch (error) {
        options.logger?.error({ err: error, consumer: options.name }, 'consumer batch failed; retrying');
        await sleep(retryDelay, false);
        retryDelay = Math.min(retryDelay * 2, options.maxRetryDelayMs ?? MAX_RETRY_DELAY_MS);
      }
    }
  }

  const running = run();

  return {
    get position() {
      return position;
    },
    waitFor(target) {
      if (stopped || target <= position) return Promise.resolve();
      return new Promise((resolve) => waiters.add({ position: target, resolve }));
    },
    async stop() {
      stopped = true;
      unsubscribe();
      stopWake?.();
      await running;
      settleWaiters();
    },
  };
}
