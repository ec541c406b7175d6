import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import { createLogger } from '../../src/kernel/index.js';
import { type Config, loadConfig } from '../../src/platform/config.js';
import { createPlatform, type Platform } from '../../src/platform/platform.js';

/** The password of `central`'s admin on every test platform (it meets the password policy). */
export const ADMIN_PASSWORD = 'central-admin-test-passphrase';

/**
 * Settings of a test platform: a cheap argon2id cost (the real cost is measured by the benchmarks,
 * not needed to test behaviour), the known admin password, silent logs.
 */
export function testConfig(env: Record<string, string>, overrides: Partial<Config> = {}): Config {
  const config = loadConfig({
    env: {
      BACKOFFICE_ADMIN_PASSWORD: ADMIN_PASSWORD,
      BACKOFFICE_PASSWORD_HASH_MEMORY_KIB: '8192',
      BACKOFFICE_PASSWORD_HASH_ITERATIONS: '1',
      ...env,
    },
  });
  return { ...config, ...overrides };
}

/** Silent, unless BACKOFFICE_TEST_LOG names a level (to debug a failing case). */
export async function startTestPlatform(config: Config): Promise<Platform> {
  return createPlatform(config, {
    logger: createLogger((process.env.BACKOFFICE_TEST_LOG as 'error') ?? 'silent'),
    announce: () => undefined,
  });
}

/** A password grant through the token endpoint: the access token, and the refresh cookie's value. */
export async function login(app: FastifyInstance, tenant: string, username: string, password: string) {
  const response = await app.inject({
    method: 'POST',
    url: `/t/${tenant}/oauth/token`,
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams({ grant_type: 'password', username, password }).toString(),
  });
  assert.equal(response.statusCode, 200, response.body);
  const cookie = /bo_refresh=([^;]*)/.exec(String(response.headers['set-cookie'] ?? ''))?.[1];
  return { accessToken: response.json().access_token as string, refreshToken: cookie, body: response.json() };
}

/** The central admin's access token. */
export async function centralAdminToken(app: FastifyInstance): Promise<string> {
  return (await login(app, 'central', 'admin', ADMIN_PASSWORD)).accessToken;
}

/** Creates a tenant through the central API; returns its admin's one-time password. */
export async function createTenant(app: FastifyInstance, centralToken: string, id: string): Promise<string> {
  const response = await app.inject({
    method: 'POST',
    url: '/t/central/tenants',
    headers: { authorization: `Bearer ${centralToken}`, 'content-type': 'application/json' },
    payload: JSON.stringify({ id, name: id }),
  });
  assert.equal(response.statusCode, 201, response.body);
  return response.json().admin.password as string;
}
