import { randomBytes } from 'node:crypto';
import { validationFailed } from './errors.js';

export const TENANT_ID = /^[a-z][a-z0-9-]{1,62}$/;
export const STREAM_ID = /^[A-Za-z0-9][A-Za-z0-9._:@-]{0,239}$/;
export const EVENT_TYPE = /^[A-Za-z][A-Za-z0-9_.:-]{0,127}$/;
/** A record id: chosen by the client, or a UUIDv7. */
export const RECORD_ID = /^[A-Za-z0-9][A-Za-z0-9._:@-]{0,99}$/;
/** W3C trace context `traceparent`. */
export const TRACEPARENT = /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function assertTenantId(tenant: unknown, path = 'tenant'): asserts tenant is string {
  if (typeof tenant !== 'string' || !TENANT_ID.test(tenant)) {
    throw validationFailed('Invalid tenant id', [{ path, message: `must match ${TENANT_ID.source}` }]);
  }
}

export function assertStreamId(streamId: unknown, path = 'streamId'): asserts streamId is string {
  if (typeof streamId !== 'string' || !STREAM_ID.test(streamId)) {
    throw validationFailed('Invalid stream id', [{ path, message: `must match ${STREAM_ID.source}` }]);
  }
}

let lastMillis = 0;
let sequence = 0;

/** Random bytes are drawn in bulk: one system call serves 512 ids. */
const POOL_SIZE = 16 * 512;
let pool = Buffer.alloc(0);
let offset = POOL_SIZE;

function randomSlice(): Buffer {
  if (offset + 16 > pool.length) {
    pool = randomBytes(POOL_SIZE);
    offset = 0;
  }
  offset += 16;
  return pool.subarray(offset - 16, offset);
}

/**
 * UUIDv7 (RFC 9562): 48-bit millisecond time, then a 12-bit counter that keeps ids
 * generated within one millisecond in order, then random bits.
 */
export function uuidv7(now: number = Date.now()): string {
  const bytes = Buffer.from(randomSlice());
  if (now > lastMillis) {
    lastMillis = now;
    sequence = (((bytes[6] ?? 0) << 8) | (bytes[7] ?? 0)) & 0x1ff;
  } else if (++sequence > 0xfff) {
    lastMillis += 1;
    sequence = 0;
  }
  bytes.writeUIntBE(lastMillis, 0, 6);
  bytes[6] = 0x70 | (sequence >> 8);
  bytes[7] = sequence & 0xff;
  bytes[8] = 0x80 | ((bytes[8] ?? 0) & 0x3f);
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
