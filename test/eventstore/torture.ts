import assert from 'node:assert/strict';
import pg from 'pg';
import type { EventStore, RecordedEvent } from '../../src/eventstore/index.js';
import { uuidv7 } from '../../src/kernel/index.js';

/** Helpers of the torture tests: raw SQL writers that bypass the store, and bounded waits. */

export interface RawAppend {
  tenant: string;
  streamId: string;
  count: number;
  expectedVersion?: 'any' | number;
}

export interface RawOutcome {
  eventIds: string[];
  firstPosition: bigint;
  lastPosition: bigint;
}

/** The batch shape `append_events` expects (the same one the store builds in batchJson). */
export function rawBatch(appends: RawAppend[]): { json: string; ids: string[][] } {
  const ids = appends.map((append) => Array.from({ length: append.count }, () => uuidv7()));
  const batch = appends.map((append, index) => ({
    t: append.tenant,
    s: append.streamId,
    x: append.expectedVersion ?? 'any',
    k: null,
    f: null,
    c: false,
    m: { tenant: append.tenant, correlationId: uuidv7(), causationId: null, actor: 'raw-writer' },
    e: (ids[index] ?? []).map((id, i) => ({ i: id, y: 'RawWritten', v: 1, d: { i } })),
  }));
  return { json: JSON.stringify(batch), ids };
}

/** Calls `append_events` on a client (inside whatever transaction it has open); null for a rejected append. */
export async function rawAppend(client: pg.ClientBase, appends: RawAppend[]): Promise<(RawOutcome | null)[]> {
  const { json } = rawBatch(appends);
  const { rows } = await client.query<{ outcomes: Record<string, unknown>[] }>(
    `SELECT append_events($1::jsonb, '1 day'::interval) AS outcomes`,
    [json],
  );
  return (rows[0]?.outcomes ?? []).map((outcome) =>
    'error' in outcome
      ? null
      : {
          eventIds: outcome.eventIds as string[],
          firstPosition: BigInt(outcome.firstPosition as string),
          lastPosition: BigInt(outcome.lastPosition as string),
        },
  );
}

/** A client of its own; errors of an idle connection (a server-side timeout) are recorded, not thrown. */
export async function rawClient(url: string): Promise<{ client: pg.Client; errors: Error[] }> {
  const client = new pg.Client({ connectionString: url });
  const errors: Error[] = [];
  client.on('error', (error) => errors.push(error));
  await client.connect();
  return { client, errors };
}

export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export async function eventually(condition: () => Promise<boolean> | boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) assert.fail(`${what} did not happen within ${ms} ms`);
    await sleep(5);
  }
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function readEverything(store: EventStore): Promise<RecordedEvent[]> {
  const all: RecordedEvent[] = [];
  for (;;) {
    const page = await store.readAll({ after: all.at(-1)?.position ?? 0n, limit: 1000 });
    all.push(...page);
    if (page.length < 1000) return all;
  }
}

/** Wraps a store so that a test can tell how many log reads (consumer polls) have completed. */
export function countingReads(store: EventStore): { store: EventStore; reads(): number } {
  let reads = 0;
  const counted: EventStore = {
    ...store,
    readAll: async (options) => {
      const events = await store.readAll(options);
      reads++;
      return events;
    },
  };
  return { store: counted, reads: () => reads };
}

/** An append whose promise can be inspected without awaiting it. */
export function tracked<T>(promise: Promise<T>): { promise: Promise<T>; settled(): boolean } {
  let settled = false;
  const settle = () => {
    settled = true;
  };
  promise.then(settle, settle);
  return { promise, settled: () => settled };
}

/** Backends of the current database waiting for a lock (here: for the row of `log_head`). */
export async function lockWaiters(admin: pg.ClientBase): Promise<number> {
  const { rows } = await admin.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`,
  );
  return rows[0]?.n ?? 0;
}

export const positionsOf = (events: RecordedEvent[]) => events.map((e) => e.position);
export const range = (from: bigint, to: bigint) => Array.from({ length: Number(to - from + 1n) }, (_, i) => from + BigInt(i));
