import type Database from 'better-sqlite3';

/**
 * Runs work with `secure_delete` on, so that deleted rows (a tenant's log, sealed keys, secrets) do
 * not linger in free pages of the file. Shared by every store on the platform's SQLite database.
 */
export function securely<T>(db: Database.Database, work: () => T): T {
  const prior = db.pragma('secure_delete', { simple: true }) as number;
  db.pragma('secure_delete = ON');
  try {
    return work();
  } finally {
    db.pragma(`secure_delete = ${Number(prior)}`);
  }
}
