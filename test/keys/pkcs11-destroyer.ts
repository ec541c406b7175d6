// Run as a separate process by pkcs11.hsm.test.ts: another replica of the platform, on the same
// token, destroys a key (argv: tenant kid) or all of a tenant's keys (argv: tenant).
import { createPkcs11Vault } from '../../src/keys/index.js';

const [tenant, kid] = process.argv.slice(2);
const vault = await createPkcs11Vault({
  module: process.env.BACKOFFICE_TEST_PKCS11_MODULE ?? '',
  tokenLabel: process.env.BACKOFFICE_TEST_PKCS11_TOKEN ?? 'backoffice',
  pin: process.env.BACKOFFICE_TEST_PKCS11_PIN ?? '',
});
try {
  if (kid) await vault.destroy(tenant ?? '', kid);
  else await vault.destroyTenant(tenant ?? '');
} finally {
  await vault.close();
}
