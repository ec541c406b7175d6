/**
 * The messaging benchmark's receiving end, a child process of bench/messaging.ts (so that its work
 * does not share the writer's event loop): a durable bus consumer on the tenant's events (openBus +
 * consume, as an integrator on NATS would) and a node:http server taking webhook deliveries on
 * `/hook/<n>`. Each notes, per log position, when the event first arrived (`clock()`, comparable
 * between processes); the parent asks for the arrivals once the writes are done.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { openBus } from '../src/messaging/bus.js';
import { HEADERS, type Subscription } from '../src/messaging/port.js';
import { WEBHOOK_HEADERS } from '../src/messaging/webhooks/deliver.js';
import { clock } from './live-sse.js';

export type ToReceiver =
  | { type: 'open'; natsUrl: string; root: string; tenant: string; consumer: string }
  | { type: 'reset' }
  /** Waits until every sink named has every position, or nothing new arrived for idleMs, or timeoutMs passed. */
  | { type: 'drain'; positions: number[]; hooks: number; timeoutMs: number; idleMs: number };

export interface Arrivals {
  positions: Float64Array;
  times: Float64Array;
  /** Arrivals of a position already seen (at-least-once redeliveries). */
  duplicates: number;
  /** Webhook deliveries without an X-Backoffice-Event-Id header. */
  unlabelled: number;
}

export type FromReceiver =
  | { type: 'ready'; port: number }
  | { type: 'drained'; nats: Arrivals; hooks: Arrivals[]; cpuSeconds: number; timedOut: boolean }
  | { type: 'failed'; message: string };

interface Sink {
  first: Map<number, number>;
  duplicates: number;
  unlabelled: number;
}

const newSink = (): Sink => ({ first: new Map(), duplicates: 0, unlabelled: 0 });
let nats = newSink();
let hooks: Sink[] = [];
let lastArrival = clock();
let cpuFrom = process.cpuUsage();
let subscription: Subscription | undefined;
let closeBus: (() => Promise<void>) | undefined;

function note(sink: Sink, position: number, at: number): void {
  lastArrival = at;
  if (sink.first.has(position)) sink.duplicates++;
  else sink.first.set(position, at);
}

function hookSink(index: number): Sink {
  while (hooks.length <= index) hooks.push(newSink());
  return hooks[index] as Sink;
}

function receive(request: IncomingMessage, response: ServerResponse): void {
  const match = /^\/hook\/(\d+)$/.exec(request.url ?? '');
  const chunks: Buffer[] = [];
  request.on('data', (chunk: Buffer) => chunks.push(chunk));
  request.on('end', () => {
    const at = clock();
    if (!match || request.method !== 'POST') {
      response.writeHead(404).end();
      return;
    }
    const sink = hookSink(Number(match[1]));
    if (!request.headers[WEBHOOK_HEADERS.eventId.toLowerCase()]) sink.unlabelled++;
    try {
      note(sink, Number((JSON.parse(Buffer.concat(chunks).toString('utf8')) as { position: string }).position), at);
    } catch {
      sink.unlabelled++;
    }
    response.writeHead(204).end();
  });
}

function arrivals(sink: Sink): Arrivals {
  const positions = Float64Array.from(sink.first.keys());
  const times = Float64Array.from(sink.first.values());
  return { positions, times, duplicates: sink.duplicates, unlabelled: sink.unlabelled };
}

async function drain(message: Extract<ToReceiver, { type: 'drain' }>): Promise<void> {
  const started = clock();
  const sinks = [nats, ...Array.from({ length: message.hooks }, (_, i) => hookSink(i))];
  const complete = () => sinks.every((sink) => message.positions.every((position) => sink.first.has(position)));
  let timedOut = false;
  while (!complete()) {
    const now = clock();
    if (now - started > message.timeoutMs || now - lastArrival > message.idleMs) {
      timedOut = true;
      break;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const cpu = process.cpuUsage(cpuFrom);
  send({
    type: 'drained',
    nats: arrivals(nats),
    hooks: hooks.slice(0, message.hooks).map(arrivals),
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    timedOut,
  });
}

const send = (message: FromReceiver) => process.send?.(message);

async function open(message: Extract<ToReceiver, { type: 'open' }>): Promise<void> {
  const server = createServer({ keepAliveTimeout: 60_000 }, receive);
  server.maxConnections = 10_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const bus = await openBus({ kind: 'nats', url: message.natsUrl, root: message.root });
  subscription = await bus.consume({
    name: message.consumer,
    subject: `${message.root}.${message.tenant}.*.*.*`,
    start: 'new',
    maxInFlight: 256,
    handle: async (delivery) => note(nats, Number(delivery.headers[HEADERS.position]), clock()),
  });
  closeBus = async () => {
    await subscription?.stop();
    await bus.deleteConsumer(message.consumer, `${message.root}.${message.tenant}.*.*.*`);
    await bus.close();
    server.close();
  };
  send({ type: 'ready', port: (server.address() as AddressInfo).port });
}

process.on('message', (message: ToReceiver) => {
  const work = async () => {
    if (message.type === 'open') await open(message);
    else if (message.type === 'reset') {
      nats = newSink();
      hooks = hooks.map(newSink);
      cpuFrom = process.cpuUsage();
      lastArrival = clock();
    } else if (message.type === 'drain') await drain(message);
  };
  work().catch((error: unknown) => send({ type: 'failed', message: String((error as Error)?.stack ?? error) }));
});

let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  void (closeBus?.() ?? Promise.resolve()).finally(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('disconnect', stop);
