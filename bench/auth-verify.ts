/**
 * Token verification in the resource server, in this process: the platform's verifier on N distinct
 * tokens (nothing cached but the tenant's key) against jose's own `jwtVerify` with the key imported
 * once, on the same tokens, in interleaved turns; and the authenticator's cached path (one token
 * again and again), for information.
 */
import { generateKeyPairSync, type KeyObject, sign } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { decodeJwt, decodeProtectedHeader, importJWK, type JWK, jwtVerify } from 'jose';
import { createAuthenticator } from '../src/auth/authenticate.js';
import { issueAccessToken } from '../src/auth/tokens.js';
import { createTokenVerifier } from '../src/auth/verifier.js';
import { type InterleaveOptions, interleave, type Job, progress, runFor, type Throughput } from './support.js';

export const DISTINCT_TOKENS = 1000;
export const VERIFY_LOOPS = [1, 16] as const;
const TENANT = 'acme';
const ISSUER_BASE = 'http://bench.invalid';
const KID = 'bench-key';

export interface VerifyRun {
  rates: Map<string, Throughput>;
  /** CPU µs (all threads of this process) per verification at the most loops, by job key. */
  cpuMicros: Map<string, number>;
  tokenBytes: number;
}

/** CPU time of this process (main thread and the threads WebCrypto runs on) per unit of work, over alternating runs. */
async function cpuPerUnit(jobs: Job[], seconds: number, rounds: number): Promise<Map<string, number>> {
  const totals = new Map(jobs.map((job) => [job.key, { cpu: 0, count: 0 }]));
  for (let round = 0; round < rounds; round++) {
    for (const job of jobs) {
      const before = process.cpuUsage();
      const { count } = await runFor(seconds / rounds, job.loops, job.step);
      const used = process.cpuUsage(before);
      const total = totals.get(job.key) as { cpu: number; count: number };
      total.cpu += used.user + used.system;
      total.count += count;
    }
  }
  return new Map([...totals].map(([key, total]) => [key, total.cpu / total.count]));
}

/** An ES256 signer over a node:crypto key, as the software vault signs (raw r||s). */
export const rawSigner = (key: KeyObject) => async (_tenant: string, _kid: string, input: Uint8Array) =>
  new Uint8Array(sign('sha256', input, { key, dsaEncoding: 'ieee-p1363' }));

async function issueTokens(privateKey: KeyObject, count: number): Promise<string[]> {
  const signer = rawSigner(privateKey);
  return Promise.all(
    Array.from({ length: count }, async (_, n) => {
      const issued = await issueAccessToken(signer, {
        tenant: TENANT,
        kid: KID,
        issuer: `${ISSUER_BASE}/t/${TENANT}`,
        subject: `client-${n}`,
        roles: ['admin'],
        scope: 'api',
        lifetimeSeconds: 3600,
      });
      return issued.token;
    }),
  );
}

/** `loops` concurrent loops, each step verifying the next of the tokens. */
function verifyJob(key: string, loops: number, tokens: readonly string[], verify: (token: string) => Promise<unknown>): Job {
  let next = 0;
  return {
    key,
    loops,
    async step() {
      await verify(tokens[next++ % tokens.length] as string);
      return 1;
    },
  };
}

/** What the verifier does before jwtVerify and jwtVerify does again: decode the header and the payload. */
function decodeJob(tokens: readonly string[]): Job {
  let next = 0;
  return {
    key: 'decode',
    loops: 1,
    step() {
      const token = tokens[next++ % tokens.length] as string;
      decodeProtectedHeader(token);
      decodeJwt(token);
      return 1;
    },
  };
}

function cachedAuthenticatorJob(verifier: ReturnType<typeof createTokenVerifier>, token: string): Job {
  const authenticate = createAuthenticator({
    verifier,
    tenantStatus: async () => 'active',
    roles: async () => [],
    sharing: async () => undefined,
    auditCentralAccess: async () => undefined,
    central: 'central',
  });
  const request = { headers: { authorization: `Bearer ${token}` } } as FastifyRequest;
  return {
    key: 'authenticator-cached',
    loops: 1,
    async step() {
      await authenticate(request, TENANT);
      return 1;
    },
  };
}

export async function benchVerification(options: InterleaveOptions): Promise<VerifyRun> {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk: JWK = { ...publicKey.export({ format: 'jwk' }), kid: KID, alg: 'ES256', use: 'sig' };
  const tokens = await issueTokens(privateKey, DISTINCT_TOKENS);
  const verifier = createTokenVerifier({ issuerBase: ISSUER_BASE, keys: async () => [jwk] });
  const key = await importJWK(jwk, 'ES256');
  const joseVerify = (token: string) => jwtVerify(token, key, { algorithms: ['ES256'] });
  // Both must accept every token before anything is timed.
  for (const token of tokens) await Promise.all([verifier.verify(token), joseVerify(token)]);
  const jobs = VERIFY_LOOPS.flatMap((loops) => [
    verifyJob(`verifier-${loops}`, loops, tokens, (token) => verifier.verify(token)),
    verifyJob(`jose-${loops}`, loops, tokens, joseVerify),
  ]);
  jobs.push(cachedAuthenticatorJob(verifier, tokens[0] as string));
  const rates = await interleave(jobs, options, (job) => progress(`auth: warm-up ${job.key}`));
  const most = Math.max(...VERIFY_LOOPS);
  progress('auth: CPU per verification');
  const cpuMicros = await cpuPerUnit([...jobs.filter((job) => job.loops === most), decodeJob(tokens)], options.seconds / 2, options.rounds);
  return { rates, cpuMicros, tokenBytes: Buffer.byteLength(tokens[0] as string) };
}
