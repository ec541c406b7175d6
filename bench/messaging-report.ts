/**
 * The tables and target checks of the messaging benchmark (bench/messaging.ts).
 */
import { WEBHOOK_DEFAULTS } from '../src/messaging/webhooks/index.js';
import { ms } from './http-load.js';
import { CAPACITY, type Capacity } from './messaging-capacity.js';
import type { DeliveryRun, PlatformResult, SinkResult } from './messaging-platform.js';
import { FANOUT, SECONDS, WARMUP } from './messaging-platform.js';
import { RELAY_ROUNDS, type RelayRun, WINDOW } from './messaging-relay.js';
import type { StoreRun } from './messaging-store.js';
import { formatCount, formatRatio, table } from './support.js';

export const TARGETS = { relayRatio: 0.7, p99Ms: 100, p99Rate: 1000 } as const;

export function quantile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] as number;
}

/** After the acknowledgement: an event that arrived before the writer read its response counts as 0. */
const afterAck = (sink: SinkResult, q: number) => Math.max(0, quantile(sink.afterAck, q));
const beforeAckShare = (sink: SinkResult) => {
  let before = 0;
  for (const value of sink.afterAck) if (value < 0) before++;
  return sink.afterAck.length === 0 ? 0 : before / sink.afterAck.length;
};
const percent = (ratio: number) => `${(ratio * 100).toFixed(ratio === 1 || ratio === 0 ? 0 : 2)} %`;
const share = (cpuSeconds: number | undefined, seconds: number) =>
  cpuSeconds === undefined ? '—' : `${Math.round((cpuSeconds / seconds) * 100)} %`;
const mark = (met: boolean) => (met ? 'met' : '**missed**');

export function relayTable(runs: RelayRun[]): string {
  const rows = runs.map((run) => [
    run.backend,
    formatCount(run.events),
    formatCount(run.nats.raw.rate),
    formatCount(run.nats.relay.rate),
    formatRatio(run.nats.relay.rate / run.nats.raw.rate),
    formatCount(run.nats.read.rate),
    formatCount(run.inprocess.raw.rate),
    formatCount(run.inprocess.relay.rate),
    formatRatio(run.inprocess.relay.rate / run.inprocess.raw.rate),
    formatCount(run.events / run.loadSeconds),
  ]);
  return table(
    [
      'Event store',
      'Events',
      'Raw JetStream publish, msgs/s',
      'Relay → NATS, events/s',
      'Relay / raw',
      'Log read + messages made, no publish, events/s',
      'In-process bus publish, msgs/s',
      'Relay → in-process bus, events/s',
      'Relay / publish',
      'Load (appends/s, not a target)',
    ],
    rows,
  );
}

const writtenCell = (run: DeliveryRun) => `${formatCount(run.written)}${run.failed > 0 ? ` (${formatCount(run.failed)} failed)` : ''}`;

/** Why creates failed, per run (an overloaded platform times requests out or refuses them). */
export function failedWrites(runs: DeliveryRun[]): string {
  const lines = runs
    .filter((run) => run.failed > 0)
    .map((run) => {
      const reasons = run.failures.map(([reason, count]) => `${formatCount(count)} × ${reason}`).join('; ');
      return `- ${run.label === 'fanout' ? 'fan-out' : 'latency'} run at ${formatCount(run.rate)} creates/s: ${formatCount(run.failed)} of ${formatCount(run.failed + run.written)} creates failed (${reasons})`;
    });
  return lines.length === 0
    ? ''
    : `**Failed writes** (left out of the latencies; their events may still have been delivered):\n\n${lines.join('\n')}\n`;
}

export function storeTable(runs: StoreRun[]): string {
  return table(
    ['Rows in flight', 'Deliveries-log rows/s'],
    runs.map((run) => [run.loops, formatCount(run.result.rate)]),
  );
}

function sinkRow(run: DeliveryRun, name: string, sink: SinkResult): (string | number)[] {
  const seconds = run.windowSeconds;
  return [
    formatCount(run.rate),
    name,
    writtenCell(run),
    `${percent(sink.expected === 0 ? 0 : sink.delivered / sink.expected)} (${formatCount(sink.delivered)} of ${formatCount(sink.expected)})`,
    ms(afterAck(sink, 0.5)),
    ms(afterAck(sink, 0.99)),
    ms(afterAck(sink, 1)),
    `${Math.round(beforeAckShare(sink) * 100)} %`,
    `${formatCount(sink.delivered / sink.spanSeconds)} (${sink.spanSeconds.toFixed(1)} s)`,
    `${ms(quantile(sink.afterSend, 0.5))} / ${ms(quantile(sink.afterSend, 0.99))}`,
    `${ms(quantile(run.postLatency, 0.5))} / ${ms(quantile(run.postLatency, 0.99))}`,
    name === 'webhook' ? `${ms(quantile(run.httpCalls, 0.5))} / ${ms(quantile(run.httpCalls, 0.99))}` : '—',
    `${share(run.cpu.server, seconds)} / ${share(run.cpu.nats, seconds)} / ${share(run.cpu.writer, seconds)} / ${share(run.cpu.receiver, seconds)}`,
  ];
}

