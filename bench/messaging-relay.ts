/**
 * Relay throughput (`npm run bench -- messaging`, part 1): record events appended straight through
 * the event store (SQLite, and PostgreSQL when it answers), then in alternating turns, each on a fresh
 * bus root: the raw JetStream client publishing the same messages, built in memory beforehand, in
 * windows of the relay's batch size; and `startRelay` from checkpoint 0 until its lag is 0. The same
 * pair on the in-process bus (the embedded default), for information.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, type MsgHdrs, headers as natsHeaders } from '@nats-io/transport-node';
import { eventPrefix } from '../src/datamodel/definition.js';
import { recordStream } from '../src/datamodel/registry.js';
import { type RecordedEvent, startConsumer } from '../src/eventstore/index.js';
import { openLease } from '../src/eventstore/lease.js';
import { createLogger, uuidv7 } from '../src/kernel/index.js';
import { type BusSettings, openBus } from '../src/messaging/bus.js';
import type { Bus, OutgoingMessage } from '../src/messaging/port.js';
import { relayMessages, startRelay } from '../src/messaging/relay.js';
import { streamName } from '../src/messaging/subjects.js';
import { openStorage, type Storage, type StorageConfig } from '../src/platform/storage.js';
import { ENTITY, MODULE, order } from './orders.js';
import { createBenchDatabase, postgresReachable } from './postgres.js';
import { progress, type Throughput, throughput } from './support.js';

export const NATS_URL = process.env.BACKOFFICE_BENCH_NATS_URL ?? process.env.BACKOFFICE_TEST_NATS_URL ?? 'nats://127.0.0.1:4222';
/** Events in the log (BENCH_MESSAGING_EVENTS). */
export const RELAY_EVENTS = Math.max(1000, Number(process.env.BENCH_MESSAGING_EVENTS) || 50_000);
/** The relay reads and publishes batches of this many (its default); the raw baseline publishes windows of the same size. */
export const WINDOW = 1000;
export const RELAY_ROUNDS = 4;
const TENANT = 'acme';
/** Appends in flight while loading (group commit shares their transactions). */
const WRITERS = 64;
const PUBLISH_TIMEOUT_MS = 30_000;

export interface RelayPair {
  /** Raw client (JetStream) or bus.publish (in-process), in windows of WINDOW. */
  raw: Throughput;
  relay: Throughput;
}

export interface RelayTurns extends RelayPair {
  /** Reading the log and making the messages, without publishing (the relay's other work). */
  read: Throughput;
}

export interface RelayRun {
  backend: 'SQLite' | 'PostgreSQL';
  events: number;
  /** Bytes of one event's data, and of one message (body). */
  dataBytes: number;
  messageBytes: number;
  loadSeconds: number;
  nats: RelayTurns;
  inprocess: RelayPair;
}

const silent = createLogger('silent');
const bench = (label: string) => `bm${label}${randomBytes(4).toString('hex')}`;

/** `count` record creations, one event per stream as `POST` writes them, WRITERS appends in flight. */
async function load(storage: Storage, count: number): Promise<number> {
  const started = process.hrtime.bigint();
  const type = `${eventPrefix(ENTITY)}Created`;
  let next = 0;
  await Promise.all(
    Array.from({ length: WRITERS }, async () => {
      while (next < count) {
        const n = next++;
        await storage.events.append({
          tenant: TENANT,
          streamId: recordStream(MODULE, ENTITY, uuidv7()),
          events: [{ type, data: order(n), schemaVersion: 1 }],
          expectedVersion: 'no_stream',
          metadata: { correlationId: uuidv7(), actor: 'client:bench-writer' },
        });
      }
    }),
  );
  return Number(process.hrtime.bigint() - started) / 1e9;
}

async function readLog(storage: Storage): Promise<RecordedEvent[]> {
  const events: RecordedEvent[] = [];
  for (let after = 0n; ; ) {
    const batch = await storage.events.readAll({ after, limit: WINDOW });
    const last = batch.at(-1);
    if (!last) return events;
    events.push(...batch);
    after = last.position;
  }
}

/** Deletes the JetStream streams of a root (their consumers go with them). */
export async function deleteStreams(root: string): Promise<void> {
  const nc = await connect({ servers: NATS_URL });
  try {
    const jsm = await jetstreamManager(nc);
    for (const kind of ['events', 'messages'] as const) await jsm.streams.delete(streamName(root, kind)).catch(() => false);
  } finally {
    await nc.close();
  }
}

/** The raw client: the messages with their headers made beforehand, published in windows, each window's acks awaited together. */
async function rawNats(events: RecordedEvent[]): Promise<Throughput> {
  const root = bench('raw');
  // The streams as the adapter provisions them (same limits, file storage), then the bus is closed.
  await (await openBus({ kind: 'nats', url: NATS_URL, root })).close();
  const prepared = relayMessages(root, events).map((message) => ({ message, headers: toHeaders(message) }));
  const nc = await connect({ servers: NATS_URL });
  try {
    const js = jetstream(nc, { timeout: PUBLISH_TIMEOUT_MS });
    const started = process.hrtime.bigint();
    for (let i = 0; i < prepared.length; i += WINDOW) {
      await Promise.all(
        prepared
          .slice(i, i + WINDOW)
          .map(({ message, headers }) =>
            js.publish(message.subject, message.data, { msgID: message.id, headers, timeout: PUBLISH_TIMEOUT_MS }),
          ),
      );
    }
    return throughput(prepared.length, started);
  } finally {
    await nc.close();
    await deleteStreams(root);
  }
}

