/**
 * Load against a server process: autocannon jobs (and raw in-process loops beside them), each warmed
 * up, then timed in interleaved turns, with per-response latencies and the CPU of both sides.
 */
import autocannon from 'autocannon';
import type { Server } from './server-process.js';
import { formatCount, type Job, progress, runFor } from './support.js';

export interface HttpJob {
  kind: 'http';
  key: string;
  connections: number;
  request: autocannon.Request;
  /** The server this job loads, when not the one `measure` was given. */
  server?: Server;
  /** Other load sent at the same time, whose responses are not measured. */
  alongside?: { connections: number; request: autocannon.Request };
}

export interface RawJob extends Job {
  kind: 'raw';
}

export type BenchJob = HttpJob | RawJob;

export interface Measured {
  key: string;
  /** Connections (HTTP) or concurrent loops (raw), as shown in the tables. */
  concurrency: string;
  /** Successful (2xx) responses, or raw queries. */
  count: number;
  seconds: number;
  rate: number;
  /** Response times of the successful responses, in ms (HTTP jobs only). */
  latencies: number[];
  failed: number;
  statuses: Map<number, number>;
  /** Server CPU seconds spent during the timed turns (HTTP jobs only). */
  serverCpu: number;
  /** This process's CPU seconds during the timed turns (the load generator). */
  clientCpu: number;
}

export interface Timing {
  warmupSeconds: number;
  rounds: number;
  /** Whole seconds (autocannon stops on a tick). */
  turnSeconds: number;
}

function emptyMeasured(job: BenchJob): Measured {
  const concurrency =
    job.kind === 'raw' ? String(job.loops) : `${job.connections}${job.alongside ? ` + ${job.alongside.connections}` : ''}`;
  return {
    key: job.key,
    concurrency,
    count: 0,
    seconds: 0,
    rate: 0,
    latencies: [],
    failed: 0,
    statuses: new Map(),
    serverCpu: 0,
    clientCpu: 0,
  };
}

async function cannon(server: Server, job: HttpJob, seconds: number, into: Measured): Promise<void> {
  const cpuBefore = server.cpuSeconds();
  const clientBefore = process.cpuUsage();
  const started = process.hrtime.bigint();
  const fail = (status: number, count = 1) => {
    into.failed += count;
    into.statuses.set(status, (into.statuses.get(status) ?? 0) + count);
  };
  /** One autocannon run; `measured` ones record each response, the others only their failures. */
  const fire = (connections: number, request: autocannon.Request, measured: boolean) =>
    new Promise<void>((resolve, reject) => {
      const instance = autocannon(
        { url: server.url, connections, duration: seconds, timeout: 30, requests: [request] },
        (error, result) => {
          if (error) return reject(error);
          if (result.errors > 0) fail(0, result.errors);
          if (!measured && result.non2xx > 0) fail(-1, result.non2xx);
          resolve();
        },
      );
      if (!measured) return;
      instance.on('response', (_client, status, _bytes, ms) => {
        if (status < 200 || status >= 300) return fail(status);
        into.count++;
        into.latencies.push(ms);
      });
    });
  await Promise.all([
    fire(job.connections, job.request, true),
    ...(job.alongside ? [fire(job.alongside.connections, job.alongside.request, false)] : []),
  ]);
  into.seconds += Number(process.hrtime.bigint() - started) / 1e9;
  into.serverCpu += server.cpuSeconds() - cpuBefore;
  const client = process.cpuUsage(clientBefore);
  into.clientCpu += (client.user + client.system) / 1e6;
}

async function runRaw(job: RawJob, seconds: number, into: Measured): Promise<void> {
  const clientBefore = process.cpuUsage();
  const result = await runFor(seconds, job.loops, job.step);
  into.count += result.count;
  into.seconds += result.seconds;
  const client = process.cpuUsage(clientBefore);
  into.clientCpu += (client.user + client.system) / 1e6;
}

/**
 * Warm-up of each job, then `rounds` turns of each in an order rotated every round, as
 * support.interleave does, so that a drift of the machine weighs on all jobs of a table alike.
 */
export async function measure(server: Server, jobs: BenchJob[], label: string, timing: Timing): Promise<Map<string, Measured>> {
  const run = (job: BenchJob, seconds: number, into: Measured) =>
    job.kind === 'http' ? cannon(job.server ?? server, job, seconds, into) : runRaw(job, seconds, into);
  for (const job of jobs) {
    progress(`${label}: warm-up ${job.key}`);
    await run(job, timing.warmupSeconds, emptyMeasured(job));
  }
  const results = new Map(jobs.map((job) => [job.key, emptyMeasured(job)]));
  for (let round = 0; round < timing.rounds; round++) {
    progress(`${label}: round ${round + 1} of ${timing.rounds}`);
    for (let i = 0; i < jobs.length; i++) {
      const job = jobs[(i + round) % jobs.length] as BenchJob;
      await run(job, timing.turnSeconds, results.get(job.key) as Measured);
    }
  }
  for (const measured of results.values()) measured.rate = measured.count / measured.seconds;
  return results;
}

function percentile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] as number;
}

export interface Latency {
  p50: number;
  p95: number;
  p99: number;
}

export function latencyOf(measured: Measured): Latency {
  const sorted = Float64Array.from(measured.latencies).sort();
  return { p50: percentile(sorted, 0.5), p95: percentile(sorted, 0.95), p99: percentile(sorted, 0.99) };
}

/** Milliseconds for a table: 2 decimals under 10, 1 above. */
export const ms = (value: number) => (Number.isFinite(value) ? (value >= 10 ? value.toFixed(1) : value.toFixed(2)) : '—');

/** `0`, or the count of failed responses and what they were. */
export function failures(measured: Measured): string {
  if (measured.failed === 0) return '0';
  const name = (status: number) => (status === 0 ? 'socket error' : status === -1 ? 'non-2xx of the other load' : String(status));
  const detail = [...measured.statuses].map(([status, count]) => `${count}× ${name(status)}`).join(', ');
  return `${formatCount(measured.failed)} (${detail})`;
}

/** Server CPU as a share of one core, and per successful request. */
export function serverCpu(measured: Measured): { share: string; perRequestUs: string } {
  return {
    share: `${Math.round((measured.serverCpu / measured.seconds) * 100)} %`,
    perRequestUs: formatCount((measured.serverCpu / Math.max(1, measured.count)) * 1e6),
  };
}

export const clientCpuShare = (measured: Measured) => `${Math.round((measured.clientCpu / measured.seconds) * 100)} %`;
