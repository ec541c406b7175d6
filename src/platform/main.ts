import { parseArgs } from 'node:util';
import { AppError, createLogger } from '../kernel/index.js';
import { applyModule, type CommandInput, exportLog, importLog, rebuild, UsageError } from './commands.js';
import { type Config, ConfigError, loadConfig, unknownVariables } from './config.js';
import { createPlatform } from './platform.js';

const USAGE = `Usage: backoffice <command> [options] [--config file.json]

Commands:
  start [--role <roles>]                       start the platform; roles: all (default), or a comma-separated
                                               list of api, auth, projector, relay, broker (docs/operations.md)
  modules apply <file> --tenant <t> [--module <name>]
                                               define or evolve a module from a JSON file (name: the file's)
  projections rebuild [--tenant <t>]           recompute every document from the event log
  export <tenant> [--out <file>]               write a tenant's event log as JSON lines
  import <file> --tenant <t>                   append an exported log to a tenant and rebuild its documents

Settings come from the config file and BACKOFFICE_* environment variables (docs/configuration.md).`;

/** Starts the platform and shuts it down cleanly on SIGINT or SIGTERM. */
async function start(config: Config): Promise<void> {
  const logger = createLogger(config.logLevel);
  const unknown = unknownVariables(process.env);
  if (unknown.length > 0) logger.warn({ variables: unknown }, `ignored environment variables: ${unknown.join(', ')}`);
  const platform = await createPlatform(config, { logger });
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

const COMMANDS: Record<string, (config: Config, input: CommandInput) => Promise<void>> = {
  'modules apply': applyModule,
  'projections rebuild': rebuild,
  export: exportLog,
  import: importLog,
};

async function main(argv: string[]): Promise<void> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      config: { type: 'string' },
      help: { type: 'boolean' },
      tenant: { type: 'string' },
      module: { type: 'string' },
      out: { type: 'string' },
      role: { type: 'string' },
    },
  });
  if (values.help) return void process.stdout.write(`${USAGE}\n`);
  const env = values.role ? { ...process.env, BACKOFFICE_ROLES: values.role } : process.env;
  const config = loadConfig({ env, ...(values.config ? { file: values.config } : {}) });
  const [first = 'start', second = ''] = positionals;
  if (first === 'start') return start(config);
  const twoWords = COMMANDS[`${first} ${second}`];
  const command = twoWords ?? COMMANDS[first];
  if (!command) throw new UsageError(`Unknown command: ${positionals.join(' ')}`);
  const args = positionals.slice(twoWords ? 2 : 1);
  await command(config, { args, options: values, print: (line) => process.stdout.write(`${line}\n`) });
}

main(process.argv.slice(2)).catch((error: unknown) => {
  if (error instanceof ConfigError || error instanceof UsageError || error instanceof AppError) {
    const details = error instanceof AppError ? (error.details.errors ?? []).map((e) => `\n  ${e.path}: ${e.message}`).join('') : '';
    process.stderr.write(`${error.message}${details}\n${error instanceof UsageError ? `\n${USAGE}\n` : ''}`);
    process.exit(2);
  }
  createLogger('error').fatal({ err: error }, 'failed');
  process.exit(1);
});
