import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { testConfig } from '../support/platform.js';
import { platformMessagingContract } from './platform-contract.js';

const root = mkdtempSync(join(tmpdir(), 'bo-platform-messaging-'));
after(() => rmSync(root, { recursive: true, force: true }));

platformMessagingContract('SQLite + in-process bus', async () => testConfig({ BACKOFFICE_DATA_DIR: mkdtempSync(join(root, 'platform-')) }));
