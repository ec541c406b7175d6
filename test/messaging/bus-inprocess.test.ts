import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { openBus } from '../../src/messaging/bus.js';
import { busContract } from './bus-contract.js';
import { coreContract } from './bus-contract-core.js';
import { type BusFactory, newRoot } from './bus-harness.js';

const dir = mkdtempSync(join(tmpdir(), 'bo-bus-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const factory: BusFactory = async (label) => {
  const root = newRoot();
  const path = join(dir, `${label}-${root}.db`);
  return {
    open: () => openBus({ kind: 'inprocess', path, root }),
    cleanup: async () => {
      for (const suffix of ['', '-wal', '-shm']) rmSync(`${path}${suffix}`, { force: true });
    },
  };
};

busContract('the in-process bus (SQLite)', factory);
coreContract('the in-process bus (SQLite)', factory);
