import { isAppError, type JsonValue } from '../../kernel/index.js';
import { HEADERS, type Headers, type OutgoingMessage } from '../port.js';
import { messageSubject } from '../subjects.js';
import { deriveId } from './ids.js';

/** Why a message could not go through a route: the `Bo-Error-Code` of its dead letter. */
export type FailureCode =
  | 'invalid_message'
  | 'expression_failed'
  | 'enrich_failed'
  | 'webhook_failed'
  | 'command_failed'
  | 'publish_failed'
  | 'outbound_refused'
  | 'loop_detected'
  | 'internal';

export const ERROR_CODE_HEADER = 'Bo-Error-Code';
export const ROUTE_HEADER = 'Bo-Route';
/** How many routes a message went through: a message past MAX_HOPS is dead-lettered (a cycle of routes). */
export const HOPS_HEADER = 'Bo-Route-Hops';
export const MAX_HOPS = 16;

/**
 * A failure of a stage or target. A permanent one (an expression that fails, a command the records
 * refuse) is dead-lettered at once; the others are retried with backoff up to the route's attempts.
 */
export class RouteFailure extends Error {
  constructor(
    readonly code: FailureCode,
    message: string,
    readonly permanent: boolean,
    readonly stage: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'RouteFailure';
  }
}

/** Record problems that the same command will meet again: retrying them is pointless. */
const PERMANENT_PROBLEMS = new Set([
  'validation_failed',
  'not_found',
  'precondition_failed',
  'forbidden',
  'already_exists',
  'idempotency_key_reused',
]);

/** Any error as a route failure (`code` unless it is one already): an AppError keeps its code's nature, anything else is retried. */
export function asFailure(error: unknown, stage: string, code: FailureCode = 'internal'): RouteFailure {
  if (error instanceof RouteFailure) return error;
  if (isAppError(error))
    return new RouteFailure(code, `${error.code}: ${error.message}`, PERMANENT_PROBLEMS.has(error.code), stage, { cause: error });
  return new RouteFailure(code, error instanceof Error ? error.message : String(error), false, stage, { cause: error });
}

/** Exponential backoff with jitter: base·2^(attempt-1), at most `maxMs`, between 80 and 100 % of it. */
export function backoffMs(attempt: number, baseMs: number, maxMs: number, random = Math.random): number {
  const full = Math.min(maxMs, baseMs * 2 ** Math.min(Math.max(attempt - 1, 0), 30));
  return Math.round(full * (0.8 + 0.2 * random()));
}

/** What a dead letter names of the message that failed. */
export interface FailedMessage {
  /** Null for an aggregated group (its id is `group:<id>`). */
  subject: string | null;
  id: string;
  body: JsonValue;
  headers?: Headers;
}

/** `<root>.<tenant>.deadletter.route-<id>`. */
export const deadLetterSubject = (root: string, tenant: string, routeId: string) =>
  messageSubject(root, tenant, 'deadletter', `route-${routeId}`);

/**
 * The dead letter of a message: `{ cause: { code, message, stage }, message: { subject, id, body } }`,
 * code in `Bo-Error-Code`; its id derives from the message's, so dead-lettering twice stores it once.
 */
export function deadLetter(root: string, tenant: string, routeId: string, failed: FailedMessage, failure: RouteFailure): OutgoingMessage {
  const cause = { code: failure.code, message: failure.message.slice(0, 2000), stage: failure.stage };
  const body = { cause, message: { subject: failed.subject, id: failed.id, body: failed.body } };
  const headers: Headers = { [HEADERS.tenant]: tenant, [ERROR_CODE_HEADER]: failure.code, [ROUTE_HEADER]: routeId };
  const correlation = failed.headers?.[HEADERS.correlation];
  if (correlation) headers[HEADERS.correlation] = correlation;
  headers[HEADERS.causation] = failed.id;
  // A route reading dead letters is a hop too: a cycle through dead letters ends like any other.
  headers[HOPS_HEADER] = String((Number(failed.headers?.[HOPS_HEADER] ?? 0) || 0) + 1);
  return {
    subject: deadLetterSubject(root, tenant, routeId),
    id: deriveId(routeId, failed.id, 'deadletter'),
    headers,
    data: Buffer.from(JSON.stringify(body)),
  };
}
