import { after, before, describe } from 'node:test';
import type { Platform } from '../../src/platform/platform.js';
import { type Api, apiClient } from '../api/client.js';
import { centralAdminToken } from '../support/platform.js';
import { accessCases } from './contract-access.js';
import { deliveryCases } from './contract-delivery.js';
import { limitCases } from './contract-limits.js';
import { closePlatform, LIVE_SETTINGS, type LiveContext, type LivePlatform, type LivePlatformFactory, listen } from './fixtures.js';

/**
 * The live feed's contract (API.md, "Live and reports"; docs/live.md), run unchanged on every
 * storage backend, through a real listening server and a fetch-based SSE client.
 */
export function liveContract(backend: string, fresh: LivePlatformFactory): void {
  describe(`live feed contract on ${backend}`, () => {
    let started: LivePlatform | undefined;
    let base = '';
    let central: Api;
    let token = '';
    before(async () => {
      started = await fresh(LIVE_SETTINGS);
      base = await listen(started.platform);
      token = await centralAdminToken(started.platform.app);
      central = apiClient(started.platform.app, token);
    });
    after(async () => {
      if (started) await closePlatform(started.platform);
    });
    const platform = (): Platform => {
      if (!started) throw new Error('the platform has not started');
      return started.platform;
    };
    const context: LiveContext = { platform, base: () => base, central: () => central, centralToken: () => token };

    describe('delivery, patterns, resume, heartbeats', () => deliveryCases(context));
    describe('authentication and permissions', () => accessCases(context));
    describe('limits, slow clients, other processes, shutdown', () =>
      limitCases(context, {
        fresh,
        peer: () => {
          if (!started) throw new Error('the platform has not started');
          return started.peer();
        },
      }));
  });
}
