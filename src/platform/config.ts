import { readFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { type Static, Type } from '@sinclair/typebox';
import { Ajv, type ErrorObject } from 'ajv';
import { isLoopback } from './network.js';
import type { StorageConfig } from './storage.js';

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** A string setting with a closed set of values (one clear error message, unlike a union of literals). */
const oneOf = <const T extends readonly string[]>(values: T, fallback: T[number]) =>
  Type.Unsafe<T[number]>({ type: 'string', enum: [...values], default: fallback });

/** Every setting, its type and default. A config file and the environment may set each of them. */
export const ConfigSchema = Type.Object(
  {
    host: Type.String({ minLength: 1, default: '127.0.0.1' }),
    port: Type.Integer({ minimum: 0, maximum: 65535, default: 8080 }),
    dataDir: Type.String({ minLength: 1, default: './data' }),
    storage: oneOf(['sqlite', 'postgres'], 'sqlite'),
    databaseUrl: Type.Optional(Type.String({ pattern: '^postgres(ql)?://' })),
    databasePoolSize: Type.Integer({ minimum: 1, maximum: 1000, default: 10 }),
    sqliteSynchronous: oneOf(['FULL', 'NORMAL'], 'FULL'),
    logLevel: oneOf(LOG_LEVELS, 'info'),
    /** The public base URL of the platform: issuers are `<publicUrl>/t/{tenant}`. Default `http://<host>:<port>`. */
    publicUrl: Type.Optional(Type.String({ pattern: '^https?://[^/?#]+(/[^?#]*[^/?#])?$' })),
    /** The password of `central`'s `admin` on first start; generated and printed once when absent. */
    adminPassword: Type.Optional(Type.String({ minLength: 1, maxLength: 1024 })),
    keyVault: oneOf(['software', 'pkcs11'], 'software'),
    /** The software vault's master key, 32 bytes in base64; else read from (or created in) masterKeyFile. */
    masterKey: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9+/]{43}=$' })),
    masterKeyFile: Type.Optional(Type.String({ minLength: 1 })),
    pkcs11Module: Type.Optional(Type.String({ minLength: 1 })),
    pkcs11TokenLabel: Type.Optional(Type.String({ minLength: 1, maxLength: 32 })),
    pkcs11Slot: Type.Optional(Type.Integer({ minimum: 0 })),
    pkcs11Pin: Type.Optional(Type.String({ minLength: 1 })),
    accessTokenSeconds: Type.Integer({ minimum: 60, maximum: 86_400, default: 900 }),
    refreshSlidingSeconds: Type.Integer({ minimum: 300, maximum: 30 * 86_400, default: 12 * 3600 }),
    refreshAbsoluteSeconds: Type.Integer({ minimum: 300, maximum: 365 * 86_400, default: 7 * 86_400 }),
    keyRotationDays: Type.Integer({ minimum: 1, maximum: 3650, default: 30 }),
    /** argon2id cost of password hashes (docs/identity.md explains the default). */
    passwordHashMemoryKib: Type.Integer({ minimum: 8192, maximum: 4_194_304, default: 19_456 }),
    passwordHashIterations: Type.Integer({ minimum: 1, maximum: 100, default: 2 }),
    shutdownTimeoutMs: Type.Integer({ minimum: 100, maximum: 600_000, default: 10_000 }),
    bodyLimitBytes: Type.Integer({ minimum: 1024, maximum: 64 * 1024 * 1024, default: 10 * 1024 * 1024 }),
    /** Live feed (docs/live.md): heartbeat interval, connection limits and each stream's outgoing buffer. */
    liveHeartbeatSeconds: Type.Number({ minimum: 0.05, maximum: 3600, default: 15 }),
    liveMaxConnectionsPerTenant: Type.Integer({ minimum: 1, maximum: 1_000_000, default: 1000 }),
    liveMaxConnections: Type.Integer({ minimum: 1, maximum: 1_000_000, default: 10_000 }),
    liveBufferEvents: Type.Integer({ minimum: 1, maximum: 1_000_000, default: 1000 }),
    liveBufferBytes: Type.Integer({ minimum: 1024, maximum: 1024 * 1024 * 1024, default: 1024 * 1024 }),
    /** Groups one report may hold; a report that would hold more fails with `too_many_groups` (docs/reports.md). */
    reportMaxGroups: Type.Integer({ minimum: 1, maximum: 10_000_000, default: 100_000 }),
    /** Events a report read `?asOf=` may fold in memory. */
    reportAsOfMaxEvents: Type.Integer({ minimum: 1, maximum: 10_000_000, default: 100_000 }),
    /** What this process does: `all`, or a comma-separated list of roles (docs/operations.md). */
    roles: Type.String({ pattern: '^(all|api|auth|projector|relay|broker)(,(all|api|auth|projector|relay|broker))*$', default: 'all' }),
    /** The message bus: in-process (on a SQLite file in dataDir) or NATS JetStream. */
    bus: oneOf(['inprocess', 'nats'], 'inprocess'),
    natsUrl: Type.Optional(Type.String({ pattern: '^(nats|tls)://' })),
    /** First token of every subject, and (upper-cased) the prefix of the JetStream stream names. */
    busRoot: Type.String({ pattern: '^[a-z][a-z0-9_-]{0,31}$', default: 'bo' }),
    busDuplicateWindowSeconds: Type.Integer({ minimum: 1, maximum: 86_400, default: 120 }),
    busMaxAgeDays: Type.Number({ minimum: 0.001, maximum: 3650, default: 7 }),
    /** Webhooks and routes may call loopback and private addresses only when true. */
    outboundPrivateNetworks: Type.Boolean({ default: false }),
    outboundTimeoutMs: Type.Integer({ minimum: 100, maximum: 300_000, default: 10_000 }),
    /** Deliveries of one message before it is dead-lettered, and the longest backoff between two. */
    deliveryMaxAttempts: Type.Integer({ minimum: 1, maximum: 100, default: 8 }),
    deliveryBackoffMaxSeconds: Type.Number({ minimum: 0.01, maximum: 86_400, default: 3600 }),
    /** Scrapers of `/metrics` must send `Authorization: Bearer <metricsToken>` when it is set. */
    metricsToken: Type.Optional(Type.String({ minLength: 16 })),
  },
  { additionalProperties: false },
);

