import { createWaker, type Logger } from '../../kernel/index.js';
import { type ConsumerPlan, createHandlerPool, deliver } from '../bus.js';
import type { Headers, Subscription } from '../port.js';
import type { BusStore, Claimed, ConsumerKey } from './store.js';

/** How long an idle subscription sleeps when nothing is due; news (a publish, a finished handler) wakes it sooner. */
const IDLE_SLEEP_MS = 60_000;

export interface RunningSubscription extends Subscription {
  readonly stream: string;
  /** News on the subscription's stream, or a delivery settled: look again. */
  wake(): void;
}

/**
 * One subscription of a durable consumer: claims deliveries from the store (atomically, so that
 * subscriptions sharing the name never get the same message) while a handler slot is free, and
 * sleeps until a publish, a finished handler or the next redelivery falls due.
 */
export function runSubscription(store: BusStore, stream: string, plan: ConsumerPlan, logger: Logger): RunningSubscription {
  const key: ConsumerKey = { ...plan, stream };
  const waker = createWaker();
  // A freed slot (and a settled delivery: a retry may fall due sooner) calls for another pass.
  const pool = createHandlerPool(plan.maxInFlight, () => waker.notify());
  const log = logger.child({ consumer: plan.name, subject: plan.subject });

  function start(claimed: Claimed): void {
    const { message, attempt } = claimed;
    const settlement = {
      ack: () => store.ack(key, message.seq),
      reject: () => store.ack(key, message.seq),
      retry: (delayMs: number) => store.retry(key, message.seq, Date.now() + delayMs),
    };
    const delivery = {
      subject: message.subject,
      id: message.msg_id,
      headers: JSON.parse(message.headers) as Headers,
      data: new Uint8Array(message.data),
      sequence: message.seq,
      attempt,
    };
    pool.run(() => deliver(delivery, settlement, plan.handle, log));
  }

  function pass(): number {
    const now = Date.now();
    if (pool.free > 0) {
      for (const claimed of store.claim(key, pool.free, now)) start(claimed);
    }
    if (pool.free === 0) return IDLE_SLEEP_MS;
    const due = store.nextDue(key);
    return due === undefined ? IDLE_SLEEP_MS : Math.min(IDLE_SLEEP_MS, Math.max(0, due - now) + 1);
  }

  const loop = (async () => {
    while (!waker.stopped) {
      waker.clear();
      let sleepMs = IDLE_SLEEP_MS;
      try {
        sleepMs = pass();
      } catch (error) {
        log.error({ err: error }, 'bus consumer could not claim messages');
        sleepMs = 1_000;
      }
      await waker.sleep(sleepMs);
    }
  })();

  return {
    stream,
    wake: () => waker.notify(),
    async stop() {
      waker.stop();
      await loop;
      await pool.idle();
    },
  };
}
