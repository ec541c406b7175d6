import { openSqlite } from './databases.js';
import { queryContract } from './query-contract.js';

queryContract('SQLite', async () => openSqlite());
