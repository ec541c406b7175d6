import { randomBytes } from 'node:crypto';
import { link, mkdir, readFile, unlink, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { AppError } from '../../kernel/index.js';

const KEY_BYTES = 32;

/**
 * The software vault's master key from a file holding it in base64; when the file does not exist,
 * a new random key is written there, readable by the owner only (mode 0600, folder 0700). Losing
 * the file loses every key the vault sealed; the caller warns loudly when `created` is true.
 */
export async function loadOrCreateMasterKey(path: string): Promise<{ key: Buffer; created: boolean }> {
  try {
    return { key: await readMasterKey(path), created: false };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const key = randomBytes(KEY_BYTES);
  // Written aside, then linked into place: the file appears whole, and only once.
  const draft = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    await writeFile(draft, `${key.toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
    await link(draft, path);
    return { key, created: true };
  } catch (error) {
    key.fill(0);
    // Another process created it first: use theirs.
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return { key: await readMasterKey(path), created: false };
    throw error;
  } finally {
    await unlink(draft).catch(() => undefined);
  }
}

async function readMasterKey(path: string): Promise<Buffer> {
  const text = (await readFile(path, 'utf8')).trim();
  const key = Buffer.from(text, 'base64');
  if (key.length !== KEY_BYTES || key.toString('base64') !== text) {
    key.fill(0);
    throw new AppError('validation_failed', 'The master key file does not hold 32 bytes in base64', {
      errors: [{ path, message: 'must hold 32 bytes in base64' }],
    });
  }
  return key;
}
