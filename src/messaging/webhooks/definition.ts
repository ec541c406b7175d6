import type { FilterNode } from '../../documents/query/index.js';
import { type FieldError, type JsonValue, validationFailed } from '../../kernel/index.js';
import { PATTERN_LIMITS, parsePatterns } from '../../live/index.js';
import type { EventEnvelope } from '../event-message.js';
import { urlProblem } from '../outbound.js';
import { eventMatches, parseEventFilter } from './event-filter.js';
import { compileTransform, type Transform } from './transform.js';

/** Webhook ids: a UUIDv7 unless the client chooses one; they become part of subjects and consumer names. */
export const WEBHOOK_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$/;
export const SECRET_LENGTH = { min: 16, max: 256 } as const;
export const URL_MAX = 2000;

/** What a webhook's events record and its document holds: everything but the secret. */
export interface WebhookDocument {
  [key: string]: JsonValue;
  id: string;
  url: string;
  events: string[];
  filter: JsonValue;
  transform: string | null;
  active: boolean;
  createdAt: string;
  updatedAt: string;
}

/** The request body of a creation (every field) or a change (any of them; `null` clears filter and transform). */
export interface WebhookInput {
  id?: string;
  url?: string;
  events?: string[];
  filter?: JsonValue;
  transform?: string | null;
  secret?: string;
  active?: boolean;
}

/** A definition ready to run: which events it wants, and how their body is made. */
export interface CompiledWebhook {
  tenant: string;
  document: WebhookDocument;
  /** Pattern then filter. */
  wants(envelope: EventEnvelope): boolean;
  transform?: Transform;
}

function patternProblems(events: readonly string[]): FieldError[] {
  if (events.length === 0) return [{ path: '/body/events', message: 'must list at least one pattern' }];
  if (events.length > PATTERN_LIMITS.patterns) return [{ path: '/body/events', message: `at most ${PATTERN_LIMITS.patterns} patterns` }];
  return events.flatMap((item, i): FieldError[] => {
    const message = '<module>.<entity>.<EventType>, each segment a name or *';
    if (item.includes(',')) return [{ path: `/body/events/${i}`, message }];
    try {
      parsePatterns(item);
      return [];
    } catch {
      return [{ path: `/body/events/${i}`, message }];
    }
  });
}

/** Every problem of the definition (after a change is merged), with its path under `/body`. */
export function definitionProblems(document: WebhookDocument): FieldError[] {
  const url = urlProblem(document.url);
  const problems: FieldError[] = url ? [{ path: '/body/url', message: url }] : [];
  problems.push(...patternProblems(document.events));
  if (document.filter !== null) {
    const parsed = parseEventFilter(document.filter);
    if ('errors' in parsed) problems.push(...parsed.errors);
  }
  if (document.transform !== null) {
    const compiled = compileTransform(document.transform, '/body/transform');
    if ('errors' in compiled) problems.push(...compiled.errors);
  }
  return problems;
}

/** The stored document after `input` applies to `current` (a new webhook when undefined); validation_failed lists every problem. */
export function mergeDefinition(id: string, current: WebhookDocument | undefined, input: WebhookInput, now: Date): WebhookDocument {
  const at = now.toISOString();
  const document: WebhookDocument = {
    id,
    url: input.url ?? current?.url ?? '',
    events: input.events ?? current?.events ?? [],
    filter: input.filter === undefined ? (current?.filter ?? null) : input.filter,
    transform: input.transform === undefined ? (current?.transform ?? null) : input.transform,
    active: input.active ?? current?.active ?? true,
    createdAt: current?.createdAt ?? at,
    updatedAt: at,
  };
  const problems = definitionProblems(document);
  if (!current && input.secret === undefined) problems.unshift({ path: '/body/secret', message: 'is required' });
  if (problems.length > 0) throw validationFailed('Invalid webhook', problems);
  return document;
}

/** Patterns select record events only, as in the live feed: not module definitions nor platform objects (`_…`). */
const isRecordEvent = (envelope: EventEnvelope) => !envelope.module.startsWith('_') && !envelope.entity.startsWith('_');

/** A stored document, checked when it was written, made ready to run. */
export function compileWebhook(tenant: string, document: WebhookDocument): CompiledWebhook {
  const patterns = parsePatterns(document.events.join(','));
  const parsed = document.filter === null ? undefined : parseEventFilter(document.filter);
  const filter: FilterNode | undefined = parsed && 'node' in parsed ? parsed.node : undefined;
  const compiled = document.transform === null ? undefined : compileTransform(document.transform, '/transform');
  const transform = compiled && 'transform' in compiled ? compiled.transform : undefined;
  return {
    tenant,
    document,
    wants: (envelope) =>
      isRecordEvent(envelope) &&
      patterns.matches({ module: envelope.module, entity: envelope.entity }, envelope.type) &&
      (filter === undefined || eventMatches(filter, envelope.recordId, envelope.data)),
    ...(transform ? { transform } : {}),
  };
}
