/**
 * Report read latency (`npm run bench -- reports`, part b): the platform (bench/http-server.ts with
 * BENCH_SERVER=platform, on SQLite) in its own process, a report of exactly 10,000 groups (region ×
 * day of 20,000 orders created through POST), then `GET …/reports/{name}/data` as JSON and as CSV,
 * one request at a time, timed by autocannon per response.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generatePassword } from '../src/identity/passwords.js';
import { clientToken, provision, TENANT } from './auth-setup.js';
import { type HttpJob, type Measured, measure, type Timing } from './http-load.js';
import { collectionPath, ENTITY, MODULE, order } from './orders.js';
import { type Server, startServer } from './server-process.js';
import { progress } from './support.js';

export const WIDE_REPORT = 'wide';
const REGIONS = ['eu', 'us', 'apac', 'latam'];
const DAYS = 2500;
/** Region × day: 4 × 2,500 groups, two orders in each. */
export const WIDE_GROUPS = REGIONS.length * DAYS;
export const WIDE_ORDERS = 2 * WIDE_GROUPS;
const SEED_LOOPS = 32;
const DAY_MS = 86_400_000;
const FROM = Date.UTC(2020, 0, 1);
export const READ_CONNECTIONS = 1;

export interface ReadRun {
  groups: number;
  orders: number;
  seedSeconds: number;
  /** Bytes of one JSON and one CSV answer. */
  bytes: { json: number; csv: number };
  measured: Map<string, Measured>;
}

/** Order n of the wide report: region n mod 4, day ⌊n / 4⌋ mod 2,500 (orders n and n + 10,000 share a group). */
function wideOrder(n: number) {
  const day = Math.floor(n / REGIONS.length) % DAYS;
  return {
    ...order(n),
    region: REGIONS[n % REGIONS.length] as string,
    placedAt: new Date(FROM + day * DAY_MS + (n % 7) * 3_600_000).toISOString(),
  };
}

async function call(url: string, token: string, method: string, path: string, body?: unknown): Promise<{ status: number; text: string }> {
  const response = await fetch(`${url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, text: await response.text() };
}

/** Defines the report, creates the orders through POST, and waits until the report has processed the last one. */
async function seedWide(url: string, token: string): Promise<{ seconds: number; groups: number }> {
  const definition = {
    entity: `${MODULE}.${ENTITY}`,
    groupBy: ['region', { time: 'placedAt', bucket: 'day' }],
    measures: ['count', 'sum:amount', 'avg:amount', 'min:amount', 'max:amount', 'countDistinct:customer'],
  };
  const defined = await call(url, token, 'PUT', `/t/${TENANT}/reports/${WIDE_REPORT}`, definition);
  if (defined.status !== 201) throw new Error(`PUT report: ${defined.status} ${defined.text}`);
  let next = 0;
  let last = 0n;
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: SEED_LOOPS }, async () => {
      while (next < WIDE_ORDERS) {
        const created = await call(url, token, 'POST', collectionPath(TENANT), wideOrder(next++));
        if (created.status !== 201) throw new Error(`POST order: ${created.status} ${created.text}`);
        const position = BigInt((JSON.parse(created.text) as { position: string }).position);
        if (position > last) last = position;
      }
    }),
  );
  for (;;) {
    const read = await call(url, token, 'GET', `/t/${TENANT}/reports/${WIDE_REPORT}/data?after=${last}`);
    if (read.status === 503) continue;
    if (read.status !== 200) throw new Error(`GET report data: ${read.status} ${read.text}`);
    const groups = (JSON.parse(read.text) as { groups: unknown[] }).groups.length;
    return { seconds: Number(process.hrtime.bigint() - started) / 1e9, groups };
  }
}

const readJob = (key: string, token: string, query: string): HttpJob => ({
  kind: 'http',
  key,
  connections: READ_CONNECTIONS,
  request: { method: 'GET', path: `/t/${TENANT}/reports/${WIDE_REPORT}/data${query}`, headers: { authorization: `Bearer ${token}` } },
});

/** A fresh platform on SQLite, the wide report seeded, then JSON and CSV reads in interleaved turns. */
export async function benchReads(timing: Timing): Promise<ReadRun> {
  const dir = mkdtempSync(join(tmpdir(), 'backoffice-bench-reports-'));
  const adminPassword = generatePassword();
  let server: Server | undefined;
  try {
    progress('reports: starting the platform, provisioning the tenant');
    server = await startServer({
      env: { BENCH_SERVER: 'platform', BACKOFFICE_STORAGE: 'sqlite', BACKOFFICE_DATA_DIR: dir, BACKOFFICE_ADMIN_PASSWORD: adminPassword },
    });
    const provisioned = await provision(server.url, adminPassword);
    const token = await clientToken(server.url, provisioned.admin);
    progress(`reports: creating ${WIDE_ORDERS} orders through POST for a report of ${WIDE_GROUPS} groups`);
    const seeded = await seedWide(server.url, token);
    if (seeded.groups !== WIDE_GROUPS) throw new Error(`the wide report has ${seeded.groups} groups, not ${WIDE_GROUPS}`);
    const bytes = {
      json: Buffer.byteLength((await call(server.url, token, 'GET', `/t/${TENANT}/reports/${WIDE_REPORT}/data`)).text),
      csv: Buffer.byteLength((await call(server.url, token, 'GET', `/t/${TENANT}/reports/${WIDE_REPORT}/data?format=csv`)).text),
    };
    const measured = await measure(
      server,
      [readJob('json', token, ''), readJob('csv', token, '?format=csv')],
      'reports: data reads',
      timing,
    );
    return { groups: seeded.groups, orders: WIDE_ORDERS, seedSeconds: seeded.seconds, bytes, measured };
  } finally {
    await server?.stop().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}