export function latencyTable(runs: DeliveryRun[]): string {
  const rows = runs
    .filter((run) => run.label === 'latency')
    .flatMap((run) => [sinkRow(run, 'NATS consumer', run.nats), ...(run.webhooks ? [sinkRow(run, 'webhook', run.webhooks)] : [])]);
  return table(
    [
      'Creates/s',
      'Receiver',
      'Written',
      'Delivered',
      'p50 ms after ack',
      'p99 ms after ack',
      'max ms',
      'Before ack',
      'Received/s (first write → last arrival)',
      'p50 / p99 ms after send',
      'POST p50 / p99 ms',
      'Webhook HTTP call p50 / p99 ms',
      'CPU: platform / nats-server / writer / receiver',
    ],
    rows,
    'rlrrrrrrrrrrr',
  );
}

export function fanoutTable(run: DeliveryRun): string {
  const sink = run.webhooks as SinkResult;
  return table(
    [
      'Webhooks',
      'Events written',
      'Deliveries',
      'Duplicates',
      'Deliveries/s (first write → last delivery)',
      'p50 ms after ack',
      'p99 ms after ack',
      'max ms',
      'POST p50 / p99 ms',
      'Webhook HTTP call p50 / p99 ms',
      'CPU: platform / nats-server / writer / receiver',
    ],
    [
      [
        run.webhookCount,
        writtenCell(run),
        `${formatCount(sink.delivered)} of ${formatCount(sink.expected)}`,
        formatCount(sink.duplicates),
        `${formatCount(sink.delivered / sink.spanSeconds)} (${sink.spanSeconds.toFixed(1)} s)`,
        ms(afterAck(sink, 0.5)),
        ms(afterAck(sink, 0.99)),
        ms(afterAck(sink, 1)),
        `${ms(quantile(run.postLatency, 0.5))} / ${ms(quantile(run.postLatency, 0.99))}`,
        `${ms(quantile(run.httpCalls, 0.5))} / ${ms(quantile(run.httpCalls, 0.99))}`,
        [run.cpu.server, run.cpu.nats, run.cpu.writer, run.cpu.receiver].map((cpu) => share(cpu, run.windowSeconds)).join(' / '),
      ],
    ],
  );
}

export function checks(relay: RelayRun[], platform: PlatformResult | undefined): string[] {
  const lines = relay.map((run) => {
    const ratio = run.nats.relay.rate / run.nats.raw.rate;
    return `${mark(ratio >= TARGETS.relayRatio)}: relay throughput on ${run.backend}, ${formatCount(run.nats.relay.rate)} events/s = ${formatRatio(ratio)} raw JetStream publishing of the same messages (target ≥ ${TARGETS.relayRatio}×)`;
  });
  if (!platform) return [...lines, '**missed**: end-to-end latency and fan-out not measured (PostgreSQL does not answer)'];
  const target = platform.runs.find((run) => run.label === 'latency' && run.rate === TARGETS.p99Rate);
  const latency = (name: string, sink: SinkResult | undefined) => {
    if (!target || !sink)
      return `**missed**: ${name} at ${formatCount(TARGETS.p99Rate)} events/s not measured (${platform.webhooksMissing ?? 'no run'})`;
    const p99 = afterAck(sink, 0.99);
    const complete = sink.delivered === sink.expected && target.failed === 0;
    return `${mark(p99 <= TARGETS.p99Ms && complete)}: write acknowledgement → ${name} at ${formatCount(TARGETS.p99Rate)} events/s: p99 ${ms(p99)} ms, ${percent(sink.delivered / sink.expected)} delivered${target.failed > 0 ? `, ${formatCount(target.failed)} of ${formatCount(target.failed + target.written)} creates failed` : ''}, POST p99 ${ms(quantile(target.postLatency, 0.99))} ms${platform.capacity ? `, closed-loop write capacity ${formatCount(platform.capacity.rate)} creates/s` : ''} (target p99 ≤ ${TARGETS.p99Ms} ms)`;
  };
  lines.push(latency('NATS subscriber', target?.nats), latency('webhook', target?.webhooks));
  const fanout = platform.runs.find((run) => run.label === 'fanout');
  if (fanout?.webhooks) {
    const sink = fanout.webhooks;
    const unacknowledged =
      fanout.failed > 0
        ? ` (${formatCount(fanout.failed)} of ${formatCount(FANOUT.events)} creates failed at the writer, so ${formatCount(fanout.failed * fanout.webhookCount)} fewer expected)`
        : '';
    lines.push(
      `${mark(sink.delivered === sink.expected)}: fan-out to ${fanout.webhookCount} webhooks: ${formatCount(sink.delivered)} of ${formatCount(sink.expected)} deliveries of the acknowledged creates arrived${unacknowledged}, ${formatCount(sink.delivered / sink.spanSeconds)} deliveries/s, p99 ${ms(afterAck(sink, 0.99))} ms after the write's acknowledgement (target: every delivery arrives; rate and latency reported)`,
    );
  } else lines.push(`**missed**: fan-out to ${FANOUT.webhooks} webhooks not measured (${platform.webhooksMissing ?? 'no run'})`);
  return lines;
}

