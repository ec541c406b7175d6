import type pg from 'pg';
import { inTenant } from '../../eventstore/postgres/tenant-transaction.js';
import { KEY_COLUMNS, type KeyRecord, type KeyRecordStore, type KeyRow, toKeyRecord } from './records.js';

const STORE = 'key store';

/** Reads every tenant's rows under the row-security policy (used only for master key ids). */
const ALL_TENANTS = '*';

/**
 * Sealed keys in the PostgreSQL database of the platform (table `vault_keys`, migration 6), guarded
 * like every tenant table by the forced `tenant_isolation` policy; every query also filters by tenant.
 */
export function postgresKeyRecords(pool: pg.Pool): KeyRecordStore {
  return {
    async put(record: KeyRecord) {
      await inTenant(pool, record.tenant, STORE, (client) =>
        client.query(
          `INSERT INTO vault_keys (${KEY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
           ON CONFLICT (tenant, kid) DO UPDATE SET alg = excluded.alg, public_jwk = excluded.public_jwk, format = excluded.format,
             master_key_id = excluded.master_key_id, wrapped_key = excluded.wrapped_key, iv = excluded.iv,
             ciphertext = excluded.ciphertext, created_at = excluded.created_at`,
          [
            record.tenant,
            record.kid,
            record.alg,
            JSON.stringify(record.publicJwk),
            record.format,
            record.masterKeyId,
            record.wrappedKey,
            record.iv,
            record.ciphertext,
            record.createdAt,
          ],
        ),
      );
    },
    async get(tenant, kid) {
      const { rows } = await inTenant(pool, tenant, STORE, (client) =>
        client.query<KeyRow>(`SELECT ${KEY_COLUMNS} FROM vault_keys WHERE tenant = $1 AND kid = $2`, [tenant, kid]),
      );
      return rows[0] && toKeyRecord(rows[0]);
    },
    async list(tenant) {
      const { rows } = await inTenant(pool, tenant, STORE, (client) =>
        client.query<KeyRow>(`SELECT ${KEY_COLUMNS} FROM vault_keys WHERE tenant = $1 ORDER BY created_at, kid`, [tenant]),
      );
      return rows.map(toKeyRecord);
    },
    async delete(tenant, kid) {
      const { rowCount } = await inTenant(pool, tenant, STORE, (client) =>
        client.query('DELETE FROM vault_keys WHERE tenant = $1 AND kid = $2', [tenant, kid]),
      );
      return (rowCount ?? 0) > 0;
    },
    async deleteTenant(tenant) {
      const { rowCount } = await inTenant(pool, tenant, STORE, (client) =>
        client.query('DELETE FROM vault_keys WHERE tenant = $1', [tenant]),
      );
      return rowCount ?? 0;
    },
    async masterKeyIds() {
      const { rows } = await inTenant(pool, ALL_TENANTS, STORE, (client) =>
        client.query<{ id: string }>('SELECT DISTINCT master_key_id AS id FROM vault_keys ORDER BY 1'),
      );
      return rows.map((row) => row.id);
    },
  };
}
