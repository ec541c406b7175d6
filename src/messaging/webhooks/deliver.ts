import { type JsonValue, type Logger, uuidv7 } from '../../kernel/index.js';
import type { EventEnvelope } from '../event-message.js';
import { postJson, signature } from '../outbound.js';
import { type Bus, HEADERS } from '../port.js';
import { messageSubject } from '../subjects.js';
import type { CompiledWebhook } from './definition.js';
import type { DeliveryRecord, WebhookStore } from './port.js';
import { TransformError } from './transform.js';

export interface DeliverySettings {
  allowPrivateNetworks: boolean;
  timeoutMs: number;
  maxAttempts: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
}

/** The request headers of a delivery (docs/webhooks.md). */
export const WEBHOOK_HEADERS = {
  signature: 'X-Backoffice-Signature',
  eventId: 'X-Backoffice-Event-Id',
  delivery: 'X-Backoffice-Delivery',
  timestamp: 'X-Backoffice-Timestamp',
} as const;

/** Headers of a dead letter, besides the event's tenant and position. */
export const DEAD_LETTER_HEADERS = { webhook: 'Bo-Webhook', reason: 'Bo-Dead-Letter-Reason', attempts: 'Bo-Attempts' } as const;

export type Outcome = { kind: 'skipped' | 'succeeded' | 'dead' } | { kind: 'retry'; delayMs: number };

/** Exponential backoff with full jitter: uniform in [0, min(max, base · 2^(attempt−1))). */
export function backoffDelay(attempt: number, settings: DeliverySettings, random: () => number = Math.random): number {
  const ceiling = Math.min(settings.backoffMaxMs, settings.backoffBaseMs * 2 ** Math.min(attempt - 1, 40));
  return Math.floor(random() * ceiling);
}

/** Short and safe to show: never a response body, header or secret. */
export function describeFailure(error: unknown, timeoutMs: number): string {
  if (!(error instanceof Error)) return 'delivery failed';
  if (error.name === 'TimeoutError' || error.name === 'AbortError') return `timed out after ${timeoutMs} ms`;
  const cause = (error as { cause?: { code?: unknown; message?: unknown } }).cause;
  const code = typeof cause?.code === 'string' ? cause.code : undefined;
  return (code ? `${error.message} (${code})` : error.message).slice(0, 300);
}

/** A header value: control characters (a newline in an error message) become spaces. */
const singleLine = (text: string) => Array.from(text, (c) => (c.charCodeAt(0) < 32 || c.charCodeAt(0) === 127 ? ' ' : c)).join('');

export interface Deliverer {
  /** One attempt of one event: skipped (not wanted), succeeded, to retry after a delay, or dead (recorded and dead-lettered). */
  attempt(webhook: CompiledWebhook, envelope: EventEnvelope, attempt: number, replay: boolean): Promise<Outcome>;
}

type Result = { httpStatus: number | null; durationMs: number | null; error: string | null };

