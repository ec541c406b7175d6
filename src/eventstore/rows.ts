import { validationFailed } from '../kernel/index.js';
import { type AppendResult, READ_LIMIT_DEFAULT, READ_LIMIT_MAX } from './port.js';

/** The result of an append as kept with its idempotency key, so that a retry returns it unchanged. */
export interface StoredResult {
  streamId: string;
  streamVersion: number;
  firstPosition: string;
  lastPosition: string;
  eventIds: string[];
  recordedAt: string;
}

export function toAppendResult(stored: StoredResult, duplicate: boolean): AppendResult {
  return {
    streamVersion: stored.streamVersion,
    firstPosition: BigInt(stored.firstPosition),
    lastPosition: BigInt(stored.lastPosition),
    eventIds: stored.eventIds,
    recordedAt: new Date(stored.recordedAt),
    duplicate,
  };
}

export function readLimit(limit: number | undefined): number {
  const value = limit ?? READ_LIMIT_DEFAULT;
  if (!Number.isInteger(value) || value < 1 || value > READ_LIMIT_MAX) {
    throw validationFailed('Invalid limit', [{ path: 'limit', message: `must be an integer from 1 to ${READ_LIMIT_MAX}` }]);
  }
  return value;
}

/** The largest position: PostgreSQL's bigint. */
const MAX_POSITION = 2n ** 63n - 1n;

export function readAfter(after: bigint): bigint {
  if (typeof after !== 'bigint' || after < 0n || after > MAX_POSITION) {
    throw validationFailed('Invalid position', [{ path: 'after', message: 'must be a non-negative position' }]);
  }
  return after;
}

export function readFromVersion(fromVersion: number): number {
  if (!Number.isInteger(fromVersion) || fromVersion < 1 || fromVersion > 2_147_483_647) {
    throw validationFailed('Invalid version', [{ path: 'fromVersion', message: 'must be an integer of at least 1' }]);
  }
  return fromVersion;
}
