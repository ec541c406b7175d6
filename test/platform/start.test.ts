import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createLogger } from '../../src/kernel/index.js';
import { loadConfig } from '../../src/platform/config.js';
import { createPlatform } from '../../src/platform/platform.js';

const dataDir = mkdtempSync(join(tmpdir(), 'bo-start-'));
const children: ChildProcess[] = [];
after(() => {
  for (const child of children) child.kill('SIGKILL');
  rmSync(dataDir, { recursive: true, force: true });
});

function launch(env: Record<string, string>) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/platform/main.ts', 'start'], {
    env: { ...process.env, BACKOFFICE_DATA_DIR: dataDir, BACKOFFICE_PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk) => {
    stdout += chunk;
  });
  child.stderr?.on('data', (chunk) => {
    stderr += chunk;
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const listening = new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no listening line:\n${stdout}\n${stderr}`)), 20_000);
    child.once('exit', () => {
      clearTimeout(timer);
      reject(new Error('exited before listening'));
    });
    child.stdout?.on('data', () => {
      const match = /"address":"(http:\/\/[^"]+)"/.exec(stdout);
      if (match?.[1]) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
  });
  listening.catch(() => undefined);
  return { child, exited, listening, output: () => ({ stdout, stderr }) };
}

describe('npm start', () => {
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`serves /healthz and /readyz on the embedded default and stops cleanly on ${signal}`, async () => {
      const server = launch({});
      const base = await server.listening;
      assert.deepEqual(await (await fetch(`${base}/healthz`)).json(), { status: 'ok' });
      const ready = await fetch(`${base}/readyz`);
      assert.equal(ready.status, 200);
      assert.deepEqual(await ready.json(), { status: 'ok', checks: { storage: 'ok', keys: 'ok', bus: 'ok' } });
      server.child.kill(signal);
      assert.equal(await server.exited, 0);
      assert.match(server.output().stdout, /"msg":"stopped"/);
    });
  }

  it('creates central and its admin on the first start, printing a generated password once, never to the logs', async () => {
    const env = { BACKOFFICE_DATA_DIR: join(dataDir, 'first-start'), BACKOFFICE_ADMIN_PASSWORD: '' };
    const first = launch(env);
    const base = await first.listening;
    const password = /shown only now \(change required at first login\): (\S+)/.exec(first.output().stdout)?.[1];
    assert.ok(password, first.output().stdout);
    assert.equal(first.output().stdout.split(password).length, 2, 'printed once');
    const grant = await fetch(`${base}/t/central/oauth/token`, {
      method: 'POST',
      body: new URLSearchParams({ grant_type: 'password', username: 'admin', password }),
    });
    assert.equal(grant.status, 200);
    assert.equal(((await grant.json()) as { scope: string }).scope, 'password_change', 'a generated password must be changed first');
    first.child.kill('SIGTERM');
    assert.equal(await first.exited, 0);
    assert.equal(first.output().stdout.split(password).length, 2, 'the login and shutdown logs do not hold it');

    const second = launch(env);
    await second.listening;
    second.child.kill('SIGTERM');
    assert.equal(await second.exited, 0);
    assert.doesNotMatch(second.output().stdout, /shown only now/);
  });

  it('refuses to start on invalid settings, listing each of them', async () => {
    const server = launch({ BACKOFFICE_PORT: 'x', BACKOFFICE_STORAGE: 'oracle' });
    assert.equal(await server.exited, 2);
    const { stderr } = server.output();
    assert.match(stderr, /Invalid configuration/);
    assert.match(stderr, /port must be integer/);
    assert.match(stderr, /storage must be one of sqlite, postgres/);
  });

  it('reports not ready with 503 when storage stops answering', async () => {
    const config = loadConfig({ env: { BACKOFFICE_DATA_DIR: join(dataDir, 'ready') } });
    const platform = await createPlatform(config, { logger: createLogger('silent'), announce: () => undefined });
    assert.equal((await platform.app.inject({ url: '/readyz' })).statusCode, 200);
    await platform.storage.close();
    const response = await platform.app.inject({ url: '/readyz' });
    assert.equal(response.statusCode, 503);
    assert.equal(response.json().code, 'unavailable');
    assert.deepEqual(response.json().checks, { storage: 'failed', keys: 'failed', bus: 'ok' });
    await platform.app.close();
    await platform.messaging.close();
  });
});
