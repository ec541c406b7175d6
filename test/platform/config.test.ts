import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  busSettings,
  ConfigError,
  issuerBase,
  loadConfig,
  rolesOf,
  storageConfig,
  unknownVariables,
  unsafeSettings,
} from '../../src/platform/config.js';

const violationsOf = (run: () => unknown): string[] => {
  try {
    run();
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    return error.violations;
  }
  assert.fail('expected a ConfigError');
};

describe('configuration', () => {
  it('defaults to the embedded SQLite store on loopback port 8080', () => {
    const config = loadConfig({ env: {}, cwd: '/srv/app' });
    assert.equal(config.host, '127.0.0.1');
    assert.equal(config.port, 8080);
    assert.equal(config.storage, 'sqlite');
    assert.equal(config.dataDir, '/srv/app/data');
    assert.deepEqual(storageConfig(config), { kind: 'sqlite', path: '/srv/app/data/backoffice.db', synchronous: 'FULL' });
    assert.deepEqual(unsafeSettings(config), []);
  });

  it('reads the documented environment variables', () => {
    const config = loadConfig({
      env: {
        BACKOFFICE_HOST: '0.0.0.0',
        BACKOFFICE_PORT: '9090',
        BACKOFFICE_STORAGE: 'postgres',
        BACKOFFICE_DATABASE_URL: 'postgres://app@db:5432/bo',
        BACKOFFICE_LOG_LEVEL: 'debug',
      },
    });
    assert.equal(config.port, 9090);
    assert.equal(config.logLevel, 'debug');
    assert.deepEqual(storageConfig(config), { kind: 'postgres', url: 'postgres://app@db:5432/bo', poolSize: 10 });
    // No TLS on 0.0.0.0, an open /metrics there, and a master key file of its own on each process of a shared database.
    assert.equal(unsafeSettings(config).length, 3);
    assert.equal(
      unsafeSettings({ ...config, masterKey: Buffer.alloc(32, 1).toString('base64'), metricsToken: 'a-long-metrics-token' }).length,
      1,
    );
  });

  it('reads the bus and role settings, requiring a NATS URL for the NATS bus', () => {
    const config = loadConfig({
      env: {
        BACKOFFICE_BUS: 'nats',
        BACKOFFICE_NATS_URL: 'nats://nats:4222',
        BACKOFFICE_ROLES: 'api,relay',
        BACKOFFICE_DATA_DIR: '/srv/bo',
      },
    });
    assert.deepEqual(busSettings(config), {
      kind: 'nats',
      url: 'nats://nats:4222',
      root: 'bo',
      duplicateWindowMs: 120_000,
      maxAgeMs: 7 * 86_400_000,
    });
    assert.deepEqual([...rolesOf(config)], ['api', 'relay']);
    assert.deepEqual([...rolesOf(loadConfig({ env: {} }))], ['api', 'auth', 'projector', 'relay', 'broker']);
    assert.equal(busSettings(loadConfig({ env: { BACKOFFICE_DATA_DIR: '/srv/bo' } })).kind, 'inprocess');
    assert.deepEqual(
      violationsOf(() => loadConfig({ env: { BACKOFFICE_BUS: 'nats' } })),
      ['natsUrl is required when bus is nats'],
    );
    assert.deepEqual(
      violationsOf(() => loadConfig({ env: { BACKOFFICE_ROLES: 'api,web' } })),
      ['roles must match pattern "^(all|api|auth|projector|relay|broker)(,(all|api|auth|projector|relay|broker))*$"'],
    );
  });

  it('reads the authorization server and key vault settings, and derives the issuer base', () => {
    const config = loadConfig({
      env: {
        BACKOFFICE_PORT: '9090',
        BACKOFFICE_ADMIN_PASSWORD: 'a long admin passphrase',
        BACKOFFICE_ACCESS_TOKEN_SECONDS: '300',
        BACKOFFICE_KEY_VAULT: 'pkcs11',
        BACKOFFICE_PKCS11_MODULE: '/usr/lib/pkcs11/p11-kit-client.so',
        BACKOFFICE_PKCS11_TOKEN_LABEL: 'backoffice',
        BACKOFFICE_PKCS11_PIN: '1234',
      },
    });
    assert.equal(config.accessTokenSeconds, 300);
    assert.equal(config.keyVault, 'pkcs11');
    assert.equal(issuerBase(config), 'http://127.0.0.1:9090');
    assert.equal(issuerBase({ ...config, publicUrl: 'https://bo.example.com' }), 'https://bo.example.com');
  });

  it('needs every PKCS#11 setting with the pkcs11 vault, and a refresh lifetime that fits its absolute limit', () => {
    assert.deepEqual(
      violationsOf(() => loadConfig({ env: { BACKOFFICE_KEY_VAULT: 'pkcs11' } })),
      [
        'pkcs11Module is required when keyVault is pkcs11',
        'pkcs11Pin is required when keyVault is pkcs11',
        'pkcs11TokenLabel or pkcs11Slot is required when keyVault is pkcs11',
      ],
    );
    assert.deepEqual(
      violationsOf(() => loadConfig({ env: { BACKOFFICE_REFRESH_SLIDING_SECONDS: '7200', BACKOFFICE_REFRESH_ABSOLUTE_SECONDS: '3600' } })),
      ['refreshAbsoluteSeconds must be at least refreshSlidingSeconds'],
    );
    assert.equal(violationsOf(() => loadConfig({ env: { BACKOFFICE_PUBLIC_URL: 'https://bo.example.com/' } })).length, 1);
    assert.equal(violationsOf(() => loadConfig({ env: { BACKOFFICE_MASTER_KEY: 'short' } })).length, 1);
  });

  it('lets the environment override a config file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'bo-config-'));
    const file = join(dir, 'config.json');
    writeFileSync(file, JSON.stringify({ port: 7000, logLevel: 'warn' }));
    const config = loadConfig({ env: { BACKOFFICE_CONFIG: file, BACKOFFICE_PORT: '7001' } });
    assert.equal(config.port, 7001);
    assert.equal(config.logLevel, 'warn');
  });

  it('lists every violation at once', () => {
    const violations = violationsOf(() =>
      loadConfig({ env: { BACKOFFICE_PORT: 'eighty', BACKOFFICE_STORAGE: 'mysql', BACKOFFICE_LOG_LEVEL: 'loud' } }),
    );
    assert.equal(violations.length, 3);
    assert.ok(violations.some((v) => v.startsWith('port')));
    assert.ok(violations.includes('storage must be one of sqlite, postgres'));
    assert.ok(violations.some((v) => v.startsWith('logLevel must be one of')));
  });

  it('requires a database URL for PostgreSQL and rejects a malformed one', () => {
    assert.deepEqual(
      violationsOf(() => loadConfig({ env: { BACKOFFICE_STORAGE: 'postgres' } })),
      ['databaseUrl is required when storage is postgres'],
    );
    assert.equal(violationsOf(() => loadConfig({ env: { BACKOFFICE_DATABASE_URL: 'mysql://x' } })).length, 1);
  });

  it('rejects unknown settings, a port out of range and an unreadable file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'bo-config-'));
    const file = join(dir, 'config.json');
    writeFileSync(file, JSON.stringify({ prot: 8080, port: 70000 }));
    assert.deepEqual(violationsOf(() => loadConfig({ env: {}, file })).sort(), ['port must be <= 65535', 'unknown setting prot']);
    assert.equal(violationsOf(() => loadConfig({ env: {}, file: join(dir, 'missing.json') })).length, 1);
    writeFileSync(file, '[1, 2]');
    assert.match(violationsOf(() => loadConfig({ env: {}, file }))[0] ?? '', /not a JSON object/);
  });

  it('names the BACKOFFICE_ variables it does not read', () => {
    assert.deepEqual(unknownVariables({ BACKOFFICE_PORT: '1', BACKOFFICE_PROT: '2', BACKOFFICE_TEST_X: '3', HOME: '/' }), [
      'BACKOFFICE_PROT',
    ]);
  });

  it('warns about settings that lose data or expose traffic', () => {
    const config = loadConfig({ env: { BACKOFFICE_SQLITE_SYNCHRONOUS: 'NORMAL' } });
    assert.match(unsafeSettings(config).join(), /power failure/);
  });
});
