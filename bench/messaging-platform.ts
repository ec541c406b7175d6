/**
 * End-to-end delivery (`npm run bench -- messaging`, parts 2 and 3): the platform (PostgreSQL storage,
 * NATS bus, roles `all`, tokens required) in its own process, a writer creating orders through `POST`
 * at a fixed rate in this process, and a receiver process (bench/messaging-receiver.ts) with a
 * durable NATS consumer on the tenant's events and an HTTP server taking the webhook deliveries.
 * Arrivals are matched with the writer's acknowledgements by log position.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { generatePassword } from '../src/identity/passwords.js';
import { type LiveTenant, provisionTenants } from './live-setup.js';
import { type Capacity, measureCapacity } from './messaging-capacity.js';
import type { Arrivals, FromReceiver, ToReceiver } from './messaging-receiver.js';
import { deleteStreams, NATS_URL } from './messaging-relay.js';
import { type Written, writeAt } from './messaging-writer.js';
import { ENTITY, MODULE } from './orders.js';
import { createBenchDatabase } from './postgres.js';
import { type Server, startServer } from './server-process.js';
import { benchSeconds, progress } from './support.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const RECEIVER_SCRIPT = join(ROOT, 'bench', 'messaging-receiver.ts');
export const PATTERN = `${MODULE}.${ENTITY}.*`;
export const RATES = [200, 1000] as const;
/** Seconds of writing per rate (BENCH_SECONDS × 2.5, 10 by default). */
export const SECONDS = Math.max(2, Math.round(benchSeconds(4) * 2.5));
export const WARMUP = { rate: 200, seconds: 3 } as const;
export const FANOUT = { webhooks: 50, events: 2000, rate: 200, warmupEvents: 20 } as const;
/** How long the sinks may take to receive everything, and how long without any arrival ends the wait. */
const DRAIN = { timeoutMs: 900_000, idleMs: 60_000 } as const;
const CLOCK_TICKS = 100;

export interface SinkResult {
  /** Events (per webhook, summed over the webhooks) that should have arrived. */
  expected: number;
  delivered: number;
  duplicates: number;
  unlabelled: number;
  /** Arrival minus the write's acknowledgement, ms, sorted (negative: arrived before the response was read). */
  afterAck: Float64Array;
  /** Arrival minus the time the write was sent, ms, sorted. */
  afterSend: Float64Array;
  /** First write sent → last arrival, s. */
  spanSeconds: number;
}

export interface DeliveryRun {
  label: string;
  rate: number;
  written: number;
  failed: number;
  /** Failed creates by reason. */
  failures: [string, number][];
  writeSeconds: number;
  postLatency: Float64Array;
  nats: SinkResult;
  /** Every webhook's arrivals merged (one webhook for the latency runs, 50 for the fan-out). */
  webhooks: SinkResult | undefined;
  webhookCount: number;
  timedOut: boolean;
  /** The platform's own timing of its webhook HTTP calls (the deliveries log's durationMs, latest 1,000 of up to 5 webhooks), sorted. */
  httpCalls: Float64Array;
  cpu: { server: number; writer: number; receiver: number; nats: number | undefined };
  /** The CPU window: from the first write until every sink had everything (or the wait ended), s. */
  windowSeconds: number;
}

export interface PlatformResult {
  runs: DeliveryRun[];
  /** Creates/s the platform acknowledges in a closed loop, before any webhook exists. */
  capacity: Capacity | undefined;
  /** Why the webhook lines are missing, when they are. */
  webhooksMissing: string | undefined;
}

interface Receiver {
  process: ChildProcess;
  ask(message: ToReceiver): Promise<FromReceiver>;
  send(message: ToReceiver): void;
}

function startReceiver(): Receiver {
  const child = spawn(process.execPath, ['--import', 'tsx', RECEIVER_SCRIPT], {
    cwd: ROOT,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    serialization: 'advanced',
  });
  const waiting: ((message: FromReceiver) => void)[] = [];
  child.on('message', (message: FromReceiver) => waiting.shift()?.(message));
  child.once('exit', (code) => {
    for (const waiter of waiting.splice(0)) waiter({ type: 'failed', message: `receiver exited (${code})` });
  });
  return {
    process: child,
    send: (message) => child.send(message),
    ask: (message) =>
      new Promise((resolve) => {
        waiting.push(resolve);
        child.send(message);
      }),
  };
}

async function expect<T extends FromReceiver['type']>(reply: Promise<FromReceiver>, type: T): Promise<Extract<FromReceiver, { type: T }>> {
  const message = await reply;
  if (message.type !== type) throw new Error(`receiver: expected ${type}, got ${JSON.stringify(message).slice(0, 500)}`);
  return message as Extract<FromReceiver, { type: T }>;
}

