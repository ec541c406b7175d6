/**
 * Bench-only launcher of the HTTP server, run as a child process (bench/server-process.ts). It reads
 * the settings from the BACKOFFICE_* environment as `backoffice start` does; BENCH_SERVER chooses what
 * it serves:
 *
 * - `open` (default): the records API with authentication off. The app is composed here as the
 *   platform composes it (same storage, same data context, same `buildApp`), with `unauthenticatedAdmin`
 *   in place of the token check: every caller is the tenant's admin. The served platform has no
 *   such switch; bench/http.ts measures the records API without identity work, and bench/auth.ts
 *   uses it as the baseline of authenticated reads.
 * - `platform`: `createPlatform`, exactly as `backoffice start` builds it (tokens required).
 *
 * It tells the parent its address over IPC and stops cleanly on SIGTERM (so that `--cpu-prof`
 * writes its profile).
 */
import type { FastifyInstance } from 'fastify';
import { createDataContext } from '../src/datamodel/index.js';
import { buildApp, unauthenticatedAdmin } from '../src/http/index.js';
import { createLogger } from '../src/kernel/index.js';
import { type Config, loadConfig, storageConfig } from '../src/platform/config.js';
import { createPlatform } from '../src/platform/platform.js';
import { openStorage } from '../src/platform/storage.js';

interface Served {
  app: FastifyInstance;
  close(): Promise<void>;
}

async function openServer(config: Config): Promise<Served> {
  const logger = createLogger(config.logLevel);
  const storage = await openStorage(storageConfig(config), logger);
  try {
    const data = createDataContext({ events: storage.events, documents: storage.documents, authenticate: unauthenticatedAdmin });
    const app = await buildApp({ logger, bodyLimitBytes: config.bodyLimitBytes, contexts: [{ plugin: data.plugin }] });
    return {
      app,
      async close() {
        await app.close();
        await storage.close();
      },
    };
  } catch (error) {
    await storage.close();
    throw error;
  }
}

const mode = process.env.BENCH_SERVER ?? 'open';
if (mode !== 'open' && mode !== 'platform') throw new Error(`BENCH_SERVER must be open or platform, not ${mode}`);
const config = loadConfig({ env: process.env });
const served: Served = mode === 'platform' ? await createPlatform(config, { announce: () => undefined }) : await openServer(config);
const address = await served.app.listen({ host: config.host, port: config.port });
process.send?.({ address });

let stopping = false;
process.on('SIGTERM', () => {
  if (stopping) return;
  stopping = true;
  served.close().then(
    () => process.exit(0),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
});
// The parent went away without stopping us: do not linger.
process.on('disconnect', () => process.kill(process.pid, 'SIGTERM'));
