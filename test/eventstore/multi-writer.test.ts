import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { EventStore } from '../../src/eventstore/index.js';
import { createSqliteEventStore } from '../../src/eventstore/sqlite/store.js';
import { PRIVATE_STREAMS, runWorkload, SHARED_ANY, SHARED_OPTIMISTIC, type WorkloadReport } from '../support/sqlite-writer.js';
import { assertLogInvariants } from './contract-concurrency.js';
import { readEverything } from './torture.js';

/** Several writers on one SQLite file, as several processes of one deployment would be. */
const dir = mkdtempSync(join(tmpdir(), 'bo-multi-writer-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let count = 0;
const newPath = () => join(dir, `events-${++count}.db`);
const WRITER = fileURLToPath(new URL('../support/sqlite-writer.ts', import.meta.url));
const ROUNDS = 40;

/** Runs the workload in a process of its own and returns its report. */
function writerProcess(path: string, label: string, startAt: number): Promise<WorkloadReport> {
  return new Promise((resolve, reject) => {
    const args = ['--import', 'tsx', WRITER, path, label, String(ROUNDS), String(startAt)];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
    });
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve(JSON.parse(stdout) as WorkloadReport);
      else reject(new Error(`writer ${label} exited with ${code}: ${stderr}`));
    });
  });
}

/** Every acknowledged append is in the log, exactly where its result says, and nothing else is. */
async function assertLogMatches(store: EventStore, reports: WorkloadReport[], labels: string[]): Promise<void> {
  const all = await readEverything(store);
  assertLogInvariants(all, 0n);
  const acked = reports.flatMap((report) => report.acked);
  assert.equal(all.length, acked.flatMap((a) => a.eventIds).length, 'no event more, none less than acknowledged');
  for (const append of acked) {
    const stored = all.slice(Number(append.firstPosition) - 1, Number(append.lastPosition));
    assert.deepEqual(
      stored.map((e) => e.id),
      append.eventIds,
      `the append acknowledged at ${append.firstPosition} is there`,
    );
    assert.ok(stored.every((e) => e.streamId === append.streamId));
    assert.equal(stored.at(-1)?.streamVersion, append.streamVersion);
  }
  const versionsOf = async (streamId: string) => (await store.readStream('acme', streamId)).map((e) => e.streamVersion);
  const upTo = (n: number) => Array.from({ length: n }, (_, i) => i + 1);
  for (const label of labels) {
    for (let k = 0; k < PRIVATE_STREAMS; k++) assert.deepEqual(await versionsOf(`${label}-${k}`), upTo(2 * ROUNDS));
  }
  assert.deepEqual(await versionsOf(SHARED_ANY), upTo(labels.length * ROUNDS));
  assert.deepEqual(await versionsOf(SHARED_OPTIMISTIC), upTo(labels.length * ROUNDS), 'every optimistic update won exactly once');
}

describe('several SQLite writers on one database file', () => {
  it('keeps positions gapless and stream versions contiguous with two store instances in one process', async () => {
    const path = newPath();
    const stores = [createSqliteEventStore({ path }), createSqliteEventStore({ path })];
    try {
      const labels = ['one', 'two'];
      const reports = await Promise.all(stores.map((store, i) => runWorkload(store, labels[i] as string, ROUNDS)));
      await assertLogMatches(stores[0] as EventStore, reports, labels);
      assert.deepEqual(
        await (stores[1] as EventStore).readAll({ limit: 10_000 }),
        await (stores[0] as EventStore).readAll({ limit: 10_000 }),
      );
    } finally {
      for (const store of stores) await store.close();
    }
  });

  it('acknowledges every append of two writer processes into one gapless, ordered log', async () => {
    const path = newPath();
    // Created first: two processes creating one fresh file at the same moment can fail (SQLITE_BUSY on PRAGMA journal_mode).
    await createSqliteEventStore({ path }).close();
    const labels = ['left', 'right'];
    const startAt = Date.now() + 1500;
    const reports = await Promise.all(labels.map((label) => writerProcess(path, label, startAt)));
    const store = createSqliteEventStore({ path });
    try {
      await assertLogMatches(store, reports, labels);
    } finally {
      await store.close();
    }
  });
});