export const methodRelay = (runs: RelayRun[]) => `**Relay throughput.** ${formatCount(runs[0]?.events ?? 0)} record creations (stream
\`sales.orders:<uuid>\`, type \`OrdersCreated\`, ${runs[0]?.dataBytes ?? 0} bytes of data, ${runs[0]?.messageBytes ?? 0}-byte message body plus
the event headers) are appended straight through the event store (\`openStorage\`, 64 appends in flight) on SQLite and on a fresh
PostgreSQL database. **Raw**: the same messages, made beforehand with \`relayMessages\` (NATS headers too), published by the bare
\`@nats-io/jetstream\` client (\`js.publish\` with \`msgID\`) in windows of ${formatCount(WINDOW)} whose acks are awaited together (the
adapter publishes a relay batch of ${formatCount(WINDOW)} the same way: all sent back to back, acks awaited with \`Promise.all\`),
to fresh streams provisioned as the adapter provisions them (file storage, 2-minute duplicate window). **Relay**: a fresh root
(streams made by \`openBus\`), \`startRelay\` with an always-held lease from checkpoint 0, timed from its start until \`lag()\` is 0.
**Log read, no publish**: a consumer (\`startConsumer\`, batches of ${formatCount(WINDOW)}) from position 0 reading the log and making the
messages with \`relayMessages\`, publishing nothing: the relay's work besides publishing. The relay reads the next batch while
the bus stores one (\`readAhead\`), so its rate approaches the slower of raw and read; without it, 1 / relay ≈ 1 / raw + 1 / read. ${RELAY_ROUNDS} turns of each, in an order rotated each turn,
each relay on its own root (streams deleted after); the rates are total events over total time. The in-process bus (the embedded default, a SQLite file) gets the same pair, its baseline being
\`bus.publish\` of the prepared messages in windows of ${formatCount(WINDOW)}: for information, no target.`;

export const methodPlatform = () => `**End to end.** The platform (\`BENCH_SERVER=platform\`: tokens required, PostgreSQL storage on a
fresh database, NATS bus on a random root, roles \`all\`, \`BACKOFFICE_OUTBOUND_PRIVATE_NETWORKS=true\`) runs in its own process;
one tenant with \`sales.orders\` (bench/orders.ts) and an admin client, provisioned through the API. The writer (this process) creates
orders through \`POST\` with the client's token, paced by a 5 ms timer to the target rate (bench/messaging-writer.ts, paced as bench/live-writer.ts is), for ${SECONDS} s per
rate after ${WARMUP.seconds} s of untimed warm-up at ${WARMUP.rate}/s. \`ANALYZE\` runs after the first creates and before each part, as autovacuum would on a live database (on a fresh one the append's document update is planned for empty tables, and creates slow down as they fill). A receiver process (bench/messaging-receiver.ts) holds a durable consumer (\`openBus\` +
\`consume\` on \`<root>.<tenant>.*.*.*\`, \`start: 'new'\`, 256 in flight) and a node:http server taking the webhook deliveries
(\`POST /t/{tenant}/webhooks\` with \`events: ["sales.orders.*"]\` and a secret; the receiver answers 204 at once and checks the
\`X-Backoffice-Event-Id\` header). Arrivals are matched with the writer's acknowledgements by log position (the \`POST\` response,
the \`Bo-Position\` header, the body's \`position\`); clocks are \`performance.timeOrigin + performance.now()\` in each process. **After ack**:
arrival minus the time the \`POST\` response was read; an event that arrives before it counts as 0 ms (their share is shown).
**After send** includes the \`POST\` itself. **Webhook HTTP call**: the platform's own timing of the \`POST\` to the receiver (\`durationMs\` of its deliveries log, the latest
1,000 deliveries of up to 5 webhooks). CPU: user + system from the first write until everything arrived (100 % = one core); the platform, NATS,
the writer and the receiver share the machine's cores (PostgreSQL too, not shown).

**Fan-out.** ${FANOUT.webhooks} webhooks on the same pattern, each to its own path of the receiver, then (after a warm-up of
${FANOUT.warmupEvents} creates that every webhook must receive) ${formatCount(FANOUT.events)} creates at ${FANOUT.rate}/s, i.e. ${formatCount(FANOUT.events * FANOUT.webhooks)} deliveries;
deliveries/s = deliveries over the time from the first write to the last delivery.`;

