import { resolve } from 'node:path';
import type { Logger } from '../../kernel/index.js';
import { planConsumer, type ResolvedBusSettings } from '../bus.js';
import { type Announcement, type Bus, BusError, HEADERS, type OutgoingMessage, type Subscription } from '../port.js';
import { checkNoticeSubject, consumerStream, streamName, streamOf, subjectMatches } from '../subjects.js';
import { type RunningSubscription, runSubscription } from './consumer.js';
import { createRequestRouter } from './requests.js';
import { createBusStore, openBusDatabase } from './store.js';

const PURGE_EVERY_MS = 60 * 60_000;

type InProcessSettings = Extract<ResolvedBusSettings, { kind: 'inprocess' }>;

/**
 * The subscriptions of every bus instance of this process, per database file, so that a publish
 * through one instance wakes the consumers of all of them. (Other processes on the same file are
 * not woken: the embedded bus serves one process.)
 */
const subscriptionsByFile = new Map<string | object, Set<RunningSubscription>>();
/** Listeners (`listen`) of every bus instance of this process, per database file. */
const listenersByFile = new Map<string | object, Set<Listener>>();

interface Listener {
  pattern: string;
  handler: (message: Announcement) => void;
}

function sharedSubscriptions(path: string) {
  const key = path === ':memory:' ? {} : resolve(path);
  const subscriptions = subscriptionsByFile.get(key) ?? new Set<RunningSubscription>();
  subscriptionsByFile.set(key, subscriptions);
  const listeners = listenersByFile.get(key) ?? new Set<Listener>();
  listenersByFile.set(key, listeners);
  return {
    subscriptions,
    listeners,
    release: () => {
      if (subscriptions.size === 0) subscriptionsByFile.delete(key);
      if (listeners.size === 0) listenersByFile.delete(key);
    },
  };
}

/** Tells every matching listener of a message just stored or of a notice. */
function announce(listeners: Set<Listener>, message: Announcement, log: Logger): void {
  for (const listener of listeners) {
    if (!subjectMatches(listener.pattern, message.subject)) continue;
    try {
      listener.handler(message);
    } catch (error) {
      log.error({ err: error }, 'bus listener failed');
    }
  }
}

/**
 * The embedded bus: the same guarantees as JetStream (durable ordered streams, deduplication,
 * durable consumers with explicit acks, redelivery, max attempts), kept in a SQLite file, with
 * request/reply in memory.
 */
export function openInProcessBus(settings: InProcessSettings, logger: Logger): Bus {
  const { root } = settings;
  const store = createBusStore(openBusDatabase(settings.path));
  const log = logger.child({ bus: 'inprocess' });
  const shared = sharedSubscriptions(settings.path);
  const subscriptions = new Set<RunningSubscription>();
  const requests = createRequestRouter(log);
  const servers = new Set<Subscription>();
  const listeners = new Set<Listener>();
  let closed = false;

  const purge = () => {
    try {
      store.purge(Date.now() - settings.maxAgeMs);
    } catch (error) {
      log.error({ err: error }, 'bus purge failed');
    }
  };
  purge();
  const purgeTimer = setInterval(purge, PURGE_EVERY_MS).unref();

  const open = () => {
    if (closed) throw new BusError('unavailable', 'The bus is closed');
  };
  const stream = (subject: string) => streamName(root, consumerStream(root, subject));

  function located(message: OutgoingMessage) {
    const kind = streamOf(root, message.subject);
    if (!kind) throw new BusError('no_stream', `No stream stores subject ${message.subject}`);
    if (!message.id) throw new BusError('invalid', `Message on ${message.subject} has no id`);
    return { ...message, stream: streamName(root, kind) };
  }

  return {
    kind: 'inprocess',
    root,

    async publish(messages) {
      open();
      const stored = messages.map(located);
      const results = store.publish(stored, Date.now(), settings.duplicateWindowMs);
      const streams = new Set(stored.map((message) => message.stream));
      for (const subscription of shared.subscriptions) if (streams.has(subscription.stream)) subscription.wake();
      messages.forEach((message, index) => {
        const headers = { ...message.headers, [HEADERS.id]: message.id };
        if (!results[index]?.duplicate) announce(shared.listeners, { subject: message.subject, headers, data: message.data }, log);
      });
      return results;
    },

    async consume(spec) {
      open();
      const plan = planConsumer(root, spec);
      const name = streamName(root, plan.stream);
      if (!store.ensureConsumer({ ...plan, stream: name })) {
        throw new BusError('invalid', `Consumer ${plan.name} exists with another subject than ${plan.subject}`);
      }
      const subscription = runSubscription(store, name, plan, log);
      subscriptions.add(subscription);
      shared.subscriptions.add(subscription);
      return {
        async stop() {
          subscriptions.delete(subscription);
          shared.subscriptions.delete(subscription);
          await subscription.stop();
        },
      };
    },

    async deleteConsumer(name, subject) {
      open();
      store.deleteConsumer(stream(subject), name);
    },

    async lastSequence(subject) {
      open();
      return store.lastSequence(stream(subject));
    },

    async serve(subject, queue, handler) {
      open();
      const subscription = requests.serve(subject, queue, handler);
      servers.add(subscription);
      return {
        async stop() {
          servers.delete(subscription);
          await subscription.stop();
        },
      };
    },

    async listen(subject, handler) {
      open();
      const listener: Listener = { pattern: subject, handler };
      shared.listeners.add(listener);
      listeners.add(listener);
      return {
        async stop() {
          shared.listeners.delete(listener);
          listeners.delete(listener);
        },
      };
    },

    notify(notice) {
      open();
      checkNoticeSubject(root, notice.subject);
      announce(shared.listeners, { subject: notice.subject, headers: { ...notice.headers }, data: notice.data }, log);
    },

    async request(message, timeoutMs) {
      open();
      return requests.request(message, timeoutMs);
    },

    async ping() {
      open();
      store.ping();
    },

    async close() {
      if (closed) return;
      closed = true;
      clearInterval(purgeTimer);
      await Promise.all([...subscriptions, ...servers].map((subscription) => subscription.stop()));
      for (const subscription of subscriptions) shared.subscriptions.delete(subscription);
      for (const listener of listeners) shared.listeners.delete(listener);
      shared.release();
      subscriptions.clear();
      servers.clear();
      store.close();
    },
  };
}
