import type { AddressInfo, Socket } from 'node:net';
import type { Config } from '../../src/platform/config.js';
import type { Platform } from '../../src/platform/platform.js';
import { type Api, apiClient, expectStatus } from '../api/client.js';
import { login } from '../support/platform.js';
import { type OpenOptions, SseStream } from './sse.js';

/** A platform of the suite, and how to start another process on the same storage. */
export interface LivePlatform {
  platform: Platform;
  /** A second platform on the same database (another API process). */
  peer(): Promise<Platform>;
}

/** Starts a platform on fresh storage with these settings (on top of the test defaults). */
export type LivePlatformFactory = (overrides: Partial<Config>) => Promise<LivePlatform>;

/** Short heartbeats and small limits, so that the cases run fast. */
export const LIVE_SETTINGS: Partial<Config> = {
  liveHeartbeatSeconds: 0.2,
  liveMaxConnectionsPerTenant: 4,
  liveBufferEvents: 100,
  liveBufferBytes: 256 * 1024,
};

export interface LiveContext {
  platform(): Platform;
  /** `http://127.0.0.1:<port>` of the listening server. */
  base(): string;
  /** A client acting as `central`'s admin (through inject). */
  central(): Api;
  centralToken(): string;
}

export const SHOP = {
  title: 'Shop',
  entities: {
    customer: { fields: { name: { type: 'string', required: true } } },
    order: {
      fields: {
        customer: { type: 'string', required: true },
        amount: { type: 'number' },
        status: { type: 'enum', values: ['open', 'paid'], default: 'open' },
        owner: { type: 'string' },
        note: { type: 'text' },
      },
      commands: { pay: { from: { status: 'open' }, set: { status: 'paid' }, emits: 'OrderPaid' } },
    },
  },
};

export const PASSWORD = 'live-feed-test-passphrase';
export const orders = (tenant: string) => `/t/${tenant}/data/shop/order`;
export const customers = (tenant: string) => `/t/${tenant}/data/shop/customer`;

const connections = new WeakMap<Platform, Set<Socket>>();

export async function listen(platform: Platform): Promise<string> {
  const sockets = new Set<Socket>();
  connections.set(platform, sockets);
  platform.app.server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await platform.app.listen({ port: 0, host: '127.0.0.1' });
  return `http://127.0.0.1:${(platform.app.server.address() as AddressInfo).port}`;
}

/**
 * Closes a platform that `listen` started. Node's fetch (undici) opens a spare connection after each
 * stream it aborts and never sends a request on it; Node's `server.close()` does not count such a
 * connection as idle and waits for its headers timeout (a minute). They carry nothing: while the
 * platform closes, they are cut.
 */
export async function closePlatform(platform: Platform): Promise<void> {
  const cut = () => {
    for (const socket of connections.get(platform) ?? []) if (socket.bytesRead === 0) socket.destroy();
  };
  const timer = setInterval(cut, 20);
  try {
    await platform.close();
  } finally {
    clearInterval(timer);
  }
}

let tenants = 0;
/** A tenant of its own with the shop module. */
export async function shopTenant(context: LiveContext, label: string): Promise<string> {
  const tenant = `${label}-${++tenants}-${process.pid}`;
  expectStatus(await context.central().post('/t/central/tenants', { id: tenant, name: tenant }), 201);
  expectStatus(await context.central().put(`/t/${tenant}/modules/shop`, SHOP), 201);
  return tenant;
}

/** Creates a user of the tenant with these roles (defining `role` first when given) and logs it in. */
export async function userToken(
  context: LiveContext,
  tenant: string,
  username: string,
  roles: string[],
  role?: { name: string; permissions: unknown[] },
): Promise<string> {
  const central = context.central();
  if (role) expectStatus(await central.put(`/t/${tenant}/roles/${role.name}`, { permissions: role.permissions }), 201);
  expectStatus(await central.post(`/t/${tenant}/users`, { username, password: PASSWORD, roles }), 201);
  return (await login(context.platform().app, tenant, username, PASSWORD)).accessToken;
}

/** Opens `/t/{tenant}/live` with the query, as the token's holder. */
export function openLive(context: LiveContext, tenant: string, query: string, options: OpenOptions): Promise<SseStream> {
  return SseStream.open(`${context.base()}/t/${tenant}/live${query}`, options);
}

export const asUser = (context: LiveContext, token: string): Api => apiClient(context.platform().app, token);

/** Creates an order; returns its write answer (`position` among others). */
export async function createOrder(api: Api, tenant: string, data: Record<string, unknown>): Promise<{ id: string; position: string }> {
  return expectStatus(await api.post(orders(tenant), data), 201);
}

export const positions = (items: { position: string }[]) => items.map((item) => item.position);