const perSecond = (sink: SinkResult) => sink.delivered / sink.spanSeconds;

/** What the figures say about where the time goes, computed from them (no claim beyond the numbers). */
export function reading(relay: RelayRun[], platform: PlatformResult | undefined, store: StoreRun[]): string {
  const notes = relay.map((run) => {
    const bound = 1 / (1 / run.nats.raw.rate + 1 / run.nats.read.rate);
    return `On ${run.backend} the relay reads a batch, publishes it, then saves its checkpoint, one after the other: with the log read at ${formatCount(run.nats.read.rate)} events/s and the raw client at ${formatCount(run.nats.raw.rate)} msgs/s, that order allows at most ${formatCount(bound)} events/s (${formatRatio(bound / run.nats.raw.rate)} raw); it did ${formatCount(run.nats.relay.rate)}.`;
  });
  for (const run of platform?.runs.filter((item) => item.label === 'latency') ?? []) {
    const p50 = quantile(run.postLatency, 0.5);
    const capacity = platform?.capacity;
    const beyond =
      capacity && capacity.rate < run.rate
        ? ` More than the platform acknowledges at all: ${formatCount(capacity.rate)} creates/s in a closed loop of ${CAPACITY.connections} connections (server CPU ${Math.round(capacity.serverCpu * 100)} %), so no rate of delivery can keep up with it here.`
        : '';
    if (p50 > 250)
      notes.push(
        `At ${formatCount(run.rate)} creates/s the platform acknowledged creates in p50 ${ms(p50)} ms (p99 ${ms(quantile(run.postLatency, 0.99))} ms): the writer is open loop, so the writes queued in the platform itself, and an event is often published before its create's response is read (the "Before ack" share, counted as 0 ms).${beyond}`,
      );
    const hook = run.webhooks;
    // Saturated: the webhook took much longer than the NATS consumer to receive the same events.
    if (hook && hook.spanSeconds > 1.2 * run.nats.spanSeconds) {
      const perDelivery = (WEBHOOK_DEFAULTS.maxInFlight / perSecond(hook)) * 1000;
      notes.push(
        `At ${formatCount(run.rate)} creates/s the webhook took ${hook.spanSeconds.toFixed(1)} s to receive what the NATS consumer received in ${run.nats.spanSeconds.toFixed(1)} s (${formatCount(perSecond(hook))} events/s): its backlog grew for the whole run, and its latency is that backlog. A webhook has at most ${WEBHOOK_DEFAULTS.maxInFlight} deliveries under way, so this is about ${ms(perDelivery)} ms per delivery under way: a deliveries-log row (one PostgreSQL transaction), the HTTP call (p50 ${ms(quantile(run.httpCalls, 0.5))} ms), a confirmed ack to NATS, and the wait for the platform's event loop between them.`,
      );
    }
  }
  const fanout = platform?.runs.find((run) => run.label === 'fanout')?.webhooks;
  const alone = store.at(-1);
  if (fanout && alone)
    notes.push(
      `The ${FANOUT.webhooks} webhooks delivered ${formatCount(perSecond(fanout))}/s together, ${formatCount(FANOUT.webhooks * FANOUT.rate)}/s being offered. Every delivery of every webhook writes its deliveries-log row through one 4-connection pool; alone (no other work in the process), that pool took ${formatCount(alone.result.rate)} rows/s with ${formatCount(alone.loops)} in flight${alone.result.rate > 2 * perSecond(fanout) ? `, so the pool alone does not explain the rate: in the platform these round trips wait their turn in one event loop with the writes, the relay, and the HTTP calls and NATS acks of up to ${formatCount(alone.loops)} deliveries under way` : ''}.`,
    );
  return notes.map((note) => `- ${note}`).join('\n');
}

/** The closed-loop write capacity, one line under the latency table. */
export function capacityLine(capacity: Capacity | undefined): string {
  if (!capacity) return '';
  return `**Write capacity** of the same platform, before any webhook existed: ${formatCount(capacity.rate)} creates/s with ${CAPACITY.connections} connections in a closed loop for ${CAPACITY.seconds} s (autocannon, after ${CAPACITY.warmupSeconds} s of warm-up and an \`ANALYZE\`), p50 ${ms(capacity.p50)} ms, p99 ${ms(capacity.p99)} ms, ${formatCount(capacity.errors)} errors, server CPU ${Math.round(capacity.serverCpu * 100)} % of a core.`;
}
