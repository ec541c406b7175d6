import type { FieldError, JsonValue } from '../../kernel/index.js';
import { urlProblem } from '../outbound.js';
import { compileExpression } from './expression.js';
import { compileFilter, isObject } from './filter.js';

export { isObject };

/** A target receives every message whose `when` (a query filter on the message's data) matches, or all. */
export type TargetSpec =
  | { when?: JsonValue; subject: string }
  | { when?: JsonValue; webhook: { url: string; secret?: string } }
  | { when?: JsonValue; command: { entity: string; command: string; id?: string } };

/** What a client sends to `POST /t/{tenant}/routes` (secrets included) and what is stored (secrets left out). */
export interface RouteDefinition {
  name: string;
  source: string;
  filter?: JsonValue;
  split?: string;
  enrich?: { url: string; merge?: string };
  transform?: string;
  aggregate?: { correlation: string; size?: number; timeoutMs?: number };
  targets: TargetSpec[];
  active: boolean;
}

/** The stored route (document of `_routes.route`, data of `RouteDefined`): never a secret, only a reference to them. */
export interface RouteDocument extends RouteDefinition {
  id: string;
  /** Where the webhook targets' secrets are kept in the route store (null: no webhook target). */
  secretRef: string | null;
}

/** Where a route reads: record events matching a pattern, or the tenant's routed messages or dead letters of a name. */
export type Source =
  | { kind: 'events'; module: string; entity: string; type: string }
  | { kind: 'messages'; stream: 'routed' | 'deadletter'; name: string };

export const ROUTE_LIMITS = {
  definitionBytes: 32 * 1024,
  expressionLength: 4096,
  targets: 20,
  /** Messages one group holds at most: a group reaching it completes (also without `size`). */
  groupMessages: 1000,
  timeoutMs: { min: 100, max: 7 * 24 * 60 * 60 * 1000 },
  /** Messages one split may yield. */
  splitItems: 1000,
} as const;

export const ROUTE_NAME = /^[a-z][a-zA-Z0-9_-]{0,62}$/;
/** A subject name (`routed.<name>`): one bus token. */
export const SUBJECT_NAME = /^[A-Za-z0-9_-]{1,100}$/;
const NAME = /^[a-z][a-zA-Z0-9_]{0,62}$/;
const EVENT_TYPE = /^[A-Z][A-Za-z0-9_]{0,127}$/;
const MEMBERS = ['name', 'source', 'filter', 'split', 'enrich', 'transform', 'aggregate', 'targets', 'active'];

/** `sales.order.OrderPlaced`, `sales.*.*`, `routed.<name>`, `deadletter.<name>`, or undefined. */
export function parseSource(text: unknown): Source | undefined {
  if (typeof text !== 'string') return undefined;
  const parts = text.split('.');
  const [first = '', second = '', third] = parts;
  if (parts.length === 2 && (first === 'routed' || first === 'deadletter') && SUBJECT_NAME.test(second))
    return { kind: 'messages', stream: first, name: second };
  if (parts.length !== 3 || third === undefined) return undefined;
  const fits = (value: string, pattern: RegExp) => value === '*' || pattern.test(value);
  if (!fits(first, NAME) || !fits(second, NAME) || !fits(third, EVENT_TYPE)) return undefined;
  return { kind: 'events', module: first, entity: second, type: third };
}

/** `sales.order` → module and entity, or undefined. */
export function entityName(value: unknown): { module: string; entity: string } | undefined {
  const match = typeof value === 'string' ? /^([a-z][a-zA-Z0-9_]{0,62})\.([a-z][a-zA-Z0-9_]{0,62})$/.exec(value) : null;
  return match?.[1] && match[2] ? { module: match[1], entity: match[2] } : undefined;
}

/** Collects the problems of a route's shape, every one with its JSON pointer under `/body`. */
export class Shape {
  readonly errors: FieldError[] = [];

  add(path: string, message: string): void {
    this.errors.push({ path: `/body${path}`, message });
  }

  /** A JSONata expression: its length, then its syntax. */
  expression(value: unknown, path: string): void {
    if (typeof value === 'string' && value.trim() !== '' && value.length <= ROUTE_LIMITS.expressionLength)
      compileExpression(value, `/body${path}`, this.errors);
    else this.add(path, `must be a JSONata expression of 1 to ${ROUTE_LIMITS.expressionLength} characters`);
  }

  /** A query filter: an object, then what the filter grammar says of it. */
  filter(value: unknown, path: string): void {
    if (value === undefined) return;
    if (isObject(value)) compileFilter(value, `/body${path}`, this.errors);
    else this.add(path, 'must be a filter object');
  }

  url(value: unknown, path: string): void {
    const problem = typeof value === 'string' && value.length <= 2000 ? urlProblem(value) : 'must be a URL of at most 2000 characters';
    if (problem) this.add(path, problem);
  }

  only(value: Record<string, unknown>, allowed: string[], path: string): void {
    for (const key of Object.keys(value)) if (!allowed.includes(key)) this.add(`${path}/${key}`, 'unknown member');
  }

  integer(value: unknown, path: string, min: number, max: number): void {
    if (value !== undefined && (!Number.isInteger(value) || (value as number) < min || (value as number) > max))
      this.add(path, `must be an integer from ${min} to ${max}`);
  }
}

