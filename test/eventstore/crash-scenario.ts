import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { EventStore, RecordedEvent } from '../../src/eventstore/index.js';
import { READ_LIMIT_MAX } from '../../src/eventstore/index.js';
import { type Acknowledgement, type BatchMarker, CRASH_TENANT, WRITER_LOOPS } from './crash-writer.js';

/** The database the crash scenario runs on, for one backend. */
export interface CrashTarget {
  backend: 'sqlite' | 'postgres';
  /** The path or connection string the child program opens. */
  location: string;
  /** Opens a store on the same database in the test process. */
  open(): Promise<EventStore>;
  /** Resolves once nothing the killed child started still runs against the database. */
  settle?(): Promise<void>;
}

interface KillMoment {
  /** Completes the test name: "... when killed <label>". */
  label: string;
  /** Kill once this many appends were acknowledged... */
  afterAcks?: number;
  /** ...or this many milliseconds after the first acknowledgement. */
  afterMs?: number;
}

const MOMENTS: KillMoment[] = [
  { label: 'after 100 acknowledged appends', afterAcks: 100 },
  { label: '300 ms into a burst', afterMs: 300 },
  { label: 'after 400 acknowledged appends', afterAcks: 400 },
];

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const WRITER = fileURLToPath(new URL('./crash-writer.ts', import.meta.url));
/** Longest wait for the child to reach its kill moment (it starts tsx and opens the store first). */
const BURST_TIMEOUT_MS = 15_000;
const TEST_OPTIONS = { timeout: 30_000 };

interface CrashRun {
  acknowledgements: Acknowledgement[];
  signal: NodeJS.Signals | null;
  code: number | null;
}

/** The crash test: kill -9 during a burst of appends loses no acknowledged event and leaves no partial append. */
export function crashScenario(backendName: string, prepare: () => Promise<CrashTarget>): void {
  describe(`event store crash on ${backendName}`, () => {
    let target: CrashTarget;
    const children = new Set<ChildProcess>();
    /** Every append acknowledged so far, by the killed children and by the test itself. */
    const acknowledged: Acknowledgement[] = [];

    before(async () => {
      target = await prepare();
    });
    after(() => {
      for (const child of children) child.kill('SIGKILL');
    });

    for (const moment of MOMENTS) {
      it(`loses no acknowledged append and keeps appends whole when the writer is killed ${moment.label}`, TEST_OPTIONS, async (t) => {
        const run = await burstAndKill(target, moment, children);
        assert.equal(run.code, null, 'the writer exited by itself instead of being killed');
        assert.equal(run.signal, 'SIGKILL');
        assert.ok(run.acknowledgements.length > 0, 'the writer acknowledged no append before the kill');
        if (moment.afterAcks) assert.ok(run.acknowledgements.length >= moment.afterAcks);
        acknowledged.push(...run.acknowledgements);

        await target.settle?.();
        const store = await target.open();
        try {
          const log = checkLog(await readEverything(store), acknowledged);
          const runIds = new Set(run.acknowledgements.map((ack) => ack.appendId.split('-')[0]));
          const acked = new Set(run.acknowledgements.map((ack) => ack.appendId));
          const unacknowledged = [...log.appendIds].filter((id) => runIds.has(id.split('-')[0]) && !acked.has(id));
          t.diagnostic(
            `${run.acknowledgements.length} appends acknowledged before the kill, ${unacknowledged.length} more committed ` +
              `without acknowledgement; the log holds ${log.head} events in ${log.appendIds.size} appends`,
          );

          acknowledged.push(...(await appendAfterCrash(store, log)));
          checkLog(await readEverything(store), acknowledged);
        } finally {
          await store.close();
        }
      });
    }
  });
}

/** Starts the writer, waits for the kill moment, kills it with SIGKILL and returns every line it completed. */
function burstAndKill(target: CrashTarget, moment: KillMoment, children: Set<ChildProcess>): Promise<CrashRun> {
  const child = spawn(process.execPath, ['--import', 'tsx', WRITER, target.backend, target.location], {
    cwd: ROOT,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  children.add(child);
  let stdout = '';
  let stderr = '';
  let lines = 0;
  let timer: NodeJS.Timeout | undefined;
  const kill = () => {
    clearTimeout(timer);
    child.kill('SIGKILL');
  };
  const deadline = setTimeout(kill, BURST_TIMEOUT_MS);

  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
    const before = lines;
    lines += countLines(chunk);
    if (before === 0 && lines > 0 && moment.afterMs !== undefined) timer = setTimeout(kill, moment.afterMs);
    if (moment.afterAcks !== undefined && lines >= moment.afterAcks) kill();
  });

  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => {
      clearTimeout(deadline);
      clearTimeout(timer);
      children.delete(child);
      if (code !== null) {
        reject(new Error(`the writer exited with code ${code} before the kill:\n${stderr}`));
        return;
      }
      if (moment.afterAcks !== undefined && lines < moment.afterAcks) {
        reject(new Error(`the writer acknowledged ${lines} appends in ${BURST_TIMEOUT_MS} ms, fewer than ${moment.afterAcks}:\n${stderr}`));
        return;
      }
      resolve({ acknowledgements: parseLines(stdout), signal, code });
    });
  });
}

