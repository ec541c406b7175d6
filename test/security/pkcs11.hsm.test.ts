import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { startTestPlatform, testConfig } from '../support/platform.js';
import { securityContract } from './contract.js';

/**
 * SoftHSM2 behind `p11-kit server` (scripts/hsm.sh), as in test/keys/pkcs11.hsm.test.ts:
 * scripts/run-tests.mjs runs this file only when the server answers, and passes its variables.
 * The token is shared with other suites and runs: the contract's tenant ids are unique to the run,
 * and it deletes its tenants (so their keys) at the end.
 */
const root = mkdtempSync(join(tmpdir(), 'bo-security-hsm-'));
after(() => rmSync(root, { recursive: true, force: true }));

securityContract('SQLite with the PKCS#11 vault', async ({ publicUrl }) => {
  const dataDir = mkdtempSync(join(root, 'platform-'));
  return startTestPlatform(
    testConfig({
      BACKOFFICE_DATA_DIR: dataDir,
      BACKOFFICE_PUBLIC_URL: publicUrl,
      BACKOFFICE_KEY_VAULT: 'pkcs11',
      BACKOFFICE_PKCS11_MODULE: process.env.BACKOFFICE_TEST_PKCS11_MODULE ?? '/usr/lib/x86_64-linux-gnu/pkcs11/p11-kit-client.so',
      BACKOFFICE_PKCS11_TOKEN_LABEL: process.env.BACKOFFICE_TEST_PKCS11_TOKEN ?? 'backoffice',
      BACKOFFICE_PKCS11_PIN: process.env.BACKOFFICE_TEST_PKCS11_PIN ?? '12345678',
    }),
  );
});
