import type * as Pkcs11 from 'pkcs11js';

/** The pkcs11js binding, loaded on first use only: the embedded start never loads it. */
export type Pkcs11Binding = typeof Pkcs11;
export type Handle = Pkcs11.Handle;
export type Pkcs11Api = Pkcs11.PKCS11;

let binding: Promise<Pkcs11Binding> | undefined;

export function loadBinding(): Promise<Pkcs11Binding> {
  binding ??= import('pkcs11js').then((loaded) => ((loaded as { default?: Pkcs11Binding }).default ?? loaded) as Pkcs11Binding);
  return binding;
}

/** A PKCS#11 module loaded and initialised in this process; release it when done. */
export interface Pkcs11Module {
  readonly api: Pkcs11.PKCS11;
  readonly pkcs11: Pkcs11Binding;
  /** Counts initialisations: a session opened under an older one is gone. */
  generation(): number;
  /**
   * Finalises and initialises the module again, unless another user did since `seen`. A client
   * module whose server connection broke (p11-kit-client: CKR_DEVICE_ERROR) only recovers so.
   */
  reinitialize(seen: number): void;
  release(): void;
}

interface Shared {
  api: Pkcs11.PKCS11;
  users: number;
  generation: number;
}

/**
 * A module can be initialised once per process (C_Initialize), and loading the same file twice
 * gives the same library: vaults (and tests) on one module share it, and the last one to release
 * it finalises it.
 */
const shared = new Map<string, Shared>();

export function pkcs11Code(error: unknown): number | undefined {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'number' ? code : undefined;
}

/** The CKR_ name of a PKCS#11 error, for messages and details (never secret). */
export function pkcs11ErrorName(error: unknown): string {
  const message = error instanceof Error ? error.message : '';
  return /^CKR_[A-Z_]+/.exec(message)?.[0] ?? 'unknown error';
}

function initialize(pkcs11: Pkcs11Binding, api: Pkcs11.PKCS11): void {
  try {
    api.C_Initialize({ flags: pkcs11.CKF_OS_LOCKING_OK });
  } catch (error) {
    if (pkcs11Code(error) !== pkcs11.CKR_CRYPTOKI_ALREADY_INITIALIZED) throw error;
  }
}

export async function acquireModule(path: string): Promise<Pkcs11Module> {
  const pkcs11 = await loadBinding();
  let entry = shared.get(path);
  if (!entry) {
    const api = new pkcs11.PKCS11();
    api.load(path);
    try {
      initialize(pkcs11, api);
    } catch (error) {
      api.close();
      throw error;
    }
    entry = { api, users: 0, generation: 0 };
    shared.set(path, entry);
  }
  entry.users += 1;
  const current = entry;
  let released = false;
  return {
    api: current.api,
    pkcs11,
    generation: () => current.generation,
    reinitialize(seen) {
      if (released || current.generation !== seen) return;
      current.generation += 1;
      try {
        current.api.C_Finalize();
      } catch {
        // A broken module may fail to finalise; initialising again is what matters.
      }
      initialize(pkcs11, current.api);
    },
    release() {
      if (released) return;
      released = true;
      current.users -= 1;
      if (current.users > 0) return;
      shared.delete(path);
      try {
        current.api.C_Finalize();
      } finally {
        current.api.close();
      }
    },
  };
}