function toHeaders(message: OutgoingMessage): MsgHdrs {
  const result = natsHeaders();
  for (const [key, value] of Object.entries(message.headers ?? {})) result.set(key, value);
  return result;
}

/** bus.publish of the messages made beforehand, in windows (the in-process bus' own cost). */
async function rawInProcess(events: RecordedEvent[], dir: string): Promise<Throughput> {
  const root = bench('raw');
  const bus = await openBus({ kind: 'inprocess', path: join(dir, `${root}.db`), root });
  try {
    const messages = relayMessages(root, events);
    const started = process.hrtime.bigint();
    for (let i = 0; i < messages.length; i += WINDOW) await bus.publish(messages.slice(i, i + WINDOW));
    return throughput(messages.length, started);
  } finally {
    await bus.close();
  }
}

/** A relay on a fresh root from checkpoint 0, lease always held, until its lag is 0. */
async function relayPass(storage: Storage, settings: BusSettings, expected: number): Promise<Throughput> {
  const bus: Bus = await openBus(settings);
  const lease = await openLease({ kind: 'sqlite' }, `bench:${bus.root}`);
  const started = process.hrtime.bigint();
  const relay = startRelay({ events: storage.events, bus, lease, logger: silent, leaseIntervalMs: 60_000 });
  try {
    const deadline = Date.now() + 600_000;
    while (relay.published < expected && Date.now() < deadline) await pause(5);
    while ((await relay.lag()) > 0n && Date.now() < deadline) await pause(1);
    const result = throughput(relay.published, started);
    if (result.count < expected) throw new Error(`the relay published ${result.count} of ${expected} events`);
    return result;
  } finally {
    await relay.stop();
    await bus.close();
  }
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Turns rotate which job goes first, so that a drift of the machine weighs on every job alike; rates are totals over totals. */
async function turns<K extends string>(rounds: number, jobs: Record<K, () => Promise<Throughput>>): Promise<Record<K, Throughput>> {
  const keys = Object.keys(jobs) as K[];
  const done = new Map<K, Throughput[]>(keys.map((key) => [key, []]));
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < keys.length; i++) {
      const key = keys[(i + round) % keys.length] as K;
      done.get(key)?.push(await jobs[key]());
    }
  }
  const sum = (list: Throughput[]) => {
    const count = list.reduce((total, item) => total + item.count, 0);
    const seconds = list.reduce((total, item) => total + item.seconds, 0);
    return { count, seconds, rate: count / seconds };
  };
  return Object.fromEntries(keys.map((key) => [key, sum(done.get(key) ?? [])])) as Record<K, Throughput>;
}

/** What the relay does besides publishing: a consumer from position 0 reading the log and making the messages, publishing nothing. */
async function readPass(storage: Storage, expected: number): Promise<Throughput> {
  let made = 0;
  const name = `bench-read-${randomBytes(4).toString('hex')}`;
  const started = process.hrtime.bigint();
  const consumer = await startConsumer(storage.events, {
    name,
    batchSize: WINDOW,
    handle: (batch) => {
      made += relayMessages('bo', batch).length;
    },
  });
  await consumer.waitFor(await storage.events.headPosition());
  const result = throughput(made, started);
  await consumer.stop();
  if (made < expected) throw new Error(`the reader made ${made} of ${expected} messages`);
  return result;
}

async function measure(backend: RelayRun['backend'], config: StorageConfig, dir: string): Promise<RelayRun> {
  const storage = await openStorage(config, silent);
  try {
    progress(`messaging: ${backend}: appending ${RELAY_EVENTS} record events`);
    const loadSeconds = await load(storage, RELAY_EVENTS);
    const events = await readLog(storage);
    const sample = relayMessages('bo', events.slice(0, 1))[0];
    const expected = relayMessages('bo', events).length;
    progress(`messaging: ${backend}: relay to NATS vs raw JetStream publishing, ${RELAY_ROUNDS} turns each`);
    const nats = await turns(RELAY_ROUNDS, {
      raw: () => rawNats(events),
      relay: async () => {
        const root = bench('relay');
        try {
          return await relayPass(storage, { kind: 'nats', url: NATS_URL, root }, expected);
        } finally {
          await deleteStreams(root);
        }
      },
      read: () => readPass(storage, expected),
    });
    progress(`messaging: ${backend}: relay to the in-process bus vs its own publish`);
    const inprocess = await turns(RELAY_ROUNDS, {
      raw: () => rawInProcess(events, dir),
      relay: () => {
        const root = bench('relay');
        return relayPass(storage, { kind: 'inprocess', path: join(dir, `${root}.db`), root }, expected);
      },
    });
    return {
      backend,
      events: events.length,
      dataBytes: Buffer.byteLength(JSON.stringify(events[0]?.data)),
      messageBytes: sample?.data.byteLength ?? 0,
      loadSeconds,
      nats,
      inprocess,
    };
  } finally {
    await storage.close();
  }
}

/** SQLite, then PostgreSQL when it answers. */
export async function measureRelay(): Promise<RelayRun[]> {
  const dir = mkdtempSync(join(tmpdir(), 'backoffice-bench-messaging-'));
  const runs: RelayRun[] = [];
  try {
    runs.push(await measure('SQLite', { kind: 'sqlite', path: join(dir, 'events.db') }, dir));
    if (await postgresReachable()) {
      const database = await createBenchDatabase('messaging');
      try {
        runs.push(await measure('PostgreSQL', { kind: 'postgres', url: database.url }, dir));
      } finally {
        await database.drop();
      }
    } else progress('messaging: PostgreSQL does not answer; its relay lines are left out');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return runs;
}