export type Config = Static<typeof ConfigSchema>;

/** Environment variable of each setting (API.md, "Platform"). */
const ENVIRONMENT: Record<string, keyof Config> = {
  BACKOFFICE_HOST: 'host',
  BACKOFFICE_PORT: 'port',
  BACKOFFICE_DATA_DIR: 'dataDir',
  BACKOFFICE_STORAGE: 'storage',
  BACKOFFICE_DATABASE_URL: 'databaseUrl',
  BACKOFFICE_DATABASE_POOL_SIZE: 'databasePoolSize',
  BACKOFFICE_SQLITE_SYNCHRONOUS: 'sqliteSynchronous',
  BACKOFFICE_LOG_LEVEL: 'logLevel',
  BACKOFFICE_PUBLIC_URL: 'publicUrl',
  BACKOFFICE_ADMIN_PASSWORD: 'adminPassword',
  BACKOFFICE_KEY_VAULT: 'keyVault',
  BACKOFFICE_MASTER_KEY: 'masterKey',
  BACKOFFICE_MASTER_KEY_FILE: 'masterKeyFile',
  BACKOFFICE_PKCS11_MODULE: 'pkcs11Module',
  BACKOFFICE_PKCS11_TOKEN_LABEL: 'pkcs11TokenLabel',
  BACKOFFICE_PKCS11_SLOT: 'pkcs11Slot',
  BACKOFFICE_PKCS11_PIN: 'pkcs11Pin',
  BACKOFFICE_ACCESS_TOKEN_SECONDS: 'accessTokenSeconds',
  BACKOFFICE_REFRESH_SLIDING_SECONDS: 'refreshSlidingSeconds',
  BACKOFFICE_REFRESH_ABSOLUTE_SECONDS: 'refreshAbsoluteSeconds',
  BACKOFFICE_KEY_ROTATION_DAYS: 'keyRotationDays',
  BACKOFFICE_PASSWORD_HASH_MEMORY_KIB: 'passwordHashMemoryKib',
  BACKOFFICE_PASSWORD_HASH_ITERATIONS: 'passwordHashIterations',
  BACKOFFICE_SHUTDOWN_TIMEOUT_MS: 'shutdownTimeoutMs',
  BACKOFFICE_BODY_LIMIT_BYTES: 'bodyLimitBytes',
  BACKOFFICE_LIVE_HEARTBEAT_SECONDS: 'liveHeartbeatSeconds',
  BACKOFFICE_LIVE_MAX_CONNECTIONS_PER_TENANT: 'liveMaxConnectionsPerTenant',
  BACKOFFICE_LIVE_MAX_CONNECTIONS: 'liveMaxConnections',
  BACKOFFICE_LIVE_BUFFER_EVENTS: 'liveBufferEvents',
  BACKOFFICE_LIVE_BUFFER_BYTES: 'liveBufferBytes',
  BACKOFFICE_REPORT_MAX_GROUPS: 'reportMaxGroups',
  BACKOFFICE_REPORT_AS_OF_MAX_EVENTS: 'reportAsOfMaxEvents',
  BACKOFFICE_ROLES: 'roles',
  BACKOFFICE_BUS: 'bus',
  BACKOFFICE_NATS_URL: 'natsUrl',
  BACKOFFICE_BUS_ROOT: 'busRoot',
  BACKOFFICE_BUS_DUPLICATE_WINDOW_SECONDS: 'busDuplicateWindowSeconds',
  BACKOFFICE_BUS_MAX_AGE_DAYS: 'busMaxAgeDays',
  BACKOFFICE_OUTBOUND_PRIVATE_NETWORKS: 'outboundPrivateNetworks',
  BACKOFFICE_OUTBOUND_TIMEOUT_MS: 'outboundTimeoutMs',
  BACKOFFICE_DELIVERY_MAX_ATTEMPTS: 'deliveryMaxAttempts',
  BACKOFFICE_DELIVERY_BACKOFF_MAX_SECONDS: 'deliveryBackoffMaxSeconds',
  BACKOFFICE_METRICS_TOKEN: 'metricsToken',
};

