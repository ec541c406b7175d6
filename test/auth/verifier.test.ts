import assert from 'node:assert/strict';
import { createSign, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { describe, it } from 'node:test';
import type { JWK } from 'jose';
import { issueAccessToken, type Signer } from '../../src/auth/tokens.js';
import { createTokenVerifier, TokenError } from '../../src/auth/verifier.js';

const BASE = 'http://127.0.0.1:8080';

function tenantKey(kid: string) {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { kid, privateKey, jwk: { ...(publicKey.export({ format: 'jwk' }) as JWK), kid, alg: 'ES256', use: 'sig' } };
}

const acme = tenantKey('acme-1');
const globex = tenantKey('globex-1');
const keys: Record<string, ReturnType<typeof tenantKey>[]> = { acme: [acme], globex: [globex] };
let lookups = 0;

const signWith = (privateKey: KeyObject) => async (data: Uint8Array) =>
  createSign('SHA256').update(data).sign({ key: privateKey, dsaEncoding: 'ieee-p1363' });

const signer: Signer = async (tenant, kid, input) => {
  const key = keys[tenant]?.find((k) => k.kid === kid);
  if (!key) throw new Error('no key');
  return signWith(key.privateKey)(input);
};

const verifier = createTokenVerifier({
  issuerBase: BASE,
  keys: async (tenant) => {
    lookups++;
    return (keys[tenant] ?? []).map((k) => k.jwk);
  },
  refreshIntervalMs: 60_000,
});

const request = (overrides: Partial<Parameters<typeof issueAccessToken>[1]> = {}) => ({
  tenant: 'acme',
  kid: 'acme-1',
  issuer: `${BASE}/t/acme`,
  subject: 'alice',
  roles: ['clerk'],
  scope: 'api',
  lifetimeSeconds: 900,
  ...overrides,
});

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const parts = (token: string) => token.split('.') as [string, string, string];
const decode = (part: string) => JSON.parse(Buffer.from(part, 'base64url').toString());

async function forge(header: Record<string, unknown>, payload: Record<string, unknown>, key = acme.privateKey): Promise<string> {
  const input = `${b64(header)}.${b64(payload)}`;
  const signature = await signWith(key)(Buffer.from(input));
  return `${input}.${Buffer.from(signature).toString('base64url')}`;
}

async function rejects(token: string) {
  await assert.rejects(verifier.verify(token), TokenError);
}

describe('access tokens', () => {
  it('issues an ES256 token that the verifier accepts with its claims', async () => {
    const { token, tokenId } = await issueAccessToken(signer, request());
    const [header, payload] = parts(token);
    assert.deepEqual(decode(header), { alg: 'ES256', typ: 'at+jwt', kid: 'acme-1' });
    assert.equal(decode(payload).aud, 'backoffice');
    const claims = await verifier.verify(token);
    assert.deepEqual(
      { ...claims, expiresAt: 0 },
      { tenant: 'acme', subject: 'alice', roles: ['clerk'], scope: 'api', tokenId, expiresAt: 0 },
    );
  });

  it('rejects alg none', async () => {
    const { token } = await issueAccessToken(signer, request());
    const [, payload] = parts(token);
    await rejects(`${b64({ alg: 'none', kid: 'acme-1' })}.${payload}.`);
  });

  it('rejects HS256 signed with the public key as secret', async () => {
    const { createHmac } = await import('node:crypto');
    const { token } = await issueAccessToken(signer, request());
    const [, payload] = parts(token);
    const input = `${b64({ alg: 'HS256', kid: 'acme-1' })}.${payload}`;
    const mac = createHmac('sha256', JSON.stringify(acme.jwk)).update(input).digest('base64url');
    await rejects(`${input}.${mac}`);
  });

  it('rejects a token signed with another tenant’s key', async () => {
    const { token } = await issueAccessToken(signer, request());
    const [header, payload] = parts(token);
    await rejects(await forge(decode(header), decode(payload), globex.privateKey));
    await rejects(await forge({ ...decode(header), kid: 'globex-1' }, decode(payload), globex.privateKey));
  });

  it('rejects a tenant claim that does not match the issuer', async () => {
    const { token } = await issueAccessToken(signer, request());
    const [header, payload] = parts(token);
    await rejects(await forge(decode(header), { ...decode(payload), tid: 'globex' }, acme.privateKey));
    await rejects(await forge(decode(header), { ...decode(payload), iss: `${BASE}/t/globex` }));
  });

  it('rejects a wrong audience, an expired token and one not valid yet', async () => {
    const now = Math.floor(Date.now() / 1000);
    const { token } = await issueAccessToken(signer, request());
    const [header, payload] = parts(token);
    await rejects(await forge(decode(header), { ...decode(payload), aud: 'other' }));
    await rejects(await forge(decode(header), { ...decode(payload), exp: now - 60 }));
    await rejects(await forge(decode(header), { ...decode(payload), nbf: now + 600, iat: now + 600 }));
  });

  it('rejects a tampered payload', async () => {
    const { token } = await issueAccessToken(signer, request());
    const [header, payload, signature] = parts(token);
    const tampered = b64({ ...decode(payload), roles: ['admin'] });
    await rejects(`${header}.${tampered}.${signature}`);
  });

  it('ignores jku, x5u and embedded jwk headers', async () => {
    const attacker = tenantKey('acme-1');
    const { token } = await issueAccessToken(signer, request());
    const [header, payload] = parts(token);
    const hostile = { ...decode(header), jku: 'http://127.0.0.1:9/jwks', x5u: 'http://127.0.0.1:9/x5u', jwk: attacker.jwk };
    await rejects(await forge(hostile, decode(payload), attacker.privateKey));
    const genuine = await forge(hostile, decode(payload), acme.privateKey);
    assert.equal((await verifier.verify(genuine)).subject, 'alice');
  });

  it('refreshes keys on an unknown kid at most once per interval', async () => {
    const before = lookups;
    const { token } = await issueAccessToken(signer, request());
    const [header, payload] = parts(token);
    for (let i = 0; i < 50; i++) await rejects(await forge({ ...decode(header), kid: `unknown-${i}` }, decode(payload)));
    assert.ok(lookups - before <= 1, `looked keys up ${lookups - before} times`);
  });

  it('rejects malformed tokens', async () => {
    for (const token of ['', 'a.b', 'a.b.c', 'x'.repeat(5000), '..']) await rejects(token);
  });
});
