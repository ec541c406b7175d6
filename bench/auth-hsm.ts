/**
 * The options of the PKCS#11 vault for SoftHSM2 behind `p11-kit server`, found as the HSM tests find
 * them (test/keys/pkcs11.hsm.test.ts): the BACKOFFICE_TEST_PKCS11_* environment when set, else the
 * variables `bash scripts/hsm.sh env` prints for a running server. Nothing is started here.
 */
import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { Pkcs11VaultOptions } from '../src/keys/index.js';

const run = promisify(execFile);
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const HSM_START = 'bash scripts/hsm.sh start';

export type HsmOptions = { options: Pkcs11VaultOptions } | { skipped: string };

/** `export NAME=value` lines into this process's environment (p11-kit's client reads P11_KIT_SERVER_ADDRESS from it). */
function exportAll(text: string): void {
  for (const line of text.split('\n')) {
    const match = /^export ([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (match?.[1] && match[2] !== undefined) process.env[match[1]] = match[2];
  }
}

export async function hsmOptions(): Promise<HsmOptions> {
  if (!process.env.BACKOFFICE_TEST_PKCS11_MODULE || !process.env.P11_KIT_SERVER_ADDRESS) {
    try {
      exportAll((await run('bash', [join(ROOT, 'scripts', 'hsm.sh'), 'env'], { cwd: ROOT })).stdout);
    } catch {
      return { skipped: `SoftHSM2 (p11-kit server) is not running; start it with \`${HSM_START}\`` };
    }
  }
  const module = process.env.BACKOFFICE_TEST_PKCS11_MODULE;
  if (!module) return { skipped: 'BACKOFFICE_TEST_PKCS11_MODULE is not set' };
  return {
    options: {
      module,
      tokenLabel: process.env.BACKOFFICE_TEST_PKCS11_TOKEN ?? 'backoffice',
      pin: process.env.BACKOFFICE_TEST_PKCS11_PIN ?? '12345678',
    },
  };
}
