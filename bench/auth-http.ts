/**
 * The authorization and resource servers over real HTTP, on SQLite: the platform (bench/http-server.ts
 * with BENCH_SERVER=platform, tokens required, default argon2id cost) and, for the baseline of
 * authenticated reads, the same records API with authentication off (BENCH_SERVER=open) on a copy
 * of the same database file. Both run as child processes; autocannon sends the load from here.
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_ARGON2_COST, generatePassword } from '../src/identity/passwords.js';
import { basicAuth, clientToken, FORM, type Provisioned, provision, seedOrders, TENANT } from './auth-setup.js';
import { type BenchJob, type HttpJob, type Measured, measure, type Timing } from './http-load.js';
import { collectionPath, picker } from './orders.js';
import { type Server, startServer } from './server-process.js';
import { progress } from './support.js';

export const READ_CONNECTIONS = 32;
export const TOKEN_CONNECTIONS = [1, 32] as const;
export const PASSWORD_CONNECTIONS = [1, 4, 16] as const;

export interface HttpTimings {
  reads: Timing;
  tokens: Timing;
  passwords: Timing;
}

export interface HttpRun {
  records: number;
  seedSeconds: number;
  reads: Map<string, Measured>;
  tokens: Map<string, Measured>;
  passwords: Map<string, Measured>;
}

const sqliteEnv = (dir: string, mode: 'platform' | 'open') => ({
  BENCH_SERVER: mode,
  BACKOFFICE_STORAGE: 'sqlite',
  BACKOFFICE_DATA_DIR: dir,
});

/** The platform's settings: a known admin password, and the default argon2id cost spelled out (not left to the environment). */
const platformEnv = (dir: string, adminPassword: string) => ({
  ...sqliteEnv(dir, 'platform'),
  BACKOFFICE_ADMIN_PASSWORD: adminPassword,
  BACKOFFICE_PASSWORD_HASH_MEMORY_KIB: String(DEFAULT_ARGON2_COST.memoryKib),
  BACKOFFICE_PASSWORD_HASH_ITERATIONS: String(DEFAULT_ARGON2_COST.iterations),
});

/** The database file with its WAL, if any, into another data directory. */
function copyDatabase(from: string, to: string): void {
  mkdirSync(to, { recursive: true });
  for (const suffix of ['', '-wal']) {
    const file = join(from, `backoffice.db${suffix}`);
    if (existsSync(file)) copyFileSync(file, join(to, `backoffice.db${suffix}`));
  }
}

function readJob(key: string, server: Server, ids: readonly string[], token?: string): HttpJob {
  const pick = picker(ids);
  const collection = collectionPath(TENANT);
  return {
    kind: 'http',
    key,
    server,
    connections: READ_CONNECTIONS,
    request: {
      method: 'GET',
      path: collection,
      ...(token ? { headers: { authorization: `Bearer ${token}` } } : {}),
      setupRequest: (request) => ({ ...request, path: `${collection}/${pick()}` }),
    },
  };
}

const tokenJob = (key: string, connections: number, headers: Record<string, string>, body: string): HttpJob => ({
  kind: 'http',
  key,
  connections,
  request: { method: 'POST', path: `/t/${TENANT}/oauth/token`, headers: { ...FORM, ...headers }, body },
});

async function measureAll(platform: Server, open: Server, ids: string[], provisioned: Provisioned, timings: HttpTimings) {
  const [adminToken, readerToken] = await Promise.all([
    clientToken(platform.url, provisioned.admin),
    clientToken(platform.url, provisioned.reader),
  ]);
  const readJobs: BenchJob[] = [
    readJob('off', open, ids),
    readJob('admin', platform, ids, adminToken),
    readJob('reader', platform, ids, readerToken),
  ];
  const reads = await measure(platform, readJobs, 'auth: point reads', timings.reads);
  const clientBody = new URLSearchParams({ grant_type: 'client_credentials' }).toString();
  const tokens = await measure(
    platform,
    TOKEN_CONNECTIONS.map((connections) =>
      tokenJob(`cc-${connections}`, connections, { authorization: basicAuth(provisioned.admin) }, clientBody),
    ),
    'auth: client_credentials',
    timings.tokens,
  );
  const passwordBody = new URLSearchParams({ grant_type: 'password', ...provisioned.user }).toString();
  const passwords = await measure(
    platform,
    PASSWORD_CONNECTIONS.map((connections) => tokenJob(`pw-${connections}`, connections, {}, passwordBody)),
    'auth: password grant',
    timings.passwords,
  );
  return { reads, tokens, passwords };
}

/** Provisions and seeds a fresh platform, then measures reads (with and without auth), client_credentials and password grants. */
export async function benchHttp(records: number, timings: HttpTimings): Promise<HttpRun> {
  const root = mkdtempSync(join(tmpdir(), 'backoffice-bench-auth-'));
  const [platformDir, openDir] = [join(root, 'platform'), join(root, 'open')];
  const adminPassword = generatePassword();
  const servers: Server[] = [];
  try {
    progress('auth: starting the platform, provisioning the tenant');
    const first = await startServer({ env: platformEnv(platformDir, adminPassword) });
    servers.push(first);
    const provisioned = await provision(first.url, adminPassword);
    progress(`auth: creating ${records} orders through POST`);
    const seeded = await seedOrders(first.url, await clientToken(first.url, provisioned.admin), records);
    await servers.pop()?.stop();
    copyDatabase(platformDir, openDir);
    const platform = await startServer({ env: platformEnv(platformDir, adminPassword) });
    servers.push(platform);
    const open = await startServer({ env: sqliteEnv(openDir, 'open') });
    servers.push(open);
    const measured = await measureAll(platform, open, seeded.ids, provisioned, timings);
    return { records, seedSeconds: seeded.seconds, ...measured };
  } finally {
    for (const server of servers) await server.stop().catch(() => undefined);
    rmSync(root, { recursive: true, force: true });
  }
}
