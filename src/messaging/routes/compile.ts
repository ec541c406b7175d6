import type { FilterNode } from '../../documents/query/index.js';
import { type FieldError, validationFailed } from '../../kernel/index.js';
import {
  checkShape,
  entityName,
  parseSource,
  ROUTE_LIMITS,
  type RouteDefinition,
  type RouteDocument,
  Shape,
  type Source,
  type TargetSpec,
} from './definition.js';
import { compileExpression, type Expression } from './expression.js';
import { compileFilter } from './filter.js';

export type { Expression };

export type CompiledTarget = { index: number; when?: FilterNode } & (
  | { kind: 'subject'; subject: string }
  | { kind: 'webhook'; url: string; secret: string }
  | { kind: 'command'; module: string; entity: string; command: string; id?: Expression }
);

/** A route ready to run: its source, compiled filters and expressions, and targets with their secrets. */
export interface CompiledRoute {
  tenant: string;
  id: string;
  version: number;
  name: string;
  source: Source;
  filter?: FilterNode;
  split?: Expression;
  enrich?: { url: string; merge: Expression };
  transform?: Expression;
  aggregate?: { correlation: Expression; limit: number; timeoutMs?: number };
  targets: CompiledTarget[];
}

/** The merge of an enrichment without its own: the response's members over the message's. */
export const DEFAULT_MERGE = '$merge([$message, $response])';

/**
 * The shape, expressions and filters of a route body, every problem at once (`validation_failed`
 * with paths under `/body`): what `POST` and `PATCH` check before writing anything.
 */
export function validateRoute(input: unknown): RouteDefinition {
  const shape = new Shape();
  const definition = checkShape(input, shape);
  if (!definition) throw validationFailed('Invalid route', shape.errors);
  return definition;
}

type Parts = Omit<CompiledRoute, 'tenant' | 'id' | 'version' | 'name' | 'source' | 'targets'>;

function compileParts(definition: RouteDefinition, errors: FieldError[]): Parts {
  const expression = (text: string | undefined, path: string) => (text === undefined ? undefined : compileExpression(text, path, errors));
  const parts: Parts = {};
  const filter = compileFilter(definition.filter, '/body/filter', errors);
  const split = expression(definition.split, '/body/split');
  const transform = expression(definition.transform, '/body/transform');
  if (filter) parts.filter = filter;
  if (split) parts.split = split;
  if (transform) parts.transform = transform;
  if (definition.enrich) {
    const merge = expression(definition.enrich.merge ?? DEFAULT_MERGE, '/body/enrich/merge');
    if (merge) parts.enrich = { url: definition.enrich.url, merge };
  }
  const aggregate = definition.aggregate;
  const correlation = expression(aggregate?.correlation, '/body/aggregate/correlation');
  if (aggregate && correlation) {
    const limit = Math.min(aggregate.size ?? Number.POSITIVE_INFINITY, ROUTE_LIMITS.groupMessages);
    parts.aggregate = { correlation, limit, ...(aggregate.timeoutMs === undefined ? {} : { timeoutMs: aggregate.timeoutMs }) };
  }
  return parts;
}

function compileTarget(target: TargetSpec, index: number, secrets: ReadonlyMap<number, string>, errors: FieldError[]): CompiledTarget {
  const when = compileFilter(target.when, `/body/targets/${index}/when`, errors);
  const base = { index, ...(when ? { when } : {}) };
  if ('subject' in target) return { ...base, kind: 'subject', subject: target.subject };
  if ('webhook' in target) return { ...base, kind: 'webhook', url: target.webhook.url, secret: secrets.get(index) ?? '' };
  const { module, entity } = entityName(target.command.entity) as { module: string; entity: string };
  const text = target.command.id;
  const id = text === undefined ? undefined : compileExpression(text, `/body/targets/${index}/command/id`, errors);
  return { ...base, kind: 'command', module, entity, command: target.command.command, ...(id ? { id } : {}) };
}

/** A stored route with its secrets (webhook targets by index), compiled to run. Throws if it no longer compiles. */
export function compileRoute(
  tenant: string,
  version: number,
  document: RouteDocument,
  secrets: ReadonlyMap<number, string>,
): CompiledRoute {
  const errors: FieldError[] = [];
  const parts = compileParts(document, errors);
  const targets = document.targets.map((target, index) => compileTarget(target, index, secrets, errors));
  if (errors.length > 0) throw validationFailed(`Route ${document.id} no longer compiles`, errors);
  const source = parseSource(document.source) as Source;
  return { tenant, id: document.id, version, name: document.name, source, targets, ...parts };
}
