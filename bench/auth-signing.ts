/**
 * ES256 signatures of an access token's signing input, in this process: through the software vault
 * (sealed keys in SQLite), through the PKCS#11 vault on SoftHSM2 behind p11-kit server, and raw
 * node:crypto with the private KeyObject made once, in interleaved turns of one loop each.
 */
import { createPrivateKey, generateKeyPairSync, type KeyObject, randomBytes, sign } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { issueAccessToken } from '../src/auth/tokens.js';
import { createPkcs11Vault, createSoftwareVault, type KeyVault } from '../src/keys/index.js';
import { openStorage } from '../src/platform/storage.js';
import { hsmOptions } from './auth-hsm.js';
import { type InterleaveOptions, interleave, type Job, progress, type Throughput } from './support.js';

export interface SigningRun {
  rates: Map<string, Throughput>;
  inputBytes: number;
  /** Why the HSM lines are missing, when they are. */
  hsmSkipped?: string;
}

/** The signing input of a typical access token (header.payload), captured from issueAccessToken. */
async function signingInput(): Promise<Uint8Array> {
  let captured: Uint8Array = new Uint8Array();
  await issueAccessToken(
    async (_tenant, _kid, input) => {
      captured = input;
      return new Uint8Array(64);
    },
    {
      tenant: 'acme',
      kid: 'AZq3bW1hcmtldC1rZXk',
      issuer: 'https://backoffice.example.com/t/acme',
      subject: 'bench-admin',
      roles: ['admin'],
      scope: 'api',
      lifetimeSeconds: 900,
    },
  );
  return captured;
}

const rawJob = (key: string, work: () => unknown): Job => ({
  key,
  loops: 1,
  step() {
    work();
    return 1;
  },
});

async function vaultJob(key: string, vault: KeyVault, tenant: string, input: Uint8Array): Promise<Job> {
  const { kid } = await vault.generate(tenant);
  const signature = await vault.sign(tenant, kid, input);
  if (signature.length !== 64) throw new Error(`${key}: a ${signature.length}-byte signature`);
  return {
    key,
    loops: 1,
    async step() {
      await vault.sign(tenant, kid, input);
      return 1;
    },
  };
}

/** The PKCS#11 vault and its job, or why there is none. */
async function hsmJob(input: Uint8Array, tenant: string): Promise<{ job: Job; vault: KeyVault } | { skipped: string }> {
  const found = await hsmOptions();
  if ('skipped' in found) return found;
  let vault: KeyVault;
  try {
    vault = await createPkcs11Vault(found.options);
  } catch (error) {
    return { skipped: `the PKCS#11 vault did not open (${(error as Error).message})` };
  }
  return { job: await vaultJob('pkcs11', vault, tenant, input), vault };
}

export async function benchSigning(options: InterleaveOptions): Promise<SigningRun> {
  const input = await signingInput();
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = privateKey.export({ format: 'jwk' });
  const signRaw = (key: KeyObject) => sign('sha256', input, { key, dsaEncoding: 'ieee-p1363' });
  const dir = mkdtempSync(join(tmpdir(), 'backoffice-bench-signing-'));
  const storage = await openStorage({ kind: 'sqlite', path: join(dir, 'keys.db') });
  const software = createSoftwareVault({ masterKey: randomBytes(32), records: storage.keyRecords });
  const hsmTenant = `bench-${process.pid}`;
  const hsm = await hsmJob(input, hsmTenant);
  if ('skipped' in hsm) progress(`auth: PKCS#11 signing skipped: ${hsm.skipped}`);
  try {
    const jobs = [
      rawJob('raw', () => signRaw(privateKey)),
      // What the software vault does besides signing includes making the KeyObject from the opened key.
      rawJob('raw-key-per-signature', () => signRaw(createPrivateKey({ key: jwk, format: 'jwk' }))),
      await vaultJob('software', software, 'acme', input),
      ...('job' in hsm ? [hsm.job] : []),
    ];
    const rates = await interleave(jobs, options, (job) => progress(`auth: warm-up ${job.key}`));
    return { rates, inputBytes: input.length, ...('skipped' in hsm ? { hsmSkipped: hsm.skipped } : {}) };
  } finally {
    if ('vault' in hsm) {
      await hsm.vault.destroyTenant(hsmTenant).catch(() => undefined);
      await hsm.vault.close();
    }
    await software.close();
    await storage.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
