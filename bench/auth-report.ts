/** The `auth` section of BENCHMARKS.md, from the measurements of bench/auth.ts. */
import { cpus } from 'node:os';
import { DEFAULT_ARGON2_COST } from '../src/identity/passwords.js';
import type { AuthResults } from './auth.js';
import { PASSWORD_CONNECTIONS, READ_CONNECTIONS, TOKEN_CONNECTIONS } from './auth-http.js';
import { DISTINCT_TOKENS, VERIFY_LOOPS } from './auth-verify.js';
import { clientCpuShare, failures, latencyOf, type Measured, ms, serverCpu } from './http-load.js';
import { ORDER_BYTES } from './orders.js';
import { formatCount, formatRatio, type Throughput, table } from './support.js';

const VERIFY_TARGET = 0.8;
const READ_TARGET = 0.85;

interface Check {
  text: string;
  met: boolean;
}

const verdict = (met: boolean) => (met ? '**met**' : '**missed**');
const micros = (rate: number) => (rate > 0 ? (1e6 / rate).toFixed(1) : '—');
const rateOf = (rates: Map<string, Throughput>, key: string) => rates.get(key)?.rate ?? Number.NaN;
const measuredOf = (map: Map<string, Measured>, key: string) => map.get(key) as Measured;
const cpuPerRequest = (measured: Measured) => measured.serverCpu / Math.max(1, measured.count);
/** Below this share of one core, a server was held back by something else than its own CPU. */
const SATURATED = 0.9;

function verificationTable(results: AuthResults, checks: Check[]): string {
  const { rates } = results.verify;
  const rows = VERIFY_LOOPS.flatMap((loops) => {
    const ours = rateOf(rates, `verifier-${loops}`);
    const jose = rateOf(rates, `jose-${loops}`);
    const ratio = ours / jose;
    checks.push({
      text: `token verification, ${loops} loop${loops === 1 ? '' : 's'}: verifier ${formatRatio(ratio)} of jose \`jwtVerify\` (target ≥ ${VERIFY_TARGET}×)`,
      met: ratio >= VERIFY_TARGET,
    });
    return [
      [
        '`createTokenVerifier(…).verify`',
        loops,
        formatCount(ours),
        micros(ours),
        formatRatio(ratio),
        `≥ ${VERIFY_TARGET}×`,
        verdict(ratio >= VERIFY_TARGET),
      ],
      ['jose `jwtVerify(token, key, { algorithms: [ES256] })`', loops, formatCount(jose), micros(jose), '1×', '—', '—'],
    ];
  });
  const cached = rateOf(rates, 'authenticator-cached');
  rows.push(['authenticator, cached path (one token again and again)', 1, formatCount(cached), micros(cached), '—', '—', '—']);
  return table(
    ['Verification', 'Concurrent loops', 'Verifications/s', 'µs per verification (1 / rate)', 'Ratio to jose', 'Target', 'Result'],
    rows,
    'lrrrrll',
  );
}

/** The verifier's CPU per token over jose's, where both cores are busy verifying. */
function cpuSentence(results: AuthResults): string {
  const most = Math.max(...VERIFY_LOOPS);
  const { cpuMicros } = results.verify;
  const ours = cpuMicros.get(`verifier-${most}`) ?? Number.NaN;
  const jose = cpuMicros.get(`jose-${most}`) ?? Number.NaN;
  const decode = cpuMicros.get('decode') ?? Number.NaN;
  return `CPU time of the benchmark process (main thread and WebCrypto's threads) per verification at ${most} loops,
measured apart right after: ${ours.toFixed(1)} µs for the verifier, ${jose.toFixed(1)} µs for jose (${formatRatio(jose / ours)}). The verifier's
extra ${(ours - jose).toFixed(1)} µs are main-thread work around the signature check: it decodes the header and the payload
before \`jwtVerify\` decodes them again (${decode.toFixed(1)} µs alone), looks the key up by tenant and \`kid\`, checks more
claims and maps them. With one loop the wait for WebCrypto's thread hides that work; with ${most} loops both cores are
busy and it shows in the rate.`;
}

