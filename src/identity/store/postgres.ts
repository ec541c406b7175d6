import type pg from 'pg';
import { inTenant } from '../../eventstore/postgres/tenant-transaction.js';
import type { Credential, IdentityStore, RefreshToken, RotateOutcome } from './port.js';
import {
  ATTEMPT_COLUMNS,
  type AttemptRow,
  AUDIT_COLUMNS,
  type AuditRow,
  auditPage,
  CREDENTIAL_COLUMNS,
  type CredentialRow,
  deadToken,
  lockUntil,
  nextOf,
  TOKEN_COLUMNS,
  type TokenRow,
  toAttempt,
  toAuditRecord,
  toCredential,
  toToken,
} from './rows.js';

const STORE = 'identity store';

/** Deletes every tenant's expired tokens under the row-security policy (deletes check `USING` only). */
const ALL_TENANTS = '*';
const INVALID: RotateOutcome = { outcome: 'invalid' };
const TENANT_TABLES = ['credentials', 'refresh_tokens', 'login_attempts', 'audit_log'];

/**
 * First key of the transaction-scoped advisory locks that make the rotations and revocations of one
 * token family take turns (the second key hashes tenant and family). Without them a revocation
 * running beside a rotation would not see the token the rotation adds, which would stay live.
 */
const FAMILY_LOCK = 72_461_181;
const familyLock = (tenant: string, family: string) => `pg_advisory_xact_lock(${FAMILY_LOCK}, hashtext(${tenant} || '/' || ${family}))`;

const REVOKE_FAMILY = 'UPDATE refresh_tokens SET revoked_at = $3 WHERE tenant = $1 AND family = $2 AND revoked_at IS NULL';
const INSERT_TOKEN = `INSERT INTO refresh_tokens (${TOKEN_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`;

/**
 * The identity store in the PostgreSQL database of the platform (migration 9), its tables guarded
 * like every tenant table by the forced `tenant_isolation` policy; every query also filters by tenant.
 */
