import { after, before, describe } from 'node:test';
import type { Platform } from '../../src/platform/platform.js';
import { centralAdminToken } from '../support/platform.js';
import { type Api, apiClient } from './client.js';
import { badInputCases } from './contract-bad-input.js';
import { concurrencyCases } from './contract-concurrency.js';
import { moduleCases } from './contract-modules.js';
import { queryCases } from './contract-queries.js';
import { recordCases } from './contract-records.js';
import { tenancyCases } from './contract-tenancy.js';
import { writeCases } from './contract-writes.js';
import { type ApiContext, BODY_LIMIT_BYTES } from './fixtures.js';

export interface PlatformOptions {
  /** The request body limit (config.bodyLimitBytes). */
  bodyLimitBytes: number;
}

/** A platform on fresh, empty storage, whose central admin has the password ADMIN_PASSWORD. */
export type PlatformFactory = (options: PlatformOptions) => Promise<Platform>;

/** The records API contract (API.md, "Conventions" and "Data model"), run unchanged on every storage backend. */
export function apiContract(backend: string, fresh: PlatformFactory): void {
  describe(`records API contract on ${backend}`, () => {
    let platform: Platform | undefined;
    let api: Api;
    before(async () => {
      platform = await fresh({ bodyLimitBytes: BODY_LIMIT_BYTES });
      // The central admin acts in every tenant the cases create.
      api = apiClient(platform.app, await centralAdminToken(platform.app));
    });
    after(async () => {
      await platform?.close();
    });
    const context: ApiContext = { api: () => api };

    describe('modules', () => moduleCases(context));
    describe('records', () => recordCases(context));
    describe('writes: concurrency, commands, idempotency, time travel', () => writeCases(context));
    describe('concurrent writers', () => concurrencyCases(context));
    describe('queries', () => queryCases(context));
    describe('bad input', () => badInputCases(context));
    describe('event log and tenant isolation', () => tenancyCases(context));
  });
}
