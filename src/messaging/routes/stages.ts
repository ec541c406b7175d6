import type { JsonValue } from '../../kernel/index.js';
import type { CompiledRoute, CompiledTarget, Expression } from './compile.js';
import { ROUTE_LIMITS } from './definition.js';
import { RouteFailure } from './failures.js';
import { type Item, itemMatches } from './filter.js';
import { deriveId } from './ids.js';

/**
 * The pure stages of a route: each takes items and gives items, without I/O. The order is fixed:
 * filter → split → enrich (src/messaging/routes/pipeline.ts) → transform → aggregate → targets.
 */

/** JSON values only: JSONata may yield functions, `undefined` members or sequences with extra properties. */
function plain(value: unknown): JsonValue | undefined {
  return value === undefined ? undefined : (JSON.parse(JSON.stringify(value)) as JsonValue);
}

/** Evaluates an expression on a message; any failure is permanent (the same message fails the same way). */
export async function evaluate(
  expression: Expression,
  input: JsonValue,
  stage: string,
  bindings?: Record<string, JsonValue>,
): Promise<JsonValue | undefined> {
  try {
    return plain(await expression.evaluate(input, bindings));
  } catch (error) {
    const { message, code } = error as { message?: string; code?: string };
    throw new RouteFailure('expression_failed', `${stage}: ${code ? `${code} ` : ''}${message ?? 'failed'}`, true, stage, { cause: error });
  }
}

/** Stage 1: the messages whose data match the route's filter. */
export function filterStage(route: CompiledRoute, item: Item): boolean {
  return itemMatches(route.filter, item);
}

/** Stage 2: one message per element of the split's array (a single value is one message, nothing is none). */
export async function splitStage(route: CompiledRoute, item: Item): Promise<Item[]> {
  if (!route.split) return [item];
  const result = await evaluate(route.split, item.value, 'split');
  if (result === undefined) return [];
  const values = Array.isArray(result) ? result : [result];
  if (values.length > ROUTE_LIMITS.splitItems)
    throw new RouteFailure('expression_failed', `split: ${values.length} elements, more than ${ROUTE_LIMITS.splitItems}`, true, 'split');
  return values.map((value, i) => ({ id: `${item.id}#${i}`, value, event: false }));
}

/** Stage 3 (after the enrichment's call): the merge of the message and the response. */
export async function mergeStage(route: CompiledRoute, item: Item, response: JsonValue): Promise<Item> {
  if (!route.enrich) return item;
  const merged = await evaluate(route.enrich.merge, item.value, 'enrich', { message: item.value, response });
  return { ...item, value: merged ?? null, event: false };
}

/** Stage 4: the message translated. An expression that yields nothing drops the message. */
export async function transformStage(route: CompiledRoute, item: Item): Promise<Item | undefined> {
  if (!route.transform) return item;
  const value = await evaluate(route.transform, item.value, 'transform');
  return value === undefined ? undefined : { ...item, value, event: false };
}

/** Stage 5: the key of the group the message joins (a string, number or boolean, as text). */
export async function correlationStage(route: CompiledRoute, item: Item): Promise<string> {
  const aggregate = route.aggregate as NonNullable<CompiledRoute['aggregate']>;
  const key = await evaluate(aggregate.correlation, item.value, 'aggregate');
  if (typeof key === 'string' && key.length > 0 && key.length <= 500) return key;
  if ((typeof key === 'number' && Number.isFinite(key)) || typeof key === 'boolean') return String(key);
  throw new RouteFailure(
    'expression_failed',
    'aggregate: the correlation key must be a string (1-500), number or boolean',
    true,
    'aggregate',
  );
}

/** The moment a new group is due by timeout (epoch ms), or null when only its size completes it. */
export function groupDeadline(route: CompiledRoute, openedAt: number): number | null {
  const timeoutMs = route.aggregate?.timeoutMs;
  return timeoutMs === undefined ? null : openedAt + timeoutMs;
}

/** Whether a group holding `count` messages is complete by size. */
export function completeBySize(route: CompiledRoute, count: number): boolean {
  return count >= (route.aggregate?.limit ?? 1);
}

/** What a completed group sends on: its key and messages, in arrival order. */
export function groupItem(groupId: string, key: string, messages: JsonValue[]): Item {
  return { id: `group:${groupId}`, value: { key, messages }, event: false };
}

/** Stage 6: content-based routing — every target whose `when` matches the message receives it. */
export function targetsFor(route: CompiledRoute, item: Item): CompiledTarget[] {
  return route.targets.filter((target) => itemMatches(target.when, item));
}

/** The id of the message a target receives: the same for every redelivery of the source message. */
export const targetMessageId = (route: CompiledRoute, item: Item, target: CompiledTarget) =>
  deriveId(route.id, item.id, `target:${target.index}`);