function countLines(text: string): number {
  let count = 0;
  for (let index = text.indexOf('\n'); index !== -1; index = text.indexOf('\n', index + 1)) count++;
  return count;
}

/** Only complete lines count: a line cut by the kill was never acknowledged. */
function parseLines(text: string): Acknowledgement[] {
  const complete = text.slice(0, text.lastIndexOf('\n') + 1);
  return complete
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => JSON.parse(line) as Acknowledgement);
}

async function readEverything(store: EventStore): Promise<RecordedEvent[]> {
  const events: RecordedEvent[] = [];
  for (;;) {
    const page = await store.readAll({ after: events.at(-1)?.position ?? 0n, limit: READ_LIMIT_MAX });
    if (page.length === 0) break;
    events.push(...page);
  }
  assert.equal(await store.headPosition(), BigInt(events.length), 'the head position is not the number of events in the log');
  return events;
}

interface LogSummary {
  head: number;
  appendIds: Set<string>;
  /** The version of each stream. */
  streams: Map<string, number>;
}

function markerOf(event: RecordedEvent): BatchMarker {
  const data = event.data as Partial<BatchMarker> | null;
  assert.ok(data && typeof data.append === 'string' && typeof data.index === 'number' && typeof data.of === 'number');
  return data as BatchMarker;
}

/**
 * Checks the whole log: positions gapless from 1, stream versions contiguous from 1, every append
 * complete (all its events, in order, at consecutive positions and versions), and every
 * acknowledged append present with exactly its event ids at exactly its positions.
 */
function checkLog(events: RecordedEvent[], acknowledgements: Acknowledgement[]): LogSummary {
  const streams = new Map<string, number>();
  events.forEach((event, index) => {
    if (event.position !== BigInt(index + 1)) assert.fail(`position ${index + 1} is missing; the log has ${event.position} there`);
    assert.equal(event.tenant, CRASH_TENANT);
    const expected = (streams.get(event.streamId) ?? 0) + 1;
    if (event.streamVersion !== expected) {
      assert.fail(`stream ${event.streamId} has version ${event.streamVersion} at position ${event.position}, expected ${expected}`);
    }
    streams.set(event.streamId, expected);
  });

  const appendIds = new Set<string>();
  for (let index = 0; index < events.length; ) {
    const first = events[index] as RecordedEvent;
    const marker = markerOf(first);
    assert.equal(marker.index, 0, `position ${first.position} starts in the middle of append ${marker.append}`);
    assert.ok(!appendIds.has(marker.append), `append ${marker.append} is split across the log`);
    appendIds.add(marker.append);
    for (let offset = 0; offset < marker.of; offset++) {
      const event = events[index + offset];
      if (!event) assert.fail(`append ${marker.append} is partial: ${offset} of its ${marker.of} events are in the log`);
      const current = markerOf(event);
      if (current.append !== marker.append || current.index !== offset || current.of !== marker.of || event.streamId !== first.streamId) {
        assert.fail(
          `append ${marker.append} is partial: position ${event.position} holds ${JSON.stringify(current)} instead of its event ${offset}`,
        );
      }
    }
    index += marker.of;
  }

  for (const ack of acknowledgements) {
    const first = Number(ack.firstPosition);
    const last = Number(ack.lastPosition);
    assert.equal(last - first + 1, ack.eventIds.length, `acknowledgement of ${ack.appendId} has inconsistent positions`);
    const stored = events.slice(first - 1, last);
    assert.deepEqual(
      stored.map((event) => event.id),
      ack.eventIds,
      `acknowledged append ${ack.appendId} is not at positions ${first}..${last} with its event ids`,
    );
    for (const event of stored) {
      assert.equal(event.streamId, ack.streamId);
      assert.equal(markerOf(event).append, ack.appendId);
    }
    assert.equal(stored.at(-1)?.streamVersion, ack.streamVersion, `acknowledged append ${ack.appendId} ends at another stream version`);
  }
  return { head: events.length, appendIds, streams };
}

/** After the crash the store takes appends again, continuing every stream's versions and the log's positions. */
async function appendAfterCrash(store: EventStore, log: LogSummary): Promise<Acknowledgement[]> {
  assert.equal(log.streams.size, WRITER_LOOPS * 2, 'every writer loop should have written to both of its streams');
  const acknowledgements: Acknowledgement[] = [];
  let head = BigInt(log.head);
  for (const [streamId, version] of log.streams) {
    const appendId = `probe${head}-${streamId}`;
    const events = [0, 1].map((index) => ({ type: 'CrashProbe', data: { append: appendId, index, of: 2 } }));
    const result = await store.append({ tenant: CRASH_TENANT, streamId, events, expectedVersion: version });
    assert.equal(result.streamVersion, version + 2);
    assert.equal(result.firstPosition, head + 1n);
    assert.equal(result.lastPosition, head + 2n);
    head = result.lastPosition;
    acknowledgements.push({
      appendId,
      streamId,
      firstPosition: result.firstPosition.toString(),
      lastPosition: result.lastPosition.toString(),
      eventIds: result.eventIds,
      streamVersion: result.streamVersion,
    });
  }
  return acknowledgements;
}
