import { type Pkcs11Api as Api, type Handle, type Pkcs11Binding, pkcs11Code } from './module.js';

/** How many private key handles a vault remembers (a handle is a few bytes). */
const HANDLE_CACHE_SIZE = 10_000;

/** The CKA_LABEL of a tenant's objects: a search by it finds all of them (destroyTenant). */
export const objectLabel = (prefix: string, tenant: string) => `${prefix}:${tenant}`;

/** The CKA_ID of a key's two objects. */
export const objectId = (kid: string) => Buffer.from(kid, 'utf8');

export type Attribute = { type: number; value?: number | boolean | string | Buffer };

export function findObjects(api: Api, session: Handle, template: Attribute[]): Handle[] {
  api.C_FindObjectsInit(session, template);
  try {
    const found: Handle[] = [];
    for (let batch = api.C_FindObjects(session, 64); batch.length > 0; batch = api.C_FindObjects(session, 64)) found.push(...batch);
    return found;
  } finally {
    api.C_FindObjectsFinal(session);
  }
}

/**
 * Private key handles by label and kid, so that a signature does not search the token (SoftHSM2
 * scans every object on a search). A remembered handle is used only after its class, label and id
 * were read back from the token: a key destroyed elsewhere, or a handle the token gave to another
 * object, is searched for again.
 */
export function createHandleCache(pkcs11: Pkcs11Binding, epoch: () => number) {
  const handles = new Map<string, { handle: Handle; epoch: number }>();
  const keyOf = (label: string, kid: string) => `${label}\n${kid}`;

  function stillThere(api: Api, session: Handle, handle: Handle, label: string, kid: string): boolean {
    try {
      const [found, foundLabel, foundId] = api.C_GetAttributeValue(session, handle, [
        { type: pkcs11.CKA_CLASS },
        { type: pkcs11.CKA_LABEL },
        { type: pkcs11.CKA_ID },
      ]);
      return (
        found?.value.readUIntLE(0, Math.min(found.value.length, 6)) === pkcs11.CKO_PRIVATE_KEY &&
        foundLabel?.value.toString('utf8') === label &&
        foundId?.value.equals(objectId(kid)) === true
      );
    } catch (error) {
      if (pkcs11Code(error) === pkcs11.CKR_OBJECT_HANDLE_INVALID) return false;
      throw error;
    }
  }

  return {
    privateKey(api: Api, session: Handle, label: string, kid: string): Handle | undefined {
      const key = keyOf(label, kid);
      const cached = handles.get(key);
      if (cached && cached.epoch === epoch() && stillThere(api, session, cached.handle, label, kid)) return cached.handle;
      handles.delete(key);
      const [found] = findObjects(api, session, [
        { type: pkcs11.CKA_CLASS, value: pkcs11.CKO_PRIVATE_KEY },
        { type: pkcs11.CKA_LABEL, value: label },
        { type: pkcs11.CKA_ID, value: objectId(kid) },
      ]);
      if (found) {
        if (handles.size >= HANDLE_CACHE_SIZE) handles.delete(handles.keys().next().value ?? '');
        handles.set(key, { handle: found, epoch: epoch() });
      }
      return found;
    },
    forget(label: string, kid: string): void {
      handles.delete(keyOf(label, kid));
    },
    forgetLabel(label: string): void {
      for (const key of handles.keys()) if (key.startsWith(`${label}\n`)) handles.delete(key);
    },
  };
}
