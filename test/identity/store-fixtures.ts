import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { IdentityStore, RefreshToken, RotateOutcome } from '../../src/identity/store/index.js';

/** Opens the store on its database; `close` releases what `open` took. */
export type OpenIdentityStore = () => Promise<{ store: IdentityStore; close(): Promise<void> }>;

export interface StoreContext {
  store(): IdentityStore;
  /** A tenant no other case uses. */
  tenant(): string;
}

const HOUR_MS = 60 * 60 * 1000;
/** Token times are fixed (rotations take `now`), far from the purge case's 1990 families. */
export const LOGIN_AT = new Date('2030-01-01T00:00:00.000Z');
export const later = (date: Date, ms: number) => new Date(date.getTime() + ms);
export const hours = (n: number) => n * HOUR_MS;

let tenants = 0;
export const newTenant = () => `t${++tenants}-${randomBytes(3).toString('hex')}`;

const newHash = () => createHash('sha256').update(randomBytes(32)).digest('base64url');

/** The first token of a new family (a login at LOGIN_AT), or a token shaped by `overrides`. */
export function newToken(tenant: string, overrides: Partial<RefreshToken> = {}): RefreshToken {
  return {
    hash: newHash(),
    tenant,
    family: randomUUID(),
    subject: 'alice',
    roles: ['admin', 'viewer'],
    scope: 'api',
    issuedAt: LOGIN_AT,
    expiresAt: later(LOGIN_AT, hours(12)),
    familyExpiresAt: later(LOGIN_AT, hours(7 * 24)),
    usedAt: null,
    revokedAt: null,
    ...overrides,
  };
}

/** Rotates `hash` at `now` the way the token endpoint does; `next` is the token it stored, if any. */
export async function rotate(
  store: IdentityStore,
  tenant: string,
  hash: string,
  now: Date,
): Promise<{ result: RotateOutcome; next: RefreshToken | undefined; calls: number }> {
  let next: RefreshToken | undefined;
  let calls = 0;
  const result = await store.sessions.rotate(
    tenant,
    hash,
    (previous) => {
      calls++;
      next = newToken(previous.tenant, {
        family: previous.family,
        subject: previous.subject,
        roles: previous.roles,
        issuedAt: now,
        expiresAt: new Date(Math.min(now.getTime() + hours(12), previous.familyExpiresAt.getTime())),
        familyExpiresAt: previous.familyExpiresAt,
      });
      return next;
    },
    now,
  );
  return { result, next: result.outcome === 'rotated' ? next : undefined, calls };
}

/** A family of `length` tokens: a login and its rotations, one hour apart; the last one is live. */
export async function family(store: IdentityStore, tenant: string, length: number, subject = 'alice'): Promise<RefreshToken[]> {
  const first = newToken(tenant, { subject });
  await store.sessions.create(first);
  const tokens = [first];
  for (let i = 1; i < length; i++) {
    const { next } = await rotate(store, tenant, (tokens.at(-1) as RefreshToken).hash, later(LOGIN_AT, hours(i)));
    if (!next) throw new Error('the family could not be built');
    tokens.push(next);
  }
  return tokens;
}

export function tally(outcomes: RotateOutcome[]): Record<RotateOutcome['outcome'], number> {
  const counts = { rotated: 0, reused: 0, invalid: 0 };
  for (const { outcome } of outcomes) counts[outcome]++;
  return counts;
}
