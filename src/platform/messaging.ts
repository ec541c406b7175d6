import type { FastifyInstance } from 'fastify';
import { openLease } from '../eventstore/lease.js';
import type { Logger } from '../kernel/index.js';
import type { Announcements } from '../live/index.js';
import { openBus } from '../messaging/bus.js';
import { serveInboundCommands } from '../messaging/inbound.js';
import { type Bus, HEADERS, type Subscription } from '../messaging/port.js';
import { type Relay, relayCheckpoint, startRelay } from '../messaging/relay.js';
import { busSettings, type Config, type Role, storageConfig } from './config.js';
import type { HealthCheck } from './health.js';
import type { Metric } from './metrics.js';
import type { Storage } from './storage.js';

/** The bus and what runs on it in this process, by role (docs/operations.md). */
export interface Messaging {
  bus: Bus;
  relay: Relay | undefined;
  checks: HealthCheck[];
  metrics: Metric[];
  /** Starts serving inbound commands through the app's routes (role `api`). */
  serveCommands(app: FastifyInstance): Promise<void>;
  close(): Promise<void>;
}

export async function openMessaging(config: Config, storage: Storage, roles: ReadonlySet<Role>, logger: Logger): Promise<Messaging> {
  const bus = await openBus(busSettings(config), logger.child({ context: 'bus' }));
  let relay: Relay | undefined;
  let commands: Subscription | undefined;
  if (roles.has('relay')) {
    const database = storageConfig(config);
    const lease = await openLease(
      database.kind === 'postgres' ? { kind: 'postgres', url: database.url } : { kind: 'sqlite' },
      relayCheckpoint(bus.root),
      logger,
    );
    relay = startRelay({ events: storage.events, bus, lease, logger: logger.child({ context: 'relay' }) });
  }
  const name = relayCheckpoint(bus.root);
  const metrics: Metric[] = [
    {
      name: 'backoffice_relay_lag_events',
      help: 'Positions committed to the event log but not yet published to the bus',
      type: 'gauge',
      read: async () => {
        const [head, position] = await Promise.all([storage.events.headPosition(), storage.events.checkpoints.load(name)]);
        return Number(head > position ? head - position : 0n);
      },
    },
  ];
  if (relay) {
    const running = relay;
    metrics.push(
      {
        name: 'backoffice_relay_published_total',
        help: 'Events this process published to the bus',
        type: 'counter',
        read: () => running.published,
      },
      {
        name: 'backoffice_relay_active',
        help: '1 while this process holds the relay lease',
        type: 'gauge',
        read: () => (running.active ? 1 : 0),
      },
    );
  }
  return {
    bus,
    relay,
    checks: [{ name: 'bus', check: () => bus.ping() }],
    metrics,
    async serveCommands(app) {
      commands = await serveInboundCommands(bus, app, logger.child({ context: 'commands' }));
    },
    async close() {
      await commands?.stop();
      await relay?.stop();
      await bus.close();
    },
  };
}

/** The positions of the events the relay publishes, heard from the broker by every process (the live tail's wake-up). */
export function brokerAnnouncements(bus: Bus): Announcements {
  return async (listener) => {
    const subscription = await bus.listen(`${bus.root}.*.*.*.*`, (message) => {
      const position = message.headers[HEADERS.position];
      if (position && /^[0-9]+$/.test(position)) listener(BigInt(position));
    });
    return () => subscription.stop();
  };
}
