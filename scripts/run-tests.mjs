#!/usr/bin/env node
// Runs every test file with node's test runner. Suites that need a server run when that server
// answers: file names holding .pg. need PostgreSQL, .hsm. a PKCS#11 token (SoftHSM2
// behind `p11-kit server`, see docs/keys.md), names holding .nats. need NATS with JetStream (and
// .pg.nats.test.ts both). Without it a newcomer's run skips them with one line,
// and a CI run (CI=true) fails, because there they are mandatory.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { Socket } from 'node:net';
import { join } from 'node:path';

const postgresUrl = process.env.BACKOFFICE_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const natsUrl = process.env.BACKOFFICE_TEST_NATS_URL ?? 'nats://127.0.0.1:4222';
const hsm = hsmEnvironment();

const backends = [
  {
    name: 'PostgreSQL',
    marker: '.pg.',
    /** Why the suites cannot run, or nothing when they can. */
    missing: async () => {
      const { host, hostname, port } = new URL(postgresUrl);
      if (await reachable({ host: hostname || '127.0.0.1', port: Number(port) || 5432 })) return undefined;
      return `no server at ${host}`;
    },
    hint: 'start PostgreSQL on 127.0.0.1:5432 or set BACKOFFICE_TEST_DATABASE_URL',
  },
  {
    name: 'NATS',
    marker: '.nats.',
    missing: async () => {
      const { host, hostname, port } = new URL(natsUrl);
      if (await reachable({ host: hostname || '127.0.0.1', port: Number(port) || 4222 })) return undefined;
      return `no server at ${host}`;
    },
    hint: 'start nats-server with JetStream (-js) on 127.0.0.1:4222 or set BACKOFFICE_TEST_NATS_URL',
  },
  {
    name: 'HSM (PKCS#11)',
    marker: '.hsm.',
    missing: hsm.missing,
    hint: 'start SoftHSM2 behind p11-kit server with `bash scripts/hsm.sh start`, see docs/keys.md',
  },
];

/** The client modules p11-kit installs (Debian: p11-kit-modules), per architecture. */
function p11KitClientModule() {
  const candidates = ['x86_64-linux-gnu', 'aarch64-linux-gnu'].map((arch) => `/usr/lib/${arch}/pkcs11/p11-kit-client.so`);
  candidates.push('/usr/lib64/pkcs11/p11-kit-client.so', '/usr/lib/pkcs11/p11-kit-client.so');
  return candidates.find((path) => existsSync(path));
}

/**
 * The variables of the PKCS#11 suites: from the environment (P11_KIT_SERVER_ADDRESS and the
 * BACKOFFICE_TEST_PKCS11_* ones), else from the file `bash scripts/hsm.sh start` leaves in .hsm/.
 */
function hsmEnvironment() {
  const env = {};
  const file = join(process.env.BACKOFFICE_HSM_DIR ?? '.hsm', 'env');
  const configured = process.env.P11_KIT_SERVER_ADDRESS || process.env.BACKOFFICE_TEST_PKCS11_MODULE;
  if (!configured && existsSync(file)) {
    for (const match of readFileSync(file, 'utf8').matchAll(/^export (P11_KIT_SERVER_ADDRESS|BACKOFFICE_TEST_PKCS11_\w+)=(.*)$/gm)) {
      env[match[1]] = match[2];
    }
  }
  const value = (name) => process.env[name] || env[name];
  const address = value('P11_KIT_SERVER_ADDRESS');
  const module = value('BACKOFFICE_TEST_PKCS11_MODULE') ?? p11KitClientModule();
  if (module) env.BACKOFFICE_TEST_PKCS11_MODULE = module;
  const socket = address?.match(/^unix:path=(.+)$/)?.[1];
  return {
    env,
    missing: async () => {
      if (!module || !existsSync(module)) return `no PKCS#11 module${module ? ` at ${module}` : ''}`;
      // A module of a real HSM needs no server; p11-kit's client needs one that answers.
      if (!module.includes('p11-kit-client')) return undefined;
      if (!address) return 'no p11-kit server: P11_KIT_SERVER_ADDRESS is not set';
      if (socket === undefined || !(await reachable({ path: socket }))) return `no p11-kit server at ${address}`;
      return undefined;
    },
  };
}

function listTests(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return listTests(path);
    return entry.name.endsWith('.test.ts') ? [path] : [];
  });
}

function reachable(address) {
  return new Promise((resolve) => {
    const socket = new Socket();
    const done = (ok) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(2000, () => done(false));
    socket.once('error', () => done(false));
    socket.connect(address, () => done(true));
  });
}

const filter = process.argv.slice(2);
let files = listTests('test').sort();
if (filter.length > 0) files = files.filter((file) => filter.some((part) => file.includes(part)));

for (const backend of backends) {
  if (!files.some((file) => file.includes(backend.marker))) continue;
  const missing = await backend.missing();
  if (missing === undefined) continue;
  if (process.env.CI === 'true') {
    console.error(`${backend.name} is required when CI=true: ${missing} (${backend.hint}).`);
    process.exit(1);
  }
  files = files.filter((file) => !file.includes(backend.marker));
  console.log(`skipped: ${backend.name} suites (${missing}; ${backend.hint})`);
}

const result = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=spec', '--test-concurrency=2', ...files], {
  stdio: 'inherit',
  env: { ...process.env, ...hsm.env, NODE_ENV: 'test' },
});
process.exit(result.status ?? 1);
