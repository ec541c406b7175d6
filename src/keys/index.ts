export { KID } from './common.js';
export {
  type ClassifiedKey,
  classifyKeys,
  createKeyring,
  type KeyDescription,
  type Keyring,
  type KeyringOptions,
  type KeyState,
} from './keyring.js';
export type { Pkcs11VaultOptions } from './pkcs11/vault.js';
export type { KeyVault, PublicJwk, PublicKeyInfo, SigningAlgorithm } from './port.js';
export { SIGNING_ALGORITHMS } from './port.js';
export { loadOrCreateMasterKey } from './software/master-key.js';
export { postgresKeyRecords } from './software/postgres-records.js';
export type { KeyRecord, KeyRecordStore } from './software/records.js';
export { sqliteKeyRecords } from './software/sqlite-records.js';
export { createSoftwareVault, type SoftwareVaultOptions } from './software/vault.js';

import type { Pkcs11VaultOptions } from './pkcs11/vault.js';
import type { KeyVault } from './port.js';

/** A vault on a PKCS#11 token; the adapter and pkcs11js load only when this is called. */
export async function createPkcs11Vault(options: Pkcs11VaultOptions): Promise<KeyVault> {
  const { createPkcs11Vault: create } = await import('./pkcs11/vault.js');
  return create(options);
}
