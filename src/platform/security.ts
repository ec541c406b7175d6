import { join } from 'node:path';
import { createAuthContext } from '../auth/index.js';
import { createIdentityContext, generatePassword } from '../identity/index.js';
import { AppError, isAppError, type Logger, type RequestContext } from '../kernel/index.js';
import { createKeyring, createPkcs11Vault, createSoftwareVault, type KeyVault, loadOrCreateMasterKey } from '../keys/index.js';
import { CENTRAL, createTenancyContext } from '../tenancy/index.js';
import { type Config, issuerBase } from './config.js';
import type { Storage } from './storage.js';

/** What the platform itself does (bootstrap, schedules): audited as `central/system`. */
export const SYSTEM_CONTEXT: RequestContext = { caller: { tenant: CENTRAL, user: 'system', roles: ['admin'] }, correlationId: 'system' };

const CLOCK_TOLERANCE_SECONDS = 60;

async function openVault(config: Config, storage: Storage, logger: Logger): Promise<KeyVault> {
  if (config.keyVault === 'pkcs11') {
    return createPkcs11Vault({
      module: config.pkcs11Module ?? '',
      pin: config.pkcs11Pin ?? '',
      ...(config.pkcs11Slot === undefined ? {} : { slot: config.pkcs11Slot }),
      ...(config.pkcs11TokenLabel ? { tokenLabel: config.pkcs11TokenLabel } : {}),
    });
  }
  let masterKey: Buffer;
  if (config.masterKey) masterKey = Buffer.from(config.masterKey, 'base64');
  else {
    const path = config.masterKeyFile ?? join(config.dataDir, 'master.key');
    const loaded = await loadOrCreateMasterKey(path);
    if (loaded.created) logger.warn({ path }, 'generated a new key vault master key: back this file up, losing it loses every signing key');
    masterKey = loaded.key;
  }
  return createSoftwareVault({ masterKey, records: storage.keyRecords });
}

/**
 * Keys, identity, tenancy and the authorization server, wired together. `sharing` and
 * `tenantDestroyed` are late-bound: they need contexts made after the authenticator made here.
 */
export async function createSecurity(
  config: Config,
  storage: Storage,
  logger: Logger,
  sharing: (tenant: string, module: string, entity: string) => Promise<string | undefined>,
  /** Called once a tenant's keys, log and identity rows are gone (derived data such as reports goes next). */
  tenantDestroyed: (tenant: string) => void,
) {
  const vault = await openVault(config, storage, logger);
  const keyring = createKeyring({
    vault,
    maxTokenLifetimeSeconds: config.accessTokenSeconds,
    clockToleranceSeconds: CLOCK_TOLERANCE_SECONDS,
  });
  const identity = createIdentityContext({
    events: storage.events,
    documents: storage.documents,
    store: storage.identity,
    passwordCost: { memoryKib: config.passwordHashMemoryKib, iterations: config.passwordHashIterations, parallelism: 1 },
  });
  const tenancy = createTenancyContext({
    events: storage.events,
    documents: storage.documents,
    audit: identity.audit,
    async provision(context, tenant) {
      await keyring.ensure(tenant);
      const password = generatePassword();
      await identity.users.create(context, tenant, { username: 'admin', password, roles: ['admin'] }, { changeRequired: true });
      return { username: 'admin', password };
    },
    async destroy(tenant) {
      await vault.destroyTenant(tenant);
      await storage.events.deleteTenant(tenant);
      await storage.identity.deleteTenant(tenant);
      // Called at run time only, once `auth` below exists.
      keyring.forget(tenant);
      auth.verifier.forget(tenant);
      identity.roles.forget(tenant);
      tenantDestroyed(tenant);
    },
  });
  const auth = createAuthContext({
    settings: {
      issuerBase: issuerBase(config),
      accessTokenSeconds: config.accessTokenSeconds,
      refreshSlidingSeconds: config.refreshSlidingSeconds,
      refreshAbsoluteSeconds: config.refreshAbsoluteSeconds,
    },
    vault,
    keyring,
    identity,
    tenantStatus: tenancy.tenants.status,
    async sharing(tenant, module, entity) {
      const group = await sharing(tenant, module, entity);
      return group ? tenancy.groups.members(group) : undefined;
    },
  });

  /** First start: `central` gets its keys and its `admin`; the password is printed once when generated. */
  async function bootstrap(announce: (line: string) => void): Promise<void> {
    await keyring.ensure(CENTRAL);
    if (await identity.users.find(CENTRAL, 'admin')) return;
    const password = config.adminPassword ?? generatePassword();
    try {
      await identity.users.create(
        SYSTEM_CONTEXT,
        CENTRAL,
        { username: 'admin', password, roles: ['admin'] },
        { changeRequired: !config.adminPassword },
      );
    } catch (error) {
      if (isAppError(error, 'already_exists')) return;
      if (isAppError(error, 'validation_failed'))
        throw new AppError('validation_failed', 'BACKOFFICE_ADMIN_PASSWORD does not meet the password policy', error.details);
      throw error;
    }
    if (!config.adminPassword)
      announce(`Created tenant central with user admin. Its password, shown only now (change required at first login): ${password}`);
  }

  /**
   * Hourly: rotate keys that are due, destroy keys no token can need any more, drop dead refresh
   * tokens. `rotationSeconds` overrides the configured interval (tests).
   */
  async function maintain(options: { rotationSeconds?: number } = {}): Promise<void> {
    const interval = options.rotationSeconds ?? config.keyRotationDays * 86_400;
    const tenants = [CENTRAL];
    for (let page = await tenancy.tenants.list(); page.length > 0; page = await tenancy.tenants.list(page.at(-1)?.id)) {
      tenants.push(...page.map((tenant) => tenant.id));
      if (page.length < 1000) break;
    }
    for (const tenant of tenants) {
      const rotated = await keyring.rotateIfDue(tenant, interval);
      if (rotated)
        await identity.store.audit.append(tenant, {
          action: 'key_rotated',
          actor: 'system',
          address: null,
          target: tenant,
          detail: { scheduled: true },
        });
      for (const kid of await keyring.retireExpired(tenant))
        await identity.store.audit.append(tenant, { action: 'key_retired', actor: 'system', address: null, target: kid, detail: {} });
    }
    await identity.store.sessions.purgeExpired(new Date());
  }

  return { vault, keyring, identity, tenancy, auth, bootstrap, maintain };
}

export type Security = Awaited<ReturnType<typeof createSecurity>>;
