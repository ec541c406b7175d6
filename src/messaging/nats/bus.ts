import {
  DiscardPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamClient,
  type JetStreamManager,
  jetstream,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
  type StreamConfig,
} from '@nats-io/jetstream';
import { connect, type NatsConnection, nanos } from '@nats-io/transport-node';
import { type Logger, redactUrl } from '../../kernel/index.js';
import { planConsumer, type ResolvedBusSettings } from '../bus.js';
import { type Bus, BusError, type OutgoingMessage, type PublishResult, type Subscription } from '../port.js';
import { checkNoticeSubject, consumerStream, type StreamKind, streamName, streamOf, streamSubjects } from '../subjects.js';
import { ensureConsumer, runNatsSubscription } from './consumer.js';
import { fromNatsHeaders, isClosed, publishError, toNatsHeaders, unavailable } from './errors.js';
import { requestNats, serveNats } from './requests.js';

type NatsSettings = Extract<ResolvedBusSettings, { kind: 'nats' }>;

const KINDS: StreamKind[] = ['events', 'messages'];

const isStreamNotFound = (error: unknown) => error instanceof JetStreamApiError && error.code === JetStreamApiCodes.StreamNotFound;
const isConsumerNotFound = (error: unknown) => error instanceof JetStreamApiError && error.code === JetStreamApiCodes.ConsumerNotFound;

/** Creates both streams of the root, or brings their limits up to date. */
async function provision(jsm: JetStreamManager, settings: NatsSettings): Promise<void> {
  for (const kind of KINDS) {
    const config: Partial<StreamConfig> & { name: string } = {
      name: streamName(settings.root, kind),
      subjects: [streamSubjects(settings.root, kind)],
      storage: StorageType.File,
      retention: RetentionPolicy.Limits,
      discard: DiscardPolicy.Old,
      max_age: nanos(settings.maxAgeMs),
      duplicate_window: nanos(settings.duplicateWindowMs),
      num_replicas: settings.replicas,
    };
    try {
      await jsm.streams.update(config.name, config);
    } catch (error) {
      if (!isStreamNotFound(error)) throw error;
      await jsm.streams.add(config);
    }
  }
}

async function connectTo(settings: NatsSettings): Promise<NatsConnection> {
  try {
    return await connect({
      servers: settings.url,
      name: 'backoffice',
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      pingInterval: 10_000,
      timeout: settings.publishTimeoutMs,
    });
  } catch (error) {
    throw unavailable(error, `Cannot connect to NATS at ${redactUrl(settings.url)}`);
  }
}

/** The server-mode bus: JetStream streams and durable pull consumers, core NATS request/reply. */
export async function openNatsBus(settings: NatsSettings, logger: Logger): Promise<Bus> {
  const nc = await connectTo(settings);
  const log = logger.child({ bus: 'nats' });
  let js: JetStreamClient;
  let jsm: JetStreamManager;
  try {
    jsm = await jetstreamManager(nc, { timeout: settings.publishTimeoutMs });
    js = jetstream(nc, { timeout: settings.publishTimeoutMs });
    await provision(jsm, settings);
  } catch (error) {
    await nc.close();
    throw unavailable(error, 'Cannot provision the JetStream streams');
  }
  void watchConnection(nc, log);
  return natsBus(nc, js, jsm, settings, log);
}

async function watchConnection(nc: NatsConnection, log: Logger): Promise<void> {
  for await (const status of nc.status()) {
    if (status.type === 'disconnect') log.warn({ server: status.server }, 'bus disconnected from NATS');
    if (status.type === 'reconnect') log.info({ server: status.server }, 'bus reconnected to NATS');
  }
}

