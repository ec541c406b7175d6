import type { DocumentStore } from '../../documents/port.js';
import type { EventStore } from '../../eventstore/index.js';
import { entityLog, type Stored } from '../../identity/index.js';
import { AppError, type FieldError, type JsonValue, type RequestContext, uuidv7, validationFailed } from '../../kernel/index.js';
import { validateRoute } from './compile.js';
import { isObject, type RouteDefinition, type RouteDocument, type TargetSpec } from './definition.js';
import type { RouteStore } from './port.js';

export const ROUTE_STREAM = 'route';
export const DEFINED = 'RouteDefined';
export const DELETED = 'RouteDeleted';

/** Stages that a PATCH may remove with `null`. */
const OPTIONAL = ['filter', 'split', 'enrich', 'transform', 'aggregate'];

type Data = { [key: string]: JsonValue };

export interface RouteChange {
  document: RouteDocument;
  version: number;
  position: bigint;
}

/** The webhook targets' secrets, by target index, and the targets without them (what is stored). */
function withoutSecrets(definition: RouteDefinition): { targets: TargetSpec[]; secrets: Map<number, string> } {
  const secrets = new Map<number, string>();
  const targets = definition.targets.map((target, index) => {
    if (!('webhook' in target)) return target;
    if (target.webhook.secret !== undefined) secrets.set(index, target.webhook.secret);
    const { secret: _secret, ...webhook } = target.webhook;
    return { ...target, webhook };
  });
  return { targets, secrets };
}

/**
 * Routes kept event-sourced like the other platform objects (internal entity `_routes.route`, stream
 * `route:<id>`, events `RouteDefined` / `RouteDeleted`). Webhook secrets never enter an event: they are
 * written to the route store under a fresh reference before the event that names the reference.
 */
export function createRouteService(deps: { events: EventStore; documents: DocumentStore; store: RouteStore }) {
  const log = entityLog<Data>(deps, { module: '_routes', entity: 'route', prefix: ROUTE_STREAM, noun: 'route' });

  /** Secrets not given again are kept from the current target with the same URL; otherwise they are required. */
  async function secretsOf(tenant: string, definition: RouteDefinition, current?: RouteDocument): Promise<Map<number, string>> {
    const { secrets } = withoutSecrets(definition);
    const known = current ? await deps.store.secrets(tenant, current.id, current.secretRef ?? '') : new Map<number, string>();
    const errors: FieldError[] = [];
    definition.targets.forEach((target, index) => {
      if (!('webhook' in target) || secrets.has(index)) return;
      const same = current?.targets.findIndex((old) => 'webhook' in old && old.webhook.url === target.webhook.url) ?? -1;
      const kept = known.get(same);
      if (kept !== undefined) secrets.set(index, kept);
      else errors.push({ path: `/body/targets/${index}/webhook/secret`, message: 'is required' });
    });
    if (errors.length > 0) throw validationFailed('Invalid route', errors);
    return secrets;
  }

  async function write(context: RequestContext, tenant: string, id: string, definition: RouteDefinition, current?: Stored<Data>) {
    const secrets = await secretsOf(tenant, definition, current?.data as unknown as RouteDocument | undefined);
    const secretRef = uuidv7();
    const document: RouteDocument = { ...definition, targets: withoutSecrets(definition).targets, id, secretRef };
    if (secrets.size > 0) await deps.store.putSecrets(tenant, id, secretRef, secrets);
    const data = document as unknown as Data;
    const result = await log.write(context, tenant, id, { type: DEFINED, data }, data, current);
    await deps.store.pruneSecrets(tenant, id, secretRef);
    return { document, ...result };
  }

  function checkVersion(found: Stored<Data>, expected: number | undefined): void {
    if (expected !== undefined && expected !== found.version)
      throw new AppError('version_conflict', `Route ${found.data.id} is at version ${found.version}, not ${expected}`);
  }

  return {
    async create(context: RequestContext, tenant: string, body: unknown): Promise<RouteChange> {
      return write(context, tenant, uuidv7(), validateRoute(body));
    },
    /** A merge patch: members replace the current ones, `null` removes a stage. */
    async update(context: RequestContext, tenant: string, id: string, patch: unknown, expected?: number): Promise<RouteChange> {
      if (!isObject(patch)) throw validationFailed('Invalid route', [{ path: '/body', message: 'must be an object' }]);
      const current = await log.get(tenant, id);
      checkVersion(current, expected);
      const { id: _id, secretRef: _ref, ...definition } = current.data as unknown as RouteDocument;
      const merged: Record<string, unknown> = { ...definition, ...patch };
      for (const key of OPTIONAL) if (patch[key] === null) delete merged[key];
      return write(context, tenant, id, validateRoute(merged), current);
    },
    async remove(context: RequestContext, tenant: string, id: string, expected?: number): Promise<{ version: number; position: bigint }> {
      const current = await log.get(tenant, id);
      checkVersion(current, expected);
      return log.write(context, tenant, id, { type: DELETED, data: {} }, null, current);
    },
    async get(tenant: string, id: string): Promise<{ document: RouteDocument; version: number }> {
      const found = await log.get(tenant, id);
      return { document: found.data as unknown as RouteDocument, version: found.version };
    },
    async list(tenant: string): Promise<{ document: RouteDocument; version: number }[]> {
      const items: { document: RouteDocument; version: number }[] = [];
      for (let after: string | undefined; ; ) {
        const page = (await log.list(tenant, after)) as unknown as RouteDocument[];
        for (const document of page) {
          const found = await log.find(tenant, document.id);
          if (found && !found.deleted) items.push({ document, version: found.version });
        }
        if (page.length < 1000) return items;
        after = page.at(-1)?.id;
      }
    },
  };
}

export type RouteService = ReturnType<typeof createRouteService>;
