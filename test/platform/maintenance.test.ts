import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Platform } from '../../src/platform/platform.js';
import { centralAdminToken, createTenant, startTestPlatform, testConfig } from '../support/platform.js';

const dataDir = mkdtempSync(join(tmpdir(), 'bo-maintain-'));
let platform: Platform;
before(async () => {
  platform = await startTestPlatform(testConfig({ BACKOFFICE_DATA_DIR: dataDir }));
});
after(async () => {
  await platform.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('hourly maintenance', () => {
  it('leaves keys that are not due alone, in central and in every tenant', async () => {
    await createTenant(platform.app, await centralAdminToken(platform.app), 'maint-a');
    const { keyring } = platform.security;
    const before = { central: await keyring.describe('central'), tenant: await keyring.describe('maint-a') };
    await platform.security.maintain();
    assert.deepEqual(await keyring.describe('central'), before.central);
    assert.deepEqual(await keyring.describe('maint-a'), before.tenant);
  });

  it('rotates the keys of every tenant once they are older than the rotation interval', async () => {
    const { keyring, identity } = platform.security;
    const kids = async (tenant: string) => (await keyring.describe(tenant)).map((key) => `${key.kid}:${key.state}`);
    const before = { central: await kids('central'), tenant: await kids('maint-a') };
    // A one-second interval, a second later: every key is due.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    await platform.security.maintain({ rotationSeconds: 1 });
    for (const [tenant, previous] of Object.entries({ central: before.central, 'maint-a': before.tenant })) {
      const now = await keyring.describe(tenant);
      assert.equal(now.find((key) => key.state === 'current')?.kid, previous.find((key) => key.endsWith(':next'))?.split(':')[0]);
      const audit = await identity.store.audit.list(tenant, { limit: 1000 });
      assert.ok(
        audit.some((entry) => entry.action === 'key_rotated' && entry.actor === 'system'),
        tenant,
      );
    }
  });
});
