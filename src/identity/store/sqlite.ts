import type Database from 'better-sqlite3';
import { securely } from '../../eventstore/sqlite/secure-delete.js';
import type { AttemptState, Credential, IdentityStore, RefreshToken, RotateOutcome } from './port.js';
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

const INVALID: RotateOutcome = { outcome: 'invalid' };
const TENANT_TABLES = ['credentials', 'refresh_tokens', 'login_attempts', 'audit_log'];

/**
 * The identity store in the SQLite database of the platform (migration 5). Every change that reads
 * before it writes runs in an immediate transaction, so that it is atomic across processes too.
 * Deletes of secrets and of a tenant run with `secure_delete` on, so that nothing lingers in free pages.
 */
export function sqliteIdentityStore(db: Database.Database): IdentityStore {
  const statements = prepareStatements(db);

  const rotate = db.transaction(
    (tenant: string, hash: string, next: (previous: RefreshToken) => RefreshToken, now: Date): RotateOutcome => {
      const row = statements.findToken.get(tenant, hash) as TokenRow | undefined;
      const previous = row && toToken(row);
      if (!previous || deadToken(previous, now)) return INVALID;
      if (previous.usedAt !== null) {
        statements.revokeFamily.run(now.toISOString(), tenant, previous.family);
        return { outcome: 'reused', previous: { ...previous, revokedAt: now } };
      }
      const token = nextOf(previous, next);
      statements.markUsed.run(now.toISOString(), hash);
      statements.insertToken.run(...tokenParams(token));
      return { outcome: 'rotated', previous: { ...previous, usedAt: now } };
    },
  );

  const recordFailure = db.transaction((tenant: string, key: string, now: Date, lockFor: (failures: number) => number): AttemptState => {
    const { failures } = statements.countFailure.get(tenant, key, now.toISOString()) as { failures: number };
    const lockedUntil = lockUntil(failures, now, lockFor);
    statements.lock.run(lockedUntil?.toISOString() ?? null, tenant, key);
    return { failures, lastFailureAt: now, lockedUntil };
  });

  const deleteTenant = db.transaction((tenant: string) => {
    for (const statement of statements.deleteTenant) statement.run(tenant);
  });

  return {
    credentials: {
      async put(credential: Credential) {
        const { tenant, kind, subject, hash, changeRequired, updatedAt } = credential;
        statements.putCredential.run(tenant, kind, subject, hash, changeRequired ? 1 : 0, updatedAt.toISOString());
      },
      async get(tenant, kind, subject) {
        const row = statements.getCredential.get(tenant, kind, subject) as CredentialRow | undefined;
        return row && toCredential(row);
      },
      async delete(tenant, kind, subject) {
        return securely(db, () => statements.deleteCredential.run(tenant, kind, subject).changes > 0);
      },
    },
    sessions: {
      async create(token) {
        statements.insertToken.run(...tokenParams(token));
      },
      async rotate(tenant, hash, next, now) {
        return rotate.immediate(tenant, hash, next, now);
      },
      async find(tenant, hash) {
        const row = statements.findToken.get(tenant, hash) as TokenRow | undefined;
        return row && toToken(row);
      },
      async revokeFamily(tenant, family, now) {
        return statements.revokeFamily.run(now.toISOString(), tenant, family).changes;
      },
      async revokeSubject(tenant, subject, now) {
        return statements.revokeSubject.run(now.toISOString(), tenant, subject).changes;
      },
      async purgeExpired(now) {
        return statements.purgeTokens.run(now.toISOString()).changes;
      },
    },
    attempts: {
      async get(tenant, key) {
        const row = statements.getAttempt.get(tenant, key) as AttemptRow | undefined;
        return row && toAttempt(row);
      },
      async recordFailure(tenant, key, now, lockFor) {
        return recordFailure.immediate(tenant, key, now, lockFor);
      },
      async reset(tenant, key) {
        statements.resetAttempts.run(tenant, key);
      },
    },
    audit: {
      async append(tenant, entry, at = new Date()) {
        const { action, actor, address, target, detail } = entry;
        statements.appendAudit.run(tenant, at.toISOString(), action, actor, address, target, JSON.stringify(detail));
      },
      async list(tenant, options) {
        const { after, limit } = auditPage(options);
        return (statements.listAudit.all(tenant, after, limit) as AuditRow[]).map(toAuditRecord);
      },
    },
    async deleteTenant(tenant) {
      securely(db, () => deleteTenant.immediate(tenant));
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
    token.issuedAt.toISOString(),
    token.expiresAt.toISOString(),
    token.familyExpiresAt.toISOString(),
    token.usedAt?.toISOString() ?? null,
    token.revokedAt?.toISOString() ?? null,
  ];
}

function prepareStatements(db: Database.Database) {
  return {
    putCredential: db.prepare(`INSERT OR REPLACE INTO credentials (${CREDENTIAL_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)`),
    getCredential: db.prepare(`SELECT ${CREDENTIAL_COLUMNS} FROM credentials WHERE tenant = ? AND kind = ? AND subject = ?`),
    deleteCredential: db.prepare('DELETE FROM credentials WHERE tenant = ? AND kind = ? AND subject = ?'),
    insertToken: db.prepare(`INSERT INTO refresh_tokens (${TOKEN_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
    findToken: db.prepare(`SELECT ${TOKEN_COLUMNS} FROM refresh_tokens WHERE tenant = ? AND hash = ?`),
    markUsed: db.prepare('UPDATE refresh_tokens SET used_at = ? WHERE hash = ?'),
    revokeFamily: db.prepare('UPDATE refresh_tokens SET revoked_at = ? WHERE tenant = ? AND family = ? AND revoked_at IS NULL'),
    revokeSubject: db.prepare('UPDATE refresh_tokens SET revoked_at = ? WHERE tenant = ? AND subject = ? AND revoked_at IS NULL'),
    purgeTokens: db.prepare('DELETE FROM refresh_tokens WHERE family_expires_at <= ?'),
    getAttempt: db.prepare(`SELECT ${ATTEMPT_COLUMNS} FROM login_attempts WHERE tenant = ? AND key = ?`),
    countFailure: db.prepare(
      `INSERT INTO login_attempts (tenant, key, failures, last_failure_at) VALUES (?, ?, 1, ?)
       ON CONFLICT (tenant, key) DO UPDATE SET failures = login_attempts.failures + 1, last_failure_at = excluded.last_failure_at
       RETURNING failures`,
    ),
    lock: db.prepare('UPDATE login_attempts SET locked_until = ? WHERE tenant = ? AND key = ?'),
    resetAttempts: db.prepare('DELETE FROM login_attempts WHERE tenant = ? AND key = ?'),
    appendAudit: db.prepare('INSERT INTO audit_log (tenant, at, action, actor, address, target, detail) VALUES (?, ?, ?, ?, ?, ?, ?)'),
    listAudit: db.prepare(`SELECT ${AUDIT_COLUMNS} FROM audit_log WHERE tenant = ? AND id > ? ORDER BY id LIMIT ?`).safeIntegers(),
    deleteTenant: TENANT_TABLES.map((table) => db.prepare(`DELETE FROM ${table} WHERE tenant = ?`)),
  };
}
