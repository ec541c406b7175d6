/**
 * One measurement of the live benchmark: `subscribers` streams opened from subscriber processes
 * (bench/live-subscribers.ts), spread evenly over the tenants and roles, then the writer creates
 * orders at `rate` per second; each stream's receipts are matched with the writer's acknowledgements
 * by log position.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type LiveTenant, ROLES } from './live-setup.js';
import type { FromChild, StreamResult, Subscription, ToChild } from './live-subscribers.js';
import { type Ack, type Written, writeAt } from './live-writer.js';
import { ENTITY, MODULE } from './orders.js';
import type { Server } from './server-process.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const SUBSCRIBER_SCRIPT = join(ROOT, 'bench', 'live-subscribers.ts');
export const PATTERN = `${MODULE}.${ENTITY}.*`;
/** How long the streams may take, after the last acknowledgement, to receive the last event. */
const DRAIN_MS = 10_000;

export interface LiveMeasurement {
  subscribers: number;
  rate: number;
  processes: number;
  written: { count: number; failed: number; seconds: number; maxInFlight: number };
  /** Events the streams received of those they should have, over all streams. */
  delivered: number;
  expected: number;
  /** Events received that no acknowledged create of the stream's tenant explains. */
  unexpected: number;
  leaks: number;
  controls: number;
  ended: number;
  /** Receipt time minus acknowledgement time, ms (negative: the event arrived before the response). */
  afterAck: Float64Array;
  /** Receipt time minus the time the create was sent, ms. */
  afterSend: Float64Array;
  /** Response times of the creates, ms. */
  postLatency: Float64Array;
  /** CPU seconds over the writing window: the server, this process (the writer), each subscriber process. */
  cpu: { server: number; writer: number; subscribers: number[] };
  windowSeconds: number;
}

interface Child {
  process: ChildProcess;
  next(): Promise<FromChild>;
  send(message: ToChild): void;
}

function startChild(): Child {
  const child = spawn(process.execPath, ['--import', 'tsx', SUBSCRIBER_SCRIPT], {
    cwd: ROOT,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    serialization: 'advanced',
  });
  const queue: FromChild[] = [];
  const waiting: ((message: FromChild) => void)[] = [];
  child.on('message', (message: FromChild) => {
    const waiter = waiting.shift();
    if (waiter) waiter(message);
    else queue.push(message);
  });
  child.once('exit', (code) => {
    for (const waiter of waiting.splice(0)) waiter({ type: 'failed', message: `subscriber process exited (${code})` });
  });
  return {
    process: child,
    next: () => {
      const queued = queue.shift();
      return queued ? Promise.resolve(queued) : new Promise((resolve) => waiting.push(resolve));
    },
    send: (message) => child.send(message),
  };
}

/** Subscriber i follows tenant i mod T with role i mod 3: every (tenant, role) pair comes round evenly. */
export function subscriptionsFor(count: number, tenants: LiveTenant[]): Subscription[] {
  return Array.from({ length: count }, (_, i) => {
    const tenant = tenants[i % tenants.length] as LiveTenant;
    const role = ROLES[i % ROLES.length] as (typeof ROLES)[number];
    return { tenant: tenant.id, role: role.name, token: tenant.tokens[role.name] as string, hidden: [...role.hidden] };
  });
}

async function expect<T extends FromChild['type']>(child: Child, type: T): Promise<Extract<FromChild, { type: T }>> {
  const message = await child.next();
  if (message.type !== type) throw new Error(`subscriber process: expected ${type}, got ${JSON.stringify(message).slice(0, 300)}`);
  return message as Extract<FromChild, { type: T }>;
}

function match(streams: StreamResult[], subscriptions: Subscription[], written: Written, into: LiveMeasurement) {
  const perTenant = new Map<string, number>();
  for (const ack of written.acks.values()) perTenant.set(ack.tenant, (perTenant.get(ack.tenant) ?? 0) + 1);
  const afterAck: number[] = [];
  const afterSend: number[] = [];
  streams.forEach((stream, index) => {
    const tenant = (subscriptions[index] as Subscription).tenant;
    into.expected += perTenant.get(tenant) ?? 0;
    into.leaks += stream.leaks;
    into.controls += stream.controls.length;
    if (stream.ended) into.ended++;
    for (let i = 0; i < stream.positions.length; i++) {
      const ack: Ack | undefined = written.acks.get(stream.positions[i] as number);
      if (!ack || ack.tenant !== tenant) {
        into.unexpected++;
        continue;
      }
      into.delivered++;
      afterAck.push((stream.times[i] as number) - ack.ackAt);
      afterSend.push((stream.times[i] as number) - ack.sentAt);
    }
  });
  into.afterAck = Float64Array.from(afterAck).sort();
  into.afterSend = Float64Array.from(afterSend).sort();
  into.postLatency = Float64Array.from([...written.acks.values()].map((ack) => ack.ackAt - ack.sentAt)).sort();
}

/** Opens the streams, writes for `seconds`, drains, and matches receipts with acknowledgements. */
export async function measureLive(
  server: Server,
  tenants: LiveTenant[],
  options: { subscribers: number; rate: number; seconds: number; processes: number },
): Promise<LiveMeasurement> {
  const subscriptions = subscriptionsFor(options.subscribers, tenants);
  const processes = Math.min(options.processes, options.subscribers);
  const children = Array.from({ length: processes }, startChild);
  const shares = children.map((_, c) => subscriptions.filter((_, i) => i % processes === c));
  try {
    for (const [c, child] of children.entries())
      child.send({ type: 'open', url: server.url, pattern: PATTERN, subscriptions: shares[c] as Subscription[] });
    await Promise.all(children.map((child) => expect(child, 'ready')));
    await new Promise((resolve) => setTimeout(resolve, 500));
    for (const child of children) child.send({ type: 'start' });
    const serverBefore = server.cpuSeconds();
    const writerBefore = process.cpuUsage();
    const written = await writeAt(server.url, tenants, options.rate, options.seconds);
    const server_ = server.cpuSeconds() - serverBefore;
    const writerUsage = process.cpuUsage(writerBefore);
    for (const child of children) child.send({ type: 'drain', last: written.last, timeoutMs: DRAIN_MS });
    const results = await Promise.all(children.map((child) => expect(child, 'result')));
    const measurement: LiveMeasurement = {
      ...options,
      processes,
      written: { count: written.acks.size, failed: written.failed, seconds: written.seconds, maxInFlight: written.maxInFlight },
      delivered: 0,
      expected: 0,
      unexpected: 0,
      leaks: 0,
      controls: 0,
      ended: 0,
      afterAck: new Float64Array(),
      afterSend: new Float64Array(),
      postLatency: new Float64Array(),
      cpu: { server: server_, writer: (writerUsage.user + writerUsage.system) / 1e6, subscribers: results.map((r) => r.cpuSeconds) },
      windowSeconds: written.seconds,
    };
    const ordered = children.flatMap((_, c) => shares[c] as Subscription[]);
    match(
      results.flatMap((r) => r.streams),
      ordered,
      written,
      measurement,
    );
    return measurement;
  } finally {
    for (const child of children) if (child.process.exitCode === null) child.process.kill('SIGTERM');
  }
}
