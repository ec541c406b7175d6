import {
  AckPolicy,
  type ConsumerConfig,
  type ConsumerMessages,
  DeliverPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
} from '@nats-io/jetstream';
import { nanos } from '@nats-io/transport-node';
import type { Logger } from '../../kernel/index.js';
import { type ConsumerPlan, createHandlerPool, deliver, type Settlement } from '../bus.js';
import { BusError, HEADERS, type Subscription } from '../port.js';
import { fromNatsHeaders, unavailable } from './errors.js';

const RETRY_DELAYS_MS = [250, 500, 1_000, 2_000, 5_000];

const isConsumerNotFound = (error: unknown) => error instanceof JetStreamApiError && error.code === JetStreamApiCodes.ConsumerNotFound;
const isStreamNotFound = (error: unknown) => error instanceof JetStreamApiError && error.code === JetStreamApiCodes.StreamNotFound;

/** Creates the durable pull consumer unless it exists; refuses one that exists on another subject. */
export async function ensureConsumer(jsm: JetStreamManager, stream: string, plan: ConsumerPlan, logger: Logger): Promise<void> {
  const wanted = {
    ack_wait: nanos(plan.ackWaitMs),
    max_deliver: plan.maxAttempts,
    max_ack_pending: plan.maxInFlight,
  };
  let existing: ConsumerConfig;
  try {
    existing = (await jsm.consumers.info(stream, plan.name)).config;
  } catch (error) {
    if (isStreamNotFound(error)) throw new BusError('no_stream', `Stream ${stream} does not exist`, { cause: error });
    if (!isConsumerNotFound(error)) throw unavailable(error, `Cannot look up consumer ${plan.name}`);
    await jsm.consumers
      .add(stream, {
        ...wanted,
        durable_name: plan.name,
        ack_policy: AckPolicy.Explicit,
        filter_subject: plan.subject,
        deliver_policy: plan.start === 'new' ? DeliverPolicy.New : DeliverPolicy.All,
      })
      .catch((cause: unknown) => {
        throw unavailable(cause, `Cannot create consumer ${plan.name}`);
      });
    return;
  }
  if (existing.filter_subject !== plan.subject) {
    throw new BusError('invalid', `Consumer ${plan.name} exists with another subject than ${plan.subject}`);
  }
  const changed = Object.entries(wanted).some(([key, value]) => existing[key as keyof typeof wanted] !== value);
  if (changed) {
    await jsm.consumers.update(stream, plan.name, wanted).catch((error: unknown) => {
      logger.warn({ err: error, consumer: plan.name }, 'bus consumer settings could not be updated; the former ones apply');
    });
  }
}

function delivery(message: JsMsg) {
  return {
    subject: message.subject,
    id: message.headers?.get(HEADERS.id) ?? '',
    headers: fromNatsHeaders(message.headers),
    data: message.data,
    sequence: message.seq,
    attempt: message.info.deliveryCount,
  };
}

function settlement(message: JsMsg): Settlement {
  return {
    // A confirmed ack: once the handler is done, the server has recorded it (a reopened consumer never sees it again).
    ack: async () => {
      await message.ackAck();
    },
    retry: (delayMs) => message.nak(delayMs),
    reject: () => message.term(),
  };
}

/**
 * Delivers the consumer's messages to the handler, at most `maxInFlight` at once, for as long as
 * the subscription runs: when the pull iterator ends (the connection was lost for good, the
 * consumer vanished), it is opened again with backoff, creating the consumer again if needed.
 */
export function runNatsSubscription(
  js: JetStreamClient,
  jsm: JetStreamManager,
  stream: string,
  plan: ConsumerPlan,
  logger: Logger,
): Subscription {
  const log = logger.child({ consumer: plan.name, subject: plan.subject });
  const pool = createHandlerPool(plan.maxInFlight);
  let stopped = false;
  let messages: ConsumerMessages | undefined;
  let interrupt: (() => void) | undefined;

  async function session(): Promise<void> {
    const consumer = await js.consumers.get(stream, plan.name);
    messages = await consumer.consume({ max_messages: plan.maxInFlight });
    if (stopped) void messages.close();
    void watch(messages);
    for await (const message of messages) {
      if (!stopped) await pool.whenFree();
      // Stopping: hand the messages already fetched back at once rather than after the ack wait.
      if (stopped) message.nak();
      else pool.run(() => deliver(delivery(message), settlement(message), plan.handle, log));
    }
  }

  async function watch(current: ConsumerMessages): Promise<void> {
    for await (const status of current.status()) {
      if (status.type === 'consumer_deleted' || (status.type === 'consumer_not_found' && status.count >= 3)) {
        log.warn({ status }, 'bus consumer is gone; creating it again');
        void current.close();
        return;
      }
      if (status.type === 'heartbeats_missed') log.debug({ status }, 'bus consumer missed heartbeats');
    }
  }

  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      interrupt = () => {
        clearTimeout(timer);
        resolve();
      };
    });

  const loop = (async () => {
    for (let failures = 0; !stopped; ) {
      try {
        if (failures > 0) await ensureConsumer(jsm, stream, plan, log);
        await session();
        failures = 0;
      } catch (error) {
        if (!stopped) log.warn({ err: error, failures }, 'bus consumer interrupted; resuming');
      }
      if (stopped) break;
      await pause(RETRY_DELAYS_MS[Math.min(failures++, RETRY_DELAYS_MS.length - 1)] ?? 5_000);
    }
  })();

  return {
    async stop() {
      if (stopped) return;
      stopped = true;
      interrupt?.();
      void messages?.close();
      await loop;
      await pool.idle();
    },
  };
}
