import { after, before, describe } from 'node:test';
import type { Platform } from '../../src/platform/platform.js';
import { type Api, apiClient } from '../api/client.js';
import { centralAdminToken } from '../support/platform.js';
import { groupCases } from './contract-groups.js';
import { keyCases } from './contract-keys.js';
import { permissionCases } from './contract-permissions.js';
import { refreshCases } from './contract-refresh.js';
import { tenancyCases } from './contract-tenancy.js';
import { tokenCases } from './contract-tokens.js';
import { userCases } from './contract-users.js';
import { PUBLIC_URL, type SecurityContext, uniqueTenantId } from './fixtures.js';
import { oauthCases } from './oauth-contract.js';

export interface PlatformOptions {
  /** config.publicUrl: the base of every issuer, and the origin the refresh cookie's CSRF check expects. */
  publicUrl: string;
}

/** A platform on fresh, empty storage, whose central admin has the password ADMIN_PASSWORD. */
export type PlatformFactory = (options: PlatformOptions) => Promise<Platform>;

/**
 * The security contract of the authorization and resource servers (API.md, "Authorization server",
 * "Tenancy", "Identity"), run unchanged on every storage backend and key vault. Every tenant it
 * creates is deleted at the end, so that a shared HSM token keeps none of their keys.
 */
export function securityContract(backend: string, fresh: PlatformFactory): void {
  describe(`security contract on ${backend}`, () => {
    let platform: Platform | undefined;
    let central: Api;
    const created = new Set<string>();
    before(async () => {
      platform = await fresh({ publicUrl: PUBLIC_URL });
      central = apiClient(platform.app, await centralAdminToken(platform.app));
    });
    after(async () => {
      if (!platform) return;
      const admin = apiClient(platform.app, await centralAdminToken(platform.app));
      try {
        for (const tenant of created) {
          const reply = await admin.delete(`/t/central/tenants/${tenant}`);
          if (reply.status !== 204 && reply.status !== 404) throw new Error(`cannot delete tenant ${tenant}: ${reply.text}`);
        }
      } finally {
        await platform.close();
      }
    });
    const context: SecurityContext = {
      platform: () => platform as Platform,
      central: () => central,
      tenantId(label) {
        const id = uniqueTenantId(label);
        created.add(id);
        return id;
      },
    };

    describe('OAuth endpoints', () => oauthCases(context));
    describe('access tokens', () => tokenCases(context));
    describe('refresh tokens, revocation, introspection', () => refreshCases(context));
    describe('tenant lifecycle', () => tenancyCases(context));
    describe('users, lockout, audit', () => userCases(context));
    describe('key rotation', () => keyCases(context));
    describe('permissions through real tokens', () => permissionCases(context));
    describe('tenant groups', () => groupCases(context));
  });
}
