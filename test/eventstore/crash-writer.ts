// Child program of the crash test (crash-scenario.ts): opens an event store and appends without
// end from several concurrent loops. After each append the store acknowledged, it writes one JSON
// line to stdout; the parent kills it with SIGKILL in the middle of the burst and then checks the
// store against those lines. Usage: node --import tsx test/eventstore/crash-writer.ts <sqlite|postgres> <path-or-url>
import { randomUUID } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import type { EventStore } from '../../src/eventstore/index.js';
import { READ_LIMIT_MAX } from '../../src/eventstore/index.js';

export const CRASH_TENANT = 'crash-test';
export const WRITER_LOOPS = 8;
export const BATCH_SIZE = 10;
/** Every fifth append of a loop is a single event on a stream of its own. */
const SINGLE_EVERY = 5;

/** The line written after each acknowledged append. */
export interface Acknowledgement {
  appendId: string;
  streamId: string;
  firstPosition: string;
  lastPosition: string;
  eventIds: string[];
  streamVersion: number;
}

/** Stored in every event's data: the append it belongs to, its place in it and the append's size. */
export interface BatchMarker {
  append: string;
  index: number;
  of: number;
}

export const batchStream = (loop: number) => `writer-${loop}-batches`;
export const singleStream = (loop: number) => `writer-${loop}-singles`;

async function currentVersion(store: EventStore, streamId: string): Promise<number> {
  let version = 0;
  for (;;) {
    const page = await store.readStream(CRASH_TENANT, streamId, { fromVersion: version + 1, limit: READ_LIMIT_MAX });
    const last = page.at(-1);
    if (!last) return version;
    version = last.streamVersion;
  }
}

async function openStore(backend: string | undefined, target: string | undefined): Promise<EventStore> {
  if (!target) throw new Error('usage: crash-writer.ts <sqlite|postgres> <path-or-url>');
  if (backend === 'sqlite') {
    const { createSqliteEventStore } = await import('../../src/eventstore/sqlite/store.js');
    return createSqliteEventStore({ path: target });
  }
  if (backend === 'postgres') {
    const { createPostgresEventStore } = await import('../../src/eventstore/postgres/store.js');
    return createPostgresEventStore({ connectionString: target });
  }
  throw new Error(`unknown backend ${String(backend)}`);
}

async function writeLoop(store: EventStore, loop: number, run: string): Promise<never> {
  const versions = new Map<string, number>();
  for (const streamId of [batchStream(loop), singleStream(loop)]) versions.set(streamId, await currentVersion(store, streamId));
  for (let count = 1; ; count++) {
    const streamId = count % SINGLE_EVERY === 0 ? singleStream(loop) : batchStream(loop);
    const size = streamId === singleStream(loop) ? 1 : BATCH_SIZE;
    const appendId = `${run}-${loop}-${count}`;
    const expectedVersion = versions.get(streamId) ?? 0;
    const events = Array.from({ length: size }, (_, index) => {
      const marker: BatchMarker = { append: appendId, index, of: size };
      return { type: 'CrashTestEvent', data: { ...marker } };
    });
    const result = await store.append({ tenant: CRASH_TENANT, streamId, events, expectedVersion });
    const line: Acknowledgement = {
      appendId,
      streamId,
      firstPosition: result.firstPosition.toString(),
      lastPosition: result.lastPosition.toString(),
      eventIds: result.eventIds,
      streamVersion: result.streamVersion,
    };
    // Synchronous on a pipe: once it returns, the line is the parent's even if we die next.
    process.stdout.write(`${JSON.stringify(line)}\n`);
    versions.set(streamId, result.streamVersion);
  }
}

async function main(): Promise<void> {
  const store = await openStore(process.argv[2], process.argv[3]);
  // Safety net: if the parent dies without killing us, its end of stdin closes.
  process.stdin.on('end', () => process.exit(0));
  process.stdin.resume();
  const run = randomUUID().slice(0, 8);
  await Promise.all(Array.from({ length: WRITER_LOOPS }, (_, loop) => writeLoop(store, loop, run)));
}

// Run only as a program, not when the scenario imports the constants above.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((error: unknown) => {
    process.stderr.write(`crash-writer failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  });
}
