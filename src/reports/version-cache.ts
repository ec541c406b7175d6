/**
 * Rows of report versions (member rows, groups) this processor last read or committed, at most
 * `capacity` in all (the first entered go first). It mirrors the store only while this processor's commits
 * succeed: every commit is fenced, so none landed in between; the processor empties it whenever it
 * reloads (after a conflict or an error).
 */
export function versionCache<T>(capacity: number) {
  const versions = new Map<string, Map<string, T>>();
  let size = 0;

  function evict(): void {
    for (const rows of versions.values()) {
      for (const id of rows.keys()) {
        if (size <= capacity) return;
        rows.delete(id);
        size -= 1;
      }
    }
  }

  return {
    /** The cached rows of these ids, and the ids it does not know. */
    lookup(version: string, ids: Iterable<string>): { found: Map<string, T>; missing: string[] } {
      const rows = versions.get(version);
      const found = new Map<string, T>();
      const missing: string[] = [];
      for (const id of ids) {
        const row = rows?.get(id);
        if (row !== undefined) found.set(id, row);
        else missing.push(id);
      }
      return { found, missing };
    },
    get: (version: string, id: string): T | undefined => versions.get(version)?.get(id),
    /** Rows as the store now holds them (null: no row). */
    put(version: string, changes: Iterable<[string, T | null]>): void {
      let rows = versions.get(version);
      if (!rows) {
        rows = new Map();
        versions.set(version, rows);
      }
      const before = rows.size;
      for (const [id, row] of changes) {
        // A row set again keeps its place: the order of first entry is close enough for evicting the oldest.
        if (row === null || capacity === 0) rows.delete(id);
        else rows.set(id, row);
      }
      size += rows.size - before;
      if (size > capacity) evict();
    },
    /** How many rows of the version it holds. */
    size: (version: string): number => versions.get(version)?.size ?? 0,
    drop(version: string): void {
      size -= versions.get(version)?.size ?? 0;
      versions.delete(version);
    },
    clear(): void {
      versions.clear();
      size = 0;
    },
  };
}

export type VersionCache<T> = ReturnType<typeof versionCache<T>>;
