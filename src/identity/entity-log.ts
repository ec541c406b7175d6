import type { DocumentStore } from '../documents/port.js';
import type { EventStore } from '../eventstore/index.js';
import { AppError, isAppError, type JsonValue, metadataOf, type RequestContext } from '../kernel/index.js';

/** A stored platform object (user, role, client, tenant, group) and the version of its stream. */
export interface Stored<T> {
  data: T;
  version: number;
  position: bigint;
  deleted: boolean;
}

export interface EntityLogScope {
  /** Internal module names start with `_`: no user-defined module can take them. */
  module: `_${string}`;
  entity: string;
  /** Stream ids are `<prefix>:<id>`. */
  prefix: string;
  /** What the object is called in error messages. */
  noun: string;
}

const LIST_MAX = 1000;

/**
 * Platform objects kept like records: every change is an event on the object's stream, and its
 * current state is a document written in the same transaction (so history, `/events` and the
 * broker see them like any other change). Secrets never go here (see store/port.ts).
 */
export function entityLog<T extends { [key: string]: JsonValue }>(
  deps: { events: EventStore; documents: DocumentStore },
  scope: EntityLogScope,
) {
  const { events, documents } = deps;
  const key = (tenant: string, id: string) => ({ tenant, module: scope.module, entity: scope.entity, id });

  async function find(tenant: string, id: string): Promise<Stored<T> | undefined> {
    const record = await documents.get(key(tenant, id));
    if (!record) return undefined;
    return { data: record.data as T, version: record.version, position: record.position, deleted: record.deleted };
  }

  return {
    find,
    /** The live object, or `not_found`. */
    async get(tenant: string, id: string): Promise<Stored<T>> {
      const found = await find(tenant, id);
      if (!found || found.deleted) throw new AppError('not_found', `No ${scope.noun} ${id}`);
      return found;
    },
    /** Every live object of the tenant, by id (at most 1,000 per call of `after`). */
    async list(tenant: string, after?: string): Promise<T[]> {
      const filter = after === undefined ? undefined : { id: { $gt: after } };
      const page = await documents.list({
        tenant,
        module: scope.module,
        entity: scope.entity,
        fields: {},
        sort: [{ field: 'id', direction: 'asc' }],
        limit: LIST_MAX,
        ...(filter ? { filter } : {}),
      });
      return page.items.map((item) => item.data as T);
    },
    /**
     * Appends one event and the next state (`null`: deleted) at the expected version: a
     * concurrent change is `version_conflict`, a second creation `already_exists`.
     */
    async write(
      context: RequestContext,
      tenant: string,
      id: string,
      event: { type: string; data: JsonValue },
      next: T | null,
      expected: Stored<T> | undefined,
    ): Promise<{ version: number; position: bigint }> {
      const result = await events
        .append({
          tenant,
          streamId: `${scope.prefix}:${id}`,
          events: [event],
          expectedVersion: expected?.version ?? 'no_stream',
          metadata: metadataOf(context),
          document: { module: scope.module, entity: scope.entity, id, data: next },
        })
        .catch((error: unknown) => {
          if (!isAppError(error, 'version_conflict')) throw error;
          if (!expected || expected.deleted) throw new AppError('already_exists', `${capitalised(scope.noun)} ${id} already exists`);
          throw new AppError('version_conflict', `${capitalised(scope.noun)} ${id} was changed concurrently; retry`);
        });
      return { version: result.streamVersion, position: result.lastPosition };
    },
  };
}

export type EntityLog<T extends { [key: string]: JsonValue }> = ReturnType<typeof entityLog<T>>;

const capitalised = (text: string) => text.charAt(0).toUpperCase() + text.slice(1);
