import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { createSqliteEventStore } from '../../src/eventstore/sqlite/store.js';
import { crashScenario } from './crash-scenario.js';

const dir = mkdtempSync(join(tmpdir(), 'bo-crash-'));
after(() => rmSync(dir, { recursive: true, force: true }));

crashScenario('SQLite', async () => {
  const path = join(dir, 'events.db');
  return { backend: 'sqlite', location: path, open: async () => createSqliteEventStore({ path }) };
});