export class ConfigError extends Error {
  constructor(readonly violations: string[]) {
    super(`Invalid configuration:\n${violations.map((violation) => `  - ${violation}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

const validate = new Ajv({ allErrors: true, useDefaults: true, coerceTypes: true }).compile(ConfigSchema);

export interface ConfigSources {
  env: NodeJS.ProcessEnv;
  /** A JSON file with the same keys as the settings; `BACKOFFICE_CONFIG` names it when this is absent. */
  file?: string;
  cwd?: string;
}

/** Reads the file and the environment (the environment wins), validates once, lists every violation. */
export function loadConfig({ env, file, cwd = process.cwd() }: ConfigSources): Config {
  const path = file ?? env.BACKOFFICE_CONFIG;
  const candidate: Record<string, unknown> = path ? readConfigFile(resolve(cwd, path)) : {};
  for (const [variable, key] of Object.entries(ENVIRONMENT)) {
    const value = env[variable];
    if (value !== undefined && value !== '') candidate[key] = value;
  }
  const violations = validate(candidate) ? crossFieldViolations(candidate as Config) : (validate.errors ?? []).map(describeViolation);
  if (violations.length > 0) throw new ConfigError(violations);
  const config = candidate as Config;
  return { ...config, dataDir: isAbsolute(config.dataDir) ? config.dataDir : resolve(cwd, config.dataDir) };
}

function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    throw new ConfigError([`config file ${path} cannot be read`]);
  }
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) return parsed as Record<string, unknown>;
  } catch {
    // reported below
  }
  throw new ConfigError([`config file ${path} is not a JSON object`]);
}

function describeViolation(error: ErrorObject): string {
  if (error.keyword === 'additionalProperties') return `unknown setting ${error.params.additionalProperty}`;
  const setting = error.instancePath.slice(1);
  if (error.keyword === 'enum') return `${setting} must be one of ${(error.params.allowedValues as string[]).join(', ')}`;
  return `${setting} ${error.message}`;
}

function crossFieldViolations(config: Config): string[] {
  const violations: string[] = [];
  if (config.storage === 'postgres' && !config.databaseUrl) violations.push('databaseUrl is required when storage is postgres');
  if (config.keyVault === 'pkcs11') {
    if (!config.pkcs11Module) violations.push('pkcs11Module is required when keyVault is pkcs11');
    if (!config.pkcs11Pin) violations.push('pkcs11Pin is required when keyVault is pkcs11');
    if (config.pkcs11Slot === undefined && !config.pkcs11TokenLabel)
      violations.push('pkcs11TokenLabel or pkcs11Slot is required when keyVault is pkcs11');
  }
  if (config.bus === 'nats' && !config.natsUrl) violations.push('natsUrl is required when bus is nats');
  if (config.refreshAbsoluteSeconds < config.refreshSlidingSeconds)
    violations.push('refreshAbsoluteSeconds must be at least refreshSlidingSeconds');
  return violations;
}