/** The route's shape, its expressions' syntax and its filters; lists every problem. */
export function checkShape(input: unknown, shape: Shape): RouteDefinition | undefined {
  if (!isObject(input)) {
    shape.add('', 'must be an object');
    return undefined;
  }
  if (Buffer.byteLength(JSON.stringify(input)) > ROUTE_LIMITS.definitionBytes)
    shape.add('', `larger than ${ROUTE_LIMITS.definitionBytes} bytes`);
  shape.only(input, MEMBERS, '');
  if (typeof input.name !== 'string' || !ROUTE_NAME.test(input.name)) shape.add('/name', `must match ${ROUTE_NAME.source}`);
  if (!parseSource(input.source))
    shape.add('/source', 'must be "<module>.<entity>.<EventType>" (each segment a name or *), "routed.<name>" or "deadletter.<name>"');
  shape.filter(input.filter, '/filter');
  if (input.split !== undefined) shape.expression(input.split, '/split');
  if (input.transform !== undefined) shape.expression(input.transform, '/transform');
  if (input.enrich !== undefined) checkEnrich(input.enrich, shape);
  if (input.aggregate !== undefined) checkAggregate(input.aggregate, shape);
  checkTargets(input.targets, shape, parseSource(input.source));
  if (input.active !== undefined && typeof input.active !== 'boolean') shape.add('/active', 'must be true or false');
  return shape.errors.length > 0 ? undefined : ({ ...input, active: input.active ?? true } as unknown as RouteDefinition);
}

function checkEnrich(enrich: unknown, shape: Shape): void {
  if (!isObject(enrich)) {
    shape.add('/enrich', 'must be { "url", "merge"? }');
    return;
  }
  shape.only(enrich, ['url', 'merge'], '/enrich');
  shape.url(enrich.url, '/enrich/url');
  if (enrich.merge !== undefined) shape.expression(enrich.merge, '/enrich/merge');
}

function checkAggregate(aggregate: unknown, shape: Shape): void {
  if (!isObject(aggregate)) {
    shape.add('/aggregate', 'must be { "correlation", "size"?, "timeoutMs"? }');
    return;
  }
  shape.only(aggregate, ['correlation', 'size', 'timeoutMs'], '/aggregate');
  shape.expression(aggregate.correlation, '/aggregate/correlation');
  shape.integer(aggregate.size, '/aggregate/size', 1, ROUTE_LIMITS.groupMessages);
  shape.integer(aggregate.timeoutMs, '/aggregate/timeoutMs', ROUTE_LIMITS.timeoutMs.min, ROUTE_LIMITS.timeoutMs.max);
  if (aggregate.size === undefined && aggregate.timeoutMs === undefined)
    shape.add('/aggregate', 'needs "size", "timeoutMs" or both (when a group completes)');
}

function checkTargets(targets: unknown, shape: Shape, source: Source | undefined): void {
  if (!Array.isArray(targets) || targets.length === 0 || targets.length > ROUTE_LIMITS.targets) {
    shape.add('/targets', `must be an array of 1 to ${ROUTE_LIMITS.targets} targets`);
    return;
  }
  targets.forEach((target, i) => {
    checkTarget(target, shape, `/targets/${i}`);
    const own = source?.kind === 'messages' && source.stream === 'routed' ? source.name : undefined;
    if (isObject(target) && own !== undefined && target.subject === own)
      shape.add(`/targets/${i}/subject`, 'is the route’s own source: it would route to itself');
  });
}

function checkTarget(target: unknown, shape: Shape, path: string): void {
  const kinds = isObject(target) ? ['subject', 'webhook', 'command'].filter((kind) => target[kind] !== undefined) : [];
  if (!isObject(target) || kinds.length !== 1) {
    shape.add(path, 'must be an object with exactly one of "subject", "webhook", "command" (and an optional "when")');
    return;
  }
  shape.only(target, ['when', ...kinds], path);
  shape.filter(target.when, `${path}/when`);
  if (kinds[0] === 'subject' && (typeof target.subject !== 'string' || !SUBJECT_NAME.test(target.subject)))
    shape.add(`${path}/subject`, `must match ${SUBJECT_NAME.source}`);
  if (kinds[0] === 'webhook') checkWebhook(target.webhook, shape, `${path}/webhook`);
  if (kinds[0] === 'command') checkCommand(target.command, shape, `${path}/command`);
}

function checkWebhook(webhook: unknown, shape: Shape, path: string): void {
  if (!isObject(webhook)) {
    shape.add(path, 'must be { "url", "secret" }');
    return;
  }
  shape.only(webhook, ['url', 'secret'], path);
  shape.url(webhook.url, `${path}/url`);
  // A missing secret is checked by the service: an update may keep the current one.
  if (webhook.secret !== undefined && (typeof webhook.secret !== 'string' || webhook.secret.length < 16 || webhook.secret.length > 200))
    shape.add(`${path}/secret`, 'must be a string of 16 to 200 characters');
}

function checkCommand(command: unknown, shape: Shape, path: string): void {
  if (!isObject(command)) {
    shape.add(path, 'must be { "entity", "command", "id"? }');
    return;
  }
  shape.only(command, ['entity', 'command', 'id'], path);
  if (!entityName(command.entity)) shape.add(`${path}/entity`, 'must be "<module>.<entity>"');
  if (typeof command.command !== 'string' || !NAME.test(command.command))
    shape.add(`${path}/command`, 'must be create, update, delete or a declared command');
  if (command.id !== undefined) shape.expression(command.id, `${path}/id`);
  else if (typeof command.command === 'string' && command.command !== 'create')
    shape.add(`${path}/id`, `is required: ${command.command} applies to an existing record`);
}
