/**
 * The webhook store alone (`npm run bench -- messaging`, a diagnostic of the webhook figures): what
 * every successful webhook delivery asks of it, the secret's lookup and one row in the deliveries
 * log (two tenant transactions on its own 4-connection pool), on a fresh PostgreSQL database, with
 * 8 (one webhook's deliveries in flight) and 400 (50 webhooks') at once.
 */
import { uuidv7 } from '../src/kernel/index.js';
import { openWebhookStore } from '../src/messaging/webhooks/index.js';
import { createBenchDatabase } from './postgres.js';
import { runFor, type Throughput } from './support.js';

export const STORE_LOOPS = [8, 400] as const;
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
      const delivery = async () => {
        await store.secret(TENANT, WEBHOOK);
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
