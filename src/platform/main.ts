import { parseArgs } from 'node:util';
import { createLogger } from '../kernel/index.js';
import { ConfigError, loadConfig } from './config.js';
import { createPlatform } from './platform.js';

const USAGE = `Usage: backoffice <command> [--config file.json]

Commands:
  start     start the platform (HTTP API) with the configured storage

Settings come from the config file and BACKOFFICE_* environment variables (docs/configuration.md).`;

/** Starts the platform and shuts it down cleanly on SIGINT or SIGTERM. */
async function start(configFile: string | undefined): Promise<void> {
  const config = loadConfig({ env: process.env, ...(configFile ? { file: configFile } : {}) });
  const logger = createLogger(config.logLevel);
  const platform = await createPlatform(config, logger);
  const address = await platform.app.listen({ host: config.host, port: config.port });
  logger.info({ address }, `Backoffice listening on ${address}`);
  let stopping = false;
  const stop = async (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    const timer = setTimeout(() => {
      logger.error('shutdown timed out');
      process.exit(1);
    }, config.shutdownTimeoutMs);
    await platform.close();
    clearTimeout(timer);
    logger.info('stopped');
    logger.flush();
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

async function main(argv: string[]): Promise<void> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { config: { type: 'string' }, help: { type: 'boolean' } },
  });
  const [command = 'start'] = positionals;
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  if (command === 'start') return start(values.config);
  throw new UsageError(`Unknown command: ${command}`);
}

class UsageError extends Error {}

main(process.argv.slice(2)).catch((error: unknown) => {
  if (error instanceof ConfigError || error instanceof UsageError) {
    process.stderr.write(`${error.message}\n${error instanceof UsageError ? `\n${USAGE}\n` : ''}`);
    process.exit(2);
  }
  createLogger('error').fatal({ err: error }, 'failed to start');
  process.exit(1);
});
