import type { ReplayRecord, ReplayStatus } from './port.js';

/** A `webhook_replays` row as a driver returns it: positions as numbers or decimal text, times as the driver has them. */
export interface ReplayRow<Time> {
  tenant: string;
  webhook: string;
  id: string;
  from_position: number | string;
  to_position: number | string;
  progress: number | string;
  status: string;
  created_at: Time;
  updated_at: Time;
}

export function toReplay<Time>(row: ReplayRow<Time>, time: (value: Time) => Date): ReplayRecord {
  return {
    id: row.id,
    tenant: row.tenant,
    webhook: row.webhook,
    from: BigInt(row.from_position),
    to: BigInt(row.to_position),
    progress: BigInt(row.progress),
    status: row.status as ReplayStatus,
    createdAt: time(row.created_at),
    updatedAt: time(row.updated_at),
  };
}
