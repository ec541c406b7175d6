/**
 * The authorization server and the resource server (`npm run bench -- auth`), in one run: token
 * verification against bare jose, ES256 signing through both vaults against bare node:crypto (in this
 * process, before any server starts), then over HTTP on SQLite: client_credentials tokens/s, password
 * grant latency at the default argon2id cost, and point reads with real tokens against the same reads
 * with authentication off. bench/auth-report.ts writes the section.
 */
import { loadavg } from 'node:os';
import { type Argon2Timing, benchArgon2 } from './auth-argon2.js';
import { benchHttp, type HttpRun, type HttpTimings } from './auth-http.js';
import { report } from './auth-report.js';
import { benchSigning, type SigningRun } from './auth-signing.js';
import { benchVerification, type VerifyRun } from './auth-verify.js';
import { benchSeconds, type InterleaveOptions, type Section } from './support.js';

/** Records created before the reads (bench/http.ts seeds 100,000; BENCH_AUTH_RECORDS changes it). */
const RECORDS = positiveInteger(process.env.BENCH_AUTH_RECORDS) ?? 20_000;
/** Timed seconds per measurement (BENCH_SECONDS), split over interleaved turns. */
const SECONDS = Math.max(2, Math.round(benchSeconds(4)));

/** In-process jobs: short turns, many of them, so that bursts of other work on the machine fall on every job. */
const IN_PROCESS: InterleaveOptions = { seconds: SECONDS, rounds: 8, warmupSeconds: 0.5 };

/**
 * HTTP jobs: turns of whole seconds. Reads carry the target: twice the time, in 8 short turns, so that bursts of other
 * work on the shared machine fall on both servers alike. Password grants are slow: twice the time too.
 */
const HTTP_TIMINGS: HttpTimings = {
  reads: { warmupSeconds: 1, rounds: 8, turnSeconds: Math.max(1, Math.round(SECONDS / 4)) },
  tokens: { warmupSeconds: 1, rounds: 2, turnSeconds: Math.max(1, Math.round(SECONDS / 2)) },
  passwords: { warmupSeconds: 1, rounds: 2, turnSeconds: SECONDS },
};

function positiveInteger(text: string | undefined): number | undefined {
  const value = Number(text);
  return Number.isInteger(value) && value > 0 ? value : undefined;
}

export interface AuthResults {
  started: Date;
  seconds: number;
  load: [number, number];
  verify: VerifyRun;
  signing: SigningRun;
  argon2: Argon2Timing;
  http: HttpRun;
  timings: { inProcess: InterleaveOptions; http: HttpTimings; argon2Seconds: number };
}

export async function run(): Promise<Section> {
  const started = new Date();
  const startedNs = process.hrtime.bigint();
  const loadBefore = loadavg()[0] ?? 0;
  const verify = await benchVerification(IN_PROCESS);
  const signing = await benchSigning(IN_PROCESS);
  const argon2Seconds = SECONDS / 2;
  const argon2 = await benchArgon2(argon2Seconds);
  const http = await benchHttp(RECORDS, HTTP_TIMINGS);
  const seconds = Number(process.hrtime.bigint() - startedNs) / 1e9;
  const load: [number, number] = [loadBefore, loadavg()[0] ?? 0];
  const timings = { inProcess: IN_PROCESS, http: HTTP_TIMINGS, argon2Seconds };
  const results: AuthResults = { started, seconds, load, verify, signing, argon2, http, timings };
  return { id: 'auth', title: 'Authorization server and resource server', body: report(results) };
}
