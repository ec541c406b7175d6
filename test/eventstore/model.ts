import type { ExpectedVersion } from '../../src/eventstore/index.js';

/** An in-memory reference of the append rules, to compare adapters against. */
export interface ModelAppend {
  tenant: string;
  streamId: string;
  types: string[];
  expectedVersion: ExpectedVersion;
}

export type ModelOutcome = { ok: true; streamVersion: number; lastPosition: number } | { ok: false; code: 'version_conflict' };

export function createModel() {
  const versions = new Map<string, number>();
  const log: { tenant: string; streamId: string; type: string; streamVersion: number }[] = [];

  function matches(expected: ExpectedVersion, current: number): boolean {
    if (expected === 'any') return true;
    if (expected === 'no_stream') return current === 0;
    if (expected === 'exists') return current > 0;
    return expected === current;
  }

  return {
    log,
    append(append: ModelAppend): ModelOutcome {
      const key = `${append.tenant}/${append.streamId}`;
      const current = versions.get(key) ?? 0;
      if (!matches(append.expectedVersion, current)) return { ok: false, code: 'version_conflict' };
      for (const [i, type] of append.types.entries()) {
        log.push({ tenant: append.tenant, streamId: append.streamId, type, streamVersion: current + i + 1 });
      }
      versions.set(key, current + append.types.length);
      return { ok: true, streamVersion: current + append.types.length, lastPosition: log.length };
    },
  };
}
