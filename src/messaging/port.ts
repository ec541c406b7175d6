/**
 * The message bus: durable, ordered streams of messages with at-least-once delivery to named
 * consumers, and request/reply. Adapters: NATS JetStream (server mode) and an in-process bus on
 * SQLite (embedded default); test/messaging/bus-contract.ts holds them to the same behaviour.
 *
 * Subjects are dot-separated tokens under the bus' root (`bo` by default). Two streams are
 * provisioned at start, told apart by their number of tokens so that they never overlap:
 * - events: `<root>.<tenant>.<module>.<entity>.<EventType>` (5 tokens), published by the relay;
 * - messages: `<root>.<tenant>.<kind>.<name>` (4 tokens): routed messages and dead letters.
 * Inbound commands, `<root>.<tenant>.commands.<module>.<entity>.<command>` (6 tokens), are
 * request/reply only, and notices, `<root>.<tenant>.notices.<source>.<name>.<topic>` (6 tokens), are
 * fan-out only: neither is ever stored.
 */

/** Header names the platform sets on every event message (API.md, "Messaging"). */
export const HEADERS = {
  id: 'Nats-Msg-Id',
  tenant: 'Bo-Tenant',
  position: 'Bo-Position',
  correlation: 'Bo-Correlation-Id',
  causation: 'Bo-Causation-Id',
  type: 'Bo-Event-Type',
  stream: 'Bo-Stream',
  version: 'Bo-Stream-Version',
  recordedAt: 'Bo-Recorded-At',
  traceparent: 'traceparent',
  authorization: 'Authorization',
  /** On a reply: the HTTP status the same request would have had. */
  status: 'Bo-Status',
} as const;

export type Headers = Record<string, string>;

export interface OutgoingMessage {
  subject: string;
  /** Unique per message: a second message with the same id within the duplicate window is dropped. */
  id: string;
  headers?: Headers;
  data: Uint8Array;
}

export interface PublishResult {
  /** The message's sequence in its stream. */
  sequence: number;
  /** True when the id was seen within the duplicate window and nothing was stored. */
  duplicate: boolean;
}

export interface Delivery {
  subject: string;
  id: string;
  headers: Headers;
  data: Uint8Array;
  /** Sequence in its stream. */
  sequence: number;
  /** 1 on the first delivery, then 2, 3… */
  attempt: number;
  /** Done: never delivered again to this consumer. */
  ack(): void;
  /** Deliver again after `delayMs` (backoff). */
  retry(delayMs: number): void;
  /** Never deliver again (poison message; the handler dead-lettered it). */
  reject(): void;
}

export interface ConsumerSpec {
  /**
   * Durable name ([A-Za-z0-9_-]). A consumer opened again with the same name resumes after the
   * last acknowledged message; processes that open the same name share its messages (each message
   * goes to one of them).
   */
  name: string;
  /** One subject pattern within one stream: `*` matches one token; `>` is not allowed. */
  subject: string;
  /** Where a consumer that does not exist yet starts: every stored message, or only new ones. Default 'all'. */
  start?: 'all' | 'new';
  /** Messages delivered but not yet acknowledged, at most. Default 64. */
  maxInFlight?: number;
  /** Unacknowledged after this long, a message is delivered again. Default 30 s. */
  ackWaitMs?: number;
  /** A message is not delivered more than this many times (the last attempt should dead-letter). Default 10. */
  maxAttempts?: number;
  /**
   * Called once per delivery; at most `maxInFlight` run at once. A handler that throws has its message
   * delivered again after the ack wait; one that returns without ack/retry/reject gets an ack.
   */
  handle(delivery: Delivery): Promise<void>;
}

export interface Subscription {
  /** Stops receiving; deliveries in progress finish first. The durable consumer stays. */
  stop(): Promise<void>;
}

export interface Reply {
  headers?: Headers;
  data: Uint8Array;
}

export interface RequestMessage {
  subject: string;
  headers: Headers;
  data: Uint8Array;
}

/** What a listener hears: a message just stored, or a notice. */
export interface Announcement {
  subject: string;
  headers: Headers;
  data: Uint8Array;
}

/** A message for whoever listens now, never stored (`notify`). */
export interface Notice {
  subject: string;
  headers?: Headers;
  data: Uint8Array;
}

export interface Bus {
  readonly kind: 'inprocess' | 'nats';
  /** First token of every subject. */
  readonly root: string;
  /**
   * Stores the messages durably, in order, each in the stream its subject belongs to, and resolves
   * once every one is stored (or found a duplicate). A subject outside both streams is refused.
   */
  publish(messages: OutgoingMessage[]): Promise<PublishResult[]>;
  /** Creates the durable consumer unless it exists, then delivers its messages to `handle`. */
  consume(spec: ConsumerSpec): Promise<Subscription>;
  /** Forgets a durable consumer and its progress (no error when it does not exist). */
  deleteConsumer(name: string, subject: string): Promise<void>;
  /** The last sequence stored in the stream the subject belongs to (0 when empty). */
  lastSequence(subject: string): Promise<number>;
  /**
   * Answers requests on a subject pattern (`*` and `>` allowed); servers sharing `queue` share the
   * requests (each goes to one). Not stored: a request nobody serves fails with `bus_no_responder`.
   */
  serve(subject: string, queue: string, handler: (request: RequestMessage) => Promise<Reply>): Promise<Subscription>;
  /**
   * Every stored message and every notice whose subject matches the pattern, as it is published from
   * now on, to every listener (fan-out, no acknowledgement, nothing kept while not listening): a
   * signal, such as "the log grew", for processes that then read what they need from its source.
   */
  listen(subject: string, handler: (message: Announcement) => void): Promise<Subscription>;
  /**
   * Sends a notice to every process listening on its subject now (fan-out, at most once, never stored):
   * what changed, for processes that pass it on (such as a report's changed groups to its live
   * viewers). A subject that a stored stream holds is refused (`invalid`), as is an oversized notice.
   */
  notify(notice: Notice): void;
  request(message: RequestMessage, timeoutMs: number): Promise<Reply>;
  ping(): Promise<void>;
  /** Stops every subscription, then disconnects. */
  close(): Promise<void>;
}

/** Raised by the adapters; `reason` is stable and tested. */
export class BusError extends Error {
  constructor(
    readonly reason: 'no_stream' | 'no_responder' | 'timeout' | 'unavailable' | 'invalid',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'BusError';
  }
}