function signingTable(results: AuthResults): string {
  const { rates } = results.signing;
  const raw = rateOf(rates, 'raw');
  const labels: [string, string][] = [
    ['raw', 'node:crypto `sign`, KeyObject made once'],
    ['raw-key-per-signature', 'node:crypto `sign`, KeyObject made from the JWK for each signature'],
    ['software', 'software vault (`createSoftwareVault` + SQLite key records)'],
    ['pkcs11', 'PKCS#11 vault (`createPkcs11Vault`, SoftHSM2 behind p11-kit server)'],
  ];
  const rows = labels
    .filter(([key]) => rates.has(key))
    .map(([key, label]) => [label, formatCount(rateOf(rates, key)), micros(rateOf(rates, key)), formatRatio(rateOf(rates, key) / raw)]);
  if (results.signing.hsmSkipped) rows.push(['PKCS#11 vault: **skipped**', '—', '—', results.signing.hsmSkipped]);
  return table(['Signer (1 loop)', 'Signatures/s', 'µs each', 'Ratio to raw'], rows, 'lrrr');
}

function httpRow(measured: Measured, first: (string | number)[]): (string | number)[] {
  const latency = latencyOf(measured);
  const cpu = serverCpu(measured);
  return [
    ...first,
    formatCount(measured.rate),
    ms(latency.p50),
    ms(latency.p95),
    ms(latency.p99),
    formatCount(measured.count),
    cpu.share,
    cpu.perRequestUs,
    clientCpuShare(measured),
    failures(measured),
  ];
}

const HTTP_HEADERS = ['Req/s', 'p50 ms', 'p95 ms', 'p99 ms', 'Responses', 'Server CPU', 'Server CPU µs/req', 'Client CPU', 'Failed'];

function tokenTable(results: AuthResults): string {
  const rows = TOKEN_CONNECTIONS.map((connections) => httpRow(measuredOf(results.http.tokens, `cc-${connections}`), [connections]));
  return table(['Connections', ...HTTP_HEADERS], rows, 'rrrrrrrrrr');
}

function passwordTable(results: AuthResults): string {
  const rows = PASSWORD_CONNECTIONS.map((connections) => httpRow(measuredOf(results.http.passwords, `pw-${connections}`), [connections]));
  return table(['Connections', ...HTTP_HEADERS], rows, 'rrrrrrrrrr');
}

function readTable(results: AuthResults, checks: Check[]): string {
  const { reads } = results.http;
  const off = measuredOf(reads, 'off');
  const rows = (
    [
      ['off', 'auth off (`unauthenticatedAdmin`)', 'none'],
      ['admin', 'platform', 'client_credentials token, role `admin`'],
      ['reader', 'platform', 'client_credentials token, role `reader` (read on `sales.*`)'],
    ] as const
  ).map(([key, server, token]) => {
    const measured = measuredOf(reads, key);
    const ratio = measured.rate / off.rate;
    const cpuRatio = cpuPerRequest(off) / cpuPerRequest(measured);
    const target = key === 'admin';
    if (target)
      checks.push({
        text: `authenticated point reads (admin client's token): ${formatCount(measured.rate)}/s, ${formatRatio(ratio)} of ${formatCount(off.rate)}/s with auth off (target ≥ ${READ_TARGET}×, a loss ≤ 15 %; server CPU per read: ${formatRatio(cpuRatio)})`,
        met: ratio >= READ_TARGET,
      });
    const row = httpRow(measured, [server, token, READ_CONNECTIONS]);
    return [
      ...row,
      key === 'off' ? '1×' : formatRatio(cpuRatio),
      key === 'off' ? '1×' : formatRatio(ratio),
      target ? `≥ ${READ_TARGET}×` : '—',
      target ? verdict(ratio >= READ_TARGET) : '—',
    ];
  });
  return table(
    ['Server', 'Token', 'Connections', ...HTTP_HEADERS, 'Auth-off CPU/read ÷ this', 'Ratio to auth off', 'Target', 'Result'],
    rows,
    'lllrrrrrrrrrrrll',
  );
}

/** Server CPU per read, in µs. */
const cpuPerRead = (results: AuthResults, key: string) => serverCpu(measuredOf(results.http.reads, key)).perRequestUs;

