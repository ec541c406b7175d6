import { AppError, assertTenantId, type FieldError, isAppError, validationFailed } from '../kernel/index.js';
import { byCreation } from './common.js';
import type { KeyVault, PublicJwk, PublicKeyInfo, SigningAlgorithm } from './port.js';

/**
 * Where a key is in its life (docs/keys.md, "Rotation"): `next` is published and does not sign yet,
 * `current` signs, `retired` no longer signs but stays published while tokens it signed may live,
 * `expired` is neither published nor used and waits for `retireExpired` to destroy it.
 */
export type KeyState = 'current' | 'next' | 'retired' | 'expired';

/** A key as `GET /t/{tenant}/keys` shows it: no key material. */
export interface KeyDescription {
  kid: string;
  alg: SigningAlgorithm;
  state: Exclude<KeyState, 'expired'>;
  createdAt: Date;
  /** A retired key: the time it leaves the JWKS (then `retireExpired` destroys it). */
  publishedUntil?: Date;
  /** The current key: the time it began signing (when the key after it was created). */
  signsFrom?: Date;
}

export interface KeyringOptions {
  vault: KeyVault;
  /** The longest lifetime of a token the keys sign: a retired key stays published that long. */
  maxTokenLifetimeSeconds: number;
  /** The clock skew allowed between the signer and the verifiers (default 60 s). */
  clockToleranceSeconds?: number;
  /** Milliseconds since the epoch (default Date.now); tests move it. */
  now?: () => number;
  /** How long the signing key and the JWKS of a tenant are kept before the vault is listed again (default 5 s). */
  cacheMs?: number;
}

export interface Keyring {
  /** Makes sure the tenant has a current and a next key (a new tenant gets two); returns its keys. */
  ensure(tenant: string): Promise<KeyDescription[]>;
  /** The key that signs the tenant's tokens now; `not_found` when the tenant has no key. */
  signingKey(tenant: string): Promise<{ kid: string; alg: SigningAlgorithm }>;
  /** The tenant's JWKS keys: current, next, then the retired ones not yet expired, newest first. */
  published(tenant: string): Promise<PublicJwk[]>;
  /** The published keys, in JWKS order, read from the vault (not cached). */
  describe(tenant: string): Promise<KeyDescription[]>;
  /** A new `next` key; the previous next key becomes current at once. Returns the new description. */
  rotate(tenant: string): Promise<KeyDescription[]>;
  /** Rotates when the newest key is at least `intervalSeconds` old; the new description, or undefined. */
  rotateIfDue(tenant: string, intervalSeconds: number): Promise<KeyDescription[] | undefined>;
  /** Destroys the tenant's expired keys in the vault; returns their kids. */
  retireExpired(tenant: string): Promise<string[]>;
  /** Drops what this keyring caches of the tenant (deleted tenant). */
  forget(tenant: string): void;
}

export interface ClassifiedKey {
  key: PublicKeyInfo;
  state: KeyState;
  /** The current key: when it began signing. */
  signsFrom?: Date;
  /** A retired or expired key: when it left (or leaves) the JWKS. */
  publishedUntil?: Date;
}

/**
 * The state of every key, from creation order alone (oldest first in, oldest first out): the newest is
 * `next`, the one before `current` (a lone key is current), and key i stopped signing when key i+2
 * was created, so it stays published until then plus `graceMs`.
 */
export function classifyKeys(keys: readonly PublicKeyInfo[], now: number, graceMs: number): ClassifiedKey[] {
  const sorted = [...keys].sort(byCreation);
  const last = sorted.length - 1;
  return sorted.map((key, i) => {
    if (i === last) return last === 0 ? { key, state: 'current', signsFrom: key.createdAt } : { key, state: 'next' };
    const successor = sorted[i + 1] as PublicKeyInfo;
    if (i === last - 1) return { key, state: 'current', signsFrom: successor.createdAt };
    const publishedUntil = new Date((sorted[i + 2] as PublicKeyInfo).createdAt.getTime() + graceMs);
    return { key, state: publishedUntil.getTime() > now ? 'retired' : 'expired', publishedUntil };
  });
}

/** Published keys in JWKS order: current, next, then retired newest first. */
function inJwksOrder(classified: ClassifiedKey[]): ClassifiedKey[] {
  const newestFirst = [...classified].reverse();
  const current = newestFirst.filter((each) => each.state === 'current');
  return [...current, ...newestFirst.filter((each) => each.state === 'next' || each.state === 'retired')];
}

function describeKey({ key, state, signsFrom, publishedUntil }: ClassifiedKey): KeyDescription {
  return {
    kid: key.kid,
    alg: key.alg,
    state: state as KeyDescription['state'],
    createdAt: key.createdAt,
    ...(publishedUntil ? { publishedUntil } : {}),
    ...(signsFrom ? { signsFrom } : {}),
  };
}

function checkOptions(options: KeyringOptions): void {
  const errors: FieldError[] = [];
  const check = (path: string, value: number | undefined, min: number) => {
    if (value !== undefined && !(Number.isFinite(value) && value >= min)) errors.push({ path, message: `must be a number >= ${min}` });
  };
  check('maxTokenLifetimeSeconds', options.maxTokenLifetimeSeconds, 1);
  check('clockToleranceSeconds', options.clockToleranceSeconds, 0);
  check('cacheMs', options.cacheMs, 0);
  if (errors.length > 0) throw validationFailed('Invalid keyring options', errors);
}

