import type { JsonValue } from '../../kernel/index.js';
import { type OutboundResult, type OutboundSettings, postJson, signature } from '../outbound.js';
import { type Bus, HEADERS, type Headers } from '../port.js';
import { messageSubject } from '../subjects.js';
import type { CompiledRoute, CompiledTarget } from './compile.js';
import { asFailure, HOPS_HEADER, ROUTE_HEADER, RouteFailure } from './failures.js';
import { dataOf, type Item } from './filter.js';
import { deriveId } from './ids.js';
import { evaluate, targetMessageId } from './stages.js';

/** Runs a record command in the tenant (wired to the records service by the composition root). */
export type RunCommand = (
  tenant: string,
  command: {
    module: string;
    entity: string;
    command: string;
    id?: string;
    data: Record<string, JsonValue>;
    idempotencyKey: string;
    actor: string;
  },
) => Promise<unknown>;

export interface DeliverDeps {
  bus: Bus;
  runCommand: RunCommand;
  outbound: OutboundSettings;
}

/** Where a message came from: what its routed copies carry on. */
export interface Origin {
  /** Source message id (or `group:<id>`): the causation of what the route sends. */
  id: string;
  correlation?: string;
  /** Routes the source message went through already. */
  hops: number;
}

const RECORD_ID = /^[A-Za-z0-9][A-Za-z0-9._:@-]{0,99}$/;

/** An HTTP call of a stage; network problems are retried, a refused address is not. */
async function call(
  url: string,
  body: string,
  headers: Record<string, string>,
  deps: DeliverDeps,
  stage: string,
  code: 'enrich_failed' | 'webhook_failed',
) {
  let result: OutboundResult;
  try {
    result = await postJson(url, body, headers, deps.outbound);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const refused = message.includes('private address');
    throw new RouteFailure(refused ? 'outbound_refused' : code, `${stage}: ${message}`, refused, stage, { cause: error });
  }
  if (result.status < 200 || result.status > 299) throw new RouteFailure(code, `${stage}: ${url} answered ${result.status}`, false, stage);
  return result;
}

/** Stage 3's call: POSTs the message, and returns the JSON response. */
export async function enrichCall(route: CompiledRoute, item: Item, deps: DeliverDeps): Promise<JsonValue> {
  const enrich = route.enrich as NonNullable<CompiledRoute['enrich']>;
  const headers = { 'X-Backoffice-Route': route.id, 'X-Backoffice-Delivery': deriveId(route.id, item.id, 'enrich') };
  const result = await call(enrich.url, JSON.stringify(item.value), headers, deps, 'enrich', 'enrich_failed');
  try {
    return JSON.parse(result.body) as JsonValue;
  } catch (error) {
    throw new RouteFailure('enrich_failed', `enrich: ${enrich.url} did not answer JSON`, true, 'enrich', { cause: error });
  }
}

function routedHeaders(route: CompiledRoute, origin: Origin): Headers {
  const headers: Headers = {
    [HEADERS.tenant]: route.tenant,
    [ROUTE_HEADER]: route.id,
    [HEADERS.causation]: origin.id,
    [HOPS_HEADER]: String(origin.hops + 1),
    'content-type': 'application/json',
  };
  if (origin.correlation) headers[HEADERS.correlation] = origin.correlation;
  return headers;
}

async function toSubject(
  route: CompiledRoute,
  item: Item,
  target: CompiledTarget & { kind: 'subject' },
  deps: DeliverDeps,
  origin: Origin,
) {
  const message = {
    subject: messageSubject(deps.bus.root, route.tenant, 'routed', target.subject),
    id: targetMessageId(route, item, target),
    headers: routedHeaders(route, origin),
    data: Buffer.from(JSON.stringify(item.value)),
  };
  try {
    await deps.bus.publish([message]);
  } catch (error) {
    throw new RouteFailure('publish_failed', `targets/${target.index}: ${(error as Error).message}`, false, `targets/${target.index}`, {
      cause: error,
    });
  }
}

async function toWebhook(route: CompiledRoute, item: Item, target: CompiledTarget & { kind: 'webhook' }, deps: DeliverDeps) {
  const body = JSON.stringify(item.value);
  const headers = {
    'X-Backoffice-Signature': signature(target.secret, body),
    'X-Backoffice-Delivery': targetMessageId(route, item, target),
    'X-Backoffice-Route': route.id,
  };
  await call(target.url, body, headers, deps, `targets/${target.index}`, 'webhook_failed');
}

async function recordId(target: CompiledTarget & { kind: 'command' }, item: Item): Promise<string | undefined> {
  if (!target.id) return undefined;
  const stage = `targets/${target.index}`;
  const value = await evaluate(target.id, item.value, stage);
  const id = typeof value === 'number' && Number.isFinite(value) ? String(value) : value;
  if (typeof id === 'string' && RECORD_ID.test(id)) return id;
  throw new RouteFailure('expression_failed', `${stage}: the record id must be a string matching ${RECORD_ID.source}`, true, stage);
}

async function toCommand(route: CompiledRoute, item: Item, target: CompiledTarget & { kind: 'command' }, deps: DeliverDeps) {
  const id = await recordId(target, item);
  const command = {
    module: target.module,
    entity: target.entity,
    command: target.command,
    ...(id === undefined ? {} : { id }),
    data: dataOf(item),
    idempotencyKey: `route:${route.id}:${targetMessageId(route, item, target)}`,
    actor: `route:${route.id}`,
  };
  try {
    await deps.runCommand(route.tenant, command);
  } catch (error) {
    throw asFailure(error, `targets/${target.index}`, 'command_failed');
  }
}

/** Stage 6's delivery to one target; the same message always gets the same id, so redeliveries are deduplicated. */
export async function deliver(route: CompiledRoute, item: Item, target: CompiledTarget, deps: DeliverDeps, origin: Origin): Promise<void> {
  if (target.kind === 'subject') return toSubject(route, item, target, deps, origin);
  if (target.kind === 'webhook') return toWebhook(route, item, target, deps);
  return toCommand(route, item, target, deps);
}
