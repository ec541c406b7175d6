#!/usr/bin/env node
// Runs every test file with node's test runner. Suites that need a server (file names ending
// in .pg.test.ts) run when that server answers; without it a newcomer's run skips them with one
// line, and a CI run (CI=true) fails, because there they are mandatory.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { Socket } from 'node:net';
import { join } from 'node:path';

const backends = [
  {
    name: 'PostgreSQL',
    suffix: '.pg.test.ts',
    url: process.env.BACKOFFICE_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
    hint: 'start PostgreSQL on 127.0.0.1:5432 or set BACKOFFICE_TEST_DATABASE_URL',
  },
];

function listTests(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return listTests(path);
    return entry.name.endsWith('.test.ts') ? [path] : [];
  });
}

function reachable(url) {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = new Socket();
    const done = (ok) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(2000, () => done(false));
    socket.once('error', () => done(false));
    socket.connect(Number(port) || 5432, hostname || '127.0.0.1', () => done(true));
  });
}

const filter = process.argv.slice(2);
let files = listTests('test').sort();
if (filter.length > 0) files = files.filter((file) => filter.some((part) => file.includes(part)));

for (const backend of backends) {
  if (!files.some((file) => file.endsWith(backend.suffix))) continue;
  if (await reachable(backend.url)) continue;
  if (process.env.CI === 'true') {
    console.error(`${backend.name} is required when CI=true but does not answer at ${new URL(backend.url).host}.`);
    process.exit(1);
  }
  files = files.filter((file) => !file.endsWith(backend.suffix));
  console.log(`skipped: ${backend.name} suites (no server at ${new URL(backend.url).host}; ${backend.hint})`);
}

const result = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=spec', '--test-concurrency=2', ...files], {
  stdio: 'inherit',
  env: { ...process.env, NODE_ENV: 'test' },
});
process.exit(result.status ?? 1);
