/**
 * What the authorization server keeps outside the event log, because it is secret or too hot to be
 * an event: password and client secret hashes, refresh token families, failed login counters and
 * the audit log. One table per kind in the platform's database, each row carrying its tenant
 * (PostgreSQL: under the forced `tenant_isolation` policy, like `vault_keys`).
 */
export interface IdentityStore {
  readonly credentials: CredentialStore;
  readonly sessions: SessionStore;
  readonly attempts: AttemptStore;
  readonly audit: AuditStore;
  /** Deletes every row of the tenant in every table (tenant deletion). */
  deleteTenant(tenant: string): Promise<void>;
}

export type SubjectKind = 'user' | 'client';

/** A password (user) or client secret (client) hash, never the secret itself. */
export interface Credential {
  tenant: string;
  kind: SubjectKind;
  subject: string;
  /** A PHC string (`$argon2id$v=19$m=…`). */
  hash: string;
  /** True after an admin reset or a generated password: the next login may only change it. */
  changeRequired: boolean;
  updatedAt: Date;
}

export interface CredentialStore {
  /** Inserts or replaces the credential of (tenant, kind, subject). */
  put(credential: Credential): Promise<void>;
  get(tenant: string, kind: SubjectKind, subject: string): Promise<Credential | undefined>;
  /** True when there was one. */
  delete(tenant: string, kind: SubjectKind, subject: string): Promise<boolean>;
}

/** One refresh token of a family (one login): only its SHA-256 hash is stored. */
export interface RefreshToken {
  /** base64url of SHA-256 of the opaque token. */
  hash: string;
  tenant: string;
  /** Every token rotated from one login shares its family id. */
  family: string;
  subject: string;
  roles: string[];
  scope: string;
  issuedAt: Date;
  /** Sliding expiry of this token (issuedAt + 12 h, never past familyExpiresAt). */
  expiresAt: Date;
  /** Absolute expiry of the family (the login + 7 d). */
  familyExpiresAt: Date;
  /** Set when the token was exchanged for the next one. */
  usedAt: Date | null;
  /** Set when the family was revoked (logout, reuse, disabled user, revocation). */
  revokedAt: Date | null;
}

export type RotateOutcome =
  /** The token was unused and live: it is now used, and `next` is stored in its family. */
  | { outcome: 'rotated'; previous: RefreshToken }
  /** The token had already been used: its whole family is now revoked. */
  | { outcome: 'reused'; previous: RefreshToken }
  /** Unknown hash, another tenant's token, expired, or revoked: nothing changed. */
  | { outcome: 'invalid' };

export interface SessionStore {
  /** Stores the first token of a new family (a login). */
  create(token: RefreshToken): Promise<void>;
  /**
   * Atomically: when `hash` is the tenant's unused, unrevoked, unexpired token at `now`, marks it used
   * and stores `next` (same family, same subject); when it was already used, revokes its family.
   * Two concurrent rotations of one token: exactly one gets `rotated`.
   */
  rotate(tenant: string, hash: string, next: (previous: RefreshToken) => RefreshToken, now: Date): Promise<RotateOutcome>;
  /** The tenant's token with this hash, whatever its state. */
  find(tenant: string, hash: string): Promise<RefreshToken | undefined>;
  /** Revokes the family (no-op when unknown or already revoked); returns how many tokens it revoked. */
  revokeFamily(tenant: string, family: string, now: Date): Promise<number>;
  /** Revokes every family of the subject (disabled or deleted user, password change). */
  revokeSubject(tenant: string, subject: string, now: Date): Promise<number>;
  /** Deletes tokens whose family expired before `now`; returns how many. */
  purgeExpired(now: Date): Promise<number>;
}

/** Failed logins of one key: `user:<username>` or `address:<ip>` of a tenant. */
export interface AttemptState {
  failures: number;
  lastFailureAt: Date;
  /** No login is tried for this key before this time. */
  lockedUntil: Date | null;
}

export interface AttemptStore {
  get(tenant: string, key: string): Promise<AttemptState | undefined>;
  /**
   * Atomically adds one failure and stores the lock the policy derives from the new state;
   * returns the new state. Concurrent failures are all counted.
   */
  recordFailure(tenant: string, key: string, now: Date, lockFor: (failures: number) => number): Promise<AttemptState>;
  /** Forgets the key's failures (a successful login). */
  reset(tenant: string, key: string): Promise<void>;
}

export type AuditAction =
  | 'login'
  | 'login_failed'
  | 'lockout'
  | 'logout'
  | 'token_reuse'
  | 'password_changed'
  | 'password_reset'
  | 'user_created'
  | 'user_changed'
  | 'user_deleted'
  | 'role_changed'
  | 'role_deleted'
  | 'client_created'
  | 'client_deleted'
  | 'key_rotated'
  | 'key_retired'
  | 'central_access'
  | 'tenant_created'
  | 'tenant_changed'
  | 'tenant_deleted'
  | 'group_changed'
  | 'group_deleted';

export interface AuditEntry {
  action: AuditAction;
  /** Who acted: `<tenant>/<user or client>`, or `system`. */
  actor: string;
  /** The client's address, when the action came from a request. */
  address: string | null;
  /** What was acted on (a username, a role, a kid, a route), never a secret. */
  target: string | null;
  detail: Record<string, unknown>;
}

export interface AuditRecord extends AuditEntry {
  /** Increasing within the platform (decimal string of a 64-bit integer). */
  id: string;
  tenant: string;
  at: Date;
}

export interface AuditStore {
  append(tenant: string, entry: AuditEntry, at?: Date): Promise<void>;
  /** The tenant's entries with id > after, oldest first, at most limit (1..1000). */
  list(tenant: string, options: { after?: bigint; limit: number }): Promise<AuditRecord[]>;
}
