/**
 * Bench-only launcher of the HTTP server, run as a child process by bench/http.ts. It reads the
 * settings from the BACKOFFICE_* environment as `backoffice start` does, then disables auth itself:
 * the configuration rules allow that on the embedded default only, and the benchmark needs it on
 * PostgreSQL too (no identity work is measured here). It tells the parent its address over IPC and
 * stops cleanly on SIGTERM (so that `--cpu-prof` writes its profile).
 */
import { loadConfig } from '../src/platform/config.js';
import { createPlatform } from '../src/platform/platform.js';

const config = { ...loadConfig({ env: { ...process.env, BACKOFFICE_AUTH: undefined } }), auth: 'disabled' as const };
const platform = await createPlatform(config);
const address = await platform.app.listen({ host: config.host, port: config.port });
process.send?.({ address });

let stopping = false;
process.on('SIGTERM', () => {
  if (stopping) return;
  stopping = true;
  platform.close().then(
    () => process.exit(0),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
});
// The parent went away without stopping us: do not linger.
process.on('disconnect', () => process.kill(process.pid, 'SIGTERM'));