/**
 * Statistics for the planner, as autovacuum would gather them on a live database: on a fresh one, the
 * append's document update is planned for empty tables and slows down as they fill (bench/README.md, `http`).
 */
async function analyze(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query('ANALYZE');
  } finally {
    await client.end();
  }
}

/** The NATS server's pid when it runs on this machine (its CPU is shown next to the others'). */
function natsServerPid(): number | undefined {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() === 'nats-server') return Number(entry);
    } catch {
      // gone meanwhile
    }
  }
  return undefined;
}

function cpuOf(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return undefined;
  }
}

function sinkResult(written: Written, sinks: Arrivals[]): SinkResult {
  const afterAck: number[] = [];
  const afterSend: number[] = [];
  let firstSent = Number.POSITIVE_INFINITY;
  for (const ack of written.acks.values()) firstSent = Math.min(firstSent, ack.sentAt);
  let last = firstSent;
  const result = { expected: written.acks.size * sinks.length, delivered: 0, duplicates: 0, unlabelled: 0 };
  for (const sink of sinks) {
    result.duplicates += sink.duplicates;
    result.unlabelled += sink.unlabelled;
    for (let i = 0; i < sink.positions.length; i++) {
      const ack = written.acks.get(sink.positions[i] as number);
      if (!ack) continue;
      const at = sink.times[i] as number;
      result.delivered++;
      afterAck.push(at - ack.ackAt);
      afterSend.push(at - ack.sentAt);
      last = Math.max(last, at);
    }
  }
  return {
    ...result,
    afterAck: Float64Array.from(afterAck).sort(),
    afterSend: Float64Array.from(afterSend).sort(),
    spanSeconds: (last - firstSent) / 1000,
  };
}

interface Context {
  server: Server;
  receiver: Receiver;
  tenant: LiveTenant;
  natsPid: number | undefined;
}

/** Writes `count` creates at `rate`, then waits for the NATS consumer and `hooks` webhooks to have them all. */
async function measure(context: Context, label: string, rate: number, seconds: number, hooks: number): Promise<DeliveryRun> {
  const { server, receiver, tenant } = context;
  receiver.send({ type: 'reset' });
  const serverBefore = server.cpuSeconds();
  const natsBefore = cpuOf(context.natsPid);
  const writerBefore = process.cpuUsage();
  const windowStart = performance.now();
  const written = await writeAt(server.url, tenant, rate, seconds);
  const drained = await expect(receiver.ask({ type: 'drain', positions: [...written.acks.keys()], hooks, ...DRAIN }), 'drained');
  const natsAfter = cpuOf(context.natsPid);
  const writer = process.cpuUsage(writerBefore);
  const serverAfter = server.cpuSeconds();
  const windowSeconds = (performance.now() - windowStart) / 1000;
  const httpCalls = await deliveryDurations(server.url, tenant, Math.min(hooks, 5));
  return {
    label,
    rate,
    written: written.acks.size,
    failed: written.failed,
    failures: [...written.failures],
    writeSeconds: written.seconds,
    postLatency: Float64Array.from([...written.acks.values()].map((ack) => ack.ackAt - ack.sentAt)).sort(),
    nats: sinkResult(written, [drained.nats]),
    webhooks: hooks > 0 ? sinkResult(written, drained.hooks) : undefined,
    webhookCount: hooks,
    timedOut: drained.timedOut,
    httpCalls,
    windowSeconds,
    cpu: {
      server: serverAfter - serverBefore,
      writer: (writer.user + writer.system) / 1e6,
      receiver: drained.cpuSeconds,
      nats: natsBefore === undefined || natsAfter === undefined ? undefined : natsAfter - natsBefore,
    },
  };
}

/** The HTTP call times the platform logged for the latest deliveries of webhooks 0 … count − 1. */
async function deliveryDurations(url: string, tenant: LiveTenant, count: number): Promise<Float64Array> {
  const durations: number[] = [];
  for (let index = 0; index < count; index++) {
    const response = await fetch(`${url}/t/${tenant.id}/webhooks/bench-${index}/deliveries?limit=1000`, {
      headers: { authorization: `Bearer ${tenant.writer}` },
    });
    if (!response.ok) throw new Error(`GET deliveries: ${response.status} ${await response.text()}`);
    const { items } = (await response.json()) as { items: { durationMs: number | null }[] };
    for (const item of items) if (item.durationMs !== null) durations.push(item.durationMs);
  }
  return Float64Array.from(durations).sort();
}

