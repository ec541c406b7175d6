/**
 * The platform's own write capacity in the messaging setup (PostgreSQL, NATS, roles `all`): creates
 * through `POST` in a closed loop of 32 connections (autocannon, as bench/http.ts loads the records
 * API), before any webhook exists. It tells whether a fixed write rate is within what the platform
 * can acknowledge at all, apart from what messaging adds.
 */
import autocannon from 'autocannon';
import { collectionPath, order } from './orders.js';
import type { Server } from './server-process.js';

export const CAPACITY = { connections: 32, seconds: 5, warmupSeconds: 2 } as const;

export interface Capacity {
  rate: number;
  p50: number;
  p99: number;
  errors: number;
  /** Server CPU over the timed run, share of one core. */
  serverCpu: number;
}

function load(url: string, tenant: { id: string; writer: string }, seconds: number, next: () => number): Promise<autocannon.Result> {
  return new Promise((resolve, reject) => {
    autocannon(
      {
        url,
        connections: CAPACITY.connections,
        duration: seconds,
        requests: [
          {
            method: 'POST',
            path: collectionPath(tenant.id),
            headers: { authorization: `Bearer ${tenant.writer}`, 'content-type': 'application/json' },
            setupRequest: (request) => ({ ...request, body: JSON.stringify(order(next())) }),
          },
        ],
      },
      (error, result) => (error ? reject(error) : resolve(result)),
    );
  });
}

/** `between` runs after the warm-up, before the timed run (the benchmark's ANALYZE). */
export async function measureCapacity(
  server: Server,
  tenant: { id: string; writer: string },
  between: () => Promise<void>,
): Promise<Capacity> {
  let n = 1_000_000;
  const next = () => n++;
  await load(server.url, tenant, CAPACITY.warmupSeconds, next);
  await between();
  const before = server.cpuSeconds();
  const result = await load(server.url, tenant, CAPACITY.seconds, next);
  return {
    rate: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.timeouts + result.non2xx,
    serverCpu: (server.cpuSeconds() - before) / CAPACITY.seconds,
  };
}
