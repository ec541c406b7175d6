/**
 * The webhook store alone (`npm run bench -- messaging`, a diagnostic of the webhook figures): what
 * every successful webhook delivery asks of it, one row in the deliveries log (a tenant transaction
 * on its own 4-connection pool; the secret is read once per webhook definition), on a fresh
 * PostgreSQL database, with as many at once as one webhook and as the fan-out's webhooks have in flight.
 */
import { uuidv7 } from '../src/kernel/index.js';
import { openWebhookStore, WEBHOOK_DEFAULTS } from '../src/messaging/webhooks/index.js';
import { FANOUT } from './messaging-platform.js';
import { createBenchDatabase } from './postgres.js';
import { runFor, type Throughput } from './support.js';

export const STORE_LOOPS = [WEBHOOK_DEFAULTS.maxInFlight, FANOUT.webhooks * WEBHOOK_DEFAULTS.maxInFlight] as const;
const SECONDS = 4;
const TENANT = 'acme';
const WEBHOOK = 'bench-0';

export interface StoreRun {
  loops: number;
  result: Throughput;
}

export async function measureWebhookStore(): Promise<StoreRun[]> {
  const database = await createBenchDatabase('messaging_store');
  try {
    const store = await openWebhookStore({ kind: 'postgres', url: database.url });
    try {
      await store.insertSecret(TENANT, WEBHOOK, 'b'.repeat(48));
      let position = 0n;
      await store.secret(TENANT, WEBHOOK);
      const delivery = async () => {
        await store.record({
          id: uuidv7(),
          tenant: TENANT,
          webhook: WEBHOOK,
          eventId: uuidv7(),
          position: position++,
          attempt: 1,
          status: 'succeeded',
          httpStatus: 204,
          durationMs: 2,
          error: null,
          replay: false,
          at: new Date(),
        });
        return 1;
      };
      await runFor(1, 8, delivery);
      const runs: StoreRun[] = [];
      for (const loops of STORE_LOOPS) runs.push({ loops, result: await runFor(SECONDS, loops, delivery) });
      return runs;
    } finally {
      await store.close();
    }
  } finally {
    await database.drop();
  }
}
