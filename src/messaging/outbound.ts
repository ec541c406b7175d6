import { createHmac } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';

/** Settings of every HTTP call the broker makes (webhooks, route enrichment and webhook targets). */
export interface OutboundSettings {
  /** Calls to loopback, private, link-local and unique-local addresses are refused unless true. */
  allowPrivateNetworks: boolean;
  timeoutMs: number;
}

export interface OutboundResult {
  status: number;
  /** At most RESPONSE_LIMIT bytes of the response body, as text. */
  body: string;
  durationMs: number;
}

const RESPONSE_LIMIT = 64 * 1024;

/** `sha256=<hex HMAC-SHA256 of the body under the secret>`, the `X-Backoffice-Signature` header. */
export function signature(secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/** A reason the URL may not be called, or undefined when it may. */
export function urlProblem(text: string): string | undefined {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return 'must be an absolute URL';
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return 'must be http or https';
  if (url.username || url.password) return 'must not carry credentials';
  return undefined;
}

function isPrivateAddress(address: string): boolean {
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address;
  if (isIP(v4) === 4) {
    const [a = 0, b = 0] = v4.split('.').map(Number);
    return (
      a === 10 ||
      a === 127 ||
      a === 0 ||
      (a === 169 && b === 254) ||
      (a === 172 && b >= 16 && b <= 31) ||
      (a === 192 && b === 168) ||
      (a === 100 && b >= 64 && b <= 127)
    );
  }
  const lower = address.toLowerCase();
  return lower === '::1' || lower === '::' || lower.startsWith('fc') || lower.startsWith('fd') || lower.startsWith('fe80');
}

/** Refuses a host that resolves to a private address (unless allowed): the broker must not reach the inside. */
export async function assertReachable(url: URL, settings: OutboundSettings): Promise<void> {
  if (settings.allowPrivateNetworks) return;
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const addresses = isIP(host) ? [host] : (await lookup(host, { all: true })).map((entry) => entry.address);
  if (addresses.some(isPrivateAddress))
    throw new Error(`${url.host} resolves to a private address (outbound private networks are not allowed)`);
}

/** POSTs a JSON body; resolves with the status for any answer, rejects on network errors and timeouts. */
export async function postJson(
  target: string,
  body: string,
  headers: Record<string, string>,
  settings: OutboundSettings,
): Promise<OutboundResult> {
  const url = new URL(target);
  await assertReachable(url, settings);
  const started = performance.now();
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'user-agent': 'Backoffice', ...headers },
    body,
    redirect: 'manual',
    signal: AbortSignal.timeout(settings.timeoutMs),
  });
  const text = await readLimited(response);
  return { status: response.status, body: text, durationMs: Math.round(performance.now() - started) };
}

async function readLimited(response: Response): Promise<string> {
  if (!response.body) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  while (size < RESPONSE_LIMIT) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    size += value.byteLength;
  }
  await reader.cancel().catch(() => undefined);
  return Buffer.concat(chunks).subarray(0, RESPONSE_LIMIT).toString('utf8');
}