function notesOf(results: AuthResults): string[] {
  const notes: string[] = [];
  const readShares = [...results.http.reads.values()].map((measured) => measured.serverCpu / measured.seconds);
  if (Math.min(...readShares) < SATURATED)
    notes.push(
      `> During the point reads a server used only ${Math.round(Math.min(...readShares) * 100)} % of a core: other work held it back, which narrows the gap between the servers. The ratio of server CPU per read (column “Auth-off CPU/read ÷ this”) is then the better guide to what authentication costs a saturated server.`,
    );
  if (results.load[0] > cpus().length / 2)
    notes.push(
      `> The machine was not idle when this module started (load average ${results.load[0].toFixed(2)}: other work, or the module run before): absolute figures are lower and noisier than on an idle machine.`,
    );
  return notes;
}

function header(results: AuthResults, checks: Check[]): string {
  const cores = cpus().length;
  const met = checks.filter((check) => check.met).length;
  const notes = notesOf(results);
  return `_Measured ${results.started.toISOString()}; the module took ${Math.round(results.seconds)} s; one-minute load average
${results.load[0].toFixed(2)} before, ${results.load[1].toFixed(2)} after (${cores} cores)._

The machine is a shared ${cores}-core virtual machine: the servers, the load generator and whatever else runs there
share the same ${cores} cores, so absolute figures are lower and noisier than on dedicated hardware. Every ratio
below compares jobs of the same run, timed in interleaved turns, so that a drift of the machine weighs on both sides.

**Targets: ${met} of ${checks.length} met.**

${checks.map((check) => `- ${check.met ? 'met' : '**missed**'}: ${check.text}`).join('\n')}
${notes.length > 0 ? `\n${notes.join('\n')}\n` : ''}`;
}

function verificationSection(results: AuthResults, checks: Check[]): string {
  const { inProcess } = results.timings;
  const verification = verificationTable(results, checks);
  return `### Token verification (resource server)

In this process: ${formatCount(DISTINCT_TOKENS)} distinct ES256 access tokens (${results.verify.tokenBytes} bytes each, as \`issueAccessToken\`
makes them), verified in turn, so that nothing but the tenant's key is cached. The platform's verifier (header and
tenant checks, key by \`kid\`, then \`jwtVerify\` with issuer, audience, \`typ\`, required claims) against jose's
\`jwtVerify\` with the key imported once and only the algorithm pinned. jose verifies through WebCrypto, off the main
thread: ${Math.max(...VERIFY_LOOPS)} concurrent loops use both cores. The authenticator's cached path (\`createAuthenticator\`, the check every
route runs) sees the same token again and again, as a client that reuses its token until it expires does; tenant
status and roles come from in-memory stubs here (in the platform, from one-second caches). Each job is warmed up for
${inProcess.warmupSeconds} s, then timed for ${inProcess.seconds} s in ${inProcess.rounds} interleaved turns.

${verification}

${cpuSentence(results)}
`;
}

function signingSection(results: AuthResults): string {
  return `### Signing (authorization server)

ES256 signatures of a ${results.signing.inputBytes}-byte access-token signing input, one loop each, timed like the
verification. The software vault reads the sealed record from SQLite, unseals it (two AES-256-GCM decryptions: the data key under the master key, then the key),
makes the KeyObject and signs, for every signature; the PKCS#11 vault signs on the token through p11-kit's client
module (one round trip to \`p11-kit server\`, which runs SoftHSM2 in its own process). The second line, the raw
signature with the KeyObject made anew each time, shows how much of the software vault's time that step alone takes.

${signingTable(results)}
`;
}

function tokensSection(results: AuthResults): string {
  const { http } = results.timings;
  return `### client_credentials tokens over HTTP

\`POST /t/acme/oauth/token\` with \`grant_type=client_credentials\` and the client's id and secret in HTTP Basic,
against the platform (\`bench/http-server.ts\` with \`BENCH_SERVER=platform\`: \`createPlatform\` as \`backoffice start\`
builds it, SQLite, software vault, log level \`warn\`) in its own process; the load from autocannon in the benchmark
process, keep-alive HTTP/1.1 on loopback. The tenant, its \`sales.orders\` module, a \`reader\` role, two clients and a
user were created through the API first, with the central admin's token. Each token: the client's document and
secret hash read and compared (SHA-256), the tenant's status and signing key (cached), one software-vault signature.
Each job is warmed up for ${http.tokens.warmupSeconds} s, then timed for ${http.tokens.rounds * http.tokens.turnSeconds} s in ${http.tokens.rounds} turns.

${tokenTable(results)}
`;
}