/** Creates webhook n, delivering to the receiver's `/hook/<n>`; undefined when created, else why not. */
async function createWebhook(url: string, tenant: LiveTenant, port: number, index: number): Promise<string | undefined> {
  const response = await fetch(`${url}/t/${tenant.id}/webhooks`, {
    method: 'POST',
    headers: { authorization: `Bearer ${tenant.writer}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      id: `bench-${index}`,
      url: `http://127.0.0.1:${port}/hook/${index}`,
      events: [PATTERN],
      secret: randomBytes(24).toString('hex'),
    }),
  });
  const text = await response.text();
  if (response.status === 201) return undefined;
  if (response.status === 404) return 'the platform serves no `/t/{tenant}/webhooks` route (webhooks not wired in yet)';
  throw new Error(`POST /webhooks: ${response.status} ${text}`);
}

/** Untimed writes until every sink receives them: JIT, connections, and every consumer really running. */
async function warmUp(context: Context, hooks: number, rate: number, seconds: number): Promise<void> {
  const { receiver, server, tenant } = context;
  receiver.send({ type: 'reset' });
  const written = await writeAt(server.url, tenant, rate, seconds);
  const drained = await expect(receiver.ask({ type: 'drain', positions: [...written.acks.keys()], hooks, ...DRAIN }), 'drained');
  if (drained.timedOut) throw new Error(`warm-up: the sinks did not receive every event (${hooks} webhooks)`);
}

export async function measurePlatform(): Promise<PlatformResult> {
  const dir = mkdtempSync(join(tmpdir(), 'backoffice-bench-messaging-'));
  const database = await createBenchDatabase('messaging_platform');
  const root = `bm${randomBytes(4).toString('hex')}`;
  const adminPassword = generatePassword();
  let server: Server | undefined;
  let receiver: Receiver | undefined;
  const runs: DeliveryRun[] = [];
  let webhooksMissing: string | undefined;
  let capacity: Capacity | undefined;
  try {
    server = await startServer({
      env: {
        BENCH_SERVER: 'platform',
        BACKOFFICE_STORAGE: 'postgres',
        BACKOFFICE_DATABASE_URL: database.url,
        BACKOFFICE_BUS: 'nats',
        BACKOFFICE_NATS_URL: NATS_URL,
        BACKOFFICE_BUS_ROOT: root,
        BACKOFFICE_ROLES: 'all',
        BACKOFFICE_OUTBOUND_PRIVATE_NETWORKS: 'true',
        BACKOFFICE_DATA_DIR: dir,
        BACKOFFICE_ADMIN_PASSWORD: adminPassword,
      },
    });
    progress('messaging: platform (PostgreSQL + NATS) started; provisioning the tenant');
    const [tenant] = await provisionTenants(server.url, adminPassword, 1);
    if (!tenant) throw new Error('no tenant provisioned');
    receiver = startReceiver();
    const { port } = await expect(
      receiver.ask({ type: 'open', natsUrl: NATS_URL, root, tenant: tenant.id, consumer: `bench_${root}` }),
      'ready',
    );
    const context: Context = { server, receiver, tenant, natsPid: natsServerPid() };
    progress('messaging: write capacity, closed loop of 32 connections');
    capacity = await measureCapacity(server, tenant, () => analyze(database.url));
    webhooksMissing = await createWebhook(server.url, tenant, port, 0);
    const hooks = webhooksMissing ? 0 : 1;
    progress(`messaging: warm-up, ${WARMUP.rate} creates/s for ${WARMUP.seconds} s`);
    await warmUp(context, hooks, WARMUP.rate, WARMUP.seconds);
    await analyze(database.url);
    for (const rate of RATES) {
      progress(`messaging: ${rate} creates/s for ${SECONDS} s, NATS consumer${hooks ? ' and one webhook' : ''}`);
      runs.push(await measure(context, 'latency', rate, SECONDS, hooks));
    }
    if (!webhooksMissing) {
      progress(`messaging: creating ${FANOUT.webhooks - 1} more webhooks for the fan-out`);
      for (let index = 1; index < FANOUT.webhooks; index++) await createWebhook(server.url, tenant, port, index);
      // A few events only: enough to see every webhook's consumer deliver.
      await warmUp(context, FANOUT.webhooks, FANOUT.warmupEvents, 1);
      await analyze(database.url);
      progress(`messaging: fan-out, ${FANOUT.events} creates at ${FANOUT.rate}/s to ${FANOUT.webhooks} webhooks`);
      runs.push(await measure(context, 'fanout', FANOUT.rate, FANOUT.events / FANOUT.rate, FANOUT.webhooks));
    }
  } finally {
    if (receiver?.process.exitCode === null) {
      const exited = new Promise((resolve) => receiver?.process.once('exit', resolve));
      receiver.process.kill('SIGTERM');
      await exited;
    }
    await server?.stop().catch((error: unknown) => progress(`messaging: the server did not stop cleanly: ${String(error)}`));
    await deleteStreams(root).catch(() => undefined);
    await database.drop();
    rmSync(dir, { recursive: true, force: true });
  }
  return { runs, capacity, webhooksMissing };
}