/** `BACKOFFICE_*` variables this version does not read (a typo, or a setting of a later version). */
export function unknownVariables(env: NodeJS.ProcessEnv): string[] {
  const known = new Set([...Object.keys(ENVIRONMENT), 'BACKOFFICE_CONFIG', 'BACKOFFICE_TEST_DATABASE_URL']);
  return Object.keys(env).filter((name) => name.startsWith('BACKOFFICE_') && !known.has(name) && !name.startsWith('BACKOFFICE_TEST_'));
}

/** Settings that are acceptable on a developer's machine and dangerous elsewhere; printed once at start. */
export function unsafeSettings(config: Config): string[] {
  const unsafe: string[] = [];
  if (!isLoopback(config.host)) unsafe.push(`HTTP listens on ${config.host} without TLS: put a TLS-terminating proxy in front`);
  if (config.keyVault === 'software' && !config.masterKey && config.storage === 'postgres')
    unsafe.push('the software key vault master key is in a local file: give every process the same BACKOFFICE_MASTER_KEY');
  if (config.outboundPrivateNetworks) unsafe.push('outboundPrivateNetworks: webhooks and routes may call loopback and private addresses');
  if (!config.metricsToken && !isLoopback(config.host)) unsafe.push('/metrics is open: set metricsToken');
  if (config.storage === 'sqlite' && config.sqliteSynchronous === 'NORMAL') {
    unsafe.push('sqliteSynchronous NORMAL: acknowledged writes may be lost on power failure');
  }
  return unsafe;
}

/** `<publicUrl>`, the base of every tenant's issuer. */
export function issuerBase(config: Config): string {
  if (config.publicUrl) return config.publicUrl;
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  return `http://${host}:${config.port}`;
}

export function storageConfig(config: Config): StorageConfig {
  if (config.storage === 'postgres') {
    return { kind: 'postgres', url: config.databaseUrl ?? '', poolSize: config.databasePoolSize };
  }
  return { kind: 'sqlite', path: join(config.dataDir, 'backoffice.db'), synchronous: config.sqliteSynchronous };
}

/** The live feed's settings (src/live). */
export function liveSettings(config: Config) {
  return {
    heartbeatMs: Math.round(config.liveHeartbeatSeconds * 1000),
    maxConnectionsPerTenant: config.liveMaxConnectionsPerTenant,
    maxConnections: config.liveMaxConnections,
    bufferEvents: config.liveBufferEvents,
    bufferBytes: config.liveBufferBytes,
  };
}

export const ROLES = ['api', 'auth', 'projector', 'relay', 'broker'] as const;
export type Role = (typeof ROLES)[number];

/** The roles this process runs (`all` is every one). */
export function rolesOf(config: Config): ReadonlySet<Role> {
  const named = config.roles.split(',');
  return new Set(named.includes('all') ? ROLES : (named as Role[]));
}

/** The bus adapter's settings (src/messaging/bus.ts). */
export function busSettings(config: Config) {
  const common = {
    root: config.busRoot,
    duplicateWindowMs: config.busDuplicateWindowSeconds * 1000,
    maxAgeMs: Math.round(config.busMaxAgeDays * 86_400_000),
  };
  if (config.bus === 'nats') return { kind: 'nats' as const, url: config.natsUrl ?? '', ...common };
  return { kind: 'inprocess' as const, path: join(config.dataDir, 'bus.db'), ...common };
}

/** Webhooks' and routes' outbound calls and delivery retries. */
export function deliverySettings(config: Config) {
  return {
    allowPrivateNetworks: config.outboundPrivateNetworks,
    timeoutMs: config.outboundTimeoutMs,
    maxAttempts: config.deliveryMaxAttempts,
    backoffBaseMs: 1000,
    backoffMaxMs: Math.round(config.deliveryBackoffMaxSeconds * 1000),
  };
}
