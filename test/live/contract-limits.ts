import assert from 'node:assert/strict';
import { it } from 'node:test';
import type { Platform } from '../../src/platform/platform.js';
import { apiClient, expectStatus } from '../api/client.js';
import { centralAdminToken } from '../support/platform.js';
import {
  closePlatform,
  createOrder,
  LIVE_SETTINGS,
  type LiveContext,
  type LivePlatformFactory,
  listen,
  openLive,
  positions,
  SHOP,
  shopTenant,
} from './fixtures.js';
import { SseStream } from './sse.js';

export interface LimitOptions {
  fresh: LivePlatformFactory;
  /** Another platform on the suite platform's storage. */
  peer(): Promise<Platform>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Opens a stream again until it is admitted (the server frees a closed stream's slot as it sees the close). */
async function reopenWhenFreed(open: () => Promise<SseStream>, what: string): Promise<SseStream> {
  let again = await open();
  for (let attempt = 1; attempt < 50 && again.status !== 200; attempt += 1) {
    await sleep(50);
    again = await open();
  }
  assert.equal(again.status, 200, what);
  return again;
}

export function limitCases(context: LiveContext, options: LimitOptions): void {
  it('answers 429 rate_limited over the per-tenant limit, and frees the slot of a closed stream', async () => {
    const tenant = await shopTenant(context, 'limit');
    const token = context.centralToken();
    const limit = LIVE_SETTINGS.liveMaxConnectionsPerTenant ?? 0;
    const open: SseStream[] = [];
    try {
      for (let i = 0; i < limit; i += 1) open.push(await openLive(context, tenant, '', { token }));
      assert.ok(open.every((stream) => stream.status === 200));
      const refused = await openLive(context, tenant, '', { token });
      assert.equal(refused.status, 429);
      assert.equal(((await refused.response.json()) as { code?: string }).code, 'rate_limited');
      assert.match(refused.response.headers.get('retry-after') ?? '', /^[0-9]+$/);
      // Another tenant has slots of its own.
      const elsewhere = await openLive(context, await shopTenant(context, 'limit-other'), '', { token });
      assert.equal(elsewhere.status, 200);
      elsewhere.close();
      open.pop()?.close();
      open.push(await reopenWhenFreed(() => openLive(context, tenant, '', { token }), 'a closed stream gives its slot back at once'));
    } finally {
      for (const stream of open) stream.close();
    }
  });

  it('counts report streams against the same per-tenant limit', async () => {
    const tenant = await shopTenant(context, 'limit-reports');
    const token = context.centralToken();
    const limit = LIVE_SETTINGS.liveMaxConnectionsPerTenant ?? 0;
    const report = { entity: 'shop.order', groupBy: ['status'], measures: ['count'] };
    expectStatus(await context.central().put(`/t/${tenant}/reports/byStatus`, report), 201);
    const openReport = () => SseStream.open(`${context.base()}/t/${tenant}/reports/byStatus/live`, { token });
    const open: SseStream[] = [];
    try {
      open.push(await openReport());
      for (let i = 1; i < limit; i += 1) open.push(await openLive(context, tenant, '', { token }));
      assert.ok(open.every((stream) => stream.status === 200));
      for (const refused of [await openReport(), await openLive(context, tenant, '', { token })]) {
        assert.equal(refused.status, 429);
        assert.equal(((await refused.response.json()) as { code?: string }).code, 'rate_limited');
      }
      open.shift()?.close();
      open.push(await reopenWhenFreed(() => openLive(context, tenant, '', { token }), 'a closed report stream gives its slot back'));
    } finally {
      for (const stream of open) stream.close();
    }
  });

  it('drops a client that stops reading with event: dropped, while another keeps receiving everything', async () => {
    const tenant = await shopTenant(context, 'slow');
    const token = context.centralToken();
    const slow = await openLive(context, tenant, '?events=shop.order.*', { token, paused: true });
    const normal = await openLive(context, tenant, '?events=shop.order.*', { token });
    let resumed: SseStream | undefined;
    try {
      const note = 'x'.repeat(32 * 1024);
      const count = 200;
      for (let i = 0; i < count; i += 1) await createOrder(context.central(), tenant, { id: `o-${i}`, customer: 'C', note });
      await normal.until((s) => s.items.length >= count, 'every write on the normal client', 30_000);
      assert.equal(normal.items.length, count);
      assert.equal(normal.control('dropped'), undefined);
      slow.resume();
      await slow.finished(30_000);
      const dropped = slow.control('dropped');
      assert.equal(dropped?.reason, 'slow_consumer', 'the slow client was dropped');
      assert.ok(slow.items.length < count);
      assert.deepEqual(positions(slow.items), positions(normal.items).slice(0, slow.items.length), 'what it got is a prefix');
      const last = slow.messages.slice(0, -1).findLast((message) => message.id !== undefined)?.id;
      assert.equal(dropped?.lastEventId, last, 'dropped names the last id it delivered');
      resumed = await openLive(context, tenant, '?events=shop.order.*', { token, lastEventId: String(dropped?.lastEventId) });
      await resumed.until((s) => slow.items.length + s.items.length >= count, 'the rest after resuming', 30_000);
      assert.deepEqual([...positions(slow.items), ...positions(resumed.items)], positions(normal.items));
    } finally {
      slow.close();
      normal.close();
      resumed?.close();
    }
  });

  it('delivers a write made through another process on the same database', async () => {
    const tenant = await shopTenant(context, 'peer');
    const peer = await options.peer();
    try {
      const base = await listen(peer);
      const stream = await SseStream.open(`${base}/t/${tenant}/live`, { token: context.centralToken() });
      try {
        assert.equal(stream.status, 200);
        await stream.until((s) => s.messages.length > 0, 'the start');
        const written = await createOrder(context.central(), tenant, { id: 'o-1', customer: 'Elsewhere' });
        await stream.until((s) => s.items.length >= 1, 'the write of the other process');
        assert.equal(stream.items[0]?.position, written.position);
      } finally {
        stream.close();
      }
    } finally {
      await closePlatform(peer);
    }
  });

  it('ends open streams with event: closed on platform.close(), which does not hang on them', async () => {
    const { platform } = await options.fresh(LIVE_SETTINGS);
    let closed = false;
    const streams: SseStream[] = [];
    try {
      const base = await listen(platform);
      const token = await centralAdminToken(platform.app);
      const api = apiClient(platform.app, token);
      assert.equal((await api.post('/t/central/tenants', { id: 'shut', name: 'shut' })).status, 201);
      assert.equal((await api.put('/t/shut/modules/shop', SHOP)).status, 201);
      streams.push(await SseStream.open(`${base}/t/shut/live`, { token }));
      streams.push(await SseStream.open(`${base}/t/shut/live`, { token, paused: true }));
      await streams[0]?.until((s) => s.messages.length > 0, 'the start');
      await createOrder(api, 'shut', { id: 'o-1', customer: 'C' });
      await streams[0]?.until((s) => s.items.length >= 1, 'the write');
      const closing = platform.close().then(() => {
        closed = true;
      });
      await Promise.race([closing, sleep(5000)]);
      assert.ok(closed, 'platform.close() resolved');
      await streams[0]?.finished();
      assert.equal(streams[0]?.control('closed')?.reason, 'shutdown');
      assert.ok(BigInt(String(streams[0]?.control('closed')?.lastEventId)) >= BigInt(streams[0]?.items[0]?.position ?? '0'));
    } finally {
      for (const stream of streams) stream.close();
      if (!closed) await closePlatform(platform);
    }
  });
}
