export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/** The migrations still to apply, in order; `upTo` stops early (used to test upgrades). */
export function pendingMigrations(all: Migration[], applied: number, upTo = Number.POSITIVE_INFINITY): Migration[] {
  return all.filter((migration) => migration.version > applied && migration.version <= upTo).sort((a, b) => a.version - b.version);
}
