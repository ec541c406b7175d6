import { AppError, validationFailed } from '../../kernel/index.js';
import type { AttemptState, AuditAction, AuditRecord, Credential, RefreshToken, SubjectKind } from './port.js';

/**
 * Rows as both databases return them: SQLite gives text for dates and JSON and 0/1 for booleans,
 * PostgreSQL gives `Date`, parsed JSON and booleans.
 */
type Time = string | Date;
type Json<T> = string | T;

export const CREDENTIAL_COLUMNS = 'tenant, kind, subject, hash, change_required, updated_at';
export const TOKEN_COLUMNS = 'hash, tenant, family, subject, roles, scope, issued_at, expires_at, family_expires_at, used_at, revoked_at';
export const ATTEMPT_COLUMNS = 'failures, last_failure_at, locked_until';
export const AUDIT_COLUMNS = 'id, tenant, at, action, actor, address, target, detail';

export interface CredentialRow {
  tenant: string;
  kind: string;
  subject: string;
  hash: string;
  change_required: number | boolean;
  updated_at: Time;
}

export interface TokenRow {
  hash: string;
  tenant: string;
  family: string;
  subject: string;
  roles: Json<string[]>;
  scope: string;
  issued_at: Time;
  expires_at: Time;
  family_expires_at: Time;
  used_at: Time | null;
  revoked_at: Time | null;
}

export interface AttemptRow {
  failures: number;
  last_failure_at: Time;
  locked_until: Time | null;
}

export interface AuditRow {
  id: bigint | string;
  tenant: string;
  at: Time;
  action: string;
  actor: string;
  address: string | null;
  target: string | null;
  detail: Json<Record<string, unknown>>;
}

const json = <T>(value: Json<T>): T => (typeof value === 'string' ? (JSON.parse(value) as T) : value);
const time = (value: Time | null): Date | null => (value === null ? null : new Date(value));

export function toCredential(row: CredentialRow): Credential {
  return {
    tenant: row.tenant,
    kind: row.kind as SubjectKind,
    subject: row.subject,
    hash: row.hash,
    changeRequired: Boolean(row.change_required),
    updatedAt: new Date(row.updated_at),
  };
}

export function toToken(row: TokenRow): RefreshToken {
  return {
    hash: row.hash,
    tenant: row.tenant,
    family: row.family,
    subject: row.subject,
    roles: json(row.roles),
    scope: row.scope,
    issuedAt: new Date(row.issued_at),
    expiresAt: new Date(row.expires_at),
    familyExpiresAt: new Date(row.family_expires_at),
    usedAt: time(row.used_at),
    revokedAt: time(row.revoked_at),
  };
}

export function toAttempt(row: AttemptRow): AttemptState {
  return { failures: row.failures, lastFailureAt: new Date(row.last_failure_at), lockedUntil: time(row.locked_until) };
}

export function toAuditRecord(row: AuditRow): AuditRecord {
  return {
    id: String(row.id),
    tenant: row.tenant,
    at: new Date(row.at),
    action: row.action as AuditAction,
    actor: row.actor,
    address: row.address,
    target: row.target,
    detail: json(row.detail),
  };
}

/** Why a presented refresh token cannot be rotated at `now`, or undefined when it is live. */
export function deadToken(token: RefreshToken, now: Date): 'revoked' | 'expired' | undefined {
  if (token.revokedAt !== null) return 'revoked';
  if (token.expiresAt <= now || token.familyExpiresAt <= now) return 'expired';
  return undefined;
}

/** The token `next` returned, checked to belong to the family it was rotated from. */
export function nextOf(previous: RefreshToken, next: (previous: RefreshToken) => RefreshToken): RefreshToken {
  const token = next(previous);
  if (token.tenant !== previous.tenant || token.family !== previous.family || token.subject !== previous.subject) {
    throw new AppError('internal', 'A rotated refresh token must keep the tenant, family and subject of the previous one');
  }
  return token;
}

/** The lock the policy derives from the new failure count: `lockFor` returns milliseconds, 0 for none. */
export function lockUntil(failures: number, now: Date, lockFor: (failures: number) => number): Date | null {
  const ms = lockFor(failures);
  return ms > 0 ? new Date(now.getTime() + ms) : null;
}

export const AUDIT_LIST_LIMIT_MAX = 1000;

/** The `after` and `limit` of an audit listing, checked. */
export function auditPage(options: { after?: bigint; limit: number }): { after: bigint; limit: number } {
  const { after = 0n, limit } = options;
  if (!Number.isInteger(limit) || limit < 1 || limit > AUDIT_LIST_LIMIT_MAX) {
    throw validationFailed('Invalid limit', [{ path: '/limit', message: `must be an integer from 1 to ${AUDIT_LIST_LIMIT_MAX}` }]);
  }
  if (after < 0n) throw validationFailed('Invalid after', [{ path: '/after', message: 'must not be negative' }]);
  return { after, limit };
}