const MAX_CACHED_TENANTS = 10_000;

/**
 * Key rotation over a KeyVault, with no storage of its own: the states derive from the keys' creation
 * order (docs/keys.md, "Rotation"). Changes of one tenant are serialised within the process; the
 * signing key and the JWKS are cached per tenant for `cacheMs`.
 */
export function createKeyring(options: KeyringOptions): Keyring {
  checkOptions(options);
  const { vault } = options;
  const now = options.now ?? Date.now;
  const cacheMs = options.cacheMs ?? 5000;
  // Another replica may sign with a cached current key for up to cacheMs after a rotation.
  const graceMs = (options.maxTokenLifetimeSeconds + (options.clockToleranceSeconds ?? 60)) * 1000 + cacheMs;
  const cache = new Map<string, { until: number; keys: Promise<PublicKeyInfo[]> }>();
  const queues = new Map<string, Promise<unknown>>();
  const ensuring = new Map<string, Promise<KeyDescription[]>>();

  /** The tenant's keys, listed at most once per cacheMs (concurrent callers share one listing). */
  function cachedKeys(tenant: string): Promise<PublicKeyInfo[]> {
    const hit = cache.get(tenant);
    if (hit && now() < hit.until) return hit.keys;
    const entry = { until: now() + cacheMs, keys: vault.list(tenant) };
    entry.keys.catch(() => cache.get(tenant) === entry && cache.delete(tenant));
    cache.delete(tenant);
    if (cache.size >= MAX_CACHED_TENANTS) cache.delete(cache.keys().next().value as string);
    cache.set(tenant, entry);
    return entry.keys;
  }

  /** Runs the changes of one tenant one after the other, in the order they were asked for. */
  function serially<T>(tenant: string, work: () => Promise<T>): Promise<T> {
    const run = (queues.get(tenant) ?? Promise.resolve()).then(work);
    const tail = run.then(
      () => undefined,
      () => undefined,
    );
    queues.set(tenant, tail);
    void tail.then(() => queues.get(tenant) === tail && queues.delete(tenant));
    return run;
  }

  async function classified(tenant: string, keys?: PublicKeyInfo[]): Promise<ClassifiedKey[]> {
    return classifyKeys(keys ?? (await vault.list(tenant)), now(), graceMs);
  }

  async function description(tenant: string): Promise<KeyDescription[]> {
    return inJwksOrder(await classified(tenant)).map(describeKey);
  }

  async function generate(tenant: string): Promise<void> {
    try {
      await vault.generate(tenant);
    } finally {
      cache.delete(tenant);
    }
  }

  /** False when the key was gone already (another replica destroyed it). */
  async function destroyKey(tenant: string, kid: string): Promise<boolean> {
    try {
      await vault.destroy(tenant, kid);
      return true;
    } catch (error) {
      if (isAppError(error, 'not_found')) return false;
      throw error;
    }
  }

  async function topUp(tenant: string): Promise<KeyDescription[]> {
    const keys = await vault.list(tenant);
    for (let count = keys.length; count < 2; count++) await generate(tenant);
    return description(tenant);
  }

  async function rotateNow(tenant: string): Promise<KeyDescription[]> {
    await generate(tenant);
    return description(tenant);
  }

  return {
    ensure(tenant) {
      try {
        assertTenantId(tenant);
      } catch (error) {
        return Promise.reject(error);
      }
      let pending = ensuring.get(tenant);
      if (!pending) {
        pending = serially(tenant, () => topUp(tenant)).finally(() => ensuring.delete(tenant));
        ensuring.set(tenant, pending);
      }
      return pending;
    },

    async signingKey(tenant) {
      assertTenantId(tenant);
      const current = (await classified(tenant, await cachedKeys(tenant))).find((each) => each.state === 'current');
      if (!current) throw new AppError('not_found', 'The tenant has no signing key', { tenant });
      return { kid: current.key.kid, alg: current.key.alg };
    },

    async published(tenant) {
      assertTenantId(tenant);
      return inJwksOrder(await classified(tenant, await cachedKeys(tenant))).map((each) => each.key.publicJwk);
    },

    async describe(tenant) {
      assertTenantId(tenant);
      return description(tenant);
    },

    async rotate(tenant) {
      assertTenantId(tenant);
      return serially(tenant, () => rotateNow(tenant));
    },

    async rotateIfDue(tenant, intervalSeconds) {
      assertTenantId(tenant);
      if (!(Number.isFinite(intervalSeconds) && intervalSeconds > 0)) {
        throw validationFailed('Invalid rotation interval', [{ path: 'intervalSeconds', message: 'must be a number > 0' }]);
      }
      return serially(tenant, async () => {
        const newest = (await vault.list(tenant)).sort(byCreation).at(-1);
        if (!newest || now() - newest.createdAt.getTime() < intervalSeconds * 1000) return undefined;
        return rotateNow(tenant);
      });
    },

    async retireExpired(tenant) {
      assertTenantId(tenant);
      return serially(tenant, async () => {
        const expired = (await classified(tenant)).filter((each) => each.state === 'expired').map((each) => each.key.kid);
        const destroyed: string[] = [];
        try {
          for (const kid of expired) if (await destroyKey(tenant, kid)) destroyed.push(kid);
        } finally {
          if (expired.length > 0) cache.delete(tenant);
        }
        return destroyed;
      });
    },

    forget(tenant) {
      cache.delete(tenant);
    },
  };
}