function natsBus(nc: NatsConnection, js: JetStreamClient, jsm: JetStreamManager, settings: NatsSettings, log: Logger): Bus {
  const { root } = settings;
  const subscriptions = new Set<Subscription>();
  const stream = (subject: string) => streamName(root, consumerStream(root, subject));
  const tracked = (subscription: Subscription): Subscription => {
    subscriptions.add(subscription);
    return {
      async stop() {
        subscriptions.delete(subscription);
        await subscription.stop();
      },
    };
  };

  function check(message: OutgoingMessage): void {
    if (!streamOf(root, message.subject)) throw new BusError('no_stream', `No stream stores subject ${message.subject}`);
    if (!message.id) throw new BusError('invalid', `Message on ${message.subject} has no id`);
  }

  async function publishOne(message: OutgoingMessage): Promise<PublishResult> {
    const headers = toNatsHeaders(message.headers);
    const options = { msgID: message.id, timeout: settings.publishTimeoutMs, ...(headers ? { headers } : {}) };
    try {
      const ack = await js.publish(message.subject, message.data, options);
      return { sequence: ack.seq, duplicate: ack.duplicate };
    } catch (error) {
      throw publishError(error, message.subject);
    }
  }

  return {
    kind: 'nats',
    root,

    async publish(messages) {
      messages.forEach(check);
      return pipelined(messages, publishOne);
    },

    async consume(spec) {
      const plan = planConsumer(root, spec);
      const name = streamName(root, plan.stream);
      await ensureConsumer(jsm, name, plan, log);
      return tracked(runNatsSubscription(js, jsm, name, plan, log));
    },

    async deleteConsumer(name, subject) {
      try {
        await jsm.consumers.delete(stream(subject), name);
      } catch (error) {
        if (!isConsumerNotFound(error) && !isStreamNotFound(error)) throw unavailable(error, `Cannot delete consumer ${name}`);
      }
    },

    async lastSequence(subject) {
      try {
        return (await jsm.streams.info(stream(subject))).state.last_seq;
      } catch (error) {
        if (error instanceof BusError) throw error;
        if (isStreamNotFound(error)) throw new BusError('no_stream', `No stream stores ${subject}`, { cause: error });
        throw unavailable(error, `Cannot read the stream of ${subject}`);
      }
    },

    async serve(subject, queue, handler) {
      return tracked(serveNats(nc, subject, queue, handler, log));
    },

    async listen(subject, handler) {
      const subscription = nc.subscribe(subject, {
        callback: (error, message) => {
          if (error) return log.warn({ err: error, subject }, 'bus listener failed');
          try {
            handler({ subject: message.subject, headers: fromNatsHeaders(message.headers), data: message.data });
          } catch (failure) {
            log.error({ err: failure }, 'bus listener failed');
          }
        },
      });
      return tracked({ stop: async () => subscription.unsubscribe() });
    },

    notify(notice) {
      checkNoticeSubject(root, notice.subject);
      const headers = toNatsHeaders(notice.headers);
      try {
        nc.publish(notice.subject, notice.data, headers ? { headers } : undefined);
      } catch (error) {
        throw publishError(error, notice.subject);
      }
    },

    request: (message, timeoutMs) => requestNats(nc, message, timeoutMs),

    async ping() {
      try {
        await withTimeout(nc.rtt(), settings.publishTimeoutMs);
      } catch (error) {
        throw unavailable(error, 'NATS does not answer');
      }
    },

    async close() {
      await Promise.all([...subscriptions].map((subscription) => subscription.stop()));
      subscriptions.clear();
      if (nc.isClosed()) return;
      try {
        await withTimeout(nc.drain(), settings.publishTimeoutMs);
      } catch (error) {
        if (!isClosed(error)) log.warn({ err: error }, 'bus drain failed; closing');
        await nc.close();
      }
    },
  };
}

/** Publishes awaiting acks in flight, so that each one's timeout measures the server, not the queue ahead of it. */
const PUBLISH_WINDOW = 256;

/**
 * Sends every message in order, at most PUBLISH_WINDOW awaiting their ack. Each send starts
 * synchronously, in index order, on one connection, so the server stores them in that order.
 */
async function pipelined<T, R>(items: T[], send: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await send(items[index] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(PUBLISH_WINDOW, items.length) }, lane));
  return results;
}

function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}
