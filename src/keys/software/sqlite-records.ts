import type Database from 'better-sqlite3';
import { securely } from '../../eventstore/sqlite/secure-delete.js';
import { KEY_COLUMNS, type KeyRecord, type KeyRecordStore, type KeyRow, toKeyRecord } from './records.js';

/**
 * Sealed keys in the SQLite database of the platform (table `vault_keys`, migration 4). Deletes run
 * with `secure_delete` on, so that the sealed bytes do not linger in free pages of the file.
 */
export function sqliteKeyRecords(db: Database.Database): KeyRecordStore {
  const statements = {
    put: db.prepare(`INSERT OR REPLACE INTO vault_keys (${KEY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
    get: db.prepare(`SELECT ${KEY_COLUMNS} FROM vault_keys WHERE tenant = ? AND kid = ?`),
    list: db.prepare(`SELECT ${KEY_COLUMNS} FROM vault_keys WHERE tenant = ? ORDER BY created_at, kid`),
    delete: db.prepare('DELETE FROM vault_keys WHERE tenant = ? AND kid = ?'),
    deleteTenant: db.prepare('DELETE FROM vault_keys WHERE tenant = ?'),
    masterKeyIds: db.prepare('SELECT DISTINCT master_key_id FROM vault_keys ORDER BY 1').pluck(),
  };

  return {
    async put(record: KeyRecord) {
      statements.put.run(
        record.tenant,
        record.kid,
        record.alg,
        JSON.stringify(record.publicJwk),
        record.format,
        record.masterKeyId,
        record.wrappedKey,
        record.iv,
        record.ciphertext,
        record.createdAt.toISOString(),
      );
    },
    async get(tenant, kid) {
      const row = statements.get.get(tenant, kid) as KeyRow | undefined;
      return row && toKeyRecord(row);
    },
    async list(tenant) {
      return (statements.list.all(tenant) as KeyRow[]).map(toKeyRecord);
    },
    async delete(tenant, kid) {
      return securely(db, () => statements.delete.run(tenant, kid).changes > 0);
    },
    async deleteTenant(tenant) {
      return securely(db, () => statements.deleteTenant.run(tenant).changes);
    },
    async masterKeyIds() {
      return statements.masterKeyIds.all() as string[];
    },
  };
}