export function postgresIdentityStore(pool: pg.Pool): IdentityStore {
  async function rotate(tenant: string, hash: string, next: (previous: RefreshToken) => RefreshToken, now: Date) {
    return inTenant(pool, tenant, STORE, async (client): Promise<RotateOutcome> => {
      const found = await client.query(`SELECT ${familyLock('tenant', 'family')} FROM refresh_tokens WHERE tenant = $1 AND hash = $2`, [
        tenant,
        hash,
      ]);
      if (found.rowCount === 0) return INVALID;
      // A new statement, so a fresh snapshot: what the family's previous holder of the lock committed.
      const { rows } = await client.query<TokenRow>(`SELECT ${TOKEN_COLUMNS} FROM refresh_tokens WHERE tenant = $1 AND hash = $2`, [
        tenant,
        hash,
      ]);
      const previous = rows[0] && toToken(rows[0]);
      if (!previous || deadToken(previous, now)) return INVALID;
      if (previous.usedAt !== null) {
        await client.query(REVOKE_FAMILY, [tenant, previous.family, now]);
        return { outcome: 'reused', previous: { ...previous, revokedAt: now } };
      }
      const token = nextOf(previous, next);
      await client.query('UPDATE refresh_tokens SET used_at = $3 WHERE tenant = $1 AND hash = $2', [tenant, hash, now]);
      await client.query(INSERT_TOKEN, tokenParams(token));
      return { outcome: 'rotated', previous: { ...previous, usedAt: now } };
    });
  }

  async function recordFailure(tenant: string, key: string, now: Date, lockFor: (failures: number) => number) {
    return inTenant(pool, tenant, STORE, async (client) => {
      const { rows } = await client.query<{ failures: number }>(
        `INSERT INTO login_attempts (tenant, key, failures, last_failure_at) VALUES ($1, $2, 1, $3)
         ON CONFLICT (tenant, key) DO UPDATE SET failures = login_attempts.failures + 1, last_failure_at = excluded.last_failure_at
         RETURNING failures`,
        [tenant, key, now],
      );
      const failures = rows[0]?.failures ?? 1;
      const lockedUntil = lockUntil(failures, now, lockFor);
      await client.query('UPDATE login_attempts SET locked_until = $3 WHERE tenant = $1 AND key = $2', [tenant, key, lockedUntil]);
      return { failures, lastFailureAt: now, lockedUntil };
    });
  }

  return {
    credentials: {
      async put(credential: Credential) {
        const { tenant, kind, subject, hash, changeRequired, updatedAt } = credential;
        await inTenant(pool, tenant, STORE, (client) =>
          client.query(
            `INSERT INTO credentials (${CREDENTIAL_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (tenant, kind, subject) DO UPDATE
               SET hash = excluded.hash, change_required = excluded.change_required, updated_at = excluded.updated_at`,
            [tenant, kind, subject, hash, changeRequired, updatedAt],
          ),
        );
      },
      async get(tenant, kind, subject) {
        const { rows } = await inTenant(pool, tenant, STORE, (client) =>
          client.query<CredentialRow>(`SELECT ${CREDENTIAL_COLUMNS} FROM credentials WHERE tenant = $1 AND kind = $2 AND subject = $3`, [
            tenant,
            kind,
            subject,
          ]),
        );
        return rows[0] && toCredential(rows[0]);
      },
      async delete(tenant, kind, subject) {
        const { rowCount } = await inTenant(pool, tenant, STORE, (client) =>
          client.query('DELETE FROM credentials WHERE tenant = $1 AND kind = $2 AND subject = $3', [tenant, kind, subject]),
        );
        return (rowCount ?? 0) > 0;
      },
    },
    sessions: {
      async create(token) {
        await inTenant(pool, token.tenant, STORE, (client) => client.query(INSERT_TOKEN, tokenParams(token)));
      },
      rotate,
      async find(tenant, hash) {
        const { rows } = await inTenant(pool, tenant, STORE, (client) =>
          client.query<TokenRow>(`SELECT ${TOKEN_COLUMNS} FROM refresh_tokens WHERE tenant = $1 AND hash = $2`, [tenant, hash]),
        );
        return rows[0] && toToken(rows[0]);
      },
      async revokeFamily(tenant, family, now) {
        const { rowCount } = await inTenant(pool, tenant, STORE, async (client) => {
          await client.query(`SELECT ${familyLock('$1::text', '$2::text')}`, [tenant, family]);
          return client.query(REVOKE_FAMILY, [tenant, family, now]);
        });
        return rowCount ?? 0;
      },
      async revokeSubject(tenant, subject, now) {
        const { rowCount } = await inTenant(pool, tenant, STORE, async (client) => {
          await client.query(
            `SELECT ${familyLock('$1', 'family')} FROM (SELECT DISTINCT family FROM refresh_tokens
               WHERE tenant = $1 AND subject = $2 AND revoked_at IS NULL ORDER BY family) AS families`,
            [tenant, subject],
          );
          return client.query('UPDATE refresh_tokens SET revoked_at = $3 WHERE tenant = $1 AND subject = $2 AND revoked_at IS NULL', [
            tenant,
            subject,
            now,
          ]);
        });
        return rowCount ?? 0;
      },
      async purgeExpired(now) {
        const { rowCount } = await inTenant(pool, ALL_TENANTS, STORE, (client) =>
          client.query('DELETE FROM refresh_tokens WHERE family_expires_at <= $1', [now]),
        );
        return rowCount ?? 0;
      },
    },
    attempts: {
      async get(tenant, key) {
        const { rows } = await inTenant(pool, tenant, STORE, (client) =>
          client.query<AttemptRow>(`SELECT ${ATTEMPT_COLUMNS} FROM login_attempts WHERE tenant = $1 AND key = $2`, [tenant, key]),
        );
        return rows[0] && toAttempt(rows[0]);
      },
      recordFailure,
      async reset(tenant, key) {
        await inTenant(pool, tenant, STORE, (client) =>
          client.query('DELETE FROM login_attempts WHERE tenant = $1 AND key = $2', [tenant, key]),
        );
      },
    },
    audit: {
      async append(tenant, entry, at = new Date()) {
        const { action, actor, address, target, detail } = entry;
        await inTenant(pool, tenant, STORE, (client) =>
          client.query('INSERT INTO audit_log (tenant, at, action, actor, address, target, detail) VALUES ($1, $2, $3, $4, $5, $6, $7)', [
            tenant,
            at,
            action,
            actor,
            address,
            target,
            JSON.stringify(detail),
          ]),
        );
      },
      async list(tenant, options) {
        const { after, limit } = auditPage(options);
        const { rows } = await inTenant(pool, tenant, STORE, (client) =>
          client.query<AuditRow>(`SELECT ${AUDIT_COLUMNS} FROM audit_log WHERE tenant = $1 AND id > $2 ORDER BY id LIMIT $3`, [
            tenant,
            after.toString(),
            limit,
          ]),
        );
        return rows.map(toAuditRecord);
      },
    },
    async deleteTenant(tenant) {
      await inTenant(pool, tenant, STORE, async (client) => {
        for (const table of TENANT_TABLES) await client.query(`DELETE FROM ${table} WHERE tenant = $1`, [tenant]);
      });
    },
  };
}

function tokenParams(token: RefreshToken): unknown[] {
  return [
    token.hash,
    token.tenant,
    token.family,
    token.subject,
    JSON.stringify(token.roles),
    token.scope,
    token.issuedAt,
    token.expiresAt,
    token.familyExpiresAt,
    token.usedAt,
    token.revokedAt,
  ];
}