/** The pipeline every delivery goes through, live or replayed: patterns → filter → transform → signed POST → log. */
export function createDeliverer(deps: {
  bus: Bus;
  store: WebhookStore;
  settings: DeliverySettings;
  logger: Logger;
  random?: () => number;
}): Deliverer {
  const { store, settings } = deps;
  /** Each compiled webhook's secret, read once: a changed secret changes the definition, hence the compiled webhook. */
  const secrets = new WeakMap<CompiledWebhook, Promise<string | undefined>>();
  const secretOf = (webhook: CompiledWebhook) => {
    let secret = secrets.get(webhook);
    if (!secret) {
      secret = store.secret(webhook.tenant, webhook.document.id);
      secrets.set(webhook, secret);
      secret.then(
        (found) => found === undefined && secrets.delete(webhook),
        () => secrets.delete(webhook),
      );
    }
    return secret;
  };

  async function body(webhook: CompiledWebhook, envelope: EventEnvelope): Promise<string | undefined> {
    if (!webhook.transform) return JSON.stringify(envelope);
    const result = await webhook.transform(envelope as unknown as JsonValue);
    return result === undefined ? undefined : JSON.stringify(result);
  }

  async function post(webhook: CompiledWebhook, envelope: EventEnvelope, text: string, secret: string, id: string): Promise<Result> {
    const headers = {
      [WEBHOOK_HEADERS.signature]: signature(secret, text),
      [WEBHOOK_HEADERS.eventId]: envelope.id,
      [WEBHOOK_HEADERS.delivery]: id,
      [WEBHOOK_HEADERS.timestamp]: new Date().toISOString(),
    };
    const started = performance.now();
    try {
      const response = await postJson(webhook.document.url, text, headers, settings);
      const ok = response.status >= 200 && response.status < 300;
      return { httpStatus: response.status, durationMs: response.durationMs, error: ok ? null : `HTTP ${response.status}` };
    } catch (error) {
      return { httpStatus: null, durationMs: Math.round(performance.now() - started), error: describeFailure(error, settings.timeoutMs) };
    }
  }

  async function deadLetter(webhook: CompiledWebhook, envelope: EventEnvelope, attempt: number, reason: string, replay: boolean) {
    const { tenant, document } = webhook;
    const data = { webhook: document.id, reason, attempts: attempt, replay, at: new Date().toISOString(), event: envelope };
    await deps.bus
      .publish([
        {
          subject: messageSubject(deps.bus.root, tenant, 'deadletter', `webhook-${document.id}`),
          id: `webhook-${document.id}-${envelope.id}${replay ? `-replay-${uuidv7()}` : ''}`,
          headers: {
            [HEADERS.tenant]: tenant,
            [HEADERS.position]: envelope.position,
            [DEAD_LETTER_HEADERS.webhook]: document.id,
            [DEAD_LETTER_HEADERS.reason]: singleLine(reason),
            [DEAD_LETTER_HEADERS.attempts]: String(attempt),
          },
          data: Buffer.from(JSON.stringify(data)),
        },
      ])
      .catch((error: unknown) =>
        deps.logger.error({ err: error, tenant, webhook: document.id, eventId: envelope.id }, 'dead letter not published'),
      );
  }

  async function record(
    webhook: CompiledWebhook,
    envelope: EventEnvelope,
    entry: Omit<DeliveryRecord, 'tenant' | 'webhook' | 'eventId' | 'position' | 'at'>,
  ) {
    await store.record({
      ...entry,
      tenant: webhook.tenant,
      webhook: webhook.document.id,
      eventId: envelope.id,
      position: BigInt(envelope.position),
      at: new Date(),
    });
  }

  async function dead(webhook: CompiledWebhook, envelope: EventEnvelope, attempt: number, replay: boolean, id: string, result: Result) {
    const reason = result.error ?? 'delivery failed';
    await record(webhook, envelope, { id, attempt, status: 'dead', replay, ...result, error: reason });
    await deadLetter(webhook, envelope, attempt, reason, replay);
    deps.logger.warn(
      { tenant: webhook.tenant, webhook: webhook.document.id, eventId: envelope.id, attempt, reason },
      'webhook delivery dead-lettered',
    );
    return { kind: 'dead' } as const;
  }

  return {
    async attempt(webhook, envelope, attempt, replay) {
      if (!webhook.wants(envelope)) return { kind: 'skipped' };
      const id = uuidv7();
      let text: string | undefined;
      try {
        text = await body(webhook, envelope);
      } catch (error) {
        if (!(error instanceof TransformError)) throw error;
        return dead(webhook, envelope, attempt, replay, id, { httpStatus: null, durationMs: null, error: error.message });
      }
      const secret = text === undefined ? undefined : await secretOf(webhook);
      // Nothing to send (the transform gave nothing), or the webhook is being deleted.
      if (text === undefined || secret === undefined) return { kind: 'skipped' };
      const result = await post(webhook, envelope, text, secret, id);
      if (result.error === null) {
        await record(webhook, envelope, { id, attempt, status: 'succeeded', replay, ...result });
        return { kind: 'succeeded' };
      }
      if (attempt >= settings.maxAttempts) return dead(webhook, envelope, attempt, replay, id, result);
      await record(webhook, envelope, { id, attempt, status: 'failed', replay, ...result });
      return { kind: 'retry', delayMs: backoffDelay(attempt, settings, deps.random) };
    },
  };
}
