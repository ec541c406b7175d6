/**
 * Messaging (`npm run bench -- messaging`): the relay's throughput from the event store to JetStream
 * against the bare client publishing the same messages (bench/messaging-relay.ts); then, on the
 * platform with PostgreSQL and NATS, the latency from a write's acknowledgement to a NATS consumer and
 * to a webhook, and a fan-out to 50 webhooks (bench/messaging-platform.ts).
 */
import { cpus, loadavg } from 'node:os';
import { FANOUT, measurePlatform, type PlatformResult } from './messaging-platform.js';
import { measureRelay, type RelayRun } from './messaging-relay.js';
import {
  capacityLine,
  checks,
  failedWrites,
  fanoutTable,
  latencyTable,
  methodPlatform,
  methodRelay,
  reading,
  relayTable,
  storeTable,
} from './messaging-report.js';
import { measureWebhookStore, STORE_LOOPS, type StoreRun } from './messaging-store.js';
import { postgresReachable } from './postgres.js';
import { formatCount, progress, type Section } from './support.js';

interface Results {
  relay: RelayRun[];
  platform: PlatformResult | undefined;
  store: StoreRun[];
}

function body(started: Date, seconds: number, load: number[], { relay, platform, store }: Results): string {
  const lines = checks(relay, platform);
  const met = lines.filter((line) => line.startsWith('met')).length;
  const busy = load.some((value) => value > cpus().length);
  const fanout = platform?.runs.find((run) => run.label === 'fanout');
  return `_Measured ${started.toISOString()}; the module took ${Math.round(seconds)} s; one-minute load average
${load.map((value) => value.toFixed(2)).join(', ')} (before, between the parts, after; ${cpus().length} cores)._

**Targets: ${met} of ${lines.length} met.**

${lines.map((line) => `- ${line}`).join('\n')}

> ${cpus().length} shared cores: the platform, PostgreSQL, nats-server, the writer and the receiver all run on them, so every
> figure here is lower (and every latency higher) than with the broker and the database on machines of their own.${busy ? ' During this run the load average was above the core count (other work on the machine): figures are lower and noisier than on an idle machine.' : ''}

### Relay throughput

${methodRelay(relay)}

${relayTable(relay)}

### End-to-end latency

${methodPlatform()}

${platform ? latencyTable(platform.runs) : '_Not measured: PostgreSQL does not answer._'}

${capacityLine(platform?.capacity)}
${platform?.webhooksMissing ? `\n_Webhook lines missing: ${platform.webhooksMissing}._\n` : ''}
### Webhook fan-out

${fanout ? fanoutTable(fanout) : `_Not measured${platform?.webhooksMissing ? `: ${platform.webhooksMissing}` : ''}._`}

${platform ? failedWrites(platform.runs) : ''}
### The webhook store alone

Every successful delivery writes a row to the deliveries log: one tenant transaction (\`BEGIN\`, \`set_config\` of the tenant and of
\`synchronous_commit = off\`, the insert, \`COMMIT\`) on the webhook store's own pool of 4 connections; the secret is read once per
webhook definition. The same calls through \`openWebhookStore\` on a fresh PostgreSQL database, in the benchmark process, with as
many rows in flight as one webhook's consumer has deliveries (${STORE_LOOPS[0]}) and as the fan-out's ${FANOUT.webhooks} webhooks have
(${formatCount(STORE_LOOPS[1])}), for 4 s each (after the platform run, so nothing else of this module runs):

${store.length > 0 ? storeTable(store) : '_Not measured: PostgreSQL does not answer._'}

### Reading the figures

${reading(relay, platform, store)}
`;
}

export async function run(): Promise<Section> {
  const started = new Date();
  const startedNs = process.hrtime.bigint();
  const load = [loadavg()[0] ?? 0];
  const relay = await measureRelay();
  load.push(loadavg()[0] ?? 0);
  let platform: PlatformResult | undefined;
  let store: StoreRun[] = [];
  if (await postgresReachable()) {
    platform = await measurePlatform();
    progress('messaging: the webhook store alone');
    store = await measureWebhookStore();
  } else progress('messaging: PostgreSQL does not answer; the end-to-end part is left out');
  load.push(loadavg()[0] ?? 0);
  const seconds = Number(process.hrtime.bigint() - startedNs) / 1e9;
  return { id: 'messaging', title: 'Messaging', body: body(started, seconds, load, { relay, platform, store }) };
}
