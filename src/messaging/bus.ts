import { createLogger, type Logger } from '../kernel/index.js';
import { type Bus, BusError, type ConsumerSpec, type Delivery, HEADERS, type Reply, type RequestMessage } from './port.js';
import { consumerStream, isToken, type StreamKind } from './subjects.js';

export type BusSettings =
  | { kind: 'inprocess'; path: string /* SQLite file, or ':memory:' */; root?: string; duplicateWindowMs?: number; maxAgeMs?: number }
  | {
      kind: 'nats';
      url: string;
      root?: string;
      duplicateWindowMs?: number;
      maxAgeMs?: number;
      replicas?: number;
      publishTimeoutMs?: number;
    };

/** The settings with every default applied, as the adapters receive them. */
export type ResolvedBusSettings =
  | { kind: 'inprocess'; path: string; root: string; duplicateWindowMs: number; maxAgeMs: number }
  | { kind: 'nats'; url: string; root: string; duplicateWindowMs: number; maxAgeMs: number; replicas: number; publishTimeoutMs: number };

export const BUS_DEFAULTS = {
  root: 'bo',
  duplicateWindowMs: 2 * 60_000,
  maxAgeMs: 7 * 24 * 60 * 60_000,
  replicas: 1,
  publishTimeoutMs: 5_000,
} as const;

export function resolveBusSettings(settings: BusSettings): ResolvedBusSettings {
  const root = settings.root ?? BUS_DEFAULTS.root;
  if (!isToken(root)) throw new BusError('invalid', `Bus root "${root}" must be one token of letters, digits, "_" or "-"`);
  const common = {
    root,
    duplicateWindowMs: positive('duplicateWindowMs', settings.duplicateWindowMs ?? BUS_DEFAULTS.duplicateWindowMs),
    maxAgeMs: positive('maxAgeMs', settings.maxAgeMs ?? BUS_DEFAULTS.maxAgeMs),
  };
  if (settings.kind === 'inprocess') return { kind: 'inprocess', path: settings.path, ...common };
  return {
    kind: 'nats',
    url: settings.url,
    ...common,
    replicas: positive('replicas', settings.replicas ?? BUS_DEFAULTS.replicas),
    publishTimeoutMs: positive('publishTimeoutMs', settings.publishTimeoutMs ?? BUS_DEFAULTS.publishTimeoutMs),
  };
}

/**
 * Opens the bus the settings name. Each adapter is imported on demand, so that the embedded start
 * never loads the NATS client.
 */
export async function openBus(settings: BusSettings, logger: Logger = createLogger('silent')): Promise<Bus> {
  const resolved = resolveBusSettings(settings);
  if (resolved.kind === 'nats') {
    const { openNatsBus } = await import('./nats/bus.js');
    return openNatsBus(resolved, logger);
  }
  const { openInProcessBus } = await import('./inprocess/bus.js');
  return openInProcessBus(resolved, logger);
}

function positive(name: string, value: number): number {
  if (!Number.isFinite(value) || value <= 0) throw new BusError('invalid', `Bus setting ${name} must be a positive number`);
  return value;
}

// ---- Shared by both adapters -------------------------------------------------------------------

const CONSUMER_NAME = /^[A-Za-z0-9_-]{1,200}$/;

/** A consumer spec with its defaults, checked. */
export interface ConsumerPlan {
  name: string;
  subject: string;
  stream: StreamKind;
  start: 'all' | 'new';
  maxInFlight: number;
  ackWaitMs: number;
  maxAttempts: number;
  handle: ConsumerSpec['handle'];
}

export function planConsumer(root: string, spec: ConsumerSpec): ConsumerPlan {
  if (!CONSUMER_NAME.test(spec.name)) throw new BusError('invalid', `Consumer name "${spec.name}" must be letters, digits, "_" or "-"`);
  const count = (name: string, value: number | undefined, fallback: number) => {
    const resolved = value ?? fallback;
    if (!Number.isInteger(resolved) || resolved < 1) throw new BusError('invalid', `Consumer ${name} must be a positive integer`);
    return resolved;
  };
  return {
    name: spec.name,
    subject: spec.subject,
    stream: consumerStream(root, spec.subject),
    start: spec.start ?? 'all',
    maxInFlight: count('maxInFlight', spec.maxInFlight, 64),
    ackWaitMs: count('ackWaitMs', spec.ackWaitMs, 30_000),
    maxAttempts: count('maxAttempts', spec.maxAttempts, 10),
    handle: spec.handle,
  };
}

/**
 * Runs at most `max` handlers at once and tells when a slot is free or every handler is done;
 * `freed` is called once a finished handler's slot is free again.
 */
export function createHandlerPool(max: number, freed?: () => void) {
  let running = 0;
  let waiters: Array<() => void> = [];
  const wakeAll = () => {
    const current = waiters;
    waiters = [];
    for (const wake of current) wake();
  };
  return {
    get running(): number {
      return running;
    },
    get free(): number {
      return max - running;
    },
    run(task: () => Promise<void>): void {
      running++;
      void task().finally(() => {
        running--;
        wakeAll();
        freed?.();
      });
    },
    /** Resolves when fewer than `max` handlers run. */
    async whenFree(): Promise<void> {
      while (running >= max) await new Promise<void>((resolve) => waiters.push(resolve));
    },
    /** Resolves when no handler runs. */
    async idle(): Promise<void> {
      while (running > 0) await new Promise<void>((resolve) => waiters.push(resolve));
    },
  };
}

export type HandlerPool = ReturnType<typeof createHandlerPool>;

/** What the adapter does on the handler's verdict; `settled` is false when the handler threw. */
export interface Settlement {
  ack(): Promise<void> | void;
  retry(delayMs: number): Promise<void> | void;
  reject(): Promise<void> | void;
}

/**
 * Calls the handler with a delivery whose first ack/retry/reject wins. A handler that returns
 * without a verdict acks; one that throws before giving one settles nothing (the ack wait brings
 * the message back).
 */
export async function deliver(
  message: Omit<Delivery, 'ack' | 'retry' | 'reject'>,
  settlement: Settlement,
  handle: ConsumerSpec['handle'],
  logger: Logger,
): Promise<void> {
  let verdict: (() => Promise<void> | void) | undefined;
  const decide = (action: () => Promise<void> | void) => {
    verdict ??= action;
  };
  const delivery: Delivery = {
    ...message,
    ack: () => decide(() => settlement.ack()),
    retry: (delayMs) => decide(() => settlement.retry(Math.max(0, delayMs))),
    reject: () => decide(() => settlement.reject()),
  };
  try {
    await handle(delivery);
    verdict ??= () => settlement.ack();
  } catch (error) {
    logger.error({ err: error, subject: message.subject, sequence: message.sequence, attempt: message.attempt }, 'bus handler failed');
  }
  try {
    await verdict?.();
  } catch (error) {
    logger.warn({ err: error, subject: message.subject, sequence: message.sequence }, 'bus acknowledgement failed');
  }
}

/** Runs a request handler; one that throws answers status 500 at once instead of letting the requester time out. */
export async function answer(
  handler: (request: RequestMessage) => Promise<Reply>,
  request: RequestMessage,
  logger: Logger,
): Promise<Reply> {
  try {
    return await handler(request);
  } catch (error) {
    logger.error({ err: error, subject: request.subject }, 'bus request handler failed');
    return { headers: { [HEADERS.status]: '500' }, data: new Uint8Array() };
  }
}
