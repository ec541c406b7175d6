import { AppError, isAppError } from '../../kernel/index.js';
import {
  acquireModule,
  type Handle,
  type Pkcs11Api,
  type Pkcs11Binding,
  type Pkcs11Module,
  pkcs11Code,
  pkcs11ErrorName,
} from './module.js';

export interface TokenOptions {
  /** Path of the PKCS#11 module (for SoftHSM2 behind p11-kit server: p11-kit-client.so). */
  module: string;
  /** The slot id; or else tokenLabel. */
  slot?: number;
  /** The token's label (CKA_LABEL of the token, without its blank padding). */
  tokenLabel?: string;
  /** The user PIN; never logged nor put in an error. */
  pin: string;
}

export type Work<T> = (api: Pkcs11Api, session: Handle) => T;

/** One logged-in read-write session on a token; every call on it is synchronous and short. */
export interface Token {
  readonly pkcs11: Pkcs11Binding;
  /** Changes whenever the session is opened again: object handles of an older epoch mean nothing. */
  readonly epoch: number;
  /**
   * Runs work on the session. A lost session (token or server restarted) is reopened; work is then
   * run again when `retry` (idempotent work), else the call fails with `unavailable`.
   */
  run<T>(work: Work<T>, retry: boolean): T;
  close(): void;
}

function unavailable(message: string, error: unknown): AppError {
  return new AppError('unavailable', `${message} (${pkcs11ErrorName(error)})`, { reason: pkcs11ErrorName(error) }, error);
}

const slotNumber = (handle: Handle) => Number(handle.length >= 8 ? handle.readBigUInt64LE(0) : handle.readUInt32LE(0));

function findSlot(module: Pkcs11Module, options: TokenOptions): Handle {
  const slots = module.api.C_GetSlotList(true);
  const found = slots.find((slot) =>
    options.tokenLabel === undefined
      ? slotNumber(slot) === options.slot
      : module.api.C_GetTokenInfo(slot).label.trimEnd() === options.tokenLabel,
  );
  if (!found) {
    const wanted = options.tokenLabel === undefined ? `slot ${options.slot}` : `token '${options.tokenLabel}'`;
    throw new AppError('unavailable', `The PKCS#11 module has no ${wanted}`, { slots: slots.length });
  }
  return found;
}

function openSession(module: Pkcs11Module, slot: Handle, pin: string): Handle {
  const { api, pkcs11 } = module;
  const session = api.C_OpenSession(slot, pkcs11.CKF_SERIAL_SESSION | pkcs11.CKF_RW_SESSION);
  try {
    api.C_Login(session, pkcs11.CKU_USER, pin);
  } catch (error) {
    // Login is per application and token: another session of this process may have logged in.
    if (pkcs11Code(error) !== pkcs11.CKR_USER_ALREADY_LOGGED_IN) {
      api.C_CloseSession(session);
      throw unavailable('The token refused to log in', error);
    }
  }
  return session;
}

export function validateTokenOptions(options: TokenOptions): void {
  const errors = [];
  if (typeof options.module !== 'string' || options.module === '') errors.push({ path: 'module', message: 'must be a module path' });
  if ((options.slot === undefined) === (options.tokenLabel === undefined))
    errors.push({ path: 'slot', message: 'give either slot or tokenLabel' });
  if (typeof options.pin !== 'string' || options.pin === '') errors.push({ path: 'pin', message: 'must be the user PIN' });
  if (errors.length > 0) throw new AppError('validation_failed', 'Invalid PKCS#11 key vault options', { errors });
}

/** Loads the module (shared by the process), finds the token and opens a logged-in session. */
export async function openToken(options: TokenOptions): Promise<Token> {
  validateTokenOptions(options);
  let module: Pkcs11Module;
  try {
    module = await acquireModule(options.module);
  } catch (error) {
    if (isAppError(error)) throw error;
    throw unavailable(`The PKCS#11 module ${options.module} did not load`, error);
  }
  const { api, pkcs11 } = module;
  const lostCodes = new Set([
    pkcs11.CKR_SESSION_HANDLE_INVALID,
    pkcs11.CKR_SESSION_CLOSED,
    pkcs11.CKR_USER_NOT_LOGGED_IN,
    pkcs11.CKR_DEVICE_REMOVED,
    pkcs11.CKR_TOKEN_NOT_PRESENT,
    pkcs11.CKR_DEVICE_ERROR,
    pkcs11.CKR_CRYPTOKI_NOT_INITIALIZED,
  ]);
  const lost = (error: unknown) => lostCodes.has(pkcs11Code(error) ?? -1);
  let session: Handle | undefined;
  let generation = -1;
  let epoch = 0;

  const connect = () => {
    epoch += 1;
    generation = module.generation();
    session = openSession(module, findSlot(module, options), options.pin);
    return session;
  };
  /** The session, opened again when the module was initialised again (by this vault or another). */
  const current = () => (session !== undefined && generation === module.generation() ? session : connect());

  function closeQuietly(): void {
    try {
      if (session !== undefined && generation === module.generation()) api.C_CloseSession(session);
    } catch {
      // The session is gone already.
    }
    session = undefined;
  }

  /** A new session; when the module itself lost its token (or server), after initialising it again. */
  function recover(): void {
    closeQuietly();
    const seen = module.generation();
    try {
      connect();
    } catch (error) {
      if (!lost(error)) throw error;
      module.reinitialize(seen);
      connect();
    }
  }

  try {
    connect();
  } catch (error) {
    module.release();
    if (isAppError(error)) throw error;
    throw unavailable('The token did not open a session', error);
  }

  const fail = (message: string, error: unknown) => (isAppError(error) ? error : unavailable(message, error));

  return {
    pkcs11,
    get epoch() {
      return epoch;
    },
    run(work, retry) {
      try {
        return work(api, current());
      } catch (error) {
        if (isAppError(error)) throw error;
        if (!lost(error)) throw unavailable('The token failed', error);
        try {
          recover();
        } catch (recoverError) {
          throw fail('The token is unavailable', recoverError);
        }
        if (!retry) throw unavailable('The token lost its session', error);
        try {
          return work(api, current());
        } catch (again) {
          throw fail('The token failed', again);
        }
      }
    },
    close() {
      closeQuietly();
      module.release();
    },
  };
}
