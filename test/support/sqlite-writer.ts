import { pathToFileURL } from 'node:url';
import type { AppendResult, EventStore } from '../../src/eventstore/index.js';
import { createSqliteEventStore } from '../../src/eventstore/sqlite/store.js';
import { isAppError } from '../../src/kernel/index.js';

/**
 * A write workload for several writers on one SQLite file. Imported by the multi-writer test, and
 * run as a process of its own: `node --import tsx test/support/sqlite-writer.ts <path> <label> <rounds> [<start at>]`
 * starts writing at the given time (so that several processes overlap) and prints its report as JSON on stdout.
 */

export interface Acked {
  streamId: string;
  streamVersion: number;
  firstPosition: string;
  lastPosition: string;
  eventIds: string[];
}

export interface WorkloadReport {
  acked: Acked[];
  /** Optimistic appends that lost a race and were retried. */
  conflicts: number;
}

export const PRIVATE_STREAMS = 3;
export const SHARED_ANY = 'shared-any';
export const SHARED_OPTIMISTIC = 'shared-optimistic';

/**
 * Runs at once: private streams appended with exact expected versions (never in conflict), a stream
 * shared by every writer with 'any', and a shared stream updated read-then-append, retried on conflict.
 */
export async function runWorkload(store: EventStore, label: string, rounds: number): Promise<WorkloadReport> {
  const acked: Acked[] = [];
  let conflicts = 0;
  const record = (streamId: string, result: AppendResult) =>
    acked.push({
      streamId,
      streamVersion: result.streamVersion,
      firstPosition: String(result.firstPosition),
      lastPosition: String(result.lastPosition),
      eventIds: result.eventIds,
    });
  const events = (n: number, i: number) => Array.from({ length: n }, () => ({ type: 'Written', data: { label, i } }));

  const privateStream = async (k: number) => {
    const streamId = `${label}-${k}`;
    for (let i = 0; i < rounds; i++)
      record(streamId, await store.append({ tenant: 'acme', streamId, events: events(2, i), expectedVersion: 2 * i }));
  };
  const sharedAny = async () => {
    for (let i = 0; i < rounds; i++) record(SHARED_ANY, await store.append({ tenant: 'acme', streamId: SHARED_ANY, events: events(1, i) }));
  };
  const sharedOptimistic = async () => {
    for (let i = 0; i < rounds; ) {
      const version = (await store.readStream('acme', SHARED_OPTIMISTIC)).length;
      try {
        record(
          SHARED_OPTIMISTIC,
          await store.append({ tenant: 'acme', streamId: SHARED_OPTIMISTIC, events: events(1, i), expectedVersion: version }),
        );
        i++;
      } catch (error) {
        if (!isAppError(error, 'version_conflict')) throw error;
        conflicts++;
      }
    }
  };
  await Promise.all([...Array.from({ length: PRIVATE_STREAMS }, (_, k) => privateStream(k)), sharedAny(), sharedOptimistic()]);
  return { acked, conflicts };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [path, label, rounds, startAt = '0'] = process.argv.slice(2);
  if (!path || !label || !rounds) throw new Error('usage: sqlite-writer.ts <path> <label> <rounds> [<start at, epoch ms>]');
  const store = createSqliteEventStore({ path });
  await new Promise((resolve) => setTimeout(resolve, Number(startAt) - Date.now()));
  try {
    process.stdout.write(JSON.stringify(await runWorkload(store, label, Number(rounds))));
  } finally {
    await store.close();
  }
}
