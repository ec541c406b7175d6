import { Type } from '@sinclair/typebox';
import type { AsOf } from '../documents/port.js';
import type { EventStore } from '../eventstore/index.js';
import { AppError, RECORD_ID, validationFailed } from '../kernel/index.js';

const NAME_PATTERN = '^[a-z][a-zA-Z0-9_]{0,62}$';

export const TenantParams = Type.Object({ tenant: Type.String({ pattern: '^[a-z][a-z0-9-]{1,62}$' }) });
export const ModuleParams = Type.Object({ ...TenantParams.properties, module: Type.String({ pattern: NAME_PATTERN }) });
export const EntityParams = Type.Object({ ...ModuleParams.properties, entity: Type.String({ pattern: NAME_PATTERN }) });
export const RecordParams = Type.Object({
  ...EntityParams.properties,
  id: Type.String({ pattern: RECORD_ID.source }),
});
export const Position = Type.String({ pattern: '^[0-9]{1,18}$', description: 'a global log position' });

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/i;

/** `asOf` is a position (digits) or an RFC 3339 time with its offset. */
export function parseAsOf(value: string | undefined): AsOf | undefined {
  if (value === undefined || value === '') return undefined;
  if (/^[0-9]{1,18}$/.test(value)) return { position: BigInt(value) };
  const time = Date.parse(value);
  if (RFC3339.test(value) && !Number.isNaN(time)) return { time: new Date(time) };
  throw validationFailed('Invalid asOf', [{ path: '/querystring/asOf', message: 'must be a position or an RFC 3339 time' }]);
}

const AFTER_TIMEOUT_MS = 5000;

/** `?after=<position>`: waits, bounded, until the store has committed that position. */
export async function waitForPosition(events: EventStore, after: string | undefined, timeoutMs = AFTER_TIMEOUT_MS): Promise<void> {
  if (after === undefined) return;
  const target = BigInt(after);
  let stop = () => {};
  const reached = new Promise<void>((resolve) => {
    stop = events.onAppended((position) => {
      if (position >= target) resolve();
    });
  });
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new AppError('unavailable', `The read side has not reached position ${after} within ${timeoutMs} ms`)),
      timeoutMs,
    );
  });
  try {
    if ((await events.headPosition()) >= target) return;
    await Promise.race([reached, timeout]);
  } finally {
    stop();
    clearTimeout(timer);
  }
}
