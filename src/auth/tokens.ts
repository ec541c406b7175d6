import { randomBytes } from 'node:crypto';

/** Signs a JWS signing input with a tenant's key held in the vault (the private key never leaves it). */
export type Signer = (tenant: string, kid: string, signingInput: Uint8Array) => Promise<Uint8Array>;

export interface AccessTokenRequest {
  tenant: string;
  kid: string;
  issuer: string;
  subject: string;
  roles: string[];
  scope: string;
  lifetimeSeconds: number;
  now?: number;
}

const base64url = (data: Uint8Array | string) => Buffer.from(data).toString('base64url');

/** An ES256 JWT access token (RFC 9068 profile) signed through the vault. */
export async function issueAccessToken(
  sign: Signer,
  request: AccessTokenRequest,
): Promise<{ token: string; tokenId: string; expiresAt: number }> {
  const iat = Math.floor((request.now ?? Date.now()) / 1000);
  const tokenId = randomBytes(16).toString('base64url');
  const header = { alg: 'ES256', typ: 'at+jwt', kid: request.kid };
  const payload = {
    iss: request.issuer,
    sub: request.subject,
    aud: 'backoffice',
    iat,
    nbf: iat,
    exp: iat + request.lifetimeSeconds,
    jti: tokenId,
    tid: request.tenant,
    roles: request.roles,
    scope: request.scope,
  };
  const signingInput = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(payload))}`;
  const signature = await sign(request.tenant, request.kid, Buffer.from(signingInput));
  return { token: `${signingInput}.${base64url(signature)}`, tokenId, expiresAt: payload.exp };
}
