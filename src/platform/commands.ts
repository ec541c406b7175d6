import { createReadStream, createWriteStream, readFileSync } from 'node:fs';
import { basename, extname } from 'node:path';
import { finished } from 'node:stream/promises';
import { createDataContext, isDataStream, rebuildProjections } from '../datamodel/index.js';
import { exportTenant, importTenant } from '../eventstore/transfer.js';
import { unauthenticatedAdmin } from '../http/index.js';
import { assertTenantId, uuidv7 } from '../kernel/index.js';
import type { Config } from './config.js';
import { storageConfig } from './config.js';
import { openStorage, type Storage } from './storage.js';

export class UsageError extends Error {}

export interface CommandInput {
  args: string[];
  options: { tenant?: string | undefined; module?: string | undefined; out?: string | undefined };
  print: (line: string) => void;
}

async function withStorage<T>(config: Config, work: (storage: Storage) => Promise<T>): Promise<T> {
  const storage = await openStorage(storageConfig(config));
  try {
    return await work(storage);
  } finally {
    await storage.close();
  }
}

function required(value: string | undefined, what: string): string {
  if (!value) throw new UsageError(`Missing ${what}`);
  return value;
}

/** `modules apply <file> --tenant <t> [--module <name>]`: defines or evolves a module from a JSON file. */
export async function applyModule(config: Config, { args, options, print }: CommandInput): Promise<void> {
  const file = required(args[0], 'the module file');
  const tenant = required(options.tenant, '--tenant');
  assertTenantId(tenant);
  const name = options.module ?? basename(file, extname(file));
  const definition: unknown = JSON.parse(readFileSync(file, 'utf8'));
  await withStorage(config, async (storage) => {
    const data = createDataContext({ ...storage, authenticate: unauthenticatedAdmin });
    const caller = { tenant, user: 'cli', roles: ['admin'] };
    const change = await data.modules.define({ caller, correlationId: uuidv7() }, tenant, name, definition);
    print(`module ${tenant}/${change.name} is at version ${change.version}${change.changed ? '' : ' (unchanged)'}`);
  });
}

/** `projections rebuild [--tenant <t>]`: recomputes every document from the log. */
export async function rebuild(config: Config, { options, print }: CommandInput): Promise<void> {
  if (options.tenant) assertTenantId(options.tenant);
  await withStorage(config, async (storage) => {
    const counts = await rebuildProjections(storage, options.tenant);
    print(`rebuilt ${counts.records} records of ${counts.modules} modules in ${counts.tenants} tenants`);
  });
}

/**
 * `export <tenant> [--out file]`: the tenant's data (module and record events) as JSON lines, on
 * standard output by default. Users, roles and clients stay out: their secrets are not in the log.
 */
export async function exportLog(config: Config, { args, options, print }: CommandInput): Promise<void> {
  const tenant = required(args[0], 'the tenant');
  assertTenantId(tenant);
  await withStorage(config, async (storage) => {
    const out = options.out ? createWriteStream(options.out) : process.stdout;
    const count = await exportTenant(storage.events, tenant, out, isDataStream);
    if (options.out) {
      out.end();
      await finished(out);
      print(`exported ${count} events of ${tenant} to ${options.out}`);
    }
  });
}

/** `import <file> --tenant <t>`: appends an exported log to a tenant, then rebuilds its documents. */
export async function importLog(config: Config, { args, options, print }: CommandInput): Promise<void> {
  const file = required(args[0], 'the file to import');
  const tenant = required(options.tenant, '--tenant');
  assertTenantId(tenant);
  await withStorage(config, async (storage) => {
    const count = await importTenant(storage.events, tenant, createReadStream(file));
    const counts = await rebuildProjections(storage, tenant);
    print(`imported ${count} events into ${tenant}; rebuilt ${counts.records} records of ${counts.modules} modules`);
  });
}
