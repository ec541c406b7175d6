import { type JsonValue, uuidv7 } from '../../kernel/index.js';
import { type Delivery, HEADERS } from '../port.js';
import type { CompiledRoute } from './compile.js';
import { type DeliverDeps, deliver, enrichCall, type Origin } from './deliver.js';
import { HOPS_HEADER, MAX_HOPS, RouteFailure } from './failures.js';
import type { Item } from './filter.js';
import type { RouteStore } from './port.js';
import { correlationStage, filterStage, groupDeadline, mergeStage, splitStage, targetsFor, transformStage } from './stages.js';

export interface PipelineDeps extends DeliverDeps {
  store: RouteStore;
  /** A message filled its group: the completion loop should look now. */
  groupCompleted(): void;
}

const fits = (pattern: string, value: string | undefined) => pattern === '*' || pattern === value;

/**
 * Whether a delivered subject is one the route reads. An event route's consumer takes every event
 * of the tenant (`<root>.<tenant>.*.*.*`) and keeps those of its pattern; internal modules (`_…`:
 * module definitions, platform objects) are never matched by a wildcard.
 */
export function sourceMatches(route: CompiledRoute, subject: string): boolean {
  if (route.source.kind !== 'events') return true;
  const [, , module, entity, type] = subject.split('.');
  const { source } = route;
  if (module?.startsWith('_') || entity?.startsWith('_')) return false;
  return fits(source.module, module) && fits(source.entity, entity) && fits(source.type, type);
}

/** The delivered body as JSON (an empty body is `null`). */
export function parseMessage(data: Uint8Array): JsonValue {
  if (data.byteLength === 0) return null;
  try {
    return JSON.parse(Buffer.from(data).toString('utf8')) as JsonValue;
  } catch (error) {
    throw new RouteFailure('invalid_message', 'the message body is not JSON', true, 'source', { cause: error });
  }
}

export function originOf(delivery: Pick<Delivery, 'id' | 'headers'>): Origin {
  const hops = Number(delivery.headers[HOPS_HEADER] ?? 0);
  const correlation = delivery.headers[HEADERS.correlation];
  return { id: delivery.id, hops: Number.isInteger(hops) && hops > 0 ? hops : 0, ...(correlation ? { correlation } : {}) };
}

/** Runs a delivered message through the route's stages, in their fixed order; throws a RouteFailure (or any error). */
export async function processDelivery(route: CompiledRoute, delivery: Delivery, deps: PipelineDeps): Promise<void> {
  const origin = originOf(delivery);
  if (origin.hops >= MAX_HOPS)
    throw new RouteFailure('loop_detected', `the message went through ${origin.hops} routes already (a cycle?)`, true, 'source');
  const item: Item = { id: delivery.id, value: parseMessage(delivery.data), event: route.source.kind === 'events' };
  if (!filterStage(route, item)) return;
  for (const element of await splitStage(route, item)) await afterSplit(route, element, deps, origin);
}

async function afterSplit(route: CompiledRoute, item: Item, deps: PipelineDeps, origin: Origin): Promise<void> {
  const enriched = route.enrich ? await mergeStage(route, item, await enrichCall(route, item, deps)) : item;
  const transformed = await transformStage(route, enriched);
  if (!transformed) return;
  if (route.aggregate) return collect(route, transformed, deps);
  await sendToTargets(route, transformed, deps, origin);
}

/** Stage 5: records the message in its group; the message is acknowledged only after this commits. */
async function collect(route: CompiledRoute, item: Item, deps: PipelineDeps): Promise<void> {
  const key = await correlationStage(route, item);
  const now = Date.now();
  const result = await deps.store.addToGroup({
    tenant: route.tenant,
    route: route.id,
    key,
    memberId: item.id,
    body: item.value,
    limit: (route.aggregate as NonNullable<CompiledRoute['aggregate']>).limit,
    deadline: groupDeadline(route, now),
    groupId: uuidv7(now),
    now,
  });
  if (result === 'completed') deps.groupCompleted();
}

/** Stage 6: every target whose `when` matches, one after the other in their order. */
export async function sendToTargets(route: CompiledRoute, item: Item, deps: DeliverDeps, origin: Origin): Promise<void> {
  for (const target of targetsFor(route, item)) await deliver(route, item, target, deps, origin);
}
