import { createHash } from 'node:crypto';
import { AppError, assertTenantId } from '../../kernel/index.js';
import {
  assertKeyRef,
  assertSigningInput,
  byCreation,
  keyNotFound,
  kidTime,
  newKid,
  p256PublicJwk,
  signingAlgorithm,
  vaultClosed,
} from '../common.js';
import type { KeyVault, PublicKeyInfo, SigningAlgorithm } from '../port.js';
import { P256_PARAMS, p256Point } from './ec.js';
import type { Handle, Pkcs11Api, Pkcs11Binding } from './module.js';
import { type Attribute, createHandleCache, findObjects, objectId, objectLabel } from './objects.js';
import { openToken, type Token, type TokenOptions, type Work } from './token.js';

export interface Pkcs11VaultOptions extends TokenOptions {
  /** Starts the CKA_LABEL of every object, so that other applications can share the token. Default 'backoffice'. */
  labelPrefix?: string;
}

const SIGNATURE_BYTES = 64;
/** CKS_RW_USER_FUNCTIONS: a read-write session of a logged-in user. */
const LOGGED_IN = 3;

function templates(pkcs11: Pkcs11Binding, label: string, kid: string) {
  const common = [
    { type: pkcs11.CKA_TOKEN, value: true },
    { type: pkcs11.CKA_KEY_TYPE, value: pkcs11.CKK_EC },
    { type: pkcs11.CKA_LABEL, value: label },
    { type: pkcs11.CKA_ID, value: objectId(kid) },
  ];
  return {
    public: [
      { type: pkcs11.CKA_CLASS, value: pkcs11.CKO_PUBLIC_KEY },
      ...common,
      { type: pkcs11.CKA_PRIVATE, value: false },
      { type: pkcs11.CKA_VERIFY, value: true },
      { type: pkcs11.CKA_EC_PARAMS, value: P256_PARAMS },
    ],
    private: [
      { type: pkcs11.CKA_CLASS, value: pkcs11.CKO_PRIVATE_KEY },
      ...common,
      { type: pkcs11.CKA_PRIVATE, value: true },
      { type: pkcs11.CKA_SENSITIVE, value: true },
      { type: pkcs11.CKA_EXTRACTABLE, value: false },
      { type: pkcs11.CKA_SIGN, value: true },
      { type: pkcs11.CKA_DERIVE, value: false },
    ],
  };
}

/**
 * Keys generated on a PKCS#11 token, non-extractable: the private key never leaves it (docs/keys.md).
 * One logged-in session serves every call; pkcs11js calls are synchronous, so a call runs whole
 * before the next starts, and each one is a few short round trips to the token.
 */
export async function createPkcs11Vault(options: Pkcs11VaultOptions): Promise<KeyVault> {
  const prefix = options.labelPrefix ?? 'backoffice';
  let token: Token | undefined = await openToken(options);
  const { pkcs11 } = token;
  const handles = createHandleCache(pkcs11, () => token?.epoch ?? -1);

  const use = <T>(work: Work<T>, retry = true): T => {
    if (!token) throw vaultClosed();
    return token.run(work, retry);
  };

  const keyObjects = (tenant: string, kid: string, objectClass?: number): Work<Handle[]> => {
    const template: Attribute[] = [
      { type: pkcs11.CKA_LABEL, value: objectLabel(prefix, tenant) },
      { type: pkcs11.CKA_ID, value: objectId(kid) },
    ];
    if (objectClass !== undefined) template.push({ type: pkcs11.CKA_CLASS, value: objectClass });
    return (api, session) => findObjects(api, session, template);
  };

  function publicInfo(api: Pkcs11Api, session: Handle, handle: Handle): PublicKeyInfo {
    const [id, point] = api.C_GetAttributeValue(session, handle, [{ type: pkcs11.CKA_ID }, { type: pkcs11.CKA_EC_POINT }]);
    const kid = id?.value.toString('utf8') ?? '';
    const { x, y } = p256Point(point?.value ?? Buffer.alloc(0));
    const alg: SigningAlgorithm = 'ES256';
    return { kid, alg, publicJwk: p256PublicJwk(x, y, kid, alg), createdAt: kidTime(kid) ?? new Date(0) };
  }

  return {
    kind: 'pkcs11',

    async generate(tenant, alg) {
      assertTenantId(tenant);
      signingAlgorithm(alg);
      const kid = newKid();
      const pair = templates(pkcs11, objectLabel(prefix, tenant), kid);
      return use((api, session) => {
        const keys = api.C_GenerateKeyPair(session, { mechanism: pkcs11.CKM_EC_KEY_PAIR_GEN }, pair.public, pair.private);
        try {
          return publicInfo(api, session, keys.publicKey);
        } catch (error) {
          api.C_DestroyObject(session, keys.privateKey);
          api.C_DestroyObject(session, keys.publicKey);
          throw error;
        }
      }, false);
    },

    async sign(tenant, kid, signingInput) {
      assertKeyRef(tenant, kid);
      assertSigningInput(signingInput);
      const digest = createHash('sha256').update(signingInput).digest();
      const signature = use((api, session) => {
        const key = handles.privateKey(api, session, objectLabel(prefix, tenant), kid);
        if (!key) throw keyNotFound(tenant, kid);
        api.C_SignInit(session, { mechanism: pkcs11.CKM_ECDSA }, key);
        return api.C_Sign(session, digest, Buffer.alloc(SIGNATURE_BYTES));
      });
      if (signature.length !== SIGNATURE_BYTES) throw new AppError('internal', 'The token returned a signature of an unexpected size');
      return new Uint8Array(signature);
    },

    async list(tenant) {
      assertTenantId(tenant);
      const label = objectLabel(prefix, tenant);
      const keys = use((api, session) => {
        const find = (objectClass: number) =>
          findObjects(api, session, [
            { type: pkcs11.CKA_LABEL, value: label },
            { type: pkcs11.CKA_CLASS, value: objectClass },
          ]);
        const signers = new Set(
          find(pkcs11.CKO_PRIVATE_KEY).map((handle) =>
            api.C_GetAttributeValue(session, handle, [{ type: pkcs11.CKA_ID }])[0]?.value.toString('hex'),
          ),
        );
        return find(pkcs11.CKO_PUBLIC_KEY)
          .map((handle) => publicInfo(api, session, handle))
          .filter((info) => signers.has(objectId(info.kid).toString('hex')));
      });
      return keys.sort(byCreation);
    },

    async destroy(tenant, kid) {
      assertKeyRef(tenant, kid);
      use((api, session) => {
        const objects = keyObjects(tenant, kid)(api, session);
        handles.forget(objectLabel(prefix, tenant), kid);
        if (objects.length === 0) throw keyNotFound(tenant, kid);
        for (const handle of objects) api.C_DestroyObject(session, handle);
      }, false);
    },

    async destroyTenant(tenant) {
      assertTenantId(tenant);
      use((api, session) => {
        for (const handle of findObjects(api, session, [{ type: pkcs11.CKA_LABEL, value: objectLabel(prefix, tenant) }]))
          api.C_DestroyObject(session, handle);
        handles.forgetLabel(objectLabel(prefix, tenant));
      });
    },

    async ping() {
      use((api, session) => {
        const { state } = api.C_GetSessionInfo(session);
        if (state !== LOGGED_IN) throw new AppError('unavailable', 'The token session is not logged in');
      });
    },

    async close() {
      const closing = token;
      token = undefined;
      closing?.close();
    },
  };
}
