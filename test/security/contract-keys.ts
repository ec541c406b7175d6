import assert from 'node:assert/strict';
import { it } from 'node:test';
import { decodeProtectedHeader } from 'jose';
import { apiClient, expectProblem, expectStatus } from '../api/client.js';
import { login } from '../support/platform.js';
import { adminTenant, PASSWORD, records, type SecurityContext, userWithRole, vaultTenant } from './fixtures.js';

type KeyInfo = { kid: string; state: string };

/** Key rotation as clients see it (API.md, "Authorization server"; docs/keys.md, "Rotation"). */
export function keyCases(context: SecurityContext): void {
  const app = () => context.platform().app;
  const jwksKids = async (tenant: string) =>
    (expectStatus(await apiClient(app()).get(`/t/${tenant}/.well-known/jwks.json`), 200).keys as { kid: string }[]).map((key) => key.kid);
  const signedWith = async (tenant: string) => decodeProtectedHeader((await login(app(), tenant, 'admin', PASSWORD)).accessToken).kid;

  it('publishes the current and the next key in the JWKS, and signs with the current one', async () => {
    const { tenant, admin } = await adminTenant(context, 'jwks');
    const keys = expectStatus(await admin.get(`/t/${tenant}/keys`), 200).items as KeyInfo[];
    assert.deepEqual(
      keys.map((key) => key.state),
      ['current', 'next'],
    );
    assert.deepEqual(
      await jwksKids(tenant),
      keys.map((key) => key.kid),
    );
    assert.equal(await signedWith(tenant), keys[0]?.kid);
  });

  it('keeps verifying a token signed before a rotation, and publishes each key before it signs', async () => {
    const { tenant, admin } = await vaultTenant(context, 'rotate');
    expectStatus(await admin.post(records(tenant), { title: 'kept' }), 201);
    const [current, next] = await jwksKids(tenant);
    // Not used before the rotation, so that no cache of a verified token can hide a failure.
    const before = (await login(app(), tenant, 'admin', PASSWORD)).accessToken;
    assert.equal(decodeProtectedHeader(before).kid, current);

    const rotated = expectStatus(await admin.post(`/t/${tenant}/keys/rotate`), 200).items as KeyInfo[];
    assert.deepEqual(
      rotated.map((key) => [key.kid === current || key.kid === next ? key.kid : 'new', key.state]),
      [
        [next, 'current'],
        ['new', 'next'],
        [current, 'retired'],
      ],
    );
    const newNext = rotated[1]?.kid as string;
    assert.deepEqual(
      await jwksKids(tenant),
      rotated.map((key) => key.kid),
    );
    const list = expectStatus(await apiClient(app(), before).get(records(tenant)), 200);
    assert.equal(list.items.length, 1, 'a token of the retired key still reads');
    assert.equal(await signedWith(tenant), next, 'the key published as next before the rotation signs now');
    assert.notEqual(await signedWith(tenant), newNext, 'the new next key does not sign yet');

    expectStatus(await admin.post(`/t/${tenant}/keys/rotate`), 200);
    assert.equal(await signedWith(tenant), newNext);
    expectStatus(await apiClient(app(), before).get(records(tenant)), 200);
  });

  it('lets only a keys admin rotate: 403 forbidden for a reader of the keys', async () => {
    const { tenant, admin } = await adminTenant(context, 'keyrole');
    const reader = await userWithRole(app(), admin, tenant, { name: 'keyreader', permissions: [{ resource: 'keys', actions: ['read'] }] });
    const before = await jwksKids(tenant);
    expectStatus(await reader.get(`/t/${tenant}/keys`), 200);
    expectProblem(await reader.post(`/t/${tenant}/keys/rotate`), 403, 'forbidden');
    assert.deepEqual(await jwksKids(tenant), before);
  });
}