function passwordSection(results: AuthResults): string {
  const { http } = results.timings;
  const cores = cpus().length;
  const cost = DEFAULT_ARGON2_COST;
  const mib = Math.round(cost.memoryKib / 1024);
  const costText = `${formatCount(cost.memoryKib)} KiB (${mib} MiB) of memory, t = ${cost.iterations} iterations, p = ${cost.parallelism} lane${cost.parallelism === 1 ? '' : 's'}`;
  const owasp = cost.memoryKib === 19_456 && cost.iterations === 2 && cost.parallelism === 1;
  return `### Password grant

\`POST /t/acme/oauth/token\` with \`grant_type=password\` for a user of the tenant, against the same platform, timed for
${http.passwords.rounds * http.passwords.turnSeconds} s per concurrency in ${http.passwords.rounds} turns. The password hash is argon2id at the platform's default cost,
\`DEFAULT_ARGON2_COST\`: **${costText}**, ${owasp ? 'the OWASP Password Storage Cheat Sheet baseline for argon2id' : '(not the OWASP baseline of 19 MiB, t = 2, p = 1)'}.
Why this cost: each guess of an offline attack on a stolen hash must make ${cost.iterations} passes over ${mib} MiB of memory, which
is what makes GPUs and ASICs slow at it, while a login costs the server one verification: alone in the benchmark
process, one hash took ${results.argon2.hashMs.toFixed(1)} ms and one verify ${results.argon2.verifyMs.toFixed(1)} ms of one core (sequential, ${results.timings.argon2Seconds} s each), and the
${mib} MiB are held only for that time. Lowering the cost makes stolen hashes cheaper to crack; raising it
(\`passwordHashMemoryKib\`, \`passwordHashIterations\`) makes every login, and a flood of them, dearer.
Each grant verifies the hash, resets the failure counter, writes the login to the audit log, signs an access token
and stores a refresh token (SQLite writes with \`synchronous = FULL\`). With ${cores} cores, concurrent grants queue for
them: the latency grows with the concurrency, the grants/s stop growing once both cores are busy hashing.

${passwordTable(results)}
`;
}

function readsSection(results: AuthResults, checks: Check[]): string {
  const { http } = results.timings;
  const reads = readTable(results, checks);
  return `### Point reads with and without authentication

\`GET /t/acme/data/sales/orders/{id}\` of random records, ${READ_CONNECTIONS} connections, as bench/http.ts reads them (same
entity, ~${ORDER_BYTES} bytes of JSON per record), over ${formatCount(results.http.records)} records created through \`POST\` with the admin client's
token (${formatCount(results.http.records / results.http.seedSeconds)} creates/s at 32 connections). The platform checks a real bearer token on
every request (the authenticator's cached path after the first: the signature is verified once per token, then
the tenant's status and the token's roles come from one-second caches); the baseline is the same records API
composed with \`unauthenticatedAdmin\` in place of the token check (\`bench/http-server.ts\` with \`BENCH_SERVER=open\`:
the same storage, data context and \`buildApp\`), in a process of its own, on a copy of the same database file.
Both servers run side by side; their jobs are warmed up for ${http.reads.warmupSeconds} s, then timed for ${http.reads.rounds * http.reads.turnSeconds} s in ${http.reads.rounds} interleaved turns.
A server near 100 % (one core: Node's main thread) serves at the rate its CPU per read allows, so the ratio follows
the server CPU per read (column “Auth-off CPU/read ÷ this”): ${cpuPerRead(results, 'off')} µs with auth off, ${cpuPerRead(results, 'admin')} µs with the \`admin\` token, ${cpuPerRead(results, 'reader')} µs with the
\`reader\` token (whose permissions are resolved for each request).

${reads}
`;
}

export function report(results: AuthResults): string {
  const checks: Check[] = [];
  const sections = [
    verificationSection(results, checks),
    signingSection(results),
    tokensSection(results),
    passwordSection(results),
    readsSection(results, checks),
  ];
  return [header(results, checks), ...sections].join('\n');
}
